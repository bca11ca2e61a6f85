-- Unit CI at scale (issue 12): ops.begin_unit_ci analyzes the snapshot it wrote, so the checks are planned with
-- the run's statistics instead of whatever autovacuum last saw (a plan made before ANALYZE ran FM-07's lookups
-- per row of the whole universe: minutes at 10,000 units).
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
    -- Statistics for the rows just written, before any check is planned: planned with the previous run's
    -- (or none), a check's lookups can run per row of the whole universe (FM-07 took 7.8 minutes at 10,000
    -- units that way). ANALYZE samples at most 30,000 rows per table; the documents (jsonb) are left out, the
    -- checks only filter and join on the other columns: about 70 ms at 10,000 units (160 ms with them).
    ANALYZE ops.unit_snapshot (run_id, address, name, type, version, major, minor, patch, status, fingerprint,
                               computed_fingerprint, council),
            ops.unit_snapshot_edges, ops.council_snapshot (run_id, council_id), ops.unit_baselines (run_id, address, name,
                                                                                            major, minor, patch);
    RETURN run;
END
$$;
