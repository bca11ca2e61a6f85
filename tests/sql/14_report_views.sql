-- The report's views (issue 13, `ops report`): one row per fact with its time, the figures an analyst can
-- recount by hand, readable by ops_analyst and nothing else.
BEGIN;
SELECT plan(14);

INSERT INTO ops.failure_modes (code, position, title, category, severity, retryable, runbook, remediate_kind,
                               escalate_after_count, escalate_within, escalate_destination)
VALUES ('TEST.REP', 9201, 'report me', 'ops', 'high', false, 'docs/r.md', 'checklist', 1, NULL, 'work_queue'),
       ('TEST.REPFIX', 9202, 'fix me', 'ops', 'high', false, 'docs/f.md', 'fixbot', 1, NULL, 'fixbot');
INSERT INTO ops.failure_mode_patterns (code, position, kind, pattern)
VALUES ('TEST.REP', 1, 'substring', 'qqr-report'), ('TEST.REPFIX', 1, 'substring', 'qqr-fix');

-- Two days of events: three yesterday, two today, one error.
INSERT INTO ops.error_events (source, message, received_at)
SELECT 'ops', 'qqr-report', now() - interval '1 day' FROM generate_series(1, 3);
INSERT INTO ops.error_events (source, message) SELECT 'ops', 'qqr-report' FROM generate_series(1, 2);
SELECT results_eq($$ SELECT day, events FROM ops.report_error_daily WHERE code = 'TEST.REP' ORDER BY day $$,
    $$ VALUES ((now() - interval '1 day')::date, 3::bigint), (now()::date, 2::bigint) $$,
    'report_error_daily counts events per UTC day and error');
SELECT is((SELECT sum(events) FROM ops.report_error_daily WHERE code = 'TEST.REP'),
          (SELECT count::numeric FROM ops.agent_errors WHERE code = 'TEST.REP'),
    'its days add up to the error''s count');

-- An alias: events of an old fingerprint count under the group that took it over.
INSERT INTO ops.error_aliases (fingerprint, target_fingerprint, reason)
SELECT fingerprint, 'fp-qqr-target', 'promote' FROM ops.agent_errors WHERE code = 'TEST.REP';
SELECT results_eq($$ SELECT DISTINCT fingerprint FROM ops.report_error_daily WHERE code = 'TEST.REP' $$,
    $$ VALUES ('fp-qqr-target'::text) $$, 'an aliased fingerprint''s events count under the group it points to');
DELETE FROM ops.error_aliases WHERE target_fingerprint = 'fp-qqr-target';

-- Lifecycle: new, resolved, regressed.
SELECT is((SELECT count(*)::int FROM ops.report_error_changes WHERE code = 'TEST.REP' AND change = 'new'), 1,
    'a new error is one "new" change');
SELECT ok((SELECT at FROM ops.report_error_changes WHERE code = 'TEST.REP' AND change = 'new') = now() - interval '1 day',
    'at its first occurrence');
SELECT ops.set_error_status(fingerprint, 'resolved') FROM ops.agent_errors WHERE code = 'TEST.REP';
SELECT is((SELECT count(*)::int FROM ops.report_error_changes WHERE code = 'TEST.REP' AND change = 'resolved'), 1,
    'resolving it is one "resolved" change');
SELECT results_eq($$ SELECT opened_at, seconds_to_resolve FROM ops.report_resolution_times WHERE code = 'TEST.REP' $$,
    $$ VALUES (now() - interval '1 day', 86400::double precision) $$,
    'time to resolution runs from the first occurrence to the resolution, in seconds');
INSERT INTO ops.error_events (source, message) VALUES ('ops', 'qqr-report');
SELECT is((SELECT count(*)::int FROM ops.report_error_changes WHERE code = 'TEST.REP' AND change = 'regressed'), 1,
    'a resolved error that recurs is one "regressed" change (its regression escalation)');
SELECT is((SELECT status FROM ops.report_resolution_times WHERE code = 'TEST.REP'), 'regressed',
    'the resolution it had stays listed, with the status it has now');

-- FixBot runs and their verdicts.
INSERT INTO ops.error_events (source, message) VALUES ('ops', 'qqr-fix');
SELECT ops.update_agent_run(id, 'running') FROM ops.agent_runs WHERE code = 'TEST.REPFIX';
SELECT ops.update_agent_run(id, 'rejected', '{"approved": false, "reasons": [{"code": "AGENT.FORBIDDEN_PATH", "message": "x"}]}')
FROM ops.agent_runs WHERE code = 'TEST.REPFIX';
SELECT results_eq($$ SELECT status, approved, reason_codes FROM ops.report_agent_runs WHERE code = 'TEST.REPFIX' $$,
    $$ VALUES ('rejected'::text, false, '["AGENT.FORBIDDEN_PATH"]'::jsonb) $$,
    'report_agent_runs shows the run''s outcome, the verdict and the codes it broke');

-- Unit CI: checks per run and open findings.
INSERT INTO ops.maintenance_runs (kind, scope, status) VALUES ('unit_ci', 'unit_ci:test', 'failed');
INSERT INTO ops.maintenance_run_events (run_id, kind, check_alias, outcome, message)
SELECT currval(pg_get_serial_sequence('ops.maintenance_runs', 'id')), 'check', a, o, 'm'
FROM (VALUES ('FM-01', 'pass'), ('FM-02', 'fail'), ('FM-03', 'skipped')) v (a, o);
INSERT INTO ops.maintenance_run_events (run_id, kind, check_alias, outcome, severity, message)
VALUES (currval(pg_get_serial_sequence('ops.maintenance_runs', 'id')), 'finding', 'FM-02', 'fail', 'blocking', 'broken');
SELECT results_eq($$ SELECT check_alias, outcome FROM ops.report_unit_checks WHERE scope = 'unit_ci:test' ORDER BY 1 $$,
    $$ VALUES ('FM-01'::text, 'pass'::text), ('FM-02', 'fail'), ('FM-03', 'skipped') $$,
    'report_unit_checks lists each check of a unit-CI run once, findings left out');
INSERT INTO ops.convergence_findings (scope, fingerprint, code, alias, severity, message, status, first_run_id, last_run_id)
VALUES ('unit_ci:test', 'f1', 'UNIT.BROKEN_IMPORT', 'FM-02', 'blocking', 'broken', 'open', 1, 1),
       ('unit_ci:test', 'f2', 'UNIT.BROKEN_IMPORT', 'FM-02', 'blocking', 'fixed', 'resolved', 1, 1),
       ('unit_ci:test', 'f3', 'UNIT.BROKEN_IMPORT', 'FM-02', 'blocking', 'waived', 'waived', 1, 1);
SELECT results_eq($$ SELECT fingerprint FROM ops.report_open_findings WHERE scope = 'unit_ci:test' $$,
    $$ VALUES ('f1'::text) $$, 'report_open_findings lists open findings only (not resolved, not waived)');

-- Who reads them.
SET LOCAL ROLE ops_analyst;
SELECT lives_ok($$ SELECT FROM ops.report_error_daily, ops.report_error_changes, ops.report_resolution_times,
                              ops.report_agent_runs, ops.report_unit_checks, ops.report_open_findings LIMIT 1 $$,
    'ops_analyst reads every report view');
RESET ROLE;
SET LOCAL ROLE ops_ingest;
SELECT throws_ok($$ SELECT FROM ops.report_error_changes $$, '42501', NULL, 'ops_ingest does not');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
