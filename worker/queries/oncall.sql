-- name: find_error
-- A fingerprint or a unique prefix of it -> the full fingerprint (OP001 ambiguous or malformed, OP004 none).
SELECT ops.find_error(%(prefix)s) AS fingerprint;

-- name: group
-- One error as on-call sees it (effective status, runbook, last resolution record).
SELECT fingerprint, code, title, severity, status, source, phase, count, first_seen_at, last_seen_at, regression_count,
       resolved_at, resolved_by, resolution_ref, resolution_sha256, ignored_until, runbook, remediate_kind,
       escalate_destination, last_run_id, last_correlation_id, sample_message
FROM ops.error_groups
WHERE fingerprint = %(fingerprint)s;

-- name: list_groups
-- `ops errors list`: filtered by code, source, status and last seen, most recently seen first.
SELECT fingerprint, code, status, count, first_seen_at, last_seen_at, source, phase, regression_count, ignored_until,
       resolution_ref, runbook, sample_message
FROM ops.error_groups
WHERE (%(code)s::text IS NULL OR code = %(code)s)
  AND (%(source)s::text IS NULL OR source = %(source)s)
  AND (%(status)s::text IS NULL OR status = %(status)s)
  AND (%(since)s::timestamptz IS NULL OR last_seen_at >= %(since)s)
ORDER BY last_seen_at DESC, fingerprint
LIMIT %(limit)s;

-- name: recent_events
-- The latest stored occurrences of one error (redacted at ingest), newest first.
SELECT event_id, received_at, occurred_at, phase, run_id, correlation_id, origin, message
FROM ops.error_event_log
WHERE fingerprint = %(fingerprint)s
ORDER BY received_at DESC, event_id DESC
LIMIT %(limit)s;

-- name: run_ids
-- Distinct run ids the error's stored events carry, most recent first.
SELECT run_id, max(received_at) AS last_at, count(*) AS events
FROM ops.error_event_log
WHERE fingerprint = %(fingerprint)s AND run_id IS NOT NULL
GROUP BY run_id
ORDER BY max(received_at) DESC
LIMIT %(limit)s;

-- name: escalations
-- Every escalation of one error (its own pages and the digests that listed it), oldest first.
SELECT escalation_id, reason, destination, state, attempts, count_at, created_at, delivered_at, last_error
FROM ops.error_escalation_log
WHERE fingerprint = %(fingerprint)s
ORDER BY created_at, escalation_id;

-- name: agent_runs
-- The FixBot runs of one error with their outcomes, oldest first.
SELECT run_id, status, escalation_id, branch, pr_url, pr_state, approved, variant_id, created_at, finished_at, last_error,
       outcome, resolved, score
FROM ops.error_agent_run_log
WHERE fingerprint = %(fingerprint)s
ORDER BY run_id;

-- name: history
-- The error's status changes (resolves, ignores, reopens, regressions), in order.
SELECT change_id, from_status, to_status, changed_at, actor, resolution_ref, ignored_until
FROM ops.error_status_log
WHERE fingerprint = %(fingerprint)s
ORDER BY change_id;

-- name: redact
-- Text a person typed for a record, redacted with the pipeline's rules before it is written anywhere.
SELECT ops.redact(%(text)s) AS text;

-- name: resolve_error
-- `ops resolve`: the state machine, the record's path and sha256, who resolved it.
SELECT fingerprint, status, resolved_at, resolved_by, resolution_ref, resolution_sha256
FROM ops.resolve_error(%(fingerprint)s, %(resolution_ref)s, %(resolution_sha256)s, %(resolved_by)s);

-- name: ignore_error
-- `ops ignore`: counts on, escalates never until the date (NULL: until reopened).
SELECT fingerprint, status, ignored_until FROM ops.ignore_error(%(fingerprint)s, %(until)s);

-- name: reopen_error
-- `ops reopen`: a resolved or ignored error is open again.
SELECT fingerprint, status FROM ops.reopen_error(%(fingerprint)s);

-- name: fixbot_candidates
-- Errors whose FixBot pull request merged and that stayed quiet for the period (the worker resolves them).
SELECT fingerprint, code, run_id, pr_url, merged_at, last_seen_at
FROM ops.fixbot_resolution_candidates(make_interval(secs => %(quiet_seconds)s));

-- name: resolve_error_by_fixbot
-- The worker's resolve: refused (OPD04) unless the error is still a candidate for that run.
SELECT fingerprint, status, resolved_by, resolution_ref
FROM ops.resolve_error_by_fixbot(%(fingerprint)s, %(run_id)s, make_interval(secs => %(quiet_seconds)s),
                                 %(resolution_ref)s, %(resolution_sha256)s);
