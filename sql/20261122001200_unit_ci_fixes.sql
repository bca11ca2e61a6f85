-- Unit CI fixes (issue 5 audit). Landed migrations are never edited: what changes here is replaced in place
-- (same signatures, so callers and grants are untouched).
--
-- * Every fix names a version: the version to release a changed unit as (ops_private.release_version), the
--   version to import, the council version to release, or, where no version can exist, exactly what to do.
-- * FM-05 matches baseline gates one to one: by step id, then by agent and unit name (a renumbered gate is
--   the same gate; removing one of two identical gates is still a removal).
-- * FM-06: an optional input made required is major whatever its default.
-- * FM-07: versions compare by semver precedence (1.0.0-alpha is below 1.0.0); one importer scope for both
--   messages, as the issue words it: stable, or 1.0.0 or later and not draft.
-- * FM-03 findings sit on a reference a scanned file makes; FM-04/05/06 carry the blast radius with its
--   real edges (ops_private.blast_summary) for the markdown report.
-- * ops.run_unit_checks: a check line agrees with its findings (all waived = pass; severity = the worst);
--   waivers are judged even when files failed validation (expired ones fail, the rest are reported as
--   unjudged); WAIVERS findings point at the waivers file and line; jit is off for the run.
-- * Speed: the blast radius and the --against baseline are indexed lookups (they scanned everything).

-- ---------------------------------------------------------------------------------------- helpers

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

-- Blast radius in time proportional to the radius, not to the registry: each BFS level looks up the
-- references to the frontier's names through an index on the target's name, instead of scanning every
-- edge of the run and the registry (10,000 units, 100 findings: 95 s of blast radius became about 3 s).
-- Not CONCURRENTLY (migrations run in one transaction): the snapshot tables are empty between runs and
-- the registry's edge table is small, so the write lock is held for moments.
CREATE INDEX unit_snapshot_edges_target_name_idx ON ops.unit_snapshot_edges (run_id, ops_private.unit_name(to_address));
CREATE INDEX published_unit_edges_target_name_idx ON ops.published_unit_edges (ops_private.unit_name(to_address));
-- The --against baseline of each unit (ops_private.unit_baseline) is the highest version of its name in the run:
-- without this index every unit scanned every baseline (10,000 units: 33 s instead of 8 s).
CREATE INDEX unit_baselines_name_version_idx ON ops.unit_baselines (run_id, name, major DESC, minor DESC, patch DESC);

CREATE OR REPLACE FUNCTION ops.unit_blast_radius(p_run bigint, p_name text)
RETURNS TABLE (address text, depth integer, direct boolean, gate_bearing boolean, protected boolean)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, ops
AS $$
-- Reverse breadth-first search over imports and step references, by unit name (every version of a
-- dependency counts). A dependent is gate-bearing when it is a chain with a gate step, protected when
-- one of its steps is owned by an agent its council protects (councils are known only in a run).
-- The edges and units are those of ops_private.unit_graph / unit_universe, read through their indexes.
DECLARE
    frontier text[] := ARRAY[ops_private.unit_name(p_name)];
    seen jsonb := jsonb_build_object(ops_private.unit_name(p_name), true);  -- a set: `?` is a binary search
    level integer := 0;
    found text[];
BEGIN
    LOOP
        level := level + 1;
        SELECT array_agg(DISTINCT x.from_address) INTO found
        FROM (SELECT e.from_address FROM ops.unit_snapshot_edges e
              WHERE e.run_id = p_run AND ops_private.unit_name(e.to_address) = ANY (frontier)
              UNION ALL
              SELECT e.from_address FROM ops.published_unit_edges e
              WHERE ops_private.unit_name(e.to_address) = ANY (frontier)
                AND NOT EXISTS (SELECT FROM ops.unit_snapshot s WHERE s.run_id = p_run AND s.address = e.from_address)) x
        WHERE NOT seen ? ops_private.unit_name(x.from_address);
        EXIT WHEN found IS NULL;
        RETURN QUERY
        SELECT u.address, level, level = 1,
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
        FROM (SELECT s.address, s.type, s.doc FROM ops.unit_snapshot s
              WHERE s.run_id = p_run AND s.address = ANY (found)
              UNION ALL
              SELECT p.address, p.type, p.document FROM ops.published_units p
              WHERE p.address = ANY (found)
                AND NOT EXISTS (SELECT FROM ops.unit_snapshot s WHERE s.run_id = p_run AND s.address = p.address)) u
        LEFT JOIN ops.council_snapshot c ON c.run_id = p_run AND c.council_id = u.doc ->> 'council'
        ORDER BY u.address;
        -- Addresses that resolve to nothing still propagate by name.
        frontier := ARRAY(SELECT DISTINCT ops_private.unit_name(x) FROM unnest(found) x);
        seen := seen || (SELECT jsonb_object_agg(x, true) FROM unnest(frontier) x);
    END LOOP;
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
                           FROM (SELECT DISTINCT x.from_address, x.to_address, x.kind, x.step_id
                                 FROM (SELECT e.from_address, e.to_address, e.kind, e.step_id FROM ops.unit_snapshot_edges e
                                       WHERE e.run_id = p_run AND e.from_address IN (SELECT l.address FROM listed l)
                                       UNION ALL
                                       SELECT e.from_address, e.to_address, e.kind, e.step_id FROM ops.published_unit_edges e
                                       WHERE e.from_address IN (SELECT l.address FROM listed l)
                                         AND NOT EXISTS (SELECT FROM ops.unit_snapshot s
                                                         WHERE s.run_id = p_run AND s.address = e.from_address)) x
                                 WHERE ops_private.unit_name(x.to_address) IN (SELECT names.name FROM names)) g), '[]'));
END;
COMMENT ON FUNCTION ops_private.blast_summary(bigint, text) IS
    'The blast radius of a unit as one jsonb: exact counts (direct, transitive, gate_bearing, protected), the nearest '
    '200 dependents (address, depth, flags; `listed` says how many) and the real references among them and the unit '
    '(from, to, kind, step) to draw.';

-- ---------------------------------------------------------------------------------------- the snapshot

