-- The improvement loop (issue 10): outcomes of agent runs (CI, pull request, review, the runner's own
-- report), benchmark scoring from ssot/agents/benchmark.yaml, and the scorecard views.
-- Grants, policies and row level security: 12_privileges.sql.
-- The columns the loop adds to ops.agent_runs (patch, transcript, agent_type, task_id) are in
-- 05_outbox_and_dispatch.sql with the table.

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
SET jit = off  -- its plan's cost estimate (a subquery per run and metric) passed jit_above_cost: 2.1 s of LLVM per statement
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

CREATE FUNCTION ops.record_run_outcome(
    kind text,
    state text,
    run_id bigint DEFAULT NULL,
    branch text DEFAULT NULL,
    pr_url text DEFAULT NULL,
    check_name text DEFAULT NULL,
    target_fixed boolean DEFAULT NULL,
    regressions integer DEFAULT NULL,
    detail jsonb DEFAULT '{}',
    delivery_id text DEFAULT NULL,
    occurred_at timestamptz DEFAULT NULL)
RETURNS TABLE (outcome_id bigint, matched_run_id bigint, duplicate boolean)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    run ops.agent_runs;
    fixed boolean := record_run_outcome.target_fixed;
    clean jsonb;
BEGIN
    IF kind IS NULL OR kind NOT IN ('ci', 'pull_request', 'review', 'report') THEN
        RAISE EXCEPTION 'kind must be ci, pull_request, review or report, not %', coalesce(quote_literal(kind), 'null')
            USING ERRCODE = 'OP001', COLUMN = 'kind';
    END IF;
    IF state IS NULL OR state !~ '^[a-z][a-z0-9_]{0,39}$' THEN
        RAISE EXCEPTION 'state must be a lower-case word (success, failure, merged, approved, ...), not %',
                        coalesce(quote_literal(left(state, 60)), 'null')
            USING ERRCODE = 'OP001', COLUMN = 'state';
    END IF;
    IF regressions < 0 THEN
        RAISE EXCEPTION 'regressions must be 0 or more, not %', regressions USING ERRCODE = 'OP001', COLUMN = 'regressions';
    END IF;
    IF detail IS NULL OR jsonb_typeof(detail) <> 'object' THEN
        RAISE EXCEPTION 'detail must be a JSON object' USING ERRCODE = 'OP001', COLUMN = 'detail';
    END IF;
    IF length(delivery_id) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION 'delivery_id must be 1 to 200 characters' USING ERRCODE = 'OP001', COLUMN = 'delivery_id';
    END IF;

    -- Which run: the id when given, else the run whose pull request it is, else the latest run on the branch.
    IF record_run_outcome.run_id IS NOT NULL THEN
        SELECT * INTO run FROM ops.agent_runs r WHERE r.id = record_run_outcome.run_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'no agent run %', record_run_outcome.run_id USING ERRCODE = 'OP004', COLUMN = 'run_id';
        END IF;
    ELSE
        SELECT * INTO run FROM ops.agent_runs r
        WHERE (record_run_outcome.pr_url IS NOT NULL AND r.pr_url = record_run_outcome.pr_url)
           OR (record_run_outcome.branch IS NOT NULL AND r.branch = record_run_outcome.branch)
        ORDER BY (r.pr_url IS NOT DISTINCT FROM record_run_outcome.pr_url) DESC, r.id DESC
        LIMIT 1;
        IF NOT FOUND THEN
            -- Not one of ours (another bot's branch, a person's PR): nothing is stored.
            RETURN QUERY SELECT NULL::bigint, NULL::bigint, false;
            RETURN;
        END IF;
    END IF;

    -- A check run of the run's target check (metadata.target_check) says whether the target is fixed.
    IF fixed IS NULL AND kind = 'ci' AND check_name IS NOT NULL
       AND check_name = run.metadata ->> 'target_check' AND state IN ('success', 'failure', 'timed_out') THEN
        fixed := state = 'success';
    END IF;
    -- Evidence is redacted like everything stored: every top-level string member.
    SELECT coalesce(jsonb_object_agg(e.key, CASE WHEN jsonb_typeof(e.value) = 'string'
                                                 THEN to_jsonb(ops.redact(e.value #>> '{}')) ELSE e.value END), '{}')
    INTO clean
    FROM jsonb_each(detail) e;

    INSERT INTO ops.agent_run_outcomes AS o (run_id, kind, state, check_name, target_fixed, regressions, detail,
                                             delivery_id, occurred_at)
    VALUES (run.id, kind, state, left(check_name, 200), fixed, regressions, clean, delivery_id,
            coalesce(occurred_at, now()))
    ON CONFLICT ON CONSTRAINT agent_run_outcomes_delivery_id_key DO NOTHING
    RETURNING o.id INTO outcome_id;
    IF outcome_id IS NULL THEN
        -- A replayed delivery: counted once.
        SELECT o.id, o.run_id INTO outcome_id, matched_run_id
        FROM ops.agent_run_outcomes o WHERE o.delivery_id = record_run_outcome.delivery_id;
        duplicate := true;
        RETURN NEXT;
        RETURN;
    END IF;
    IF kind = 'pull_request' AND record_run_outcome.pr_url IS NOT NULL AND run.pr_url IS NULL THEN
        UPDATE ops.agent_runs r SET pr_url = record_run_outcome.pr_url, updated_at = now() WHERE r.id = run.id;
    END IF;
    IF EXISTS (SELECT FROM ops.ssot_state s WHERE s.name = 'benchmark' AND s.detail ? 'metrics') THEN
        PERFORM ops.score_agent_runs(ARRAY[run.id]);
    END IF;
    matched_run_id := run.id;
    duplicate := false;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION ops.record_run_outcome(text, text, bigint, text, text, text, boolean, integer, jsonb, text, timestamptz) IS
    'Stores one outcome of an agent run (ops.agent_run_outcomes) and rescores the run (ops.score_agent_runs, when the '
    'benchmark is synced). The run: run_id when given (OP004 if it does not exist), else the run whose pr_url equals '
    'pr_url, else the latest run on branch; no match stores nothing and returns (NULL, NULL, false). A ci outcome for '
    'the run''s metadata.target_check sets target_fixed from its state when not given. delivery_id (GitHub''s '
    'X-GitHub-Delivery) makes a replay a no-op: it returns the stored row with duplicate = true. Top-level string '
    'members of detail are redacted. A pull_request outcome fills the run''s pr_url when it has none. Returns '
    '(outcome_id, matched_run_id, duplicate). Raises OP001 naming the field for a bad kind, state, regressions, '
    'detail or delivery_id. Granted to ops_outcomes (the GitHub webhook and `ops fixbot report`).';

CREATE FUNCTION ops_private.redact_transcript(transcript jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, ops
AS $$
DECLARE
    message jsonb;
    result jsonb := '[]'::jsonb;
    i integer := 0;
BEGIN
    IF transcript IS NULL THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(transcript) <> 'array' THEN
        RAISE EXCEPTION 'transcript must be a JSON array of chat messages' USING ERRCODE = 'OP001', COLUMN = 'transcript';
    END IF;
    FOR message IN SELECT value FROM jsonb_array_elements(transcript) LOOP
        IF jsonb_typeof(message) <> 'object' OR NOT coalesce(message ->> 'role' IN ('system', 'user', 'assistant', 'tool'), false)
           OR (message ? 'content' AND jsonb_typeof(message -> 'content') NOT IN ('string', 'null'))
           OR (message ? 'tool_calls' AND jsonb_typeof(message -> 'tool_calls') <> 'array') THEN
            RAISE EXCEPTION 'transcript[%]: a message is {role: system|user|assistant|tool, content: text, '
                            'tool_calls?: [...], tool_call_id?}', i
                USING ERRCODE = 'OP001', COLUMN = 'transcript';
        END IF;
        IF jsonb_typeof(message -> 'content') = 'string' THEN
            message := jsonb_set(message, '{content}', to_jsonb(ops.redact(message ->> 'content')));
        END IF;
        IF message ? 'tool_calls' THEN
            message := jsonb_set(message, '{tool_calls}', coalesce((
                SELECT jsonb_agg(CASE WHEN jsonb_typeof(c #> '{function,arguments}') = 'string'
                                      THEN jsonb_set(c, '{function,arguments}', to_jsonb(ops.redact(c #>> '{function,arguments}')))
                                      ELSE c END ORDER BY n)
                FROM jsonb_array_elements(message -> 'tool_calls') WITH ORDINALITY AS t (c, n)), '[]'));
        END IF;
        result := result || jsonb_build_array(message);
        i := i + 1;
    END LOOP;
    RETURN result;
END
$$;
COMMENT ON FUNCTION ops_private.redact_transcript(jsonb) IS
    'Checks a chat transcript (a JSON array of {role: system|user|assistant|tool, content, tool_calls?: [{type, '
    'function: {name, arguments}}], tool_call_id?}) and returns it with every content and tool-call arguments string '
    'redacted by ops.redact(). Raises OP001 (column transcript) naming the first bad message.';

CREATE FUNCTION ops.set_agent_run_artifacts(id bigint, patch text DEFAULT NULL, transcript jsonb DEFAULT NULL)
RETURNS ops.agent_runs
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    run ops.agent_runs;
BEGIN
    UPDATE ops.agent_runs r
    SET patch = coalesce(ops.redact(set_agent_run_artifacts.patch), r.patch),
        transcript = coalesce(ops_private.redact_transcript(set_agent_run_artifacts.transcript), r.transcript),
        updated_at = now()
    WHERE r.id = set_agent_run_artifacts.id
    RETURNING r.* INTO run;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no agent run %', set_agent_run_artifacts.id USING ERRCODE = 'OP004', COLUMN = 'id';
    END IF;
    RETURN run;
END
$$;
COMMENT ON FUNCTION ops.set_agent_run_artifacts(bigint, text, jsonb) IS
    'Stores what a runner produced on its run: patch (a unified diff; redacted, at most 65536 characters kept, as '
    'ops.redact reads) and transcript (chat messages, checked and redacted by ops_private.redact_transcript). NULL '
    'leaves a field as it is. Raises OP004 for an unknown run, OP001 (column transcript) for a malformed transcript. '
    'Granted to ops_worker (the FixBot destination, `ops fixbot verify --run`) and ops_outcomes (`ops fixbot report '
    '--transcript`).';

-- FixBot auto-resolve reads merged pull requests from the outcomes (ops.resolve_error_by_fixbot, 05).
CREATE FUNCTION ops.fixbot_resolution_candidates(quiet_period interval)
RETURNS TABLE (fingerprint text, code text, run_id bigint, pr_url text, merged_at timestamptz, last_seen_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
BEGIN
    IF quiet_period IS NULL OR quiet_period <= interval '0' THEN
        RAISE EXCEPTION 'quiet_period must be above zero, not %', quiet_period USING ERRCODE = 'OPD01',
            COLUMN = 'quiet_period';
    END IF;
    RETURN QUERY
    WITH merged AS (
        SELECT o.run_id, min(o.occurred_at) AS merged_at
        FROM ops.agent_run_outcomes o
        WHERE o.kind = 'pull_request' AND o.state = 'merged'
        GROUP BY o.run_id
    )
    SELECT DISTINCT ON (a.fingerprint) a.fingerprint, a.code, r.id, r.pr_url, m.merged_at, a.last_seen_at
    FROM merged m
    JOIN ops.agent_runs r ON r.id = m.run_id
    JOIN ops.agent_errors a ON a.fingerprint = r.fingerprint
    WHERE a.status IN ('open', 'acknowledged', 'regressed')
      AND a.last_seen_at <= m.merged_at
      AND m.merged_at <= now() - quiet_period
    ORDER BY a.fingerprint, m.merged_at DESC;
END
$$;
COMMENT ON FUNCTION ops.fixbot_resolution_candidates(interval) IS
    'Errors FixBot fixed: open, acknowledged or regressed errors with a FixBot run whose pull request merged '
    '(ops.agent_run_outcomes kind pull_request, state merged, at occurred_at) at least quiet_period ago, and no '
    'occurrence since the merge. One row per error (its latest merge): (fingerprint, code, run_id, pr_url, merged_at, '
    'last_seen_at). OPD01 for a quiet_period not above zero.';
-- Every run is on the scorecard from dispatch on, and moves along its funnel as it changes (status,
-- patch, verdict, PR): the runs a statement inserted or updated are rescored, when the benchmark is synced.
CREATE FUNCTION ops_private.tg_agent_runs__score() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, ops
AS $$
DECLARE
    ids bigint[];
BEGIN
    IF NOT EXISTS (SELECT FROM ops.ssot_state s WHERE s.name = 'benchmark' AND s.detail ? 'metrics') THEN
        RETURN NULL;
    END IF;
    SELECT array_agg(c.id) INTO ids FROM changed c;
    IF ids IS NOT NULL THEN
        PERFORM ops.score_agent_runs(ids);
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ops_private.tg_agent_runs__score() IS
    'Statement trigger on ops.agent_runs (insert, update): rescores the runs the statement changed with '
    'ops.score_agent_runs(), so the scorecard''s funnel counts every dispatched run. Does nothing while the '
    'benchmark is not synced.';
CREATE TRIGGER tg_agent_runs__50_score_inserted AFTER INSERT ON ops.agent_runs
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION ops_private.tg_agent_runs__score();
CREATE TRIGGER tg_agent_runs__50_score_updated AFTER UPDATE ON ops.agent_runs
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION ops_private.tg_agent_runs__score();
