-- The merge gate (`ops gate check`): worker/gate.py.

-- name: findings
-- Open findings (guardrail and unit CI), oldest first; one target's when given. blocking is false for a code
-- whose ci_behavior is non_blocking: listed, never blocks.
SELECT kind, target, code, alias, severity, message, since, last_seen_at, occurrences, runbook, fingerprint,
       unit_address, file, line, blocking
FROM ops.gate_findings
WHERE %(target)s::text IS NULL OR target = %(target)s
ORDER BY since, target, fingerprint;
