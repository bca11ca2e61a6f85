-- name: record_error
-- One event through the ingest API (named arguments are the contract; event_key, even NULL, picks the overload
-- that says whether it was a duplicate).
SELECT event_id, fingerprint, code, count, duplicate
FROM ops.record_error(source => %(source)s, message => %(message)s, phase => %(phase)s, top_frame => %(top_frame)s,
                      run_id => %(run_id)s, correlation_id => %(correlation_id)s, origin => %(origin)s,
                      context => %(context)s::jsonb, code_hint => %(code_hint)s,
                      event_key => %(event_key)s);

-- name: record_errors
-- A batch in one statement: the aggregate trigger then upserts each fingerprint once.
SELECT event_id, fingerprint, code, count, duplicate FROM ops.record_errors(%(events)s::jsonb, true);

-- name: classify_error
-- Classification only; nothing is stored.
SELECT code, confidence, matched_pattern FROM ops.classify_error(%(source)s, %(phase)s, ops.redact(%(message)s));

-- name: classify_batch
-- Many events classified in one statement, in input order (the real-world measure); nothing is stored.
SELECT c.code FROM jsonb_array_elements(%(events)s::jsonb) WITH ORDINALITY AS x (doc, n)
CROSS JOIN LATERAL ops.classify_error(x.doc ->> 'source', x.doc ->> 'phase', x.doc ->> 'message') c
ORDER BY x.n;

-- name: classify_candidates
-- Every pattern that matched, ranked by the classification rule (rank 1 is what classify_error returns).
SELECT rank, code, kind, pattern, line_number, line, on_cause, restriction, scope, specificity, priority,
       code_position, pattern_position, decided_by
FROM ops.classify_candidates(%(source)s, %(phase)s, ops.redact(%(message)s));

-- name: top_errors
-- The analysts' view, optionally for one code.
SELECT code, count, status, source, phase, first_seen_at, last_seen_at, fingerprint, sample_message, runbook
FROM ops.top_errors
WHERE %(code)s::text IS NULL OR code = %(code)s
LIMIT %(limit)s;

-- name: new_escalations
-- Escalations created after a given id (the demo prints them as they arrive).
SELECT id, code, reason, destination, count_at, payload ->> 'title' AS title
FROM ops.escalations
WHERE id > %(after)s
ORDER BY id;

-- name: queued_agent_runs_for
-- FixBot runs queued by one escalation.
SELECT id, code, metadata ->> 'variant_id' AS variant_id
FROM ops.agent_runs
WHERE escalation_id = %(escalation_id)s
ORDER BY id;

-- name: known_sources
-- The sources ingest accepts (`ops classify` refuses the others, as ingest does).
SELECT source FROM ops.sources ORDER BY position;

-- name: failure_modes
-- The taxonomy as synced into the database (Problem Details read titles, statuses and retryability).
SELECT code, title, http_status, retryable FROM ops.failure_modes;

-- name: regroup_errors
-- Moves groups of older fingerprint versions under the current normalization (dry run unless apply).
SELECT old_fingerprint, new_fingerprint, code, events, count_moved
FROM ops.regroup_errors(dry_run => NOT %(apply)s);

-- name: pair_fingerprint
-- The fingerprint one event gets through the real ingest path (redaction, classification, grouping); the
-- real-world grouping measure runs it inside a transaction it rolls back, so nothing stays stored.
SELECT fingerprint FROM ops.record_error(source => %(source)s, phase => %(phase)s, message => %(message)s);

-- name: known_codes
-- The taxonomy's codes, in its order, through the analysts' summary view (a filter's typo is refused with them).
SELECT code FROM ops.failure_mode_summary ORDER BY code;

-- name: code_stored
-- Whether any stored error has this code (a code since dropped from the taxonomy is still a valid filter).
SELECT EXISTS (SELECT 1 FROM ops.error_groups WHERE code = %(code)s) AS stored;
