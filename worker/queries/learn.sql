-- name: variant_arms
-- The dispatchable variants of an agent type with their record on one failure mode (Beta posterior counts),
-- and the exploration share synced from ssot/agents/variants.yaml.
SELECT p.variant_id, p.status, p.resolved, p.failed,
       (SELECT (s.detail ->> 'exploration_share')::numeric FROM ops.ssot_state s WHERE s.name = 'variants') AS exploration_share
FROM ops.variant_posteriors(%(code)s, %(agent_type)s) p;

-- name: record_variant_choice
-- Record the chosen variant and how it was chosen on the run (the first choice stands).
SELECT ops.record_variant_choice(%(run_id)s, %(variant_id)s, %(choice)s::jsonb) AS metadata;

-- name: variant_lineage
-- Every synced variant with its root and the knobs changed from the root (nearest first).
SELECT id, agent_type, parent, status, knobs_from_root, root FROM ops.variant_lineage ORDER BY id;

-- name: variant_pairs
-- The paired sample of a comparison: one row per task both variants ran.
SELECT * FROM ops.variant_pairs(%(baseline)s, %(variant)s);

-- name: variant_record
-- A variant's decided runs, resolved count, mean score and the tier of that mean.
SELECT * FROM ops.variant_record(%(variant)s);

-- name: promotion_rules
-- benchmark.yaml's promotion rules as last synced ({min_tier, min_runs, metric}).
SELECT s.detail -> 'promotion' AS rules FROM ops.ssot_state s WHERE s.name = 'benchmark';
