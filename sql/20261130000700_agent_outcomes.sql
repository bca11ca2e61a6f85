-- The improvement loop's data contract (issue 10): what a FixBot run produced (patch, transcript), which
-- agent and task it was, the outcomes that came back for it (CI, pull request, review, the runner's own
-- report) and one scored benchmark row per run, computed by ops.score_agent_runs() from the synced
-- ssot/agents/benchmark.yaml. Shared by the outcomes, scorecard, statistics and export work.
ALTER TABLE ops.agent_runs
    ADD COLUMN patch text,
    ADD COLUMN transcript jsonb CONSTRAINT agent_runs_transcript_array
        CHECK (transcript IS NULL OR jsonb_typeof(transcript) = 'array'),
    ADD COLUMN agent_type text NOT NULL DEFAULT 'fixbot' CONSTRAINT agent_runs_agent_type_format
        CHECK (agent_type ~ '^[a-z][a-z0-9_]*$'),
    ADD COLUMN task_id text;
COMMENT ON COLUMN ops.agent_runs.patch IS
    'The unified diff the runner produced (git diff format), redacted with ops.redact(); NULL: no patch (yet).';
COMMENT ON COLUMN ops.agent_runs.transcript IS
    'The runner''s conversation as it reported it, redacted: a JSON array of chat messages {role: system|user|'
    'assistant|tool, content: text, tool_calls?: [{type: "function", function: {name, arguments}}], tool_call_id?} '
    '(the OpenAI / Hugging Face chat-messages shape). NULL: the runner reported none.';
COMMENT ON COLUMN ops.agent_runs.agent_type IS
    'Which kind of agent did the run (lower-case identifier; ''fixbot'' for the FixBot runner). Scorecards group by it.';
COMMENT ON COLUMN ops.agent_runs.task_id IS
    'The benchmark task the run attempted; NULL: the error group (fingerprint) is the task. '
    'ops.agent_benchmark_results.task_id is coalesce(task_id, fingerprint).';

