-- Outcomes and scoring (issue 10): ops.score_agent_runs() turns runs and their outcomes into
-- ops.agent_benchmark_results with the synced ssot/agents/benchmark.yaml. Known answers, by hand from
-- the benchmark's weights (resolved 50, ci_pass_rate 15, evidence_compliance 15, diff_minimality 10,
-- time_to_green_s 10; diff 0..500 lines, green 600..86400 s).
BEGIN;
SELECT plan(31);

CREATE TEMP TABLE r (name text, id bigint);
WITH v (name) AS (VALUES ('resolved'), ('ci_failed'), ('refused'), ('queued'), ('regressed')), ins AS (
    INSERT INTO ops.agent_runs (fingerprint, code, policy_ref, status, patch, pr_url, verdict, created_at, metadata)
    SELECT 'fp-score-' || v.name, 'CI.TESTS_FAILED', 'ssot/agents/fixbot_policy.yaml',
            CASE v.name WHEN 'refused' THEN 'rejected' WHEN 'queued' THEN 'queued' ELSE 'succeeded' END,
            CASE WHEN v.name <> 'queued' THEN 'diff --git a/x b/x' END,
            CASE WHEN v.name NOT IN ('queued', 'refused') THEN 'https://github.com/acme/app/pull/1' END,
            CASE v.name WHEN 'resolved' THEN '{"approved": true, "changed_lines": 50}'
                        WHEN 'ci_failed' THEN '{"approved": true, "changed_lines": 500}'
                        WHEN 'refused' THEN '{"approved": false, "changed_lines": 10}'
                        WHEN 'regressed' THEN '{"approved": true, "changed_lines": 0}' END::jsonb,
            now() - interval '2 hours',
            CASE WHEN v.name = 'regressed' THEN '{"variant_id": "challenger-1"}' ELSE '{}' END::jsonb
    FROM v
    RETURNING id, fingerprint)
INSERT INTO r SELECT substr(fingerprint, 10), id FROM ins;

INSERT INTO ops.agent_run_outcomes (run_id, kind, state, check_name, target_fixed, regressions, occurred_at)
SELECT (SELECT id FROM r WHERE name = 'resolved'), 'ci', 'success', NULL, true, 0, now() - interval '2 hours' + interval '600 seconds'
UNION ALL
SELECT (SELECT id FROM r WHERE name = 'ci_failed'), 'ci', 'failure', 'test', false, NULL, now()
UNION ALL
SELECT (SELECT id FROM r WHERE name = 'regressed'), 'ci', 'success', 'test', true, NULL, now()
UNION ALL
SELECT (SELECT id FROM r WHERE name = 'regressed'), 'ci', 'failure', 'lint', NULL, NULL, now();
SELECT ops.record_error(source => 'agent_runner', phase => 'verify', message => 'patch touches .github/workflows/ci.yml',
                        code_hint => 'AGENT.FORBIDDEN_PATH', run_id => (SELECT id FROM r WHERE name = 'refused')::text);

SELECT is((SELECT string_agg(b.outcome, ',' ORDER BY b.run_id) FROM ops.agent_benchmark_results b
           WHERE b.run_id IN (SELECT id FROM r)),
    'awaiting_ci,awaiting_ci,policy_refused,dispatched,awaiting_ci',
    'runs are on the scorecard from their insert on (tg_agent_runs__50_score_inserted), before any outcome');
SELECT is(ops.score_agent_runs((SELECT array_agg(id) FROM r)), 5, 'every run asked for is scored, one row each');

SELECT results_eq($$
    SELECT r.name, b.resolved, b.score, b.tier, b.outcome FROM r JOIN ops.agent_benchmark_results b ON b.run_id = r.id
    ORDER BY r.id $$,
    $$ VALUES ('resolved', true, 99.00, 'A', 'resolved'), ('ci_failed', false, 15.00, 'F', 'ci_failed'),
              ('refused', false, 13.55, 'F', 'policy_refused'), ('queued', false, 0.00, 'F', 'dispatched'),
              ('regressed', false, 41.73, 'F', 'ci_failed') $$,
    'known scores: resolved 99 (A), CI failed 15, policy-refused 13.55, queued 0, target fixed but a green check broken 41.73');
SELECT is((SELECT breakdown FROM ops.agent_benchmark_results WHERE run_id = (SELECT id FROM r WHERE name = 'resolved')),
    '{"resolved": {"value": 1, "points": 100, "weight": 50}, "ci_pass_rate": {"value": 1.0000, "points": 100.00, "weight": 15},
      "evidence_compliance": {"value": 1.0000, "points": 100.00, "weight": 15},
      "diff_minimality": {"value": 50, "points": 90.00, "weight": 10},
      "time_to_green_s": {"value": 600.0000, "points": 100.00, "weight": 10}}'::jsonb,
    'the breakdown gives each metric''s value, points and weight');
