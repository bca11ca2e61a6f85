-- Two guards on FixBot runs.
--
-- * A finished run (succeeded, failed, rejected, dead, cancelled) is final: a late report, such as
--   `ops fixbot verify --run` after the reaper failed the run for AGENT.RUN_TIMEOUT, is refused
--   (SQLSTATE OP005) instead of silently rewriting history. Requeueing a dead escalation is the one
--   way back, and it does not go through this function.
-- * Requeueing a dead escalation brings its run back only if no other run for the fingerprint is
--   active; if one became active concurrently (the unique index says so), the escalation is still
--   requeued and its old run stays dead.

CREATE OR REPLACE FUNCTION ops.update_agent_run(id bigint, status text, verdict jsonb DEFAULT NULL, branch text DEFAULT NULL,
                                                pr_url text DEFAULT NULL, error text DEFAULT NULL)
RETURNS ops.agent_runs
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    run ops.agent_runs;
BEGIN
    SELECT * INTO run FROM ops.agent_runs r WHERE r.id = update_agent_run.id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no agent run %', update_agent_run.id USING ERRCODE = 'OP004';
    END IF;
    IF run.status IN ('succeeded', 'failed', 'rejected', 'dead', 'cancelled') THEN
        RAISE EXCEPTION 'agent run % is already % (%): a finished run is not changed', run.id, run.status,
                        coalesce(run.last_error, 'no error')
            USING ERRCODE = 'OP005';
    END IF;
    UPDATE ops.agent_runs r
    SET status = update_agent_run.status,
        verdict = coalesce(update_agent_run.verdict, r.verdict),
        branch = coalesce(update_agent_run.branch, r.branch),
        pr_url = coalesce(update_agent_run.pr_url, r.pr_url),
        last_error = coalesce(left(ops.redact(update_agent_run.error), 2000), r.last_error),
        attempts = r.attempts + (update_agent_run.status IN ('running', 'claimed'))::integer,
        updated_at = now(),
        finished_at = CASE WHEN update_agent_run.status IN ('succeeded', 'failed', 'rejected', 'dead', 'cancelled')
                           THEN now() END
    WHERE r.id = update_agent_run.id
    RETURNING r.* INTO run;
    RETURN run;
END
$$;
COMMENT ON FUNCTION ops.update_agent_run(bigint, text, jsonb, text, text, text) IS
    'Moves a FixBot run along (queued, running, succeeded, failed, rejected, ...), recording verdict, branch and PR. '
    'A finished run is final: changing it raises OP005.';

CREATE OR REPLACE FUNCTION ops.requeue_escalation(id bigint)
RETURNS ops.escalations
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    esc ops.escalations;
BEGIN
    UPDATE ops.escalations e
    SET state = 'pending', next_attempt_at = now(), max_attempts = e.attempts + 10, lease_expires_at = NULL,
        error_history = e.error_history || jsonb_build_array(jsonb_build_object('at', now(), 'error', 'requeued by hand'))
    WHERE e.id = requeue_escalation.id AND e.state = 'dead'
    RETURNING e.* INTO esc;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'escalation % is not dead (only dead escalations can be requeued)', requeue_escalation.id
            USING ERRCODE = 'OP004';
    END IF;
    BEGIN
        UPDATE ops.agent_runs r
        SET status = 'queued', finished_at = NULL, updated_at = now()
        WHERE r.escalation_id = esc.id AND r.status = 'dead';
    EXCEPTION WHEN unique_violation THEN
        NULL;  -- another run for the fingerprint is active: it does the work, this one stays dead
    END;
    RETURN esc;
END
$$;
COMMENT ON FUNCTION ops.requeue_escalation(bigint) IS
    'Brings a dead escalation back to the queue with ten more attempts, keeping its error history. Its FixBot run, '
    'dead with it, is queued again unless another run for the same fingerprint is active.';
