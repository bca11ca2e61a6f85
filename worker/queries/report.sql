-- Named queries of `ops report` (worker/report.py). Each reads the analysts' views (supabase/schemas/07_views.sql,
-- 08_unit_ci_tables.sql: ops.report_*, ops.dispatch_queue, ops.top_errors) for one period, [since, now()].

-- name: period
-- The period the report covers, on the server's clock: since an absolute time, or an interval back from now.
SELECT coalesce(%(since_at)s::timestamptz, now() - %(since_interval)s::interval) AS since, now() AS until

-- name: totals
-- The headline figures of the period.
SELECT (SELECT coalesce(sum(d.events), 0)::bigint FROM ops.report_error_daily d
        WHERE d.day >= (%(since)s::timestamptz AT TIME ZONE 'UTC')::date) AS events,
       (SELECT count(DISTINCT d.fingerprint) FROM ops.report_error_daily d
        WHERE d.day >= (%(since)s::timestamptz AT TIME ZONE 'UTC')::date) AS errors,
       (SELECT count(DISTINCT d.code) FROM ops.report_error_daily d
        WHERE d.day >= (%(since)s::timestamptz AT TIME ZONE 'UTC')::date) AS codes,
       (SELECT count(*) FROM ops.report_error_changes c WHERE c.at >= %(since)s AND c.change = 'new') AS new,
       (SELECT count(*) FROM ops.report_error_changes c WHERE c.at >= %(since)s AND c.change = 'regressed') AS regressed,
       (SELECT count(*) FROM ops.report_error_changes c WHERE c.at >= %(since)s AND c.change = 'resolved') AS resolved,
       (SELECT count(*) FROM ops.dispatch_queue q WHERE q.created_at >= %(since)s) AS escalations,
       (SELECT count(*) FROM ops.dispatch_queue q WHERE q.created_at >= %(since)s AND q.state = 'delivered') AS delivered,
       (SELECT count(*) FROM ops.dispatch_queue q WHERE q.created_at >= %(since)s AND q.state = 'dead') AS dead,
       (SELECT count(*) FROM ops.report_agent_runs r WHERE r.created_at >= %(since)s) AS agent_runs,
       (SELECT count(DISTINCT u.run_id) FROM ops.report_unit_checks u WHERE u.started_at >= %(since)s) AS unit_ci_runs,
       (SELECT count(*) FROM ops.report_open_findings) AS open_findings,
       (SELECT count(*) FROM ops.report_open_findings f WHERE f.scope LIKE 'guardrail|%%') AS open_guardrail_findings,
       (SELECT count(*) FROM ops.report_open_findings f WHERE f.scope NOT LIKE 'guardrail|%%') AS open_unit_ci_findings

-- name: events_per_day
-- Events per UTC day and code, from the period's first UTC day (the chart's stacked bars).
SELECT d.day, d.code, sum(d.events)::bigint AS events
FROM ops.report_error_daily d
WHERE d.day >= (%(since)s::timestamptz AT TIME ZONE 'UTC')::date
GROUP BY d.day, d.code
ORDER BY d.day, events DESC, d.code

-- name: top_errors
-- The errors with the most events in the period, with what the group says about them today.
SELECT d.fingerprint, min(d.code) AS code, sum(d.events)::bigint AS events, t.title, t.status, t.source, t.count,
       t.first_seen_at, t.last_seen_at, t.sample_message, t.runbook
FROM ops.report_error_daily d
LEFT JOIN ops.top_errors t ON t.fingerprint = d.fingerprint
WHERE d.day >= (%(since)s::timestamptz AT TIME ZONE 'UTC')::date
GROUP BY d.fingerprint, t.title, t.status, t.source, t.count, t.first_seen_at, t.last_seen_at, t.sample_message, t.runbook
ORDER BY events DESC, t.last_seen_at DESC NULLS LAST, d.fingerprint
LIMIT %(limit)s

-- name: changes_per_day
-- New, regressed and resolved errors per UTC day.
SELECT (c.at AT TIME ZONE 'UTC')::date AS day, c.change, count(*) AS errors
FROM ops.report_error_changes c
WHERE c.at >= %(since)s
GROUP BY 1, 2
ORDER BY 1, 2

-- name: resolution_times
-- Time to resolution per code for resolutions in the period: count, median, 90th percentile and longest, in seconds.
SELECT r.code, count(*) AS resolved,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY r.seconds_to_resolve) AS median_seconds,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY r.seconds_to_resolve) AS p90_seconds,
       max(r.seconds_to_resolve) AS max_seconds
FROM ops.report_resolution_times r
WHERE r.resolved_at >= %(since)s
GROUP BY r.code
ORDER BY median_seconds DESC, r.code

-- name: escalation_outcomes
-- Escalations created in the period per destination and delivery state.
SELECT q.destination, q.state, count(*) AS escalations
FROM ops.dispatch_queue q
WHERE q.created_at >= %(since)s
GROUP BY 1, 2
ORDER BY 1, 2

-- name: agent_run_outcomes
-- FixBot runs queued in the period by status.
SELECT r.status, count(*) AS runs
FROM ops.report_agent_runs r
WHERE r.created_at >= %(since)s
GROUP BY r.status
ORDER BY runs DESC, r.status

-- name: unit_check_pass_rates
-- Unit-CI pass rate per check in the period: (pass + warn) / (pass + warn + fail); skipped and waived not judged.
SELECT u.check_alias,
       count(*) FILTER (WHERE u.outcome = 'pass') AS pass,
       count(*) FILTER (WHERE u.outcome = 'warn') AS warn,
       count(*) FILTER (WHERE u.outcome = 'fail') AS fail,
       count(*) FILTER (WHERE u.outcome IN ('skipped', 'waived')) AS not_judged,
       (count(*) FILTER (WHERE u.outcome IN ('pass', 'warn')))::double precision
           / nullif(count(*) FILTER (WHERE u.outcome IN ('pass', 'warn', 'fail')), 0) AS pass_rate
FROM ops.report_unit_checks u
WHERE u.started_at >= %(since)s
GROUP BY u.check_alias
ORDER BY u.check_alias

-- name: open_findings
-- Findings open now (whatever the period), most severe and oldest first; kind: guardrail (an escalated error of a
-- guardrail code, scope 'guardrail|<target>') or unit_ci.
SELECT CASE WHEN f.scope LIKE 'guardrail|%%' THEN 'guardrail' ELSE 'unit_ci' END AS kind, f.alias, f.code, f.severity, f.scope, f.unit_address, f.file, f.line, f.message, f.first_seen_at,
       f.last_seen_at, f.occurrences
FROM ops.report_open_findings f
ORDER BY f.severity = 'critical' DESC, f.first_seen_at, f.fingerprint
LIMIT %(limit)s
