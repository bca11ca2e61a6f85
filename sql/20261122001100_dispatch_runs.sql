-- FixBot runs follow their escalation, and a run nobody reports back on does not hold its fingerprint
-- forever. (One active run per fingerprint is a partial unique index, so a run stuck in `running`
-- would block every later fix of the same error.)
--
-- * A reaped job keeps its place in the queue (its next_attempt_at is when it first fell due),
--   instead of going behind everything that arrived while its worker was dead.
-- * Each failed attempt's history entry says when the retry was scheduled (`retry_at`), so the
--   backoff actually applied can be read back.
-- * An escalation that goes dead takes its still-active run with it (`dead`, with the last error).
-- * Requeueing that escalation by hand brings the run back to `queued`, unless another run for the
--   fingerprint is active (or becomes active concurrently: the unique index says so, and the
--   escalation is requeued all the same while its old run stays dead).
-- * A finished run (succeeded, failed, rejected, dead, cancelled) is final: a late report, such as
--   `ops fixbot verify --run` after the reaper failed the run, is refused (SQLSTATE OP005) instead
--   of silently rewriting history. Requeueing is the one way back, and it does not use
--   ops.update_agent_run().
-- * ops.expire_agent_runs() fails runs left `running` longer than the policy's run timeout (a
--   github_dispatch workflow that never called `ops fixbot verify`); the worker's reaper calls it.

CREATE OR REPLACE FUNCTION ops.fail_escalation(id bigint, token integer, error text, retry_after interval DEFAULT NULL,
                                               permanent boolean DEFAULT false, counts boolean DEFAULT true)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    esc ops.escalations;
    next_state text;
BEGIN
    SELECT * INTO esc FROM ops.escalations e
    WHERE e.id = fail_escalation.id AND e.claims = token AND e.state = 'claimed'
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'fenced';
    END IF;
    next_state := CASE
        WHEN permanent OR (counts AND esc.attempts + 1 >= esc.max_attempts) THEN 'dead'
        ELSE 'pending' END;
    UPDATE ops.escalations e
    SET state = next_state,
        attempts = e.attempts + counts::integer,
        next_attempt_at = now() + coalesce(retry_after, interval '0'),
        lease_expires_at = NULL,
        last_error = left(ops.redact(error), 2000),
        error_history = e.error_history || jsonb_build_array(jsonb_build_object(
            'at', now(), 'attempt', e.attempts + counts::integer, 'claim', token, 'worker', e.claimed_by,
            'error', left(ops.redact(error), 2000), 'permanent', permanent, 'counted', counts,
            'retry_at', CASE WHEN next_state = 'pending' THEN now() + coalesce(retry_after, interval '0') END))
    WHERE e.id = fail_escalation.id;
    IF next_state = 'dead' THEN
        UPDATE ops.agent_runs r
        SET status = 'dead', last_error = left(ops.redact(error), 2000), updated_at = now(), finished_at = now()
        WHERE r.escalation_id = esc.id AND r.status IN ('queued', 'claimed', 'running');
        -- The system's own failure goes through the pipeline like any other.
        PERFORM ops.record_error(
            source => 'ops', phase => 'dispatch', code_hint => 'OPS.DELIVERY_FAILED',
            message => format('escalation to %s for %s dead after %s attempt(s): %s',
                              esc.destination, esc.code, esc.attempts + counts::integer, left(error, 500)),
            context => jsonb_build_object('escalation_id', esc.id, 'destination', esc.destination,
                                          'fingerprint', esc.fingerprint));
    END IF;
    RETURN next_state;
END
$$;
COMMENT ON FUNCTION ops.fail_escalation(bigint, integer, text, interval, boolean, boolean) IS
    'Records a failed delivery. Retries after retry_after unless permanent or out of attempts, in which case the row is '
    'dead, keeps its error history, its still-active FixBot run (if any) becomes dead too, and an OPS.DELIVERY_FAILED '
    'error is recorded. counts => false (a destination waiting for configuration) does not spend an attempt. Returns '
    'the new state, or ''fenced'' when the claim was lost.';

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

CREATE FUNCTION ops.expire_agent_runs(run_timeout interval)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    expired ops.agent_runs;
    n integer := 0;
BEGIN
    FOR expired IN
        UPDATE ops.agent_runs r
        SET status = 'failed', updated_at = now(), finished_at = now(),
            last_error = format('no result reported within %s of dispatch', run_timeout)
        WHERE r.id IN (SELECT s.id FROM ops.agent_runs s
                       WHERE s.status = 'running' AND s.updated_at < now() - run_timeout
                       FOR UPDATE SKIP LOCKED)
        RETURNING r.*
    LOOP
        n := n + 1;
        PERFORM ops.record_error(
            source => 'agent_runner', phase => 'dispatch', code_hint => 'AGENT.RUN_TIMEOUT',
            message => format('FixBot run %s for %s: no result reported within %s of dispatch',
                              expired.id, expired.code, run_timeout),
            run_id => expired.id::text,
            context => jsonb_build_object('fingerprint', expired.fingerprint, 'agent_run_id', expired.id));
    END LOOP;
    RETURN n;
END
$$;
COMMENT ON FUNCTION ops.expire_agent_runs(interval) IS
    'Fails FixBot runs left running longer than run_timeout (a runner that never reported back), freeing their '
    'fingerprint for a later run; each is recorded through the pipeline. Returns how many. Called by the reaper.';

REVOKE ALL ON FUNCTION ops.expire_agent_runs(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ops.expire_agent_runs(interval) TO ops_worker;

CREATE OR REPLACE FUNCTION ops.reap_expired_leases()
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    reaped integer;
BEGIN
    UPDATE ops.escalations e
    SET state = 'pending', lease_expires_at = NULL,
        error_history = e.error_history || jsonb_build_array(jsonb_build_object(
            'at', now(), 'claim', e.claims, 'worker', e.claimed_by, 'error', 'lease expired'))
    WHERE e.id IN (SELECT s.id FROM ops.escalations s
                   WHERE s.state = 'claimed' AND s.lease_expires_at < now()
                   FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS reaped = ROW_COUNT;
    RETURN reaped;
END
$$;
COMMENT ON FUNCTION ops.reap_expired_leases() IS
    'Returns escalations whose lease expired (their worker died or hung) to the queue, at their old place (they were '
    'due when claimed, so they go before what arrived since); returns how many.';

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
