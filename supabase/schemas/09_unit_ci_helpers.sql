-- Unit CI helpers: the universe and graph of a run, versions and bumps (semver precedence), the
-- baseline a unit is compared with, contract changes, the blast radius, and ops.unit_finding, the
-- row type every check returns.

CREATE FUNCTION ops_private.unit_universe(p_run bigint)
RETURNS TABLE (address text, name text, type text, major integer, minor integer, patch integer, status text,
               doc jsonb, origin text)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT s.address, s.name, s.type, s.major, s.minor, s.patch, s.status, s.doc, 'paths'
    FROM ops.unit_snapshot s WHERE s.run_id = p_run
    UNION ALL
    SELECT p.address, p.name, p.type, p.major, p.minor, p.patch, p.status, p.document, 'registry'
    FROM ops.published_units p
    WHERE NOT EXISTS (SELECT FROM ops.unit_snapshot s WHERE s.run_id = p_run AND s.address = p.address);
END;
COMMENT ON FUNCTION ops_private.unit_universe(bigint) IS
    'Every unit a reference can resolve to in a run: the snapshot, then the registry for addresses not in it.';

CREATE FUNCTION ops_private.unit_graph(p_run bigint)
RETURNS TABLE (from_address text, to_address text, kind text, step_id text, line integer)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT e.from_address, e.to_address, e.kind, e.step_id, e.line FROM ops.unit_snapshot_edges e WHERE e.run_id = p_run
    UNION ALL
    SELECT e.from_address, e.to_address, e.kind, e.step_id, NULL::integer FROM ops.published_unit_edges e
    WHERE p_run IS NULL
       OR NOT EXISTS (SELECT FROM ops.unit_snapshot s WHERE s.run_id = p_run AND s.address = e.from_address);
END;
COMMENT ON FUNCTION ops_private.unit_graph(bigint) IS
    'Every reference in a run (snapshot edges plus registry edges of units not in the snapshot); the registry '
    'alone when p_run is NULL.';

