-- The merge gate honours `ci_behavior: non_blocking` (ssot/errors/failure_modes.yaml): ops.gate_findings keeps
-- listing every open finding and says in a new last column, blocking, whether it blocks. A finding of a code
-- whose ci_behavior is non_blocking (CI.AUTOMATION.PROJECT_BOARD_FAILED, a guardrail) stays visible but does
-- not block; `ops gate check` exits 1 only while a blocking one is open.

CREATE OR REPLACE VIEW ops.gate_findings AS
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
COMMENT ON COLUMN ops.gate_findings.blocking IS
    'Whether it blocks a merge: false when the code''s ci_behavior (ssot/errors/failure_modes.yaml) is non_blocking; '
    'true otherwise (blocking, non_blocking_until_fixed, none given, or a code not in the taxonomy).';
