-- The on-call views and FixBot auto-resolve read pull-request outcomes from ops.agent_run_outcomes (issue 10's
-- contract), where the GitHub webhook and `ops fixbot report` record them, instead of a pr_state written into the
-- run's metadata by hand. The on-call run log also shows the run's benchmark outcome and score.

CREATE OR REPLACE FUNCTION ops.fixbot_resolution_candidates(quiet_period interval)
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

CREATE OR REPLACE VIEW ops.error_agent_run_log AS
SELECT r.id AS run_id,
       r.fingerprint,
       r.code,
       r.status,
       r.escalation_id,
       r.branch,
       r.pr_url,
       (SELECT o.state FROM ops.agent_run_outcomes o
        WHERE o.run_id = r.id AND o.kind = 'pull_request'
        ORDER BY o.occurred_at DESC, o.id DESC LIMIT 1) AS pr_state,
       (r.verdict ->> 'approved')::boolean AS approved,
       r.metadata ->> 'variant_id' AS variant_id,
       r.created_at,
       r.finished_at,
       r.last_error,
       b.outcome,
       b.resolved,
       b.score
FROM ops.agent_runs r
LEFT JOIN ops.agent_benchmark_results b ON b.run_id = r.id;
COMMENT ON COLUMN ops.error_agent_run_log.pr_state IS
    'The pull request''s latest reported state (ops.agent_run_outcomes kind pull_request: opened, merged, closed), if any.';
COMMENT ON COLUMN ops.error_agent_run_log.outcome IS
    'How far the run got (ops.agent_benchmark_results.outcome: dispatched, no_patch, policy_refused, ci_failed, '
    'awaiting_ci, resolved); NULL before it is scored.';
COMMENT ON COLUMN ops.error_agent_run_log.resolved IS 'Resolved as SWE-bench counts it (target fixed, nothing broken).';
COMMENT ON COLUMN ops.error_agent_run_log.score IS 'Its benchmark score, 0-100 (ssot/agents/benchmark.yaml).';
