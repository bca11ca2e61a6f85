-- FixBot auto-resolve: an error whose FixBot pull request merged and that has not occurred since, for the
-- policy's quiet period (ssot/agents/fixbot_policy.yaml auto_resolve.quiet_period), is resolved by the worker
-- with a generated record. "Merged" is metadata.pr_state = 'merged' on the run, or a pull_request/merged row
-- in ops.agent_run_outcomes once that table exists (read dynamically until then).
CREATE FUNCTION ops.fixbot_resolution_candidates(quiet_period interval)
RETURNS TABLE (fingerprint text, code text, run_id bigint, pr_url text, merged_at timestamptz, last_seen_at timestamptz)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    outcomes text := '';
BEGIN
    IF quiet_period IS NULL OR quiet_period <= interval '0' THEN
        RAISE EXCEPTION 'quiet_period must be above zero, not %', quiet_period USING ERRCODE = 'OPD01',
            COLUMN = 'quiet_period';
    END IF;
    IF to_regclass('ops.agent_run_outcomes') IS NOT NULL THEN
        outcomes := 'UNION ALL SELECT o.run_id, o.occurred_at FROM ops.agent_run_outcomes o '
                    'WHERE o.kind = ''pull_request'' AND o.state = ''merged''';
    END IF;
    RETURN QUERY EXECUTE format($q$
        WITH merges AS (
            SELECT r.id AS run_id, coalesce(r.finished_at, r.updated_at) AS merged_at
            FROM ops.agent_runs r WHERE r.metadata ->> 'pr_state' = 'merged'
            %s
        ), merged AS (
            SELECT m.run_id, min(m.merged_at) AS merged_at FROM merges m GROUP BY m.run_id
        )
        SELECT DISTINCT ON (a.fingerprint) a.fingerprint, a.code, r.id, r.pr_url, m.merged_at, a.last_seen_at
        FROM merged m
        JOIN ops.agent_runs r ON r.id = m.run_id
        JOIN ops.agent_errors a ON a.fingerprint = r.fingerprint
        WHERE a.status IN ('open', 'acknowledged', 'regressed')
          AND a.last_seen_at <= m.merged_at
          AND m.merged_at <= now() - $1
        ORDER BY a.fingerprint, m.merged_at DESC
    $q$, outcomes) USING quiet_period;
END
$$;
COMMENT ON FUNCTION ops.fixbot_resolution_candidates(interval) IS
    'Errors FixBot fixed: open, acknowledged or regressed errors with a FixBot run whose pull request merged '
    '(agent_runs.metadata.pr_state = merged, at finished_at or updated_at; or ops.agent_run_outcomes kind '
    'pull_request, state merged, at occurred_at, when that table exists) at least quiet_period ago, and no occurrence '
    'since the merge. One row per error (its latest merge): (fingerprint, code, run_id, pr_url, merged_at, '
    'last_seen_at). OPD01 for a quiet_period not above zero.';

CREATE FUNCTION ops.resolve_error_by_fixbot(fingerprint text, run_id bigint, quiet_period interval,
                                            resolution_ref text, resolution_sha256 text)
RETURNS SETOF ops.agent_errors
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
BEGIN
    PERFORM FROM ops.agent_errors a WHERE a.fingerprint = resolve_error_by_fixbot.fingerprint FOR UPDATE;
    IF NOT EXISTS (SELECT FROM ops.fixbot_resolution_candidates(resolve_error_by_fixbot.quiet_period) c
                   WHERE c.fingerprint = resolve_error_by_fixbot.fingerprint AND c.run_id = resolve_error_by_fixbot.run_id) THEN
        RAISE EXCEPTION 'error % is not resolvable by FixBot run %', left(resolve_error_by_fixbot.fingerprint, 12),
                        resolve_error_by_fixbot.run_id
            USING ERRCODE = 'OPD04',
            HINT = 'It needs a merged FixBot pull request and no occurrence since, for the quiet period.';
    END IF;
    RETURN QUERY SELECT * FROM ops.resolve_error(resolve_error_by_fixbot.fingerprint, resolve_error_by_fixbot.resolution_ref,
                                                 resolve_error_by_fixbot.resolution_sha256, 'fixbot');
END
$$;
COMMENT ON FUNCTION ops.resolve_error_by_fixbot(text, bigint, interval, text, text) IS
    'The worker''s auto-resolve: resolves the error (resolved_by fixbot, with its record''s path and sha256) only if it '
    'is still a candidate of ops.fixbot_resolution_candidates(quiet_period) for that run, else OPD04. Returns the row.';

REVOKE ALL ON FUNCTION ops.fixbot_resolution_candidates(interval),
                       ops.resolve_error_by_fixbot(text, bigint, interval, text, text) FROM PUBLIC;