CREATE TABLE ops.agent_run_outcomes (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id       bigint NOT NULL REFERENCES ops.agent_runs (id),
    kind         text NOT NULL CONSTRAINT agent_run_outcomes_kind_known
                 CHECK (kind IN ('ci', 'pull_request', 'review', 'report')),
    state        text NOT NULL CONSTRAINT agent_run_outcomes_state_format CHECK (state ~ '^[a-z][a-z0-9_]{0,39}$'),
    check_name   text,
    target_fixed boolean,
    regressions  integer CONSTRAINT agent_run_outcomes_regressions_non_negative CHECK (regressions >= 0),
    detail       jsonb NOT NULL DEFAULT '{}' CONSTRAINT agent_run_outcomes_detail_object
                 CHECK (jsonb_typeof(detail) = 'object'),
    delivery_id  text CONSTRAINT agent_run_outcomes_delivery_id_key UNIQUE,
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    received_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ops.agent_run_outcomes IS
    'What happened to an agent run after it produced a patch, one row per piece of evidence: a CI result, a pull '
    'request opened/merged/closed, a review, or the runner''s own report (`ops fixbot report`). From GitHub webhooks '
    '(deduplicated on delivery_id) and runners. ops.score_agent_runs() turns them into ops.agent_benchmark_results.';
COMMENT ON COLUMN ops.agent_run_outcomes.kind IS 'ci | pull_request | review | report (the runner reporting itself).';
COMMENT ON COLUMN ops.agent_run_outcomes.state IS
    'ci: the check''s conclusion (success, failure, cancelled, timed_out, ...); pull_request: opened | merged | closed; '
    'review: approved | changes_requested | commented; report: the runner''s CI result (success | failure).';
COMMENT ON COLUMN ops.agent_run_outcomes.check_name IS 'The CI check (check run name) the row is about; NULL: a whole suite or not CI.';
COMMENT ON COLUMN ops.agent_run_outcomes.target_fixed IS
    'The check that failed (the run''s target) went green; NULL: this row does not say.';
COMMENT ON COLUMN ops.agent_run_outcomes.regressions IS
    'Checks that were green before the run and are red on its branch; NULL: this row does not say.';
COMMENT ON COLUMN ops.agent_run_outcomes.detail IS
    'Evidence: URLs, head SHA, the reviewer''s comment (redacted), an excerpt of the delivery. Never a secret.';
COMMENT ON COLUMN ops.agent_run_outcomes.delivery_id IS
    'GitHub''s X-GitHub-Delivery of the webhook delivery (a replay is stored once); NULL for `ops fixbot report`.';
COMMENT ON COLUMN ops.agent_run_outcomes.occurred_at IS 'When it happened at the source (e.g. the check''s completed_at).';
COMMENT ON COLUMN ops.agent_run_outcomes.received_at IS 'When it was stored.';
CREATE INDEX agent_run_outcomes_run_idx ON ops.agent_run_outcomes (run_id, occurred_at);

CREATE TABLE ops.agent_benchmark_results (
    run_id           bigint PRIMARY KEY REFERENCES ops.agent_runs (id),
    agent_type       text NOT NULL,
    variant_id       text NOT NULL,
    task_id          text NOT NULL,
    code             text NOT NULL,
    resolved         boolean NOT NULL,
    score            numeric NOT NULL CONSTRAINT agent_benchmark_results_score_range CHECK (score BETWEEN 0 AND 100),
    tier             text NOT NULL CONSTRAINT agent_benchmark_results_tier_known CHECK (tier IN ('A', 'B', 'C', 'F')),
    breakdown        jsonb NOT NULL DEFAULT '{}',
    failure_modes    text[] NOT NULL DEFAULT '{}',
    outcome          text NOT NULL,
    benchmark_sha256 text NOT NULL,
    scored_at        timestamptz NOT NULL DEFAULT now(),
    task_category    text NOT NULL DEFAULT 'other'
);
COMMENT ON TABLE ops.agent_benchmark_results IS
    'One scored row per agent run, computed by ops.score_agent_runs() from the run, its outcomes and the synced '
    'ssot/agents/benchmark.yaml; recomputed whenever an outcome arrives.';
COMMENT ON COLUMN ops.agent_benchmark_results.variant_id IS
    'The variant the run used: agent_runs.metadata->>''variant_id'', else the policy''s default_variant (''baseline'').';
COMMENT ON COLUMN ops.agent_benchmark_results.task_id IS 'coalesce(agent_runs.task_id, agent_runs.fingerprint): runs of one task are paired.';
COMMENT ON COLUMN ops.agent_benchmark_results.code IS 'The failure-mode code the run was dispatched for.';
COMMENT ON COLUMN ops.agent_benchmark_results.resolved IS
    'The primary outcome, as SWE-bench counts it: the target failure fixed AND no previously green check broken.';
COMMENT ON COLUMN ops.agent_benchmark_results.score IS 'Weighted score on the benchmark''s 0-100 scale.';
COMMENT ON COLUMN ops.agent_benchmark_results.tier IS 'A | B | C | F from the benchmark''s tier thresholds on the score.';
COMMENT ON COLUMN ops.agent_benchmark_results.breakdown IS
    '{metric: {value, points, weight}} for every metric of the benchmark; value null when unknown (0 points).';
COMMENT ON COLUMN ops.agent_benchmark_results.failure_modes IS
    'Distinct failure-mode codes of the errors recorded with this run''s id (ops.error_events.run_id), sorted.';
COMMENT ON COLUMN ops.agent_benchmark_results.outcome IS
    'The funnel stage the run reached: dispatched | no_patch | policy_refused | awaiting_ci | ci_failed | resolved.';
COMMENT ON COLUMN ops.agent_benchmark_results.task_category IS
    'The benchmark''s task category of the run''s code (task_categories: first match by code, then prefix).';
COMMENT ON COLUMN ops.agent_benchmark_results.benchmark_sha256 IS 'SHA-256 of the benchmark.yaml that scored it.';
CREATE INDEX agent_benchmark_results_variant_idx ON ops.agent_benchmark_results (agent_type, variant_id);
CREATE INDEX agent_benchmark_results_task_idx ON ops.agent_benchmark_results (task_id);

-- Scoring finds the errors a run hit by run_id (the run's id as text).
CREATE INDEX error_events_run_idx ON ops.error_events (run_id) WHERE run_id IS NOT NULL;

CREATE FUNCTION ops_private.benchmark_points(rule text, value numeric, best numeric, worst numeric)
RETURNS numeric
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog
AS $$
    -- ssot/agents/benchmark.yaml, "rule": boolean 1 -> 100; ratio v -> 100 v; linear: 100 at best, 0 at worst,
    -- a straight line between, clamped. Unknown (NULL) earns 0.
    SELECT CASE
        WHEN value IS NULL THEN 0
        WHEN rule = 'boolean' THEN CASE WHEN value > 0 THEN 100 ELSE 0 END
        WHEN rule = 'ratio' THEN 100 * least(greatest(value, 0), 1)
        WHEN rule = 'linear' AND best = worst THEN CASE WHEN value = best THEN 100 ELSE 0 END
        WHEN rule = 'linear' THEN 100 * least(greatest((value - worst) / (best - worst), 0), 1)
        ELSE 0
    END
$$;
COMMENT ON FUNCTION ops_private.benchmark_points(text, numeric, numeric, numeric) IS
    'Points (0-100) a metric value earns under a benchmark rule (ssot/agents/benchmark.yaml): boolean (value > 0 -> 100), '
    'ratio (100 * value, clamped to [0, 1]), linear (100 at best, 0 at worst, linear between, clamped); NULL -> 0.';

CREATE FUNCTION ops.score_agent_runs(run_ids bigint[] DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, ops
AS $$
DECLARE
    bench jsonb;
    bench_sha text;
    default_variant text;
    n integer;
BEGIN
    SELECT s.detail, s.sha256 INTO bench, bench_sha FROM ops.ssot_state s WHERE s.name = 'benchmark';
    IF bench IS NULL OR jsonb_typeof(bench -> 'metrics') IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'ssot/agents/benchmark.yaml is not synced: nothing to score with'
            USING ERRCODE = 'OP002', DETAIL = 'the taxonomy is not synced (no benchmark in ops.ssot_state)';
    END IF;
    default_variant := coalesce((SELECT s.detail ->> 'default_variant' FROM ops.ssot_state s
                                 WHERE s.name = 'fixbot_policy'), 'baseline');

    WITH run AS (
        SELECT r.* FROM ops.agent_runs r WHERE run_ids IS NULL OR r.id = ANY (run_ids)
    ), facts AS (
        SELECT r.id, r.agent_type, coalesce(r.metadata ->> 'variant_id', default_variant) AS variant_id,
               coalesce(r.task_id, r.fingerprint) AS task_id, r.code, r.status,
               -- the latest statement of each kind wins (occurred_at, then arrival order)
               (SELECT o.target_fixed FROM ops.agent_run_outcomes o
                WHERE o.run_id = r.id AND o.target_fixed IS NOT NULL
                ORDER BY o.occurred_at DESC, o.id DESC LIMIT 1) AS target_fixed,
               (SELECT o.regressions FROM ops.agent_run_outcomes o
                WHERE o.run_id = r.id AND o.regressions IS NOT NULL
                ORDER BY o.occurred_at DESC, o.id DESC LIMIT 1) AS stated_regressions,
               -- check runs other than the target: red on the run's branch in their latest result
               (SELECT count(*) FROM (
                    SELECT DISTINCT ON (o.check_name) o.state FROM ops.agent_run_outcomes o
                    WHERE o.run_id = r.id AND o.kind = 'ci' AND o.check_name IS NOT NULL AND o.target_fixed IS NULL
                    ORDER BY o.check_name, o.occurred_at DESC, o.id DESC) c
                WHERE c.state IN ('failure', 'timed_out', 'startup_failure')) AS red_checks,
               ci.passed, ci.finished,
               (SELECT extract(epoch FROM min(o.occurred_at) - r.created_at) FROM ops.agent_run_outcomes o
                WHERE o.run_id = r.id AND o.target_fixed) AS time_to_green_s,
               (r.verdict ->> 'changed_lines')::numeric AS changed_lines,
               jsonb_build_object(
                   'patch', r.patch IS NOT NULL AND r.patch <> '',
                   'verdict_approved', coalesce((r.verdict ->> 'approved')::boolean, false),
                   'pr_url', r.pr_url IS NOT NULL,
                   'ci_result', ci.finished > 0,
                   'transcript', r.transcript IS NOT NULL) AS evidence,
               r.patch IS NOT NULL OR r.pr_url IS NOT NULL AS patched,
               ARRAY(SELECT DISTINCT e.code FROM ops.error_events e
                     WHERE e.run_id = r.id::text AND e.code IS NOT NULL ORDER BY 1) AS failure_modes
        FROM run r
        CROSS JOIN LATERAL (
            -- finished CI results: check runs and suites, and the runner's own report of its CI
            SELECT count(*) FILTER (WHERE o.state = 'success') AS passed, count(*) AS finished
            FROM ops.agent_run_outcomes o
            WHERE o.run_id = r.id
              AND ((o.kind = 'ci' AND o.state IN ('success', 'failure', 'timed_out', 'startup_failure'))
                   OR (o.kind = 'report' AND o.state IN ('success', 'failure')))) ci
    ), judged AS (
        SELECT f.*,
               -- SWE-bench's "resolved": the target fixed and nothing previously green broken
               coalesce(f.target_fixed, false)
                   AND greatest(coalesce(f.stated_regressions, 0), f.red_checks) = 0 AS resolved,
               greatest(coalesce(f.stated_regressions, 0), f.red_checks) AS regressions
        FROM facts f
    ), measured AS (
        SELECT j.*, m.ordinality AS position, m.metric ->> 'id' AS metric_id, (m.metric ->> 'weight')::numeric AS weight,
               CASE m.metric ->> 'id'
                   WHEN 'resolved' THEN j.resolved::integer
                   WHEN 'ci_pass_rate' THEN CASE WHEN j.finished > 0 THEN j.passed::numeric / j.finished END
                   WHEN 'evidence_compliance' THEN (
                       SELECT avg((j.evidence ->> k)::boolean::integer)
                       FROM jsonb_array_elements_text(m.metric -> 'evidence') k)
                   WHEN 'diff_minimality' THEN j.changed_lines
                   WHEN 'time_to_green_s' THEN CASE WHEN j.time_to_green_s < 0 THEN 0 ELSE j.time_to_green_s END
               END AS value,
               m.metric
        FROM judged j
        CROSS JOIN LATERAL jsonb_array_elements(bench -> 'metrics') WITH ORDINALITY AS m (metric, ordinality)
    ), pointed AS (
        SELECT x.*, ops_private.benchmark_points(x.metric ->> 'rule', x.value, (x.metric ->> 'best')::numeric,
                                                 (x.metric ->> 'worst')::numeric) AS points
        FROM measured x
    ), scored AS (
        SELECT p.id, min(p.agent_type) AS agent_type, min(p.variant_id) AS variant_id, min(p.task_id) AS task_id,
               min(p.code) AS code, min(p.status) AS status, bool_and(p.resolved) AS resolved,
               bool_or(p.patched) AS patched, max(p.finished) AS finished, min(p.failure_modes) AS failure_modes,
               round(sum(p.weight * p.points) / sum(p.weight), 2) AS score,
               jsonb_object_agg(p.metric_id, jsonb_build_object('value', round(p.value, 4), 'points', round(p.points, 2),
                                                             'weight', p.weight)) AS breakdown
        FROM pointed p
        GROUP BY p.id
    )
    INSERT INTO ops.agent_benchmark_results AS b (
        run_id, agent_type, variant_id, task_id, code, resolved, score, tier, breakdown, failure_modes, outcome,
        benchmark_sha256, scored_at, task_category)
    SELECT s.id, s.agent_type, s.variant_id, s.task_id, s.code, s.resolved, s.score,
           coalesce((SELECT t ->> 'tier' FROM jsonb_array_elements(bench -> 'tiers') t
                     WHERE s.score >= (t ->> 'min_score')::numeric
                       AND (s.resolved OR NOT coalesce((t ->> 'requires_resolved')::boolean, false))
                     ORDER BY (t ->> 'min_score')::numeric DESC LIMIT 1), 'F'),
           s.breakdown, s.failure_modes,
           -- the furthest funnel stage the run reached
           CASE WHEN s.resolved THEN 'resolved'
                WHEN s.status = 'rejected' THEN 'policy_refused'
                WHEN s.finished > 0 THEN 'ci_failed'
                WHEN s.patched OR s.status = 'succeeded' THEN 'awaiting_ci'
                WHEN s.status IN ('failed', 'dead', 'cancelled') THEN 'no_patch'
                ELSE 'dispatched' END,
           bench_sha, now(),
           coalesce((SELECT c ->> 'id' FROM jsonb_array_elements(bench -> 'task_categories') WITH ORDINALITY AS x (c, i)
                     WHERE (c -> 'codes') ? s.code
                        OR EXISTS (SELECT FROM jsonb_array_elements_text(c -> 'prefixes') pre
                                   WHERE starts_with(s.code, pre))
                        OR (c -> 'codes' IS NULL AND c -> 'prefixes' IS NULL)
                     ORDER BY x.i LIMIT 1), 'other')
    FROM scored s
    ON CONFLICT (run_id) DO UPDATE SET
        agent_type = excluded.agent_type, variant_id = excluded.variant_id, task_id = excluded.task_id,
        code = excluded.code, resolved = excluded.resolved, score = excluded.score, tier = excluded.tier,
        breakdown = excluded.breakdown, failure_modes = excluded.failure_modes, outcome = excluded.outcome,
        benchmark_sha256 = excluded.benchmark_sha256, scored_at = excluded.scored_at,
        task_category = excluded.task_category;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
COMMENT ON FUNCTION ops.score_agent_runs(bigint[]) IS
    'Scores agent runs (all when run_ids is NULL) with the synced ssot/agents/benchmark.yaml (ops.ssot_state ''benchmark'') '
    'and upserts one ops.agent_benchmark_results row per run; returns how many. Per run: resolved (SWE-bench sense: the '
    'latest outcome stating target_fixed says true, and no regression: the latest stated regressions count and the '
    'non-target check runs whose latest result is red are both 0); ci_pass_rate (passed / finished CI results and '
    'runner reports); evidence_compliance (share of the benchmark''s evidence items present); diff_minimality (the '
    'policy verdict''s changed_lines); time_to_green_s (first outcome with target_fixed minus the run''s created_at). '
    'Each metric''s points come from its rule (ops_private.benchmark_points); score = sum(weight * points) / sum(weight) '
    'on 0-100; tier = the highest tier whose min_score the score reaches (and, where required, resolved). failure_modes: '
    'distinct codes of ops.error_events with run_id = the run''s id. Raises OP002 when the benchmark is not synced. '
    'Owner and ops.record_run_outcome only.';

-- Private like every table: read through the views and functions that later migrations add.
ALTER TABLE ops.agent_run_outcomes ENABLE ROW LEVEL SECURITY;
ALTER TABLE ops.agent_benchmark_results ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON FUNCTION ops.score_agent_runs(bigint[]), ops_private.benchmark_points(text, numeric, numeric, numeric)
    FROM PUBLIC;
