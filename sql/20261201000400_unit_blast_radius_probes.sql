-- Unit CI at scale (issue 12, second pass): the blast radius probes the snapshot per edge instead of hashing it.
-- Both NOT EXISTS (a registry edge counts unless its unit is in the run's snapshot) were planned as hash anti-joins
-- that read the whole snapshot, at every BFS level of every finding's radius and again for its drawn edges, and
-- blast_summary scanned every edge of the run and of the registry per finding: cost N x findings, so the runs
-- with findings grew faster than N. Same results (tests/test_units_equivalence.py); definitions copied from
-- supabase/schemas/09_unit_ci_helpers.sql and changed only there.
CREATE OR REPLACE FUNCTION ops.unit_blast_radius(p_run bigint, p_name text)
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

CREATE OR REPLACE FUNCTION ops_private.blast_summary(p_run bigint, p_name text) RETURNS jsonb
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