CREATE OR REPLACE FUNCTION ops.begin_unit_ci(kind text, scope text, council text, paths text[], units jsonb, councils jsonb,
                                  baselines jsonb DEFAULT '[]', problems jsonb DEFAULT '[]', parse_ms integer DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, ops
AS $$
DECLARE
    run bigint;
BEGIN
    INSERT INTO ops.maintenance_runs AS r (kind, scope, council, paths, units_count, councils_count, parse_ms, started_at)
    VALUES (begin_unit_ci.kind, begin_unit_ci.scope, begin_unit_ci.council, coalesce(begin_unit_ci.paths, '{}'),
            jsonb_array_length(units), jsonb_array_length(councils), begin_unit_ci.parse_ms,
            clock_timestamp() - make_interval(secs => coalesce(begin_unit_ci.parse_ms, 0) / 1000.0))
    RETURNING r.id INTO run;

    INSERT INTO ops.unit_snapshot (run_id, address, name, domain, type, slug, version, major, minor, patch, prerelease,
                                   status, fingerprint, computed_fingerprint, council, file, line, doc, lines)
    SELECT run, u.address, u.name, u.domain, u.type, u.slug, u.version, u.major, u.minor, u.patch, u.prerelease,
           u.status, u.fingerprint, u.computed, u.council, u.file, u.line, u.doc, coalesce(u.lines, '{}')
    FROM jsonb_to_recordset(units) AS u (address text, name text, domain text, type text, slug text, version text,
        major integer, minor integer, patch integer, prerelease text, status text, fingerprint text, computed text,
        council text, file text, line integer, doc jsonb, lines jsonb);

    INSERT INTO ops.unit_snapshot_edges (run_id, from_address, to_address, kind, step_id, ord, line)
    SELECT run, s.address, i.target, 'import', NULL, i.ord::integer, (s.lines -> 'imports' ->> (i.ord::integer - 1))::integer
    FROM ops.unit_snapshot s
    CROSS JOIN LATERAL jsonb_array_elements_text(coalesce(s.doc -> 'imports', '[]')) WITH ORDINALITY AS i (target, ord)
    WHERE s.run_id = run
    UNION ALL
    SELECT run, s.address, st.step ->> 'unit', 'step', st.step ->> 'id', st.ord::integer,
           (s.lines -> 'steps' ->> (st.ord::integer - 1))::integer
    FROM ops.unit_snapshot s
    CROSS JOIN LATERAL jsonb_array_elements(coalesce(s.doc -> 'composition' -> 'steps', '[]')) WITH ORDINALITY AS st (step, ord)
    WHERE s.run_id = run AND st.step ->> 'unit' IS NOT NULL;

    INSERT INTO ops.council_snapshot (run_id, council_id, domain, version, file, line, doc)
    SELECT run, c.id, c.domain, c.version, c.file, c.line, c.doc
    FROM jsonb_to_recordset(councils) AS c (id text, domain text, version text, file text, line integer, doc jsonb);

    INSERT INTO ops.unit_baselines (run_id, address, name, version, major, minor, patch, doc)
    SELECT run, b.address, b.name, b.version, b.major, b.minor, b.patch, b.doc
    FROM jsonb_to_recordset(coalesce(baselines, '[]')) AS b (address text, name text, version text, major integer,
        minor integer, patch integer, doc jsonb);

    -- Files that failed parsing or validation. The fix names the version the repaired file ships as.
    INSERT INTO ops.maintenance_run_events (run_id, kind, check_alias, code, outcome, severity, unit_address, file,
                                            line, message, fix, runbook, finding_fingerprint, details)
    SELECT run, 'finding', 'SCHEMA', 'UNIT.SCHEMA_INVALID', 'fail', 'blocking', p.address, p.file, p.line, p.message,
           format('fix %s:%s (%s) until `stratt validate %s` passes; ', p.file, coalesce(p.line, 1),
                  CASE WHEN p.address LIKE 'council/%' THEN 'ssot/schemas/council.schema.json'
                       ELSE 'ssot/schemas/unit.schema.json' END, p.file)
           || CASE WHEN p.address LIKE 'council/%'
                   THEN 'councils are not published, so no version is involved'
                   WHEN a.v IS NULL
                   THEN 'no version applies until its id parses as strat://domain/type/slug@semver'
                   ELSE ops_private.release_phrase(run, a.v[1], a.v[2], 'patch') END,
           coalesce((SELECT fm.runbook FROM ops.failure_modes fm WHERE fm.code = 'UNIT.SCHEMA_INVALID'),
                    'docs/runbooks/failures/UNIT.SCHEMA_INVALID.md'),
           encode(sha256(convert_to('UNIT.SCHEMA_INVALID|' || p.file || '|' || p.message, 'UTF8')), 'hex'), '{}'
    FROM jsonb_to_recordset(coalesce(problems, '[]')) AS p (file text, line integer, message text, address text)
    CROSS JOIN LATERAL (SELECT regexp_match(p.address, '^(strat://[a-z]+/[a-z]+/[a-z0-9-]+)@([0-9]+\.[0-9]+\.[0-9]+\S*)$') AS v) a
    ORDER BY p.file, p.line;
    RETURN run;
END
$$;
COMMENT ON FUNCTION ops.begin_unit_ci(text, text, text, text[], jsonb, jsonb, jsonb, jsonb, integer) IS
    'Start a scanner run and store its snapshot in one call: units and councils as JSON arrays (as stratt builds '
    'them), optional --against baselines and the files that failed parsing or validation (recorded as SCHEMA '
    'findings whose fix names the version the repaired file ships as). Returns the run id for ops.run_unit_checks().';

-- ---------------------------------------------------------------------------------------- the checks

CREATE OR REPLACE FUNCTION ops.check_fingerprints(p_run bigint)
RETURNS SETOF ops.unit_finding
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT 'FM-01', 'UNIT.FINGERPRINT_TAMPER', 'critical', s.address, s.file, (s.lines ->> 'fingerprint')::integer,
           format('%s declares %s but its content hashes to %s', s.address, s.fingerprint, s.computed_fingerprint),
           CASE WHEN ops_private.release_version(p_run, s.name, s.version, 'patch') = s.version
                THEN format('if the edit is intended, run `stratt fingerprint --update %s` and keep version %s (it is not '
                            'released yet); otherwise restore the content that hashes to %s', s.file, s.version, s.fingerprint)
                ELSE format('restore the released content of %s (it hashes to %s), or put the edit in a new version: '
                            'set version %s and run `stratt fingerprint --update %s`', s.address,
                            coalesce((SELECT p.fingerprint FROM ops.published_units p WHERE p.address = s.address),
                                     s.fingerprint),
                            ops_private.release_version(p_run, s.name, s.version, 'patch'), s.file) END,
           s.name || '|mismatch',
           jsonb_build_object('declared', s.fingerprint, 'computed', s.computed_fingerprint,
                              'release_as', ops_private.release_version(p_run, s.name, s.version, 'patch'))
    FROM ops.unit_snapshot s
    WHERE s.run_id = p_run AND s.fingerprint IS NOT NULL AND s.fingerprint <> s.computed_fingerprint
    UNION ALL
    SELECT 'FM-01', 'UNIT.FINGERPRINT_TAMPER', 'critical', s.address, s.file, (s.lines ->> 'status')::integer,
           format('%s has status %s but no fingerprint', s.address, s.status),
           CASE WHEN p.fingerprint = s.computed_fingerprint
                THEN format('run `stratt fingerprint --update %s`: it writes %s, which is what the registry holds for %s',
                            s.file, s.computed_fingerprint, s.address)
                WHEN p.fingerprint IS NOT NULL
                THEN format('%s is published as %s and this content differs: restore it and run `stratt fingerprint '
                            '--update %s`, or set version %s and run it', s.address, p.fingerprint, s.file,
                            ops_private.release_version(p_run, s.name, s.version, 'patch'))
                ELSE format('run `stratt fingerprint --update %s` (writes %s) and keep version %s, which is not '
                            'published yet; or set status: draft', s.file, s.computed_fingerprint, s.version) END,
           s.name || '|missing',
           jsonb_build_object('status', s.status, 'computed', s.computed_fingerprint, 'published', p.fingerprint)
    FROM ops.unit_snapshot s
    LEFT JOIN ops.published_units p ON p.address = s.address
    WHERE s.run_id = p_run AND s.fingerprint IS NULL AND s.status IN ('review', 'stable', 'deprecated')
    UNION ALL
    SELECT 'FM-01', 'UNIT.FINGERPRINT_TAMPER', 'critical', s.address, s.file, e.line,
           format('%s %s %s, whose status is tampered', s.address,
                  CASE e.kind WHEN 'import' THEN 'imports' ELSE 'runs (' || e.step_id || ')' END, e.to_address),
           CASE WHEN ok.address IS NOT NULL
                THEN format('reference %s instead (the highest version of it that is not tampered or tombstoned; check '
                            'it with `stratt verify %s`), then release %s: %s', ok.address, ok.address, s.name,
                            ops_private.release_phrase(p_run, s.name, s.version, 'patch'))
                ELSE format('no untampered version of %s exists: its owner must republish it as %s after `stratt verify`; '
                            'then reference that version', u.name,
                            ops_private.release_version(p_run, u.name, split_part(u.address, '@', 2), 'patch')) END,
           s.name || '|imports-tampered|' || e.to_address,
           jsonb_build_object('target', e.to_address, 'target_origin', u.origin, 'alternative', ok.address)
    FROM ops.unit_snapshot s
    JOIN ops.unit_snapshot_edges e ON e.run_id = s.run_id AND e.from_address = s.address
    JOIN ops_private.unit_universe(p_run) u ON u.address = e.to_address
    LEFT JOIN LATERAL (
        SELECT v.address FROM ops_private.unit_universe(p_run) v
        WHERE v.name = u.name AND v.status NOT IN ('tampered', 'tombstoned')
        ORDER BY v.major DESC, v.minor DESC, v.patch DESC, v.address DESC
        LIMIT 1
    ) ok ON true
    WHERE s.run_id = p_run AND u.status = 'tampered';
END;
COMMENT ON FUNCTION ops.check_fingerprints(bigint) IS
    'FM-01 (critical): a declared fingerprint that differs from the computed one, a review/stable/deprecated unit '
    'without a fingerprint, and any reference to a unit whose status is tampered. Each fix names the version to '
    'keep, release or reference.';

CREATE OR REPLACE FUNCTION ops.check_protected_agents(p_run bigint, p_council text DEFAULT NULL)
RETURNS SETOF ops.unit_finding
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT 'FM-04', 'UNIT.PROTECTED_AGENT_MISSING',
           CASE WHEN ov.ok THEN 'warning' ELSE 'blocking' END,
           s.address, s.file, (s.lines ->> 'composition')::integer,
           CASE WHEN ov.ok
                THEN format('%s has no step owned by protected agent %s (%s); override approved by %s: %s',
                            s.address, d.designation, c.council_id, ov.approved_by, ov.reason)
                WHEN ov.approved_by IS NOT NULL
                THEN format('%s has no step owned by protected agent %s (%s); the override names %s, who has no gate authority',
                            s.address, d.designation, c.council_id, ov.approved_by)
                ELSE format('%s has no step owned by protected agent %s (%s, domain %s)',
                            s.address, d.designation, c.council_id, s.domain)
           END,
           CASE WHEN prior.step IS NOT NULL
                THEN format('restore %s (%s runs %s, as in %s) and %s', prior.step ->> 'id', d.designation,
                            prior.step ->> 'unit', prior.address, ops_private.release_phrase(p_run, s.name, s.version, 'patch'))
                ELSE format('add a step owned by %s to the composition and %s', d.designation,
                            ops_private.release_phrase(p_run, s.name, s.version, 'patch')) END
           || format('; or record overrides: [{check: FM-04, agent: %s, reason, approved_by: one of %s}]', d.designation,
                     coalesce((SELECT string_agg(a ->> 'designation', ', ' ORDER BY a ->> 'designation')
                               FROM jsonb_array_elements(coalesce(c.doc -> 'agents', '[]')) a
                               WHERE coalesce((a ->> 'gate_authority')::boolean, false)), 'no agent (none has gate authority)')),
           s.name || '|' || d.designation,
           jsonb_build_object('agent', d.designation, 'council', c.council_id, 'domain', s.domain,
                              'override', ov.ok, 'approved_by', ov.approved_by, 'restore_from', prior.address,
                              'restore', prior.step,
                              'release_as', ops_private.release_version(p_run, s.name, s.version, 'patch'),
                              'blast_radius', ops_private.blast_summary(p_run, s.address))
    FROM ops.unit_snapshot s
    JOIN ops.council_snapshot c ON c.run_id = s.run_id AND c.council_id = s.council
    CROSS JOIN LATERAL jsonb_array_elements_text(coalesce(c.doc -> 'protectedAgents' -> s.domain, '[]')) AS d (designation)
    LEFT JOIN LATERAL (
        SELECT o ->> 'approved_by' AS approved_by, o ->> 'reason' AS reason,
               EXISTS (SELECT FROM jsonb_array_elements(c.doc -> 'agents') a
                       WHERE a ->> 'designation' = o ->> 'approved_by' AND (a ->> 'gate_authority')::boolean) AS ok
        FROM jsonb_array_elements(coalesce(s.doc -> 'overrides', '[]')) o
        WHERE o ->> 'check' = 'FM-04' AND o ->> 'agent' = d.designation
        ORDER BY 3 DESC
        LIMIT 1
    ) ov ON true
    -- Where the protected agent's step can be restored from: the baseline version, else the released version of
    -- this very address (a chain edited in place).
    LEFT JOIN ops_private.unit_baseline(p_run) b ON b.address = s.address
    LEFT JOIN ops.published_units pub ON pub.address = s.address
    LEFT JOIN LATERAL (
        SELECT x.address, st AS step
        FROM (VALUES (1, b.base_address, b.base_doc), (2, pub.address, pub.document)) AS x (pos, address, doc)
        CROSS JOIN LATERAL jsonb_array_elements(coalesce(x.doc -> 'composition' -> 'steps', '[]')) st
        WHERE x.address IS NOT NULL AND st ->> 'agent' = d.designation
        ORDER BY x.pos
        LIMIT 1
    ) prior ON true
    WHERE s.run_id = p_run AND s.type = 'chain' AND (p_council IS NULL OR s.council = p_council)
      AND NOT EXISTS (SELECT FROM jsonb_array_elements(coalesce(s.doc -> 'composition' -> 'steps', '[]')) st
                      WHERE st ->> 'agent' = d.designation);
END;
COMMENT ON FUNCTION ops.check_protected_agents(bigint, text) IS
    'FM-04 (blocking): a chain of domain D (of the given council, or any) with no step owned by one of '
    'protectedAgents[D], whatever the steps'' status. An override approved by a gate-authority agent makes it a warning. '
    'The fix names the baseline step to restore and the version to release; details.blast_radius has the dependents.';

CREATE OR REPLACE FUNCTION ops.check_gates(p_run bigint)
RETURNS SETOF ops.unit_finding
LANGUAGE sql STABLE
BEGIN ATOMIC
    -- Baseline gates are matched one to one: first by step id (the same id is still a gate), then the rest by
    -- agent and unit name against current gates that keep no baseline gate by id (a renumbered or moved gate).
    -- Whatever stays unmatched was removed.
    WITH chains AS (
        SELECT s.address, s.name, s.file, s.lines, s.version, s.major, s.minor, s.patch, s.doc,
               b.base_address, b.base_version, b.base_major, b.base_minor, b.base_patch, b.base_doc, b.origin
        FROM ops.unit_snapshot s
        JOIN ops_private.unit_baseline(p_run) b ON b.address = s.address
        WHERE s.run_id = p_run AND s.type = 'chain'
          AND ops_private.bump_kind(b.base_major, b.base_minor, b.base_patch, s.major, s.minor, s.patch) <> 'major'
    ), base_gates AS (
        SELECT ch.address, bs.step, bs.step ->> 'id' AS id, bs.step ->> 'agent' AS agent,
               ops_private.unit_name(bs.step ->> 'unit') AS unit_name, bs.ord
        FROM chains ch
        CROSS JOIN LATERAL jsonb_array_elements(coalesce(ch.base_doc -> 'composition' -> 'steps', '[]'))
             WITH ORDINALITY AS bs (step, ord)
        WHERE coalesce((bs.step ->> 'gate')::boolean, false)
    ), cur_gates AS (
        SELECT ch.address, st.step ->> 'id' AS id, st.step ->> 'agent' AS agent,
               ops_private.unit_name(st.step ->> 'unit') AS unit_name
        FROM chains ch
        CROSS JOIN LATERAL jsonb_array_elements(coalesce(ch.doc -> 'composition' -> 'steps', '[]')) AS st (step)
        WHERE coalesce((st.step ->> 'gate')::boolean, false)
    ), unkept AS (
        SELECT g.*, row_number() OVER (PARTITION BY g.address, g.agent, g.unit_name ORDER BY g.ord) AS rank
        FROM base_gates g
        WHERE NOT EXISTS (SELECT FROM cur_gates c WHERE c.address = g.address AND c.id = g.id)
    ), removed AS (
        SELECT u.* FROM unkept u
        WHERE u.rank > (SELECT count(*) FROM cur_gates c
                        WHERE c.address = u.address AND c.agent = u.agent AND c.unit_name = u.unit_name
                          AND NOT EXISTS (SELECT FROM base_gates g WHERE g.address = c.address AND g.id = c.id))
    )
    SELECT 'FM-05', 'UNIT.GATE_REMOVED', 'blocking', ch.address, ch.file,
           coalesce((ch.lines -> 'steps' ->> (cs.ord::integer - 1))::integer, (ch.lines ->> 'composition')::integer),
           format('gate step %s (%s, %s) of %s %s in %s without a major bump (%s → %s)',
                  r.id, r.agent, r.step ->> 'unit', ch.base_address,
                  CASE WHEN cs.step IS NULL THEN 'is gone' ELSE 'is no longer a gate' END,
                  ch.version, ch.base_version, ch.version),
           format('%s, or release the chain as %s (removing a gate needs a major version)',
                  CASE WHEN cs.step IS NULL
                       THEN format('restore %s (%s runs %s, gate: true)', r.id, r.agent, r.step ->> 'unit')
                       ELSE format('set gate: true on %s again', r.id) END,
                  ops_private.next_version(ch.base_major, ch.base_minor, ch.base_patch, 'major')),
           ch.name || '|' || r.id,
           jsonb_build_object('baseline', ch.base_address, 'baseline_origin', ch.origin, 'step', r.step,
                              'removed', cs.step IS NULL,
                              'required_version', ops_private.next_version(ch.base_major, ch.base_minor, ch.base_patch, 'major'),
                              'blast_radius', ops_private.blast_summary(p_run, ch.address))
    FROM removed r
    JOIN chains ch ON ch.address = r.address
    LEFT JOIN LATERAL (
        SELECT st.step, st.ord FROM jsonb_array_elements(coalesce(ch.doc -> 'composition' -> 'steps', '[]'))
               WITH ORDINALITY AS st (step, ord)
        WHERE st.step ->> 'id' = r.id
        LIMIT 1
    ) cs ON true
    ORDER BY ch.address, r.ord;
END;
COMMENT ON FUNCTION ops.check_gates(bigint) IS
    'FM-05 (blocking): against the baseline version (--against, else the highest published version below), a step '
    'that had gate: true is gone or no longer a gate and the major version did not increase (0.x: minor counts as major). '
    'Baseline gates match current ones one to one, by step id, else by agent and unit name (a renumbered gate is kept).';

CREATE OR REPLACE FUNCTION ops_private.contract_changes(base jsonb, cur jsonb)
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
    CROSS JOIN LATERAL (SELECT ops_private.blast_summary(p_run, j.address) AS summary OFFSET 0) br;  -- once per row
END;
COMMENT ON FUNCTION ops.check_contracts(bigint) IS
    'FM-06 (blocking): a contract change that needs a bigger bump than was made (major: input removed, optional '
    'made required (default or not), new required input without default, a type changed, output removed; minor: new '
    'optional input, new output, new failure mode). Names the required version and the blast radius with its edges.';

CREATE OR REPLACE FUNCTION ops.check_draft_isolation(p_run bigint)
RETURNS SETOF ops.unit_finding
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT 'FM-07', 'UNIT.DRAFT_ISOLATION', 'warning', s.address, s.file, e.line,
           CASE WHEN u.status = 'deprecated'
                THEN format('%s %s %s, which is deprecated%s', s.address,
                            CASE e.kind WHEN 'import' THEN 'imports' ELSE 'runs' END, e.to_address,
                            coalesce(' (successor ' || succ.named || ')', ''))
                ELSE format('%s %s (%s) %s %s, which is %s', s.address, s.status, s.version,
                            CASE e.kind WHEN 'import' THEN 'imports' ELSE 'runs' END, e.to_address,
                            CASE WHEN u.status IN ('draft', 'review') THEN u.status ELSE 'pre-1.0' END)
           END,
           CASE WHEN u.status = 'deprecated' AND coalesce(succ.named, newer.address) IS NOT NULL
                THEN format('reference %s instead of %s (%s), then release %s: %s', coalesce(succ.named, newer.address),
                            e.to_address, CASE WHEN succ.named IS NOT NULL THEN 'its named successor'
                                               ELSE 'the newest version that is not deprecated' END,
                            s.name, ops_private.release_phrase(p_run, s.name, s.version, 'patch'))
                WHEN u.status = 'deprecated'
                THEN format('%s names no successor and no newer version of %s exists: ask its owner for one, or keep '
                            'the reference and waive this warning until it is released', e.to_address, u.name)
                WHEN stable.address IS NOT NULL
                THEN format('reference %s (the highest stable version at or above 1.0.0) instead of %s, then release %s: %s',
                            stable.address, e.to_address, s.name, ops_private.release_phrase(p_run, s.name, s.version, 'patch'))
                ELSE format('no stable 1.0.0+ version of %s exists: release it as %s with status stable and reference '
                            'that, or set %s to status: draft', u.name,
                            CASE WHEN u.major = 0 THEN '1.0.0' ELSE ops_private.release_version(p_run, u.name,
                                 split_part(u.address, '@', 2), 'patch') END, s.address)
           END,
           s.name || '|' || e.to_address,
           jsonb_build_object('target', e.to_address, 'target_status', u.status, 'target_version',
                              split_part(e.to_address, '@', 2), 'deprecated', u.status = 'deprecated',
                              'use_instead', CASE WHEN u.status = 'deprecated' THEN coalesce(succ.named, newer.address)
                                                  ELSE stable.address END)
    FROM ops.unit_snapshot s
    JOIN ops.unit_snapshot_edges e ON e.run_id = s.run_id AND e.from_address = s.address
    JOIN ops_private.unit_universe(p_run) u ON u.address = e.to_address
    LEFT JOIN LATERAL (
        SELECT coalesce(u.doc -> 'deprecation' ->> 'successor',
                        (SELECT p.successor FROM ops.published_units p WHERE p.address = u.address)) AS named
    ) succ ON u.status = 'deprecated'
    LEFT JOIN LATERAL (
        SELECT v.address FROM ops_private.unit_universe(p_run) v
        WHERE v.name = u.name AND v.status NOT IN ('deprecated', 'tombstoned', 'tampered')
          AND (v.major, v.minor, v.patch) > (u.major, u.minor, u.patch)
        ORDER BY v.major DESC, v.minor DESC, v.patch DESC, v.address DESC
        LIMIT 1
    ) newer ON u.status = 'deprecated'
    LEFT JOIN LATERAL (
        SELECT v.address FROM ops_private.unit_universe(p_run) v
        WHERE v.name = u.name AND v.status = 'stable' AND ops_private.version_is_1_or_later(split_part(v.address, '@', 2))
        ORDER BY v.major DESC, v.minor DESC, v.patch DESC, v.address DESC
        LIMIT 1
    ) stable ON u.status <> 'deprecated'
    WHERE s.run_id = p_run
      -- The importers the check is about (both messages): stable, or 1.0.0 or later by precedence and not draft.
      AND (s.status = 'stable' OR (ops_private.version_is_1_or_later(s.version) AND s.status <> 'draft'))
      AND (u.status = 'deprecated'
           OR ((NOT ops_private.version_is_1_or_later(split_part(e.to_address, '@', 2)) OR u.status IN ('draft', 'review'))
               AND u.status NOT IN ('tombstoned', 'tampered')));
END;
COMMENT ON FUNCTION ops.check_draft_isolation(bigint) IS
    'FM-07 (warning): a stable unit (or any non-draft unit at 1.0.0 or later by semver precedence, so not 1.0.0-alpha) '
    'references a unit below 1.0.0 or with status draft/review; referencing a deprecated unit is reported by the same '
    'check, for the same importers, with its own message. The fix names the version to reference instead.';

CREATE OR REPLACE FUNCTION ops.check_capabilities(p_run bigint, p_council text DEFAULT NULL)
RETURNS SETOF ops.unit_finding
LANGUAGE sql STABLE
BEGIN ATOMIC
    WITH chains AS (
        SELECT s.* FROM ops.unit_snapshot s
        WHERE s.run_id = p_run AND s.type = 'chain' AND (p_council IS NULL OR s.council = p_council)
    ), steps AS (
        SELECT ch.address, ch.name, ch.version, ch.file, ch.council, c.doc AS council_doc, c.version AS council_version,
               st.step, st.ord,
               (ch.lines -> 'steps' ->> (st.ord::integer - 1))::integer AS line,
               ARRAY(SELECT DISTINCT x FROM unnest(
                   ops_private.step_capabilities(st.step)
                   || ARRAY(SELECT jsonb_array_elements_text(coalesce(u.doc -> 'requires' -> 'capabilities', '[]'))
                            FROM ops_private.unit_universe(p_run) u WHERE u.address = st.step ->> 'unit')) x
                   ORDER BY x) AS required,
               (SELECT a FROM jsonb_array_elements(c.doc -> 'agents') a WHERE a ->> 'designation' = st.step ->> 'agent'
                LIMIT 1) AS agent
        FROM chains ch
        JOIN ops.council_snapshot c ON c.run_id = p_run AND c.council_id = ch.council
        CROSS JOIN LATERAL jsonb_array_elements(coalesce(ch.doc -> 'composition' -> 'steps', '[]')) WITH ORDINALITY AS st (step, ord)
    ), judged AS (
        SELECT s.*, ARRAY(SELECT x FROM unnest(s.required) x
                          WHERE NOT coalesce(s.agent -> 'capabilities', '[]') ? x ORDER BY x) AS missing
        FROM steps s
    )
    SELECT 'FM-09', 'UNIT.CAPABILITY_MISSING', 'blocking', ch.address, ch.file, (ch.lines ->> 'council')::integer,
           format('%s names %s, which is not in the paths', ch.address, ch.council),
           format('pass the directory that holds %s to `stratt ci` next to the units: councils are read from the paths '
                  'only (they are not published), so there is no version of it to pin', ch.council),
           ch.name || '|council|' || ch.council,
           jsonb_build_object('council', ch.council)
    FROM chains ch
    WHERE NOT EXISTS (SELECT FROM ops.council_snapshot c WHERE c.run_id = p_run AND c.council_id = ch.council)
    UNION ALL
    SELECT 'FM-09', 'UNIT.CAPABILITY_MISSING', 'blocking', j.address, j.file, j.line,
           CASE WHEN j.agent IS NULL
                THEN format('%s step %s: agent %s is not in %s', j.address, j.step ->> 'id', j.step ->> 'agent', j.council)
                ELSE format('%s step %s: agent %s lacks %s', j.address, j.step ->> 'id', j.step ->> 'agent',
                            array_to_string(j.missing, ', '))
           END,
           CASE WHEN cand.agents IS NOT NULL
                THEN format('assign %s to %s (has %s) and %s; or ', j.step ->> 'id', array_to_string(cand.agents, ' or '),
                            coalesce(nullif(array_to_string(j.required, ', '), ''), 'no special capability'),
                            ops_private.release_phrase(p_run, j.name, j.version, 'patch'))
                ELSE format('no agent of %s has %s: ', j.council, array_to_string(j.required, ', ')) END
           || CASE WHEN j.agent IS NULL
                   THEN format('add %s to %s with %s and release the council as %s', j.step ->> 'agent', j.council,
                               coalesce(nullif(array_to_string(j.required, ', '), ''), 'its capabilities'),
                               ops_private.next_council_version(j.council_version))
                   ELSE format('grant %s to %s in %s and release the council as %s', array_to_string(j.missing, ', '),
                               j.step ->> 'agent', j.council, ops_private.next_council_version(j.council_version)) END,
           j.name || '|' || (j.step ->> 'id') || '|' || (j.step ->> 'agent'),
           jsonb_build_object('step', j.step ->> 'id', 'agent', j.step ->> 'agent', 'council', j.council,
                              'required', to_jsonb(j.required), 'missing', to_jsonb(j.missing),
                              'in_council', j.agent IS NOT NULL, 'candidates', to_jsonb(cand.agents),
                              'council_release_as', ops_private.next_council_version(j.council_version))
    FROM judged j
    LEFT JOIN LATERAL (
        SELECT array_agg(a ->> 'designation' ORDER BY a ->> 'designation') AS agents
        FROM jsonb_array_elements(j.council_doc -> 'agents') a
        WHERE coalesce(a -> 'capabilities', '[]') ?& j.required
    ) cand ON true
    WHERE j.agent IS NULL OR cardinality(j.missing) > 0;
END;
COMMENT ON FUNCTION ops.check_capabilities(bigint, text) IS
    'FM-09 (blocking): a chain step whose agent is not in the chain''s council, or lacks a capability the step '
    'requires (the referenced task''s requires.capabilities plus the step''s own requires); also a chain whose '
    'council is not among the paths. The fix names the agents that qualify, the chain version and the council version.';

CREATE OR REPLACE FUNCTION ops.check_dag_cycles(p_run bigint)
RETURNS SETOF ops.unit_finding
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, ops
AS $$
-- Kahn's algorithm orders the graph; whatever it cannot order is in a cycle or behind one. Tarjan's
-- algorithm (iterative) splits that leftover into strongly connected components; each cyclic one is
-- reported as a closed walk from its smallest address through every member and back, reached with
-- breadth-first searches that visit neighbours in address order, so the report is deterministic.
DECLARE
    finding ops.unit_finding;
    names text[];
    src integer[];
    dst integer[];
    n integer;
    m integer;
    off integer[];
    indeg integer[];
    queue integer[];
    head integer := 1;
    tail integer := 0;
    v integer;
    w integer;
    ordered integer := 0;
    -- Tarjan
    idx integer[];
    low integer[];
    onstack boolean[];
    stack integer[];
    sp integer := 0;
    frames integer[];
    fptr integer[];
    fp integer := 0;
    counter integer := 0;
    comp integer[];
    comp_of integer[];
    ncomp integer := 0;
    cyclic boolean;
    blocked text[] := ARRAY[]::text[];
    walk integer[];
    members integer[];
    cur integer;
    target integer;
    path integer[];
    prev integer[];
    bq integer[];
    bh integer;
    bt integer;
    reached boolean;
    closed text[];
    loc_unit text;
    loc_name text;
    loc_version text;
    loc_file text;
    loc_line integer;
    loc_to text;
    hop integer;
    in_cycle boolean[];
    leftover integer := 0;
BEGIN
    WITH e AS (
        SELECT DISTINCT g.from_address AS a, g.to_address AS b FROM ops_private.unit_graph(p_run) g
    ), nodes AS (
        SELECT x.a, row_number() OVER (ORDER BY x.a COLLATE "C")::integer AS i
        FROM (SELECT e.a FROM e UNION SELECT e.b FROM e) x
    )
    SELECT (SELECT array_agg(nodes.a ORDER BY nodes.i) FROM nodes)::text[],
           array_agg(na.i ORDER BY na.i, nb.i)::integer[], array_agg(nb.i ORDER BY na.i, nb.i)::integer[]
    INTO names, src, dst
    FROM e JOIN nodes na ON na.a = e.a JOIN nodes nb ON nb.a = e.b;
    n := coalesce(array_length(names, 1), 0);
    m := coalesce(array_length(src, 1), 0);
    IF m = 0 THEN
        RETURN;
    END IF;
    -- Compressed adjacency: the targets of v are dst[off[v] .. off[v+1]-1], in address order.
    off := array_fill(0, ARRAY[n + 1]);
    indeg := array_fill(0, ARRAY[n]);
    FOR i IN 1..m LOOP
        off[src[i] + 1] := off[src[i] + 1] + 1;
        indeg[dst[i]] := indeg[dst[i]] + 1;
    END LOOP;
    off[1] := 1;
    FOR i IN 2..n + 1 LOOP
        off[i] := off[i] + off[i - 1];
    END LOOP;

    -- Kahn
    queue := array_fill(0, ARRAY[n]);
    FOR v IN 1..n LOOP
        IF indeg[v] = 0 THEN
            tail := tail + 1;
            queue[tail] := v;
        END IF;
    END LOOP;
    WHILE head <= tail LOOP
        v := queue[head];
        head := head + 1;
        ordered := ordered + 1;
        FOR j IN off[v]..off[v + 1] - 1 LOOP
            w := dst[j];
            indeg[w] := indeg[w] - 1;
            IF indeg[w] = 0 THEN
                tail := tail + 1;
                queue[tail] := w;
            END IF;
        END LOOP;
    END LOOP;
    IF ordered = n THEN
        RETURN;
    END IF;

    -- Tarjan over the leftover (nodes Kahn could not order: indeg > 0).
    idx := array_fill(NULL::integer, ARRAY[n]);
    low := array_fill(NULL::integer, ARRAY[n]);
    onstack := array_fill(false, ARRAY[n]);
    comp_of := array_fill(0, ARRAY[n]);
    in_cycle := array_fill(false, ARRAY[n]);
    stack := array_fill(0, ARRAY[n]);
    frames := array_fill(0, ARRAY[n]);
    fptr := array_fill(0, ARRAY[n]);
    FOR v IN 1..n LOOP
        CONTINUE WHEN indeg[v] = 0 OR idx[v] IS NOT NULL;
        counter := counter + 1;
        idx[v] := counter; low[v] := counter;
        sp := sp + 1; stack[sp] := v; onstack[v] := true;
        fp := 1; frames[1] := v; fptr[1] := off[v];
        WHILE fp > 0 LOOP
            cur := frames[fp];
            IF fptr[fp] < off[cur + 1] THEN
                w := dst[fptr[fp]];
                fptr[fp] := fptr[fp] + 1;
                CONTINUE WHEN indeg[w] = 0;
                IF idx[w] IS NULL THEN
                    counter := counter + 1;
                    idx[w] := counter; low[w] := counter;
                    sp := sp + 1; stack[sp] := w; onstack[w] := true;
                    fp := fp + 1; frames[fp] := w; fptr[fp] := off[w];
                ELSIF onstack[w] THEN
                    low[cur] := least(low[cur], idx[w]);
                END IF;
            ELSE
                fp := fp - 1;
                IF low[cur] = idx[cur] THEN
                    ncomp := ncomp + 1;
                    comp := '{}';
                    LOOP
                        w := stack[sp]; sp := sp - 1; onstack[w] := false;
                        comp_of[w] := ncomp;
                        comp := comp || w;
                        EXIT WHEN w = cur;
                    END LOOP;
                    cyclic := array_length(comp, 1) > 1;
                    IF NOT cyclic THEN
                        FOR j IN off[cur]..off[cur + 1] - 1 LOOP
                            IF dst[j] = cur THEN cyclic := true; END IF;
                        END LOOP;
                    END IF;
                    IF cyclic THEN
                        FOREACH w IN ARRAY comp LOOP in_cycle[w] := true; END LOOP;
                    END IF;
                END IF;
                IF fp > 0 THEN
                    low[frames[fp]] := least(low[frames[fp]], low[cur]);
                END IF;
            END IF;
        END LOOP;
    END LOOP;

    FOR v IN 1..n LOOP
        IF indeg[v] > 0 THEN
            leftover := leftover + 1;
            IF NOT in_cycle[v] THEN blocked := blocked || names[v]; END IF;
        END IF;
    END LOOP;

    -- One finding per cyclic component, in order of its smallest member.
    FOR i IN 1..ncomp LOOP
        members := ARRAY(SELECT x FROM generate_series(1, n) x WHERE comp_of[x] = i AND in_cycle[x] ORDER BY x);
        CONTINUE WHEN coalesce(array_length(members, 1), 0) = 0;
        walk := ARRAY[members[1]];
        cur := members[1];
        -- Visit every member in order, then return to the start: shortest paths inside the component.
        FOR j IN 2..array_length(members, 1) + 1 LOOP
            IF j <= array_length(members, 1) THEN
                target := members[j];
                CONTINUE WHEN target = ANY (walk);
            ELSE
                target := members[1];
            END IF;
            prev := array_fill(0, ARRAY[n]);
            bq := array_fill(0, ARRAY[n]);
            bh := 1; bt := 1; bq[1] := cur; prev[cur] := -1;
            reached := false;
            WHILE bh <= bt AND NOT reached LOOP
                v := bq[bh]; bh := bh + 1;
                FOR k IN off[v]..off[v + 1] - 1 LOOP
                    w := dst[k];
                    CONTINUE WHEN comp_of[w] <> i;
                    IF w = target THEN
                        path := ARRAY[w];
                        hop := v;
                        WHILE hop <> cur LOOP path := hop || path; hop := prev[hop]; END LOOP;
                        walk := walk || path;
                        reached := true;
                        EXIT;
                    END IF;
                    IF prev[w] = 0 THEN
                        prev[w] := v; bt := bt + 1; bq[bt] := w;
                    END IF;
                END LOOP;
            END LOOP;
            cur := target;
        END LOOP;
        closed := ARRAY(SELECT names[x] FROM unnest(walk) x);
        -- The finding sits on the first reference of the walk that a scanned file makes: the registry is
        -- immutable, so that is where the cycle can be broken, and its unit is the one to release.
        loc_unit := NULL;
        FOR k IN 1..array_length(closed, 1) - 1 LOOP
            SELECT s.address, s.name, s.version, s.file, g.line, g.to_address
            INTO loc_unit, loc_name, loc_version, loc_file, loc_line, loc_to
            FROM ops.unit_snapshot_edges g
            JOIN ops.unit_snapshot s ON s.run_id = g.run_id AND s.address = g.from_address
            WHERE g.run_id = p_run AND g.from_address = closed[k] AND g.to_address = closed[k + 1]
            ORDER BY g.line NULLS LAST LIMIT 1;
            EXIT WHEN loc_unit IS NOT NULL;
        END LOOP;
        -- Only cycles that the paths take part in are ours to report; the registry alone is immutable.
        CONTINUE WHEN loc_unit IS NULL;
        finding := ROW('FM-03', 'UNIT.DAG_CYCLE', 'critical', loc_unit, loc_file, loc_line,
            CASE WHEN array_length(closed, 1) = 2
                 THEN format('%s references itself', closed[1])
                 ELSE 'reference cycle: ' || array_to_string(closed, ' → ') END,
            format('remove the reference %s → %s (%s:%s) and %s', loc_unit, loc_to, loc_file, coalesce(loc_line, 1),
                   ops_private.release_phrase(p_run, loc_name, loc_version, 'minor')),
            array_to_string(ARRAY(SELECT names[x] FROM unnest(members) x), ','),
            jsonb_build_object('cycle', to_jsonb(closed),
                               'members', to_jsonb(ARRAY(SELECT names[x] FROM unnest(members) x)),
                               'unordered', leftover, 'ordered', ordered, 'blocked', to_jsonb(blocked),
                               'broken_at', jsonb_build_object('from', loc_unit, 'to', loc_to)));
        RETURN NEXT finding;
    END LOOP;
END
$$;
COMMENT ON FUNCTION ops.check_dag_cycles(bigint) IS
    'FM-03 (critical): cycles among imports and step references, self-references included. Kahn''s algorithm '
    'orders the graph; every strongly connected component of what is left is reported as a closed walk (first = '
    'last), with the units blocked behind cycles listed in details.blocked. The finding sits on the first reference '
    'of the walk made by a scanned file (details.broken_at), and the fix names the version to release that unit as.';

-- ---------------------------------------------------------------------------------------- the run

CREATE OR REPLACE FUNCTION ops.run_unit_checks(p_run bigint, waivers jsonb DEFAULT '[]')
RETURNS TABLE (event_id bigint, kind text, check_alias text, code text, outcome text, severity text,
               unit_address text, file text, line integer, message text, fix text, runbook text,
               finding_fingerprint text, details jsonb)
LANGUAGE plpgsql
SET search_path = pg_catalog, ops
SET jit = off  -- many short queries over jsonb: compiling them cost more than running them (1 s of 5 at 10,000 units)
AS $$
#variable_conflict use_column
DECLARE
    run ops.maintenance_runs%ROWTYPE;
    chk record;
    tally record;
    check_event bigint;
    n_schema integer;
    ran text[] := ARRAY[]::text[];
    exit_status integer;
BEGIN
    SELECT * INTO run FROM ops.maintenance_runs r WHERE r.id = p_run FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no maintenance run %', p_run USING ERRCODE = 'OP004';
    END IF;
    IF run.status <> 'running' THEN
        RAISE EXCEPTION 'run % has already finished (%)', p_run, run.status USING ERRCODE = 'OP001';
    END IF;
    SELECT count(*)::integer INTO n_schema FROM ops.maintenance_run_events e WHERE e.run_id = p_run AND e.check_alias = 'SCHEMA';
    IF n_schema > 0 THEN
        INSERT INTO ops.maintenance_run_events (run_id, kind, check_alias, code, outcome, severity, message, details)
        VALUES (p_run, 'check', 'SCHEMA', 'UNIT.SCHEMA_INVALID', 'fail', 'blocking',
                format('%s file(s) failed parsing or validation', n_schema), jsonb_build_object('findings', n_schema));
    END IF;

    FOR chk IN
        SELECT x.alias, x.code, x.what FROM (VALUES
            (1, 'FM-01', 'UNIT.FINGERPRINT_TAMPER', 'fingerprints recomputed'),
            (2, 'FM-02', 'UNIT.BROKEN_IMPORT', 'every import and step resolves'),
            (3, 'FM-03', 'UNIT.DAG_CYCLE', 'no cycle'),
            (4, 'FM-04', 'UNIT.PROTECTED_AGENT_MISSING', 'protected agents present in every chain'),
            (5, 'FM-05', 'UNIT.GATE_REMOVED', 'no gate removed without a major bump'),
            (6, 'FM-06', 'UNIT.CONTRACT_BREAKING', 'contract changes match their version bumps'),
            (7, 'FM-07', 'UNIT.DRAFT_ISOLATION', 'no stable unit depends on draft, 0.x or deprecated units'),
            (8, 'FM-09', 'UNIT.CAPABILITY_MISSING', 'every step''s agent has its capabilities')
        ) AS x (pos, alias, code, what) ORDER BY x.pos
    LOOP
        IF n_schema > 0 THEN
            INSERT INTO ops.maintenance_run_events (run_id, kind, check_alias, code, outcome, message)
            VALUES (p_run, 'check', chk.alias, chk.code, 'skipped',
                    format('skipped: %s file(s) failed schema validation', n_schema));
            CONTINUE;
        END IF;
        ran := ran || chk.alias;
        -- The check event comes first (events read in order); its outcome is settled from the findings below.
        INSERT INTO ops.maintenance_run_events (run_id, kind, check_alias, code, outcome, message)
        VALUES (p_run, 'check', chk.alias, chk.code, 'pass', chk.what)
        RETURNING id INTO check_event;
        INSERT INTO ops.maintenance_run_events (run_id, kind, check_alias, code, outcome, severity, unit_address, file,
                                                line, message, fix, runbook, finding_fingerprint, details)
        SELECT p_run, 'finding', f.alias, f.code,
               CASE WHEN w.fingerprint IS NOT NULL AND f.alias NOT IN ('FM-01', 'FM-02', 'FM-03')
                         AND coalesce(w.expires, 'infinity') >= current_date THEN 'waived'
                    WHEN f.severity = 'warning' THEN 'warn' ELSE 'fail' END,
               f.severity, f.unit_address, f.file, f.line, f.message, f.fix,
               coalesce(fm.runbook, 'docs/runbooks/failures/' || f.code || '.md'),
               encode(sha256(convert_to(f.code || '|' || f.key, 'UTF8')), 'hex'),
               coalesce(f.details, '{}') || CASE WHEN w.fingerprint IS NULL THEN '{}'::jsonb
                   ELSE jsonb_build_object('waiver', jsonb_build_object('reason', w.reason, 'owner', w.owner,
                                                                       'expires', w.expires)) END
        FROM ops_private.run_check(chk.alias, p_run, run.council) f
        LEFT JOIN ops.failure_modes fm ON fm.code = f.code
        LEFT JOIN LATERAL (
            SELECT x.fingerprint, x.reason, x.owner, x.expires
            FROM jsonb_to_recordset(coalesce(waivers, '[]')) AS x (fingerprint text, reason text, owner text, expires date)
            WHERE x.fingerprint = encode(sha256(convert_to(f.code || '|' || f.key, 'UTF8')), 'hex')
            LIMIT 1
        ) w ON true
        ORDER BY f.file, f.line, f.key;

        -- The check line agrees with its findings: fail if any fails, warn if any warns, pass when there are
        -- none or all are waived; its severity is the worst one that is not waived.
        SELECT count(*) AS total,
               count(*) FILTER (WHERE e.outcome = 'fail') AS failing,
               count(*) FILTER (WHERE e.outcome = 'warn') AS warning,
               count(*) FILTER (WHERE e.outcome = 'waived') AS waived,
               (array_agg(e.severity ORDER BY CASE e.severity WHEN 'critical' THEN 1 WHEN 'blocking' THEN 2
                                                              WHEN 'infrastructure' THEN 3 ELSE 4 END, e.id)
                    FILTER (WHERE e.outcome <> 'waived'))[1] AS worst
        INTO tally
        FROM ops.maintenance_run_events e
        WHERE e.run_id = p_run AND e.kind = 'finding' AND e.check_alias = chk.alias;
        CONTINUE WHEN tally.total = 0;
        UPDATE ops.maintenance_run_events ev SET
            outcome = CASE WHEN tally.failing > 0 THEN 'fail' WHEN tally.warning > 0 THEN 'warn' ELSE 'pass' END,
            severity = tally.worst,
            message = CASE WHEN tally.failing + tally.warning = 0
                           THEN format('%s finding(s), all waived', tally.waived)
                           ELSE concat_ws(', ', CASE WHEN tally.failing > 0 THEN format('%s finding(s)', tally.failing) END,
                                          CASE WHEN tally.warning > 0 THEN format('%s warning(s)', tally.warning) END,
                                          CASE WHEN tally.waived > 0 THEN format('%s waived', tally.waived) END) END,
            details = jsonb_build_object('findings', tally.total, 'failing', tally.failing, 'warnings', tally.warning,
                                         'waived', tally.waived)
        WHERE ev.id = check_event;
    END LOOP;

    -- Waivers: every one must be in date and match a waivable finding of this run, or the run fails. When files
    -- failed validation the FM checks did not run, so a waiver that is in date cannot be matched: it is reported
    -- (as a warning) rather than dropped. SCHEMA findings, like FM-01/02/03, cannot be waived.
    IF jsonb_array_length(coalesce(waivers, '[]')) > 0 THEN
        INSERT INTO ops.maintenance_run_events (run_id, kind, check_alias, code, outcome, message)
        VALUES (p_run, 'check', 'WAIVERS', 'UNIT.WAIVER_INVALID', 'pass',
                format('%s waiver(s) in date and matched', jsonb_array_length(waivers)))
        RETURNING id INTO check_event;
        INSERT INTO ops.maintenance_run_events (run_id, kind, check_alias, code, outcome, severity, file, line, message,
                                                fix, runbook, finding_fingerprint, details)
        SELECT p_run, 'finding', 'WAIVERS', 'UNIT.WAIVER_INVALID',
               CASE v.problem WHEN 'unjudged' THEN 'warn' ELSE 'fail' END,
               CASE v.problem WHEN 'unjudged' THEN 'warning' ELSE 'blocking' END,
               x.file, x.line,
               CASE v.problem
                    WHEN 'expired' THEN format('waiver %s (owner %s) expired on %s', x.fingerprint, x.owner, x.expires)
                    WHEN 'unwaivable' THEN format('waiver %s (owner %s) targets a %s finding, which cannot be waived',
                                                  x.fingerprint, x.owner, e.check_alias)
                    WHEN 'unjudged' THEN format('waiver %s (owner %s) could not be matched: the FM checks were skipped '
                                                'because %s file(s) failed validation', x.fingerprint, x.owner, n_schema)
                    ELSE format('waiver %s (owner %s) matches no finding', x.fingerprint, x.owner) END,
               CASE v.problem
                    WHEN 'expired' THEN format('in %s, set expires after %s (e.g. %s) if the reason still holds, or delete '
                                               'the waiver and fix the finding it covered', v.at, current_date,
                                               current_date + 30)
                    WHEN 'unwaivable' THEN format('delete the waiver in %s and fix %s (that finding''s own fix names '
                                                 'the version)', v.at, coalesce(e.unit_address, e.file, 'the finding'))
                    WHEN 'unjudged' THEN format('fix the SCHEMA findings first; the next run judges the waiver in %s', v.at)
                    ELSE format('delete the waiver in %s: no finding of this run has fingerprint %s (fixed, or its '
                                'unit was renamed)', v.at, x.fingerprint) END,
               coalesce((SELECT fm.runbook FROM ops.failure_modes fm WHERE fm.code = 'UNIT.WAIVER_INVALID'),
                        'docs/runbooks/failures/UNIT.WAIVER_INVALID.md'),
               x.fingerprint,
               jsonb_build_object('reason', x.reason, 'owner', x.owner, 'expires', x.expires, 'problem', v.problem,
                                  'target', e.check_alias)
        FROM jsonb_to_recordset(waivers) AS x (fingerprint text, reason text, owner text, expires date, file text,
                                                line integer)
        LEFT JOIN LATERAL (
            SELECT ev.check_alias, ev.unit_address, ev.file FROM ops.maintenance_run_events ev
            WHERE ev.run_id = p_run AND ev.kind = 'finding' AND ev.finding_fingerprint = x.fingerprint
              AND ev.check_alias <> 'WAIVERS'
            ORDER BY ev.id LIMIT 1
        ) e ON true
        CROSS JOIN LATERAL (
            SELECT CASE WHEN x.expires < current_date THEN 'expired'
                        WHEN e.check_alias IN ('FM-01', 'FM-02', 'FM-03', 'SCHEMA') THEN 'unwaivable'
                        WHEN e.check_alias IS NOT NULL THEN NULL
                        WHEN n_schema > 0 THEN 'unjudged'
                        ELSE 'unmatched' END AS problem,
                   coalesce(x.file || ':' || coalesce(x.line, 1), 'the waivers file') AS at
        ) v
        WHERE v.problem IS NOT NULL
        ORDER BY x.file, x.line, x.fingerprint;
        SELECT count(*) FILTER (WHERE e.outcome = 'fail') AS failing, count(*) FILTER (WHERE e.outcome = 'warn') AS warning
        INTO tally
        FROM ops.maintenance_run_events e WHERE e.run_id = p_run AND e.kind = 'finding' AND e.check_alias = 'WAIVERS';
        IF tally.failing + tally.warning > 0 THEN
            UPDATE ops.maintenance_run_events ev SET
                outcome = CASE WHEN tally.failing > 0 THEN 'fail' ELSE 'warn' END,
                severity = CASE WHEN tally.failing > 0 THEN 'blocking' ELSE 'warning' END,
                message = concat_ws(', ', CASE WHEN tally.failing > 0
                                               THEN format('%s waiver(s) expired, unmatched or not waivable', tally.failing) END,
                                    CASE WHEN tally.warning > 0
                                         THEN format('%s waiver(s) not judged (checks skipped)', tally.warning) END)
            WHERE ev.id = check_event;
        END IF;
    END IF;

    -- Convergence: upsert what is reported now, resolve what the checks that ran no longer report.
    INSERT INTO ops.convergence_findings AS c (scope, fingerprint, code, alias, severity, unit_address, file, line,
                                               message, details, status, first_run_id, last_run_id)
    SELECT DISTINCT ON (e.finding_fingerprint) run.scope, e.finding_fingerprint, e.code, e.check_alias, e.severity,
           e.unit_address, e.file, e.line, e.message, e.details,
           CASE e.outcome WHEN 'waived' THEN 'waived' ELSE 'open' END, p_run, p_run
    FROM ops.maintenance_run_events e
    WHERE e.run_id = p_run AND e.kind = 'finding' AND e.severity IN ('critical', 'blocking') AND e.outcome IN ('fail', 'waived')
    ORDER BY e.finding_fingerprint, e.id
    ON CONFLICT (scope, fingerprint) DO UPDATE SET
        severity = excluded.severity, unit_address = excluded.unit_address, file = excluded.file,
        line = excluded.line, message = excluded.message, details = excluded.details, status = excluded.status,
        last_run_id = excluded.last_run_id, last_seen_at = now(), occurrences = c.occurrences + 1,
        reopen_count = c.reopen_count + CASE WHEN c.status = 'resolved' THEN 1 ELSE 0 END,
        resolved_at = NULL, resolved_run_id = NULL;
    UPDATE ops.convergence_findings c
    SET status = 'resolved', resolved_at = now(), resolved_run_id = p_run
    WHERE c.scope = run.scope AND c.status <> 'resolved' AND c.alias = ANY (ran || ARRAY['SCHEMA', 'WAIVERS'])
      AND c.last_run_id <> p_run;

    -- The error pipeline counts and escalates unit failures like any other error.
    PERFORM ops.record_errors(coalesce(jsonb_agg(jsonb_build_object(
                'source', 'stratt', 'phase', 'ci', 'code_hint', e.code, 'run_id', 'stratt-ci-' || p_run,
                'message', format('%s %s %s: %s', e.check_alias, e.code, coalesce(e.file || ':' || e.line, e.unit_address), e.message),
                'context', jsonb_build_object('unit', e.unit_address, 'finding_fingerprint', e.finding_fingerprint))
                ORDER BY e.id), '[]'))
    FROM ops.maintenance_run_events e
    WHERE e.run_id = p_run AND e.kind = 'finding' AND e.outcome = 'fail' AND e.severity IN ('critical', 'blocking')
      AND e.code LIKE 'UNIT.%' AND EXISTS (SELECT FROM ops.failure_modes fm WHERE fm.code = e.code);

    SELECT CASE
               WHEN bool_or(e.check_alias = 'FM-01') THEN 2
               WHEN bool_or(e.check_alias = 'FM-02') THEN 3
               WHEN count(*) > 0 THEN 1
               ELSE 0 END
    INTO exit_status
    FROM ops.maintenance_run_events e
    WHERE e.run_id = p_run AND e.kind = 'finding' AND e.outcome = 'fail';

    UPDATE ops.maintenance_runs r SET
        exit_code = exit_status,
        status = CASE WHEN exit_status <> 0 THEN 'failed'
                      WHEN c.warnings > 0 THEN 'warned' ELSE 'passed' END,
        findings_count = c.findings, critical_count = c.critical, blocking_count = c.blocking, warning_count = c.warnings,
        finished_at = clock_timestamp(),
        duration_ms = (extract(epoch FROM clock_timestamp() - r.started_at) * 1000)::integer
    FROM (SELECT count(*) AS findings,
                 count(*) FILTER (WHERE e.severity = 'critical' AND e.outcome = 'fail') AS critical,
                 count(*) FILTER (WHERE e.severity = 'blocking' AND e.outcome = 'fail') AS blocking,
                 count(*) FILTER (WHERE e.outcome = 'warn') AS warnings
          FROM ops.maintenance_run_events e WHERE e.run_id = p_run AND e.kind = 'finding') c
    WHERE r.id = p_run;

    DELETE FROM ops.unit_snapshot_edges s WHERE s.run_id = p_run;
    DELETE FROM ops.unit_snapshot s WHERE s.run_id = p_run;
    DELETE FROM ops.council_snapshot s WHERE s.run_id = p_run;
    DELETE FROM ops.unit_baselines s WHERE s.run_id = p_run;

    RETURN QUERY
    SELECT e.id, e.kind, e.check_alias, e.code, e.outcome, e.severity, e.unit_address, e.file, e.line, e.message,
           e.fix, e.runbook, e.finding_fingerprint, e.details
    FROM ops.maintenance_run_events e WHERE e.run_id = p_run ORDER BY e.id;
END
$$;
COMMENT ON FUNCTION ops.run_unit_checks(bigint, jsonb) IS
    'Run FM-01..FM-07 and FM-09 in order on a run''s snapshot (all skipped when files failed validation), apply '
    'waivers [{fingerprint, reason, owner, expires, file?, line?}], record events (a check''s outcome and severity '
    'follow its findings: all waived = pass, severity = the worst not waived), judge every waiver (expired, '
    'unmatched or unwaivable ones fail; unjudgeable ones warn when the checks were skipped), converge '
    'ops.convergence_findings for the run''s scope, record blocking/critical findings through ops.record_errors(), '
    'set the exit code (2 FM-01 > 3 FM-02 > 1 any other failure > 0) and drop the snapshot. Returns the events in order.';

REVOKE ALL ON FUNCTION ops_private.version_is_1_or_later(text), ops_private.release_version(bigint, text, text, text),
                       ops_private.release_phrase(bigint, text, text, text), ops_private.next_council_version(text),
                       ops_private.blast_summary(bigint, text) FROM PUBLIC;
