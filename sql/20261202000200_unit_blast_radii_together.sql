-- Unit CI at scale (issue 12, third pass): FM-06's blast radii in one search. ops.check_contracts called
-- ops_private.blast_summary once per finding, each a breadth-first search of its own with a query per level and
-- per dependent; the radii of one run overlap (the 10,000-unit bench: 50 FM-06 findings, 20,278 dependents in
-- all), so the same references and rows were read again for every radius that reaches them.
-- ops_private.blast_summaries searches every finding's radius together: per BFS level the references to each
-- distinct name once, each dependent's row and flags once, each listed dependent's edges once. Same jsonb
-- (tests/test_units_equivalence.py). Definitions copied from supabase/schemas/09_unit_ci_helpers.sql and
-- 10_unit_ci_checks.sql and changed only there.
CREATE FUNCTION ops_private.blast_summaries(p_run bigint, p_units text[])
RETURNS TABLE (unit text, summary jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, ops
AS $$
-- ops_private.blast_summary of every unit of p_units, all searched together (issue 12, third pass): one
-- breadth-first search over (unit, name) pairs, level by level, in which the references to each distinct
-- name of the frontier are looked up once per level however many radii reach it (the radii of one run
-- overlap: the 50 FM-06 radii of the 10,000-unit bench hold 20,278 dependents), and each dependent's row and
-- flags, and each listed dependent's drawn edges, are read once for all radii. Same edges, same rules and
-- the same jsonb as blast_summary gives for each unit (tests/test_units_equivalence.py).
DECLARE
    f_unit text[];  -- the frontier: pairs (unit whose radius this is, name reached)
    f_name text[];
    seen jsonb;     -- the pairs already reached, as keys `unit name` (an address has no space): `?` is a binary search
    level integer := 0;
    n_unit text[];
    n_address text[];
    r_unit text[] := ARRAY[]::text[];
    r_address text[] := ARRAY[]::text[];
    r_depth integer[] := ARRAY[]::integer[];
BEGIN
    SELECT array_agg(x.u), array_agg(ops_private.unit_name(x.u)),
           coalesce(jsonb_object_agg(x.u || ' ' || ops_private.unit_name(x.u), true), '{}')
    INTO f_unit, f_name, seen
    FROM (SELECT DISTINCT u FROM unnest(p_units) AS u WHERE u IS NOT NULL) x;
    LOOP
        EXIT WHEN f_unit IS NULL;
        level := level + 1;
        WITH f AS (SELECT * FROM unnest(f_unit, f_name) AS f (unit, name)),
             -- The references to each name of the frontier, once: as in unit_blast_radius, a registry edge
             -- counts unless its unit is in the snapshot, probed per edge (OFFSET 0: no anti-join hashing it).
             hit AS MATERIALIZED (
                 SELECT t.name, x.from_address
                 FROM (SELECT DISTINCT f.name FROM f) t
                 CROSS JOIN LATERAL (
                     SELECT e.from_address FROM ops.unit_snapshot_edges e
                     WHERE e.run_id = p_run AND ops_private.unit_name(e.to_address) = t.name
                     UNION ALL
                     SELECT e.from_address FROM ops.published_unit_edges e
                     WHERE ops_private.unit_name(e.to_address) = t.name
                       AND NOT EXISTS (SELECT FROM ops.unit_snapshot s WHERE s.run_id = p_run AND s.address = e.from_address
                                       OFFSET 0)) x)
        SELECT array_agg(y.unit), array_agg(y.from_address) INTO n_unit, n_address
        FROM (SELECT DISTINCT f.unit, h.from_address FROM f JOIN hit h ON h.name = f.name) y
        WHERE NOT seen ? (y.unit || ' ' || ops_private.unit_name(y.from_address));
        EXIT WHEN n_unit IS NULL;
        r_unit := r_unit || n_unit;
        r_address := r_address || n_address;
        r_depth := r_depth || array_fill(level, ARRAY[cardinality(n_unit)]);
        -- Addresses that resolve to nothing still propagate by name.
        SELECT array_agg(z.unit), array_agg(z.name), seen || jsonb_object_agg(z.unit || ' ' || z.name, true)
        INTO f_unit, f_name, seen
        FROM (SELECT DISTINCT x.unit, ops_private.unit_name(x.address) AS name
              FROM unnest(n_unit, n_address) AS x (unit, address)) z;
    END LOOP;
    RETURN QUERY
    WITH units AS (SELECT DISTINCT u AS unit FROM unnest(p_units) AS u WHERE u IS NOT NULL),
         r AS (SELECT * FROM unnest(r_unit, r_address, r_depth) AS r (unit, address, depth)),
         -- Each dependent's row and flags once (unit_blast_radius's rules): only those that resolve to a unit count.
         flags AS MATERIALIZED (
             SELECT u.address,
                    u.type = 'chain' AND EXISTS (
                        SELECT FROM jsonb_array_elements(coalesce(u.doc -> 'composition' -> 'steps', '[]')) st
                        WHERE coalesce((st ->> 'gate')::boolean, false)) AS gate_bearing,
                    u.type = 'chain' AND EXISTS (
                        SELECT FROM jsonb_array_elements(coalesce(u.doc -> 'composition' -> 'steps', '[]')) st
                        WHERE st ->> 'agent' IN (
                            SELECT jsonb_array_elements_text(coalesce(
                                       c.doc -> 'protectedAgents' -> split_part(split_part(u.address, '://', 2), '/', 1), '[]'))
                            UNION
                            SELECT a ->> 'designation' FROM jsonb_array_elements(coalesce(c.doc -> 'agents', '[]')) a
                            WHERE coalesce((a ->> 'protected')::boolean, false))) AS protected
             FROM (SELECT DISTINCT r.address FROM r) d
             JOIN LATERAL (SELECT s.address, s.type, s.doc FROM ops.unit_snapshot s
                           WHERE s.run_id = p_run AND s.address = d.address
                           UNION ALL
                           SELECT p.address, p.type, p.document FROM ops.published_units p
                           WHERE p.address = d.address
                             AND NOT EXISTS (SELECT FROM ops.unit_snapshot s WHERE s.run_id = p_run AND s.address = p.address)) u
                  ON true
             LEFT JOIN ops.council_snapshot c ON c.run_id = p_run AND c.council_id = u.doc ->> 'council'),
         dep AS (SELECT r.unit, r.address, r.depth, fl.gate_bearing, fl.protected,
                        row_number() OVER (PARTITION BY r.unit ORDER BY r.depth, r.address) AS rank
                 FROM r JOIN flags fl ON fl.address = r.address),
         counts AS (SELECT dep.unit, count(*) FILTER (WHERE dep.depth = 1) AS direct, count(*) AS transitive,
                           count(*) FILTER (WHERE dep.gate_bearing) AS gate_bearing,
                           count(*) FILTER (WHERE dep.protected) AS protected,
                           count(*) FILTER (WHERE dep.rank <= 200) AS listed,
                           jsonb_agg(jsonb_build_object('address', dep.address, 'depth', dep.depth,
                                                        'gate_bearing', dep.gate_bearing, 'protected', dep.protected)
                                     ORDER BY dep.depth, dep.address) FILTER (WHERE dep.rank <= 200) AS dependents
                    FROM dep GROUP BY dep.unit),
         -- Counts are exact; the list (and the graph drawn from it) holds the 200 nearest dependents.
         listed AS (SELECT dep.unit, dep.address FROM dep WHERE dep.rank <= 200),
         names AS (SELECT units.unit, ops_private.unit_name(units.unit) AS name FROM units
                   UNION SELECT listed.unit, ops_private.unit_name(listed.address) FROM listed),
         -- The references out of each listed dependent, read once through the edges' primary keys.
         out_edges AS MATERIALIZED (
             SELECT DISTINCT x.from_address, x.to_address, x.kind, x.step_id
             FROM (SELECT DISTINCT listed.address FROM listed) l
             CROSS JOIN LATERAL (
                   SELECT e.from_address, e.to_address, e.kind, e.step_id FROM ops.unit_snapshot_edges e
                   WHERE e.run_id = p_run AND e.from_address = l.address
                   UNION ALL
                   SELECT e.from_address, e.to_address, e.kind, e.step_id FROM ops.published_unit_edges e
                   WHERE e.from_address = l.address
                     AND NOT EXISTS (SELECT FROM ops.unit_snapshot s WHERE s.run_id = p_run AND s.address = e.from_address
                                     OFFSET 0)) x),
         drawn AS (SELECT l.unit, jsonb_agg(jsonb_build_object('from', e.from_address, 'to', e.to_address, 'kind', e.kind,
                                                               'step', e.step_id)
                                            ORDER BY e.from_address, e.kind, e.to_address, e.step_id) AS edges
                   FROM listed l
                   JOIN out_edges e ON e.from_address = l.address
                   JOIN names n ON n.unit = l.unit AND n.name = ops_private.unit_name(e.to_address)
                   GROUP BY l.unit)
    SELECT units.unit, jsonb_build_object(
        'direct', coalesce(c.direct, 0), 'transitive', coalesce(c.transitive, 0),
        'gate_bearing', coalesce(c.gate_bearing, 0), 'protected', coalesce(c.protected, 0),
        'listed', coalesce(c.listed, 0), 'dependents', coalesce(c.dependents, '[]'), 'edges', coalesce(d.edges, '[]'))
    FROM units
    LEFT JOIN counts c ON c.unit = units.unit
    LEFT JOIN drawn d ON d.unit = units.unit;
