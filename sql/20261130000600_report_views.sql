-- The report (ops report, issue 13): analyst views with one row per fact and the time it happened
-- (events per day and error, lifecycle changes, resolution times, FixBot runs, unit-CI checks, open findings).

-- The report (`ops report`): one row per fact with the time it happened, so a period is a WHERE on that
-- column and every figure of the report is a GROUP BY an analyst can run by hand (worker/queries/report.sql
-- holds the report's own queries over these views).

CREATE VIEW ops.report_error_daily AS
SELECT date_trunc('day', ev.received_at AT TIME ZONE 'UTC')::date AS day,
       coalesce(al.target_fingerprint, ev.fingerprint) AS fingerprint,
       ev.code,
       count(*) AS events
FROM ops.error_events ev
LEFT JOIN ops.error_aliases al ON al.fingerprint = ev.fingerprint
GROUP BY 1, 2, 3;
COMMENT ON VIEW ops.report_error_daily IS
    'Occurrences per UTC day, error and code (an aliased fingerprint counts under the group that took it over, '
    'ops.error_aliases). Filter on day: WHERE day >= (now() - interval ''7 days'')::date.';
COMMENT ON COLUMN ops.report_error_daily.day IS 'UTC day the events were received.';
COMMENT ON COLUMN ops.report_error_daily.fingerprint IS 'The error (group) today: its fingerprint, or the one its alias points to.';
COMMENT ON COLUMN ops.report_error_daily.code IS 'Failure-mode code the events were classified as.';
COMMENT ON COLUMN ops.report_error_daily.events IS 'Occurrences that day (a count of events, not of groups).';

CREATE VIEW ops.report_error_changes AS
SELECT a.first_seen_at AS at, 'new'::text AS change, a.fingerprint, a.code, a.source
FROM ops.agent_errors a
UNION ALL
SELECT r.created_at, 'regressed', r.fingerprint, r.code, a.source
FROM (SELECT e.created_at, e.fingerprint, e.code FROM ops.escalations e WHERE e.reason = 'regression'
      UNION ALL
      SELECT i.created_at, i.fingerprint, i.code FROM ops.page_window_items i WHERE i.reason = 'regression') r
JOIN ops.agent_errors a ON a.fingerprint = r.fingerprint
UNION ALL
SELECT a.resolved_at, 'resolved', a.fingerprint, a.code, a.source
FROM ops.agent_errors a
WHERE a.resolved_at IS NOT NULL;
COMMENT ON VIEW ops.report_error_changes IS
    'Lifecycle changes of errors, one row each: new (first seen), regressed (a resolved error came back: its '
    'regression escalation, paged or held back by a page budget) and resolved (the latest resolution of each '
    'error, ops.agent_errors.resolved_at). Count per day and change for "new vs regressed vs resolved".';
COMMENT ON COLUMN ops.report_error_changes.at IS 'When the change happened.';
COMMENT ON COLUMN ops.report_error_changes.change IS 'new, regressed or resolved.';
COMMENT ON COLUMN ops.report_error_changes.fingerprint IS 'The error.';
COMMENT ON COLUMN ops.report_error_changes.code IS 'Its failure-mode code.';
COMMENT ON COLUMN ops.report_error_changes.source IS 'Its producer.';

CREATE VIEW ops.report_resolution_times AS
SELECT a.fingerprint,
       a.code,
       coalesce(r.regressed_at, a.first_seen_at) AS opened_at,
       a.resolved_at,
       extract(epoch FROM a.resolved_at - coalesce(r.regressed_at, a.first_seen_at))::double precision AS seconds_to_resolve,
       a.status
FROM ops.agent_errors a
LEFT JOIN LATERAL (
    SELECT max(e.created_at) AS regressed_at
    FROM ops.escalations e
    WHERE e.fingerprint = a.fingerprint AND e.reason = 'regression' AND e.created_at <= a.resolved_at
) r ON true
WHERE a.resolved_at IS NOT NULL;
COMMENT ON VIEW ops.report_resolution_times IS
    'Time to resolution of each error''s latest resolution: from when it was opened (first seen, or its latest '
    'regression before the resolution) to resolved_at, in seconds. Aggregate per code with percentile_cont.';
COMMENT ON COLUMN ops.report_resolution_times.fingerprint IS 'The error.';
COMMENT ON COLUMN ops.report_resolution_times.code IS 'Its failure-mode code.';
COMMENT ON COLUMN ops.report_resolution_times.opened_at IS 'First seen, or the latest regression escalation before resolved_at.';
COMMENT ON COLUMN ops.report_resolution_times.resolved_at IS 'When it was resolved (the latest resolution).';
COMMENT ON COLUMN ops.report_resolution_times.seconds_to_resolve IS 'resolved_at - opened_at, in seconds.';
COMMENT ON COLUMN ops.report_resolution_times.status IS 'Its status now (regressed when it came back since).';

CREATE VIEW ops.report_agent_runs AS
SELECT r.id,
       r.code,
       r.fingerprint,
       r.status,
       (r.verdict ->> 'approved')::boolean AS approved,
       coalesce(jsonb_path_query_array(r.verdict, '$.reasons[*].code'), '[]') AS reason_codes,
       r.metadata ->> 'variant_id' AS variant_id,
       r.branch,
       r.pr_url,
       r.created_at,
       r.finished_at
FROM ops.agent_runs r;
COMMENT ON VIEW ops.report_agent_runs IS 'FixBot runs and their outcomes (status, the policy''s verdict), one row per run.';
COMMENT ON COLUMN ops.report_agent_runs.id IS 'Agent run id.';
COMMENT ON COLUMN ops.report_agent_runs.code IS 'Failure-mode code the run was queued for.';
COMMENT ON COLUMN ops.report_agent_runs.fingerprint IS 'The error it works on.';
COMMENT ON COLUMN ops.report_agent_runs.status IS 'queued, claimed, running, succeeded, failed, rejected, dead or cancelled.';
COMMENT ON COLUMN ops.report_agent_runs.approved IS 'The FixBot policy''s verdict on the patch (NULL: no patch judged yet).';
COMMENT ON COLUMN ops.report_agent_runs.reason_codes IS 'JSON array of the codes a rejected patch broke (AGENT.FORBIDDEN_PATH, ...).';
COMMENT ON COLUMN ops.report_agent_runs.variant_id IS 'The agent variant (metadata.variant_id).';
COMMENT ON COLUMN ops.report_agent_runs.branch IS 'The branch the run worked on.';
COMMENT ON COLUMN ops.report_agent_runs.pr_url IS 'The pull request it opened, if any.';
COMMENT ON COLUMN ops.report_agent_runs.created_at IS 'When the run was queued.';
COMMENT ON COLUMN ops.report_agent_runs.finished_at IS 'When it finished (NULL while active).';

CREATE VIEW ops.report_unit_checks AS
SELECT m.id AS run_id,
       m.started_at,
       m.scope,
       m.council,
       ev.check_alias,
       ev.outcome
FROM ops.maintenance_run_events ev
JOIN ops.maintenance_runs m ON m.id = ev.run_id
WHERE ev.kind = 'check' AND m.kind = 'unit_ci';
COMMENT ON VIEW ops.report_unit_checks IS
    'Unit-CI checks (`stratt ci`), one row per check per run. Pass rate per check: (pass + warn) / (pass + warn + '
    'fail), skipped and waived left out (a warning does not fail a run: exit 0).';
COMMENT ON COLUMN ops.report_unit_checks.run_id IS 'The ops.maintenance_runs row.';
COMMENT ON COLUMN ops.report_unit_checks.started_at IS 'When the run started.';
COMMENT ON COLUMN ops.report_unit_checks.scope IS 'What the run looked at (kind, council, paths).';
COMMENT ON COLUMN ops.report_unit_checks.council IS 'The council checked.';
COMMENT ON COLUMN ops.report_unit_checks.check_alias IS 'FM-01..FM-09, SCHEMA or WAIVERS.';
COMMENT ON COLUMN ops.report_unit_checks.outcome IS 'pass, fail, warn, skipped or waived.';

CREATE VIEW ops.report_open_findings AS
SELECT f.scope,
       f.fingerprint,
       f.code,
       f.alias,
       f.severity,
       f.unit_address,
       f.file,
       f.line,
       f.message,
       f.first_seen_at,
       f.last_seen_at,
       f.occurrences
FROM ops.convergence_findings f
WHERE f.status = 'open';
COMMENT ON VIEW ops.report_open_findings IS 'Blocking and critical findings still open (not resolved, not waived), oldest first by first_seen_at.';
COMMENT ON COLUMN ops.report_open_findings.scope IS 'What the run that found it looked at.';
COMMENT ON COLUMN ops.report_open_findings.fingerprint IS 'Stable identity of the finding.';
COMMENT ON COLUMN ops.report_open_findings.code IS 'Failure-mode code.';
COMMENT ON COLUMN ops.report_open_findings.alias IS 'The check (FM-01..FM-09).';
COMMENT ON COLUMN ops.report_open_findings.severity IS 'critical or blocking.';
COMMENT ON COLUMN ops.report_open_findings.unit_address IS 'The unit it is about, if any.';
COMMENT ON COLUMN ops.report_open_findings.file IS 'File, if any.';
COMMENT ON COLUMN ops.report_open_findings.line IS 'Line, if any.';
COMMENT ON COLUMN ops.report_open_findings.message IS 'What is wrong.';
COMMENT ON COLUMN ops.report_open_findings.first_seen_at IS 'First run that reported it.';
COMMENT ON COLUMN ops.report_open_findings.last_seen_at IS 'Latest run that reported it.';
COMMENT ON COLUMN ops.report_open_findings.occurrences IS 'Runs that reported it.';

GRANT SELECT ON ops.report_error_daily, ops.report_error_changes, ops.report_resolution_times, ops.report_agent_runs,
                ops.report_unit_checks, ops.report_open_findings TO ops_analyst;
