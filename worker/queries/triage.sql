-- Triage of UNKNOWN errors (`ops triage list | promote`): worker/triage.py.

-- name: queue
-- The UNKNOWN queue with trigram-suggested codes (ops.triage_queue; an analyst may read it).
SELECT fingerprint, code, source, phase, count, first_seen_at, last_seen_at, sample_message, code_retired, suggested
FROM ops.triage_queue(%(source)s, %(limit)s, %(suggestions)s);

-- name: queue_prefix
-- The queue's fingerprints that start with a prefix (a unique prefix names a group, as in git).
SELECT fingerprint FROM ops.unknown_triage
WHERE starts_with(fingerprint, %(prefix)s)
ORDER BY fingerprint
LIMIT 11;

-- name: pattern_conflicts
-- What a pattern would change if added to a code (tried in a subtransaction that rolls back).
SELECT origin, fingerprint, source, phase, message, code_before, code_after, steals
FROM ops.pattern_conflicts(%(code)s, %(kind)s, %(pattern)s, %(required_literals)s::text[], %(messages)s::jsonb);

-- name: promote
-- Re-code one error group keeping its history (alias, counts, events, escalations).
SELECT old_fingerprint, new_fingerprint, old_code, new_code, count, events_moved
FROM ops.promote_error(%(fingerprint)s, %(code)s, %(force)s);