CREATE FUNCTION ops_private.bump_kind(from_major integer, from_minor integer, from_patch integer,
                                      to_major integer, to_minor integer, to_patch integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
    WHEN to_major > from_major THEN 'major'
    WHEN to_major = from_major AND from_major = 0 AND to_minor > from_minor THEN 'major'
    WHEN to_major = from_major AND to_minor > from_minor THEN 'minor'
    WHEN to_major = from_major AND to_minor = from_minor AND to_patch > from_patch THEN 'patch'
    ELSE 'none' END;
COMMENT ON FUNCTION ops_private.bump_kind(integer, integer, integer, integer, integer, integer) IS
    'The bump from one version to another: major | minor | patch | none. At 0.x a minor bump counts as major.';

CREATE FUNCTION ops_private.next_version(major integer, minor integer, patch integer, bump text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
    WHEN bump = 'major' AND major = 0 THEN format('0.%s.0', minor + 1)
    WHEN bump = 'major' THEN format('%s.0.0', major + 1)
    WHEN bump = 'minor' THEN format('%s.%s.0', major, minor + 1)
    ELSE format('%s.%s.%s', major, minor, patch + 1) END;
COMMENT ON FUNCTION ops_private.next_version(integer, integer, integer, text) IS
    'The smallest version after major.minor.patch that makes a bump of the given kind (0.x: 0.(minor+1).0 is major).';

CREATE FUNCTION ops_private.unit_baseline(p_run bigint)
RETURNS TABLE (address text, base_address text, base_version text, base_major integer, base_minor integer,
               base_patch integer, base_doc jsonb, origin text)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT s.address, b.address, b.version, b.major, b.minor, b.patch, b.doc, b.origin
    FROM ops.unit_snapshot s
    CROSS JOIN LATERAL (
        SELECT x.address, x.version, x.major, x.minor, x.patch, x.doc, x.origin FROM (
            SELECT a.address, a.version, a.major, a.minor, a.patch, a.doc, 'against' AS origin
            FROM ops.unit_baselines a
            WHERE a.run_id = p_run AND a.name = s.name AND (a.major, a.minor, a.patch) <= (s.major, s.minor, s.patch)
            UNION ALL
            SELECT p.address, p.version, p.major, p.minor, p.patch, p.document, 'registry'
            FROM ops.published_units p
            WHERE NOT EXISTS (SELECT FROM ops.unit_baselines a WHERE a.run_id = p_run)
              AND p.name = s.name AND (p.major, p.minor, p.patch) < (s.major, s.minor, s.patch)
        ) x
        ORDER BY x.major DESC, x.minor DESC, x.patch DESC
        LIMIT 1
    ) b
    WHERE s.run_id = p_run;
END;
COMMENT ON FUNCTION ops_private.unit_baseline(bigint) IS
    'The version each snapshot unit is compared with by FM-05/FM-06: the highest --against unit at or below it, '
    'or else the highest published version strictly below it.';

CREATE FUNCTION ops_private.step_capabilities(step jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ARRAY(
    SELECT jsonb_array_elements_text(CASE jsonb_typeof(step -> 'requires')
        WHEN 'array' THEN step -> 'requires'
        WHEN 'object' THEN coalesce(step -> 'requires' -> 'capabilities', '[]')
        ELSE '[]' END));
COMMENT ON FUNCTION ops_private.step_capabilities(jsonb) IS
    'Capabilities a chain step requires itself: `requires: [..]` or `requires: {capabilities: [..]}`.';

-- Every check returns the same columns, ops.unit_finding; `key` says what the finding is about, stably across runs.
CREATE TYPE ops.unit_finding AS (alias text, code text, severity text, unit_address text, file text,
                                         line integer, message text, fix text, key text, details jsonb);
COMMENT ON TYPE ops.unit_finding IS 'One finding as every check returns it: the result type of every ops.check_* function.';

CREATE FUNCTION ops_private.version_is_1_or_later(version text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- One expression (so the planner inlines it): build metadata after `+` is ignored, a `-` before it starts a
-- pre-release, and 1.0.0-anything sorts below 1.0.0.
RETURN CASE WHEN version IS NULL OR version !~ '^[0-9]+\.[0-9]+\.[0-9]+([-+].*)?$' THEN false
            WHEN split_part(version, '.', 1)::numeric > 1 THEN true
            WHEN split_part(version, '.', 1)::numeric < 1 THEN false
            ELSE split_part(version, '.', 2)::numeric > 0
                 OR split_part(split_part(split_part(version, '.', 3), '-', 1), '+', 1)::numeric > 0
                 OR strpos(split_part(version, '+', 1), '-') = 0 END;
COMMENT ON FUNCTION ops_private.version_is_1_or_later(text) IS
    'Whether a semantic version is at least 1.0.0 by semver precedence: 1.0.0-alpha is not (a pre-release sorts '
    'before its release), 1.0.1-rc.1 is. Not a version: false.';

CREATE FUNCTION ops_private.release_version(p_run bigint, p_name text, p_version text, p_bump text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, ops
AS $$
-- A unit whose address is already released (in the registry, or among the run's --against baselines)
-- cannot change under that version: the fix must ship as the next free version of the given bump.
DECLARE
    v text[];
    candidate text := p_version;
BEGIN
    LOOP
        EXIT WHEN NOT EXISTS (SELECT FROM ops.published_units p WHERE p.address = p_name || '@' || candidate)
              AND NOT EXISTS (SELECT FROM ops.unit_baselines b WHERE b.run_id = p_run AND b.address = p_name || '@' || candidate);
        v := regexp_match(candidate, '^([0-9]+)\.([0-9]+)\.([0-9]+)');
        IF v IS NULL THEN
            RETURN NULL;
        END IF;
        candidate := ops_private.next_version(v[1]::integer, v[2]::integer, v[3]::integer, p_bump);
    END LOOP;
    RETURN candidate;
END
$$;
COMMENT ON FUNCTION ops_private.release_version(bigint, text, text, text) IS
    'The version a changed unit ships as: its own version while that address is unreleased (not in the registry, '
    'not among the run''s --against units), else the first free version after it by the given bump (patch, minor, major).';

CREATE FUNCTION ops_private.release_phrase(p_run bigint, p_name text, p_version text, p_bump text)
RETURNS text
LANGUAGE sql STABLE
RETURN CASE WHEN ops_private.release_version(p_run, p_name, p_version, p_bump) = p_version
            THEN format('keep version %s (it is not released yet)', p_version)
            ELSE format('release it as %s (%s is already released)',
                        ops_private.release_version(p_run, p_name, p_version, p_bump), p_version) END;
COMMENT ON FUNCTION ops_private.release_phrase(bigint, text, text, text) IS
    'The version clause of a fix: "keep version X (it is not released yet)" or "release it as Y (X is already released)".';

CREATE FUNCTION ops_private.next_council_version(version text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (SELECT CASE WHEN v IS NULL THEN 'its next minor version'
                    ELSE ops_private.next_version(v[1]::integer, v[2]::integer, v[3]::integer, 'minor') END
        FROM (SELECT regexp_match(version, '^([0-9]+)\.([0-9]+)\.([0-9]+)') AS v) x);
COMMENT ON FUNCTION ops_private.next_council_version(text) IS
    'The version a council ships as after an additive change (an agent or a capability granted): the next minor.';

CREATE FUNCTION ops_private.contract_changes(base jsonb, cur jsonb)
RETURNS TABLE (bump text, change text)
LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
    WITH bi AS (SELECT x ->> 'name' AS name, x ->> 'type' AS type, coalesce((x ->> 'required')::boolean, false) AS req,
                       x ? 'default' AS has_default
                FROM jsonb_array_elements(coalesce(base -> 'inputs', '[]')) x),
         ci AS (SELECT x ->> 'name' AS name, x ->> 'type' AS type, coalesce((x ->> 'required')::boolean, false) AS req,
                       x ? 'default' AS has_default
                FROM jsonb_array_elements(coalesce(cur -> 'inputs', '[]')) x),
         bo AS (SELECT x ->> 'name' AS name, x ->> 'type' AS type FROM jsonb_array_elements(coalesce(base -> 'outputs', '[]')) x),
         co AS (SELECT x ->> 'name' AS name, x ->> 'type' AS type FROM jsonb_array_elements(coalesce(cur -> 'outputs', '[]')) x)
    SELECT 'major', format('input %s removed', bi.name) FROM bi WHERE NOT EXISTS (SELECT FROM ci WHERE ci.name = bi.name)
    UNION ALL
    -- A required input must be supplied by every caller, whatever its default: callers that omitted it break.
    SELECT 'major', format('input %s made required', ci.name) FROM bi JOIN ci USING (name)
    WHERE NOT bi.req AND ci.req
    UNION ALL
    SELECT 'major', format('input %s type %s → %s', ci.name, bi.type, ci.type) FROM bi JOIN ci USING (name)
    WHERE bi.type IS DISTINCT FROM ci.type
    UNION ALL
    SELECT CASE WHEN ci.req AND NOT ci.has_default THEN 'major' ELSE 'minor' END,
           format('new %s input %s', CASE WHEN ci.req AND NOT ci.has_default THEN 'required' ELSE 'optional' END, ci.name)
    FROM ci WHERE NOT EXISTS (SELECT FROM bi WHERE bi.name = ci.name)
    UNION ALL
    SELECT 'major', format('output %s removed', bo.name) FROM bo WHERE NOT EXISTS (SELECT FROM co WHERE co.name = bo.name)
    UNION ALL
    SELECT 'major', format('output %s type %s → %s', co.name, bo.type, co.type) FROM bo JOIN co USING (name)
    WHERE bo.type IS DISTINCT FROM co.type
    UNION ALL
    SELECT 'minor', format('new output %s', co.name) FROM co WHERE NOT EXISTS (SELECT FROM bo WHERE bo.name = co.name)
    UNION ALL
    SELECT 'minor', format('new failure mode %s', f ->> 'condition')
    FROM jsonb_array_elements(coalesce(cur -> 'failure_modes', '[]')) f
    WHERE NOT EXISTS (SELECT FROM jsonb_array_elements(coalesce(base -> 'failure_modes', '[]')) g
                      WHERE g ->> 'condition' = f ->> 'condition');
END;
COMMENT ON FUNCTION ops_private.contract_changes(jsonb, jsonb) IS
    'Classify the difference between two contracts: one row per change with the bump it needs (major or minor). '
    'An optional input made required is major even when it has a default.';

CREATE FUNCTION ops.unit_blast_radius(p_run bigint, p_name text)
RETURNS TABLE (address text, depth integer, direct boolean, gate_bearing boolean, protected boolean)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, ops
AS $$
-- Reverse breadth-first search over imports and step references, by unit name (every version of a
-- dependency counts). A dependent is gate-bearing when it is a chain with a gate step, protected when
-- one of its steps is owned by an agent its council protects (councils are known only in a run).
-- The edges and units are those of ops_private.unit_graph / unit_universe, read through their indexes.
-- Each level only collects addresses; the dependents' rows and flags are read once, for the whole radius,
-- at the end (one query instead of one per level: 10,000 units, radius 1,114 over 25 levels: 115 -> 50 ms).
-- A registry edge counts unless its unit is in the snapshot; that is probed per edge found (issue 12).
DECLARE
    frontier text[] := ARRAY[ops_private.unit_name(p_name)];
    seen jsonb := jsonb_build_object(ops_private.unit_name(p_name), true);  -- a set: `?` is a binary search
    level integer := 0;
    found text[];
    reached text[] := ARRAY[]::text[];
    depths integer[] := ARRAY[]::integer[];
BEGIN
    LOOP
        level := level + 1;
        SELECT array_agg(DISTINCT x.from_address) INTO found
        FROM (SELECT e.from_address FROM ops.unit_snapshot_edges e
              WHERE e.run_id = p_run AND ops_private.unit_name(e.to_address) = ANY (frontier)
              UNION ALL
              SELECT e.from_address FROM ops.published_unit_edges e
              WHERE ops_private.unit_name(e.to_address) = ANY (frontier)
                  -- OFFSET 0 keeps this a per-row probe of unit_snapshot_pkey: as an anti-join the planner hashed the
                -- whole snapshot at every level of every radius (10,000 units, 101 findings: most of the radii's time,
                -- and growing with N times the findings).
                AND NOT EXISTS (SELECT FROM ops.unit_snapshot s WHERE s.run_id = p_run AND s.address = e.from_address
                                OFFSET 0)) x
        WHERE NOT seen ? ops_private.unit_name(x.from_address);
        EXIT WHEN found IS NULL;
        reached := reached || found;
        depths := depths || array_fill(level, ARRAY[cardinality(found)]);
        -- Addresses that resolve to nothing still propagate by name.
        frontier := ARRAY(SELECT DISTINCT ops_private.unit_name(x) FROM unnest(found) x);
        seen := seen || (SELECT jsonb_object_agg(x, true) FROM unnest(frontier) x);
    END LOOP;
    RETURN QUERY
    SELECT u.address, r.depth, r.depth = 1,
           u.type = 'chain' AND EXISTS (
               SELECT FROM jsonb_array_elements(coalesce(u.doc -> 'composition' -> 'steps', '[]')) st
               WHERE coalesce((st ->> 'gate')::boolean, false)),
           u.type = 'chain' AND EXISTS (
               SELECT FROM jsonb_array_elements(coalesce(u.doc -> 'composition' -> 'steps', '[]')) st
               WHERE st ->> 'agent' IN (
                   SELECT jsonb_array_elements_text(coalesce(
                              c.doc -> 'protectedAgents' -> split_part(split_part(u.address, '://', 2), '/', 1), '[]'))
                   UNION
                   SELECT a ->> 'designation' FROM jsonb_array_elements(coalesce(c.doc -> 'agents', '[]')) a
                   WHERE coalesce((a ->> 'protected')::boolean, false)))
    FROM unnest(reached, depths) AS r (address, depth)
    JOIN LATERAL (SELECT s.address, s.type, s.doc FROM ops.unit_snapshot s
                  WHERE s.run_id = p_run AND s.address = r.address
                  UNION ALL
                  SELECT p.address, p.type, p.document FROM ops.published_units p
                  WHERE p.address = r.address
                    AND NOT EXISTS (SELECT FROM ops.unit_snapshot s WHERE s.run_id = p_run AND s.address = p.address)) u
         ON true
    LEFT JOIN ops.council_snapshot c ON c.run_id = p_run AND c.council_id = u.doc ->> 'council'
    ORDER BY r.depth, u.address;
END
$$;
COMMENT ON FUNCTION ops.unit_blast_radius(bigint, text) IS
    'Everything that depends on a unit (any version of its name), transitively: address, depth (1 = direct), '
    'whether it is a chain with a gate step and whether it involves a protected agent. p_run NULL: the registry only. '
    'Each level is an indexed lookup by target name, so the cost follows the size of the radius.';

CREATE FUNCTION ops_private.blast_summary(p_run bigint, p_name text) RETURNS jsonb
LANGUAGE sql STABLE
BEGIN ATOMIC
    WITH r AS (SELECT b.address, b.depth, b.direct, b.gate_bearing, b.protected FROM ops.unit_blast_radius(p_run, p_name) b),
         -- Counts are exact; the list (and the graph drawn from it) holds the 200 nearest dependents.
         listed AS (SELECT r.* FROM r ORDER BY r.depth, r.address LIMIT 200),
         names AS (SELECT ops_private.unit_name(p_name) AS name UNION SELECT ops_private.unit_name(l.address) FROM listed l)
    SELECT jsonb_build_object(
        'direct', (SELECT count(*) FROM r WHERE r.direct),
        'transitive', (SELECT count(*) FROM r),
        'gate_bearing', (SELECT count(*) FROM r WHERE r.gate_bearing),
        'protected', (SELECT count(*) FROM r WHERE r.protected),
        'listed', (SELECT count(*) FROM listed),
        'dependents', coalesce((SELECT jsonb_agg(jsonb_build_object('address', l.address, 'depth', l.depth,
                                                                    'gate_bearing', l.gate_bearing, 'protected', l.protected)
                                                 ORDER BY l.depth, l.address) FROM listed l), '[]'),
        'edges', coalesce((SELECT jsonb_agg(jsonb_build_object('from', g.from_address, 'to', g.to_address, 'kind', g.kind,
                                                               'step', g.step_id)
                                            ORDER BY g.from_address, g.kind, g.to_address, g.step_id)
                           -- Read from each listed dependent through the edges' primary keys (from_address), the
                           -- snapshot probed per registry edge (OFFSET 0: no anti-join hashing the whole snapshot);
                           -- scanning every edge of the run and the registry per finding grew with N x findings.
                           FROM (SELECT DISTINCT x.from_address, x.to_address, x.kind, x.step_id
                                 FROM listed l
                                 CROSS JOIN LATERAL (
                                       SELECT e.from_address, e.to_address, e.kind, e.step_id FROM ops.unit_snapshot_edges e
                                       WHERE e.run_id = p_run AND e.from_address = l.address
                                       UNION ALL
                                       SELECT e.from_address, e.to_address, e.kind, e.step_id FROM ops.published_unit_edges e
                                       WHERE e.from_address = l.address
                                         AND NOT EXISTS (SELECT FROM ops.unit_snapshot s
                                                         WHERE s.run_id = p_run AND s.address = e.from_address
                                                         OFFSET 0)) x
                                 WHERE ops_private.unit_name(x.to_address) IN (SELECT names.name FROM names)) g), '[]'));
END;
COMMENT ON FUNCTION ops_private.blast_summary(bigint, text) IS
    'The blast radius of a unit as one jsonb: exact counts (direct, transitive, gate_bearing, protected), the nearest '
    '200 dependents (address, depth, flags; `listed` says how many) and the real references among them and the unit '
    '(from, to, kind, step) to draw.';

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
