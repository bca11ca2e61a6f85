-- Unit CI run and publish: starting a run (the snapshot), running the checks in order, aborting, and
-- the registry's writes (publish, publish failure, deprecation).

CREATE FUNCTION ops.begin_unit_ci(kind text, scope text, council text, paths text[], units jsonb, councils jsonb,
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
COMMENT ON FUNCTION ops.begin_unit_ci(text, text, text, text[], jsonb, jsonb, jsonb, jsonb, integer) IS
    'Start a scanner run and store its snapshot in one call: units and councils as JSON arrays (as stratt builds '
    'them), optional --against baselines and the files that failed parsing or validation (recorded as SCHEMA '
    'findings whose fix names the version the repaired file ships as). Returns the run id for ops.run_unit_checks().';

CREATE FUNCTION ops_private.run_check(p_alias text, p_run bigint, p_council text)
RETURNS SETOF ops.unit_finding
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT * FROM ops.check_fingerprints(p_run) WHERE p_alias = 'FM-01'
    UNION ALL SELECT * FROM ops.check_broken_imports(p_run) WHERE p_alias = 'FM-02'
    UNION ALL SELECT * FROM ops.check_dag_cycles(p_run) WHERE p_alias = 'FM-03'
    UNION ALL SELECT * FROM ops.check_protected_agents(p_run, p_council) WHERE p_alias = 'FM-04'
    UNION ALL SELECT * FROM ops.check_gates(p_run) WHERE p_alias = 'FM-05'
    UNION ALL SELECT * FROM ops.check_contracts(p_run) WHERE p_alias = 'FM-06'
    UNION ALL SELECT * FROM ops.check_draft_isolation(p_run) WHERE p_alias = 'FM-07'
    UNION ALL SELECT * FROM ops.check_capabilities(p_run, p_council) WHERE p_alias = 'FM-09';
END;
COMMENT ON FUNCTION ops_private.run_check(text, bigint, text) IS 'Dispatch one check by its alias (FM-01..FM-07, FM-09).';

CREATE FUNCTION ops.run_unit_checks(p_run bigint, waivers jsonb DEFAULT '[]')
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

CREATE FUNCTION ops.abort_unit_run(p_run bigint, exit_code integer, reason text)
RETURNS void
LANGUAGE sql
BEGIN ATOMIC
    INSERT INTO ops.maintenance_run_events (run_id, kind, check_alias, outcome, message)
    VALUES (p_run, 'check', 'RUN', 'skipped', reason);
    UPDATE ops.maintenance_runs r SET status = 'error', exit_code = abort_unit_run.exit_code,
        finished_at = clock_timestamp(), duration_ms = (extract(epoch FROM clock_timestamp() - r.started_at) * 1000)::integer,
        summary = r.summary || jsonb_build_object('error', reason)
    WHERE r.id = p_run;
    DELETE FROM ops.unit_snapshot_edges s WHERE s.run_id = p_run;
    DELETE FROM ops.unit_snapshot s WHERE s.run_id = p_run;
    DELETE FROM ops.council_snapshot s WHERE s.run_id = p_run;
    DELETE FROM ops.unit_baselines s WHERE s.run_id = p_run;
END;
COMMENT ON FUNCTION ops.abort_unit_run(bigint, integer, text) IS
    'End a run that could not judge anything (no units, unknown council): status error, the given exit code, the reason.';

CREATE FUNCTION ops.published_unit_conflicts(units jsonb)
RETURNS TABLE (address text, published_fingerprint text, new_fingerprint text)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT p.address, p.fingerprint, u.fingerprint
    FROM jsonb_to_recordset(units) AS u (address text, fingerprint text)
    JOIN ops.published_units p ON p.address = u.address
    WHERE p.fingerprint <> u.fingerprint
    ORDER BY p.address;
END;
COMMENT ON FUNCTION ops.published_unit_conflicts(jsonb) IS
    'Which of [{address, fingerprint}] are already published with another fingerprint (published versions are immutable).';

CREATE FUNCTION ops.record_publish(paths text[], store text, units jsonb)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, ops
AS $$
DECLARE
    run bigint;
    conflict text;
BEGIN
    SELECT string_agg(c.address, ', ') INTO conflict FROM ops.published_unit_conflicts(units) c;
    IF conflict IS NOT NULL THEN
        RAISE EXCEPTION 'already published with another fingerprint (published versions are immutable): %', conflict
            USING ERRCODE = 'OP001';
    END IF;
    INSERT INTO ops.maintenance_runs AS r (kind, scope, paths, status, exit_code, units_count, finished_at, duration_ms)
    VALUES ('publish', 'publish|' || store, coalesce(paths, '{}'), 'passed', 0, jsonb_array_length(units),
            clock_timestamp(), 0)
    RETURNING r.id INTO run;
    INSERT INTO ops.published_units (address, name, domain, type, slug, version, major, minor, patch, prerelease,
                                     fingerprint, status, council, store, object_key, document, publish_run_id)
    SELECT u.address, u.name, u.domain, u.type, u.slug, u.version, u.major, u.minor, u.patch, u.prerelease,
           u.computed, u.status, u.council, store, u.object_key, u.doc, run
    FROM jsonb_to_recordset(units) AS u (address text, name text, domain text, type text, slug text, version text,
        major integer, minor integer, patch integer, prerelease text, status text, computed text, council text,
        object_key text, doc jsonb)
    ON CONFLICT (address) DO NOTHING;
    INSERT INTO ops.published_unit_edges (from_address, to_address, kind, step_id, ord)
    SELECT u.address, i.target, 'import', NULL, i.ord::integer
    FROM jsonb_to_recordset(units) AS u (address text, doc jsonb)
    CROSS JOIN LATERAL jsonb_array_elements_text(coalesce(u.doc -> 'imports', '[]')) WITH ORDINALITY AS i (target, ord)
    UNION ALL
    SELECT u.address, st.step ->> 'unit', 'step', st.step ->> 'id', st.ord::integer
    FROM jsonb_to_recordset(units) AS u (address text, doc jsonb)
    CROSS JOIN LATERAL jsonb_array_elements(coalesce(u.doc -> 'composition' -> 'steps', '[]')) WITH ORDINALITY AS st (step, ord)
    WHERE st.step ->> 'unit' IS NOT NULL
    ON CONFLICT DO NOTHING;
    INSERT INTO ops.maintenance_run_events (run_id, kind, check_alias, code, outcome, message, details)
    VALUES (run, 'check', 'FM-08', 'INFRA.R2.PUBLISH_FAILED', 'pass',
            format('%s unit(s) written to %s and recorded', jsonb_array_length(units), store),
            jsonb_build_object('store', store));
    RETURN run;
END
$$;
COMMENT ON FUNCTION ops.record_publish(text[], text, jsonb) IS
    'Record a published batch in one transaction (after every object was written): the registry rows, their '
    'references and a publish run. Refuses (OP001) an address already published with another fingerprint.';

CREATE FUNCTION ops.record_publish_failure(paths text[], store text, message text, details jsonb DEFAULT '{}')
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, ops
AS $$
DECLARE
    run bigint;
BEGIN
    INSERT INTO ops.maintenance_runs AS r (kind, scope, paths, status, exit_code, finished_at, duration_ms, summary)
    VALUES ('publish', 'publish|' || store, coalesce(paths, '{}'), 'error', 4, clock_timestamp(), 0,
            jsonb_build_object('error', message))
    RETURNING r.id INTO run;
    INSERT INTO ops.maintenance_run_events (run_id, kind, check_alias, code, outcome, severity, message, fix, runbook, details)
    SELECT run, 'finding', 'FM-08', 'INFRA.R2.PUBLISH_FAILED', 'fail', 'infrastructure', record_publish_failure.message,
           'retry `stratt publish` once the object store is reachable; nothing of this batch was published',
           coalesce((SELECT fm.runbook FROM ops.failure_modes fm WHERE fm.code = 'INFRA.R2.PUBLISH_FAILED'),
                    'docs/runbooks/failures/INFRA.R2.PUBLISH_FAILED.md'),
           coalesce(details, '{}') || jsonb_build_object('store', store, 'retryable', true);
    PERFORM ops.record_error(source => 'stratt', phase => 'publish', message => record_publish_failure.message,
                             code_hint => 'INFRA.R2.PUBLISH_FAILED', run_id => 'stratt-publish-' || run,
                             context => jsonb_build_object('store', store));
    RETURN run;
END
$$;
COMMENT ON FUNCTION ops.record_publish_failure(text[], text, text, jsonb) IS
    'Record a publish that failed (FM-08, INFRA.R2.PUBLISH_FAILED, retryable): a publish run with exit code 4, its '
    'FM-08 event and the error through ops.record_error(). Nothing is added to the registry.';

CREATE FUNCTION ops.deprecate_unit(p_address text, reason text, successor text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, ops
AS $$
BEGIN
    IF successor IS NOT NULL AND NOT EXISTS (SELECT FROM ops.published_units p WHERE p.address = deprecate_unit.successor) THEN
        RAISE EXCEPTION 'successor % is not published', successor USING ERRCODE = 'OP004';
    END IF;
    UPDATE ops.published_units p
    SET status = 'deprecated', deprecation_reason = deprecate_unit.reason, successor = deprecate_unit.successor,
        deprecated_at = now()
    WHERE p.address = p_address AND p.status <> 'tombstoned';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unit % is not published (or is tombstoned)', p_address USING ERRCODE = 'OP004';
    END IF;
END
$$;
COMMENT ON FUNCTION ops.deprecate_unit(text, text, text) IS
    'Mark a published unit deprecated with a reason and an optional (published) successor; FM-07 then warns its importers.';

-- Guardrails that block a merge: an escalated error of a `remediate.kind: guardrail` code opens a blocking
-- finding for its target (one of a `ci_behavior: non_blocking` code is listed but does not block); resolving the
-- error closes it; ops.gate_findings is what `ops gate check` reads.

CREATE FUNCTION ops.error_target(fingerprint text) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, ops
BEGIN ATOMIC
    SELECT coalesce(
               nullif(btrim(e.context ->> 'target'), ''),
               nullif(btrim(e.context ->> 'repository'), '')
                   || coalesce('@' || nullif(btrim(coalesce(e.context ->> 'branch', e.context ->> 'ref_name')), ''), ''),
               nullif(btrim(e.origin), ''),
               'source:' || a.source)
    FROM ops.agent_errors a
    LEFT JOIN ops.error_events e ON e.fingerprint = a.fingerprint AND e.id = a.last_event_id
    WHERE a.fingerprint = error_target.fingerprint;
END;
COMMENT ON FUNCTION ops.error_target(text) IS
    'What a guardrail error blocks, read from the group''s latest event (ops.agent_errors.last_event_id), first that '
    'is set: context.target (the producer names it, e.g. "acme/api@main"); context.repository (GitHub''s owner/name) '
    'with "@" and context.branch or context.ref_name when given; the event''s origin; else "source:<source>". '
    'fingerprint -> text; NULL when there is no such error.';

CREATE FUNCTION ops_private.tg_guardrail_findings__open() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
BEGIN
    -- One row per (target, error): a repeat or a regression of the same error on the same target reopens it.
    INSERT INTO ops.convergence_findings AS c (scope, fingerprint, code, alias, severity, message, details, status,
                                               first_run_id, last_run_id)
    SELECT 'guardrail|' || t.target, g.fingerprint, g.code, coalesce(fm.aliases[1], g.code), fm.severity,
           fm.title || ': ' || left(a.sample_message, 500),
           jsonb_build_object('target', t.target, 'runbook', fm.runbook, 'reason', g.reason,
                              'escalation_id', g.escalation_id, 'count', a.count),
           'open', 0, 0
    FROM (SELECT DISTINCT ON (i.fingerprint) i.fingerprint, i.code, i.reason, i.escalation_id
          FROM (SELECT n.fingerprint, n.code, n.reason,
                       CASE WHEN TG_TABLE_NAME = 'escalations' THEN (to_jsonb(n) ->> 'id')::bigint END AS escalation_id
                FROM inserted n) i
          ORDER BY i.fingerprint, i.escalation_id DESC NULLS LAST) g
    JOIN ops.failure_modes fm ON fm.code = g.code AND fm.remediate_kind = 'guardrail'
    JOIN ops.agent_errors a ON a.fingerprint = g.fingerprint
    CROSS JOIN LATERAL (SELECT ops.error_target(g.fingerprint) AS target) t
    -- What stratt records is unit CI's own: its findings are the unit_ci rows of the same table, which
    -- open and close with the runs.
    WHERE g.reason IS DISTINCT FROM 'digest' AND a.source <> 'stratt'
    ORDER BY 1, 2
    ON CONFLICT (scope, fingerprint) DO UPDATE SET
        status = 'open',
        severity = excluded.severity,
        message = excluded.message,
        details = excluded.details,
        last_seen_at = now(),
        occurrences = c.occurrences + 1,
        reopen_count = c.reopen_count + (c.status = 'resolved')::integer,
        resolved_at = NULL;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ops_private.tg_guardrail_findings__open() IS
    'AFTER INSERT statement trigger on ops.escalations and ops.page_window_items (a crossing a page budget held '
    'back still blocks): for each error of a `remediate.kind: guardrail` code (but those stratt records: unit CI keeps '
    'its own findings), opens (or reopens) the blocking '
    'finding ops.convergence_findings (scope guardrail|<ops.error_target>, fingerprint = the error''s); '
    'first_run_id and last_run_id are 0 (not a unit-CI run); details holds target, runbook, reason, escalation_id.';

CREATE TRIGGER tg_escalations__50_guardrail_findings AFTER INSERT ON ops.escalations
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION ops_private.tg_guardrail_findings__open();
CREATE TRIGGER tg_page_window_items__50_guardrail_findings AFTER INSERT ON ops.page_window_items
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION ops_private.tg_guardrail_findings__open();

CREATE FUNCTION ops_private.tg_agent_errors__close_findings() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
BEGIN
    UPDATE ops.convergence_findings c SET status = 'resolved', resolved_at = now()
    WHERE c.scope LIKE 'guardrail|%' AND c.fingerprint = NEW.fingerprint AND c.status <> 'resolved';
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ops_private.tg_agent_errors__close_findings() IS
    'AFTER UPDATE OF status per row on ops.agent_errors, only when the status becomes resolved: closes the open '
    'guardrail findings of that error (every target).';

CREATE TRIGGER tg_agent_errors__50_close_findings AFTER UPDATE OF status ON ops.agent_errors
    FOR EACH ROW WHEN (NEW.status = 'resolved' AND OLD.status IS DISTINCT FROM 'resolved')
    EXECUTE FUNCTION ops_private.tg_agent_errors__close_findings();

CREATE VIEW ops.gate_findings AS
SELECT CASE WHEN c.scope LIKE 'guardrail|%' THEN 'guardrail' ELSE 'unit_ci' END AS kind,
       CASE WHEN c.scope LIKE 'guardrail|%' THEN substr(c.scope, length('guardrail|') + 1) ELSE c.scope END AS target,
       c.code,
       c.alias,
       c.severity,
       c.message,
       c.first_seen_at AS since,
       c.last_seen_at,
       c.occurrences,
       coalesce(c.details ->> 'runbook', fm.runbook) AS runbook,
       c.fingerprint,
       c.unit_address,
       c.file,
       c.line,
       fm.ci_behavior IS DISTINCT FROM 'non_blocking' AS blocking
FROM ops.convergence_findings c
LEFT JOIN ops.failure_modes fm ON fm.code = c.code
WHERE c.status = 'open'
ORDER BY c.first_seen_at, c.scope, c.fingerprint;
COMMENT ON VIEW ops.gate_findings IS
    'What the merge gate reads: every open finding in ops.convergence_findings (guardrail findings, and the blocking '
    'and critical unit-CI findings; waived and resolved ones are not listed), oldest first. A finding blocks unless '
    'its code''s ci_behavior is non_blocking (column blocking); `ops gate check` exits 1 while a blocking row '
    'matches its --target, and lists the non-blocking ones as not blocking.';
COMMENT ON COLUMN ops.gate_findings.kind IS 'guardrail (an escalated error of a remediate.kind guardrail code) or unit_ci.';
COMMENT ON COLUMN ops.gate_findings.target IS
    'What is blocked: for guardrail findings ops.error_target of the error (context.target, repository@branch, '
    'origin or source:<source>); for unit-CI findings the run''s scope (unit_ci|<council>|<paths>).';
COMMENT ON COLUMN ops.gate_findings.code IS 'Failure-mode code.';
COMMENT ON COLUMN ops.gate_findings.alias IS 'The code''s alias (FM-01 ...) or the code.';
COMMENT ON COLUMN ops.gate_findings.severity IS 'Severity of the finding (the failure mode''s, for guardrails).';
COMMENT ON COLUMN ops.gate_findings.message IS 'What was found (redacted text).';
COMMENT ON COLUMN ops.gate_findings.since IS 'When the finding was first opened.';
COMMENT ON COLUMN ops.gate_findings.last_seen_at IS 'When it was last reported or escalated.';
COMMENT ON COLUMN ops.gate_findings.occurrences IS 'How many times it was reported or escalated.';
COMMENT ON COLUMN ops.gate_findings.runbook IS 'The runbook to follow (docs/runbooks/failures/<CODE>.md).';
COMMENT ON COLUMN ops.gate_findings.fingerprint IS 'The error''s fingerprint (guardrail) or the finding''s (unit CI).';
COMMENT ON COLUMN ops.gate_findings.unit_address IS 'Unit CI: the unit''s address.';
COMMENT ON COLUMN ops.gate_findings.file IS 'Unit CI: the file.';
COMMENT ON COLUMN ops.gate_findings.line IS 'Unit CI: the line.';
COMMENT ON COLUMN ops.gate_findings.blocking IS
    'Whether it blocks a merge: false when the code''s ci_behavior (ssot/errors/failure_modes.yaml) is non_blocking; '
    'true otherwise (blocking, non_blocking_until_fixed, none given, or a code not in the taxonomy).';

