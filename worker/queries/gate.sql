-- The merge gate (`ops gate check`): worker/gate.py.

-- name: findings
-- Open blocking findings (guardrail and unit CI), oldest first; one target's when given.
SELECT kind, target, code, alias, severity, message, since, last_seen_at, occurrences, runbook, fingerprint,
       unit_address, file, line
FROM ops.gate_findings
WHERE %(target)s::text IS NULL OR target = %(target)s
ORDER BY since, target, fingerprint;