SELECT is((SELECT failure_modes FROM ops.agent_benchmark_results WHERE run_id = (SELECT id FROM r WHERE name = 'refused')),
    ARRAY['AGENT.FORBIDDEN_PATH'], 'the failure-mode codes of the errors recorded with the run''s id are kept');
SELECT is((SELECT variant_id || ' ' || task_id || ' ' || task_category || ' ' || agent_type
           FROM ops.agent_benchmark_results WHERE run_id = (SELECT id FROM r WHERE name = 'regressed')),
    'challenger-1 fp-score-regressed test_failure fixbot',
    'variant from metadata, task = fingerprint when task_id is unset, category from the code');
SELECT is((SELECT variant_id FROM ops.agent_benchmark_results WHERE run_id = (SELECT id FROM r WHERE name = 'resolved')),
    'baseline', 'a run without a variant is the policy''s default variant');
SELECT is((SELECT benchmark_sha256 FROM ops.agent_benchmark_results LIMIT 1),
    (SELECT sha256 FROM ops.ssot_state WHERE name = 'benchmark'), 'each row names the benchmark file that scored it');

-- A later outcome changes the answer: the broken check goes green again.
INSERT INTO ops.agent_run_outcomes (run_id, kind, state, check_name, occurred_at)
VALUES ((SELECT id FROM r WHERE name = 'regressed'), 'ci', 'success', 'lint', now() + interval '1 second');
SELECT ops.score_agent_runs(ARRAY[(SELECT id FROM r WHERE name = 'regressed')]);
SELECT is((SELECT resolved FROM ops.agent_benchmark_results WHERE run_id = (SELECT id FROM r WHERE name = 'regressed')),
    true, 'rescoring after the check''s latest result is green: resolved');
SELECT is((SELECT count(*)::int FROM ops.agent_benchmark_results WHERE run_id IN (SELECT id FROM r)), 5,
    'rescoring updates the row, it never adds one');

SELECT is(round(ops_private.benchmark_points('linear', 43200, 600, 86400), 4), 50.3497,
    'linear points: 100 at best, 0 at worst, straight between');
SELECT is(ops_private.benchmark_points('linear', 10, 600, 86400), 100::numeric, 'linear points are clamped at best');
SELECT is(ops_private.benchmark_points('ratio', NULL, NULL, NULL), 0::numeric, 'an unknown value earns nothing');

-- ops.record_run_outcome: the one way outcomes come in (webhook, `ops fixbot report`), as ops_outcomes.
INSERT INTO ops.agent_runs (fingerprint, code, policy_ref, status, branch, metadata)
VALUES ('fp-hook', 'CI.TESTS_FAILED', 'ssot/agents/fixbot_policy.yaml', 'succeeded', 'fixbot/77-ci-tests-failed',
        '{"target_check": "test"}');
SET LOCAL ROLE ops_outcomes;
SELECT is((SELECT row(matched_run_id IS NOT NULL, duplicate)::text
           FROM ops.record_run_outcome(kind => 'pull_request', state => 'opened', branch => 'fixbot/77-ci-tests-failed',
                                       pr_url => 'https://github.com/acme/app/pull/9', delivery_id => 'd-1',
                                       detail => jsonb_build_object('head_sha', 'abc', 'note', 'token ghp_' || repeat('a1B2', 9)))),
    '(t,f)', 'an outcome on a FixBot branch is matched to its run and stored');
SELECT is((SELECT duplicate FROM ops.record_run_outcome(kind => 'pull_request', state => 'opened',
                                                        branch => 'fixbot/77-ci-tests-failed', delivery_id => 'd-1')),
    true, 'the same delivery again is a duplicate');
SELECT is((SELECT row(outcome_id, matched_run_id)::text FROM ops.record_run_outcome(kind => 'ci', state => 'success',
                                                                                    branch => 'someone/else', delivery_id => 'd-2')),
    '(,)', 'an outcome for a branch no run worked on is not stored');
SELECT is((SELECT duplicate FROM ops.record_run_outcome(kind => 'ci', state => 'success', check_name => 'test',
                                                        pr_url => 'https://github.com/acme/app/pull/9', delivery_id => 'd-3')),
    false, 'a check run is matched by the pull request the pipeline learned from the opened event');
SELECT throws_ok($$ SELECT * FROM ops.record_run_outcome(kind => 'ci', state => 'Not A State', run_id => 1) $$, 'OP001',
    NULL, 'a malformed state is refused (OP001)');
SELECT throws_ok($$ SELECT * FROM ops.record_run_outcome(kind => 'report', state => 'success', run_id => -5) $$, 'OP004',
    'no agent run -5', 'an unknown run id is OP004');