END
$$;
COMMENT ON FUNCTION ops_private.blast_summaries(bigint, text[]) IS
    'ops_private.blast_summary of each unit address of p_units (NULLs and repeats ignored), searched together: one row '
    '(unit, summary jsonb: direct, transitive, gate_bearing, protected, listed, dependents, edges) per distinct unit. '
    'The references to a name are looked up once per BFS level and each dependent is read once, however many radii '
    'hold it, so a run''s overlapping radii cost what their union holds plus one pair per (unit, dependent).';
REVOKE ALL ON FUNCTION ops_private.blast_summaries(bigint, text[]) FROM PUBLIC;

CREATE OR REPLACE FUNCTION ops.check_contracts(p_run bigint)
RETURNS SETOF ops.unit_finding
LANGUAGE sql STABLE
BEGIN ATOMIC
    WITH diff AS (
        SELECT s.address, s.name, s.file, (s.lines ->> 'contract')::integer AS line, s.version, b.base_address,
               b.base_version, b.base_major, b.base_minor, b.base_patch, b.origin,
               ops_private.bump_kind(b.base_major, b.base_minor, b.base_patch, s.major, s.minor, s.patch) AS made,
               ch.changes, ch.needed
        FROM ops.unit_snapshot s
        JOIN ops_private.unit_baseline(p_run) b ON b.address = s.address
        CROSS JOIN LATERAL (
            SELECT array_agg(c.change ORDER BY c.bump, c.change) AS changes,
                   CASE WHEN bool_or(c.bump = 'major') THEN 'major' WHEN bool_or(c.bump = 'minor') THEN 'minor' END AS needed
            FROM ops_private.contract_changes(b.base_doc -> 'contract', s.doc -> 'contract') c
        ) ch
        WHERE s.run_id = p_run AND s.doc ? 'contract' AND ch.needed IS NOT NULL
    ), judged AS (
        SELECT d.*, ops_private.next_version(d.base_major, d.base_minor, d.base_patch, d.needed) AS required
        FROM diff d
        WHERE (CASE d.needed WHEN 'major' THEN 3 ELSE 2 END)
            > (CASE d.made WHEN 'major' THEN 3 WHEN 'minor' THEN 2 WHEN 'patch' THEN 1 ELSE 0 END)
    )
    SELECT 'FM-06', 'UNIT.CONTRACT_BREAKING', 'blocking', j.address, j.file, j.line,
           format('contract change needs a %s bump from %s (%s) but %s → %s is %s; blast radius: %s direct, %s transitive, %s gate-bearing, %s protected',
                  j.needed, j.base_version, array_to_string(j.changes, '; '), j.base_version, j.version,
                  CASE j.made WHEN 'none' THEN 'no bump' ELSE 'a ' || j.made || ' bump' END,
                  br.summary ->> 'direct', br.summary ->> 'transitive', br.summary ->> 'gate_bearing',
                  br.summary ->> 'protected'),
           format('release as %s (or undo: %s)', j.required, array_to_string(j.changes, '; ')),
           j.name || '|contract',
           jsonb_build_object('baseline', j.base_address, 'baseline_origin', j.origin, 'changes', to_jsonb(j.changes),
                              'needed', j.needed, 'made', j.made, 'required_version', j.required,
                              'blast_radius', br.summary)
    FROM judged j
    -- The radii of all findings in one search (ops_private.blast_summaries), not one search per finding.
    JOIN ops_private.blast_summaries(p_run, ARRAY(SELECT k.address FROM judged k)) br ON br.unit = j.address;
END;
COMMENT ON FUNCTION ops.check_contracts(bigint) IS
    'FM-06 (blocking): a contract change that needs a bigger bump than was made (major: input removed, optional '
    'made required (default or not), new required input without default, a type changed, output removed; minor: new '
    'optional input, new output, new failure mode). Names the required version and the blast radius with its edges.';
