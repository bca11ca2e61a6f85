-- A guardrail code's CI behaviour is one the merge gate can honour: blocking, non_blocking, or none (blocking).
-- non_blocking_until_fixed has no meaning for a guardrail finding (`ops ssot check` refuses it first; this
-- holds for a document synced by other means). No synced code has it, so the check is validated at once.

ALTER TABLE ops.failure_modes ADD CONSTRAINT failure_modes_guardrail_ci_behavior
    CHECK (remediate_kind <> 'guardrail' OR ci_behavior IS DISTINCT FROM 'non_blocking_until_fixed') NOT VALID;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE ops.failure_modes VALIDATE CONSTRAINT failure_modes_guardrail_ci_behavior;
COMMENT ON CONSTRAINT failure_modes_guardrail_ci_behavior ON ops.failure_modes IS
    'A guardrail code is blocking or non_blocking for the merge gate (ops.gate_findings.blocking); '
    'non_blocking_until_fixed is refused for it.';
COMMENT ON COLUMN ops.failure_modes.ci_behavior IS
    'Whether a finding of this code blocks a merge (ssot `ci_behavior:`): blocking, non_blocking (the merge gate lists '
    'it, ops.gate_findings.blocking false, and does not block), non_blocking_until_fixed; NULL counts as blocking.';