RESET ROLE;
SELECT results_eq($$ SELECT kind, state, target_fixed, delivery_id FROM ops.agent_run_outcomes
                     WHERE run_id = (SELECT id FROM ops.agent_runs WHERE fingerprint = 'fp-hook') ORDER BY id $$,
    $$ VALUES ('pull_request', 'opened', NULL::boolean, 'd-1'), ('ci', 'success', true, 'd-3') $$,
    'two outcomes stored, the replay once; the target check''s success sets target_fixed');
SELECT is((SELECT pr_url FROM ops.agent_runs WHERE fingerprint = 'fp-hook'), 'https://github.com/acme/app/pull/9',
    'the opened pull request is recorded on the run');
SELECT ok((SELECT detail ->> 'note' NOT LIKE '%ghp_a1B2%' AND detail ->> 'head_sha' = 'abc' FROM ops.agent_run_outcomes
           WHERE delivery_id = 'd-1'), 'evidence is redacted before it is stored');
SELECT is((SELECT outcome || ' ' || resolved FROM ops.agent_benchmark_results
           WHERE run_id = (SELECT id FROM ops.agent_runs WHERE fingerprint = 'fp-hook')),
    'resolved true', 'each outcome rescores its run');

-- ops.set_agent_run_artifacts: the patch and transcript, redacted.
GRANT SELECT ON r TO ops_worker;
SET LOCAL ROLE ops_worker;
SELECT ok((SELECT patch NOT LIKE '%ghp_a1B2%' AND transcript -> 1 ->> 'content' NOT LIKE '%AKIA%'
                  AND transcript #>> '{1,tool_calls,0,function,name}' = 'run_tests'
           FROM ops.set_agent_run_artifacts((SELECT id FROM r WHERE name = 'resolved'),
               '+token = "ghp_' || repeat('a1B2', 9) || E'"\n',
               '[{"role": "user", "content": "fix CI"},
                 {"role": "assistant", "content": "key AKIAIOSFODNN7EXAMPLE",
                  "tool_calls": [{"type": "function", "function": {"name": "run_tests", "arguments": "{}"}}]}]')),
    'the worker stores a patch and transcript, redacted, tool calls kept');
SELECT throws_ok($$ SELECT ops.set_agent_run_artifacts((SELECT id FROM r WHERE name = 'resolved'), NULL,
                                                       '[{"role": "robot", "content": "x"}]') $$,
    'OP001', NULL, 'a transcript message with an unknown role is refused');
RESET ROLE;

-- The scorecard views, as analysts read them.
SET LOCAL ROLE ops_analyst;
SELECT results_eq($$ SELECT variant_id, n, resolved, round(resolved_ci_low::numeric, 4), round(resolved_ci_high::numeric, 4),
                            funnel_dispatched, funnel_no_patch, funnel_policy_refused, funnel_awaiting_ci, funnel_ci_failed,
                            funnel_resolved
                     FROM ops.agent_scorecard WHERE agent_type = 'fixbot' ORDER BY variant_id $$,
    $$ VALUES ('baseline', 5::bigint, 2::bigint, 0.1176, 0.7693, 5::bigint, 0::bigint, 1::bigint, 0::bigint, 1::bigint, 2::bigint),
              ('challenger-1', 1, 1, 0.2065, 1.0000, 1, 0, 0, 0, 0, 1) $$,
    'the scorecard: runs, resolved with its Wilson 95 % interval (2 of 5: 0.1176-0.7693), and the funnel per variant');
SELECT results_eq($$ SELECT variant_id, code, runs FROM ops.agent_failure_modes_hit $$,
    $$ VALUES ('baseline', 'AGENT.FORBIDDEN_PATH', 1::bigint) $$, 'the failure modes runs hit, per variant');
RESET ROLE;

-- The benchmark must be synced.
UPDATE ops.ssot_state SET detail = '{}' WHERE name = 'benchmark';
SELECT throws_ok($$ SELECT ops.score_agent_runs() $$, 'OP002', NULL, 'scoring without a synced benchmark raises OP002');

-- Contract checks.
SELECT throws_ok($$ INSERT INTO ops.agent_run_outcomes (run_id, kind, state) VALUES (1, 'tweet', 'x') $$, '23514', NULL,
    'an outcome kind outside ci, pull_request, review, report is refused');
SELECT throws_ok($$ UPDATE ops.agent_runs SET transcript = '{"role": "user"}' $$, '23514', NULL,
    'a transcript is a JSON array of messages');
SELECT ok(NOT has_table_privilege('ops_analyst', 'ops.agent_benchmark_results', 'SELECT')
          AND NOT has_table_privilege('ops_worker', 'ops.agent_run_outcomes', 'SELECT'),
    'the new tables are private: analysts read the scorecard views');

SELECT * FROM finish();
ROLLBACK;
