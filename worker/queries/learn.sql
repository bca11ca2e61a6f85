-- name: variant_arms
-- The dispatchable variants of an agent type with their record on one failure mode (Beta posterior counts),
-- and the exploration share synced from ssot/agents/variants.yaml.
SELECT p.variant_id, p.status, p.resolved, p.failed,
       (SELECT (s.detail ->> 'exploration_share')::numeric FROM ops.ssot_state s WHERE s.name = 'variants') AS exploration_share
FROM ops.variant_posteriors(%(code)s, %(agent_type)s) p;

-- name: record_variant_choice
-- Record the chosen variant and how it was chosen on the run (the first choice stands).
SELECT ops.record_variant_choice(%(run_id)s, %(variant_id)s, %(choice)s::jsonb) AS metadata;
