-- Agent variants: sync from the YAML document, lineage, the variant choice recorded on a run, posteriors.
BEGIN;
SELECT plan(12);

SELECT ops.sync_agent_variants('{"path": "ssot/agents/variants.yaml", "sha256": "t", "exploration_share": 0.3, "variants": [
  {"id": "root", "agent_type": "fixbot", "status": "baseline", "position": 1},
  {"id": "a", "agent_type": "fixbot", "parent": "root", "knob": "prompt_template", "value": "short", "status": "challenger", "position": 2},
  {"id": "b", "agent_type": "fixbot", "parent": "a", "knob": "retrieval_policy", "value": "none", "status": "challenger", "position": 3},
  {"id": "m", "agent_type": "fixbot", "parent": "root", "multi_knob": ["prompt_template", "verification_strictness"], "status": "challenger", "position": 4}
]}'::jsonb);

SELECT set_eq($$SELECT id || ':' || status FROM ops.agent_variants$$,
    ARRAY['root:baseline', 'a:challenger', 'b:challenger', 'm:challenger'], 'sync writes the variants of the document');
SELECT is((SELECT (detail ->> 'exploration_share')::numeric FROM ops.ssot_state WHERE name = 'variants'), 0.3,
    'the exploration share rides on the file record');
SELECT is((SELECT knobs_from_root FROM ops.variant_lineage WHERE id = 'b'), ARRAY['retrieval_policy', 'prompt_template'],
    'the lineage lists the knobs changed from the root, nearest first');
SELECT is((SELECT knobs_from_root FROM ops.variant_lineage WHERE id = 'm'), ARRAY['prompt_template', 'verification_strictness'],
    'a multi-knob step contributes all its knobs');
SELECT is((SELECT ops.sync_agent_variants('{"path": "ssot/agents/variants.yaml", "sha256": "t", "exploration_share": 0.3, "variants": [
  {"id": "root", "agent_type": "fixbot", "status": "baseline", "position": 1},
  {"id": "a", "agent_type": "fixbot", "parent": "root", "knob": "prompt_template", "value": "short", "status": "challenger", "position": 2},
  {"id": "b", "agent_type": "fixbot", "parent": "a", "knob": "retrieval_policy", "value": "none", "status": "challenger", "position": 3},
  {"id": "m", "agent_type": "fixbot", "parent": "root", "multi_knob": ["prompt_template", "verification_strictness"], "status": "challenger", "position": 4}
]}'::jsonb) ->> 'agent_variants')::integer, 0, 'sync is idempotent');

-- A run dispatched with variant m, then a sync that drops m: refused, the history names it.
INSERT INTO ops.agent_runs (fingerprint, code, policy_ref, metadata) VALUES ('fp-v', 'CI.LINT_FAILED', 'p', '{}');
SELECT is(ops.record_variant_choice((SELECT id FROM ops.agent_runs WHERE fingerprint = 'fp-v'), 'm', '{"policy": "thompson"}') ->> 'variant_id',
    'm', 'the chosen variant is recorded on the run');
SELECT is((SELECT metadata -> 'variant_choice' ->> 'policy' FROM ops.agent_runs WHERE fingerprint = 'fp-v'), 'thompson',
    'with how it was chosen');
SELECT is(ops.record_variant_choice((SELECT id FROM ops.agent_runs WHERE fingerprint = 'fp-v'), 'a', '{}') ->> 'variant_id',
    'm', 'the first choice stands on a retry');
SELECT throws_ok($$SELECT ops.sync_agent_variants('{"path": "p", "sha256": "t", "exploration_share": 0, "variants": [
  {"id": "root", "agent_type": "fixbot", "status": "baseline", "position": 1}]}'::jsonb)$$,
    'OPD03', NULL, 'a sync that would delete a variant runs used is refused');
SELECT throws_ok($$SELECT ops.record_variant_choice(-1, 'a', '{}')$$, 'OP004', 'no agent run -1', 'an unknown run is named');

-- Posteriors: decided runs only (awaiting_ci and dispatched are not evidence yet).
INSERT INTO ops.agent_runs (fingerprint, code, policy_ref, status, metadata)
SELECT 'fp-p' || g, 'CI.LINT_FAILED', 'p', 'succeeded', '{"variant_id": "a"}' FROM generate_series(1, 3) g;
INSERT INTO ops.agent_benchmark_results (run_id, agent_type, variant_id, task_id, code, resolved, score, tier, outcome, benchmark_sha256)
SELECT r.id, 'fixbot', 'a', r.fingerprint, 'CI.LINT_FAILED', o.resolved, 50, 'C', o.outcome, 't'
FROM ops.agent_runs r
JOIN (VALUES ('fp-p1', true, 'resolved'), ('fp-p2', false, 'ci_failed'), ('fp-p3', false, 'awaiting_ci'))
     AS o (fp, resolved, outcome) ON o.fp = r.fingerprint
-- (the scoring trigger already scored the inserted runs as dispatched: these are the outcomes they reached)
ON CONFLICT (run_id) DO UPDATE SET resolved = excluded.resolved, outcome = excluded.outcome, variant_id = excluded.variant_id;
SELECT results_eq($$SELECT variant_id, resolved, failed FROM ops.variant_posteriors('CI.LINT_FAILED') WHERE variant_id = 'a'$$,
    $$VALUES ('a'::text, 1::bigint, 1::bigint)$$, 'posteriors count decided runs of the code only');
SELECT is((SELECT count(*) FROM ops.variant_posteriors('CI.LINT_FAILED'))::integer, 4,
    'every dispatchable variant of the agent type has a row, with or without runs');

SELECT * FROM finish();
ROLLBACK;
