-- Named queries of `ops demo` (worker/demo.py): what the demo's own run escalated, delivered and resolved.

-- name: escalations_after
-- The escalations the demo caused (ids above the last one before it started), with their delivery state.
SELECT e.id, e.code, e.destination, e.reason, e.state, e.next_attempt_at, e.last_error, d.kind
FROM ops.escalations e
LEFT JOIN ops.destinations d ON d.name = e.destination
WHERE e.id > %(after)s
ORDER BY e.id

-- name: due_after
-- Escalations of the demo still to deliver now (pending and due, or being delivered); a digest due at its
-- window's end and an escalation waiting for a retry later are not counted.
SELECT count(*) AS due
FROM ops.escalations e
WHERE e.id > %(after)s AND (e.state = 'claimed' OR (e.state = 'pending' AND e.next_attempt_at <= now()))

-- name: agent_runs_after
-- The FixBot runs the demo's escalations dispatched, with the policy's verdict.
SELECT r.id, r.code, r.status, r.branch, r.approved, r.reason_codes
FROM ops.report_agent_runs r
JOIN ops.agent_runs a ON a.id = r.id
WHERE a.escalation_id > %(after)s
ORDER BY r.id

-- name: resolve_candidate
-- The error the demo resolves: the missing secret (ENV.KEY_MISSING, the one README's "A day on call" follows) when it
-- was escalated and delivered and is still open, else the most frequent such error.
SELECT a.fingerprint, a.code, a.count
FROM ops.agent_errors a
WHERE a.status IN ('open', 'acknowledged', 'regressed') AND a.code NOT LIKE 'UNKNOWN.%%'
  AND EXISTS (SELECT FROM ops.escalations e
              WHERE e.fingerprint = a.fingerprint AND e.id > %(after)s AND e.state = 'delivered')
ORDER BY a.code = 'ENV.KEY_MISSING' DESC, a.count DESC, a.fingerprint
LIMIT 1

-- name: start
-- Where the demo starts: the newest escalation's id (0 when none; the demo's are after it) and the server's time
-- (escalations from before it delivered since then were delivered by the demo's worker).
SELECT coalesce(max(id), 0) AS last_id, now() AS at FROM ops.escalations;

-- name: earlier_delivered
-- Escalations from before the demo (ids up to after) that its worker delivered: the receiver counts those too.
SELECT count(*) AS delivered FROM ops.escalations WHERE id <= %(after)s AND delivered_at >= %(since)s;
