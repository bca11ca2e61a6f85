-- A FixBot run that timed out is scored with its AGENT.RUN_TIMEOUT: ops.expire_agent_runs recorded the error after
-- it failed the run, and that update had already rescored the run (tg_agent_runs__50_score_updated) without it.
-- Now it locks the expired runs, records each error with the run's id, then fails them in one update.

CREATE OR REPLACE FUNCTION ops.expire_agent_runs(run_timeout interval)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    expired ops.agent_runs;
    ids bigint[] := ARRAY[]::bigint[];
BEGIN
    -- Each timeout is recorded with the run's id before the run fails: that update rescores the runs
    -- (tg_agent_runs__50_score_updated), and a run's failure_modes are the errors recorded with its id by then.
    FOR expired IN
        SELECT s.* FROM ops.agent_runs s
        WHERE s.status = 'running' AND s.updated_at < now() - run_timeout
        ORDER BY s.id
        FOR UPDATE SKIP LOCKED
    LOOP
        PERFORM ops.record_error(
            source => 'agent_runner', phase => 'dispatch', code_hint => 'AGENT.RUN_TIMEOUT',
            message => format('FixBot run %s for %s: no result reported within %s of dispatch',
                              expired.id, expired.code, run_timeout),
            run_id => expired.id::text,
            context => jsonb_build_object('fingerprint', expired.fingerprint, 'agent_run_id', expired.id));
        ids := ids || expired.id;
    END LOOP;
    UPDATE ops.agent_runs r
    SET status = 'failed', updated_at = now(), finished_at = now(),
        last_error = format('no result reported within %s of dispatch', run_timeout)
    WHERE r.id = ANY (ids);
    RETURN cardinality(ids);
END
$$;
COMMENT ON FUNCTION ops.expire_agent_runs(interval) IS
    'Fails FixBot runs left running longer than run_timeout (a runner that never reported back), freeing their '
    'fingerprint for a later run; each is first recorded through the pipeline (AGENT.RUN_TIMEOUT with the run''s id), '
    'so the rescore the update triggers counts it among the run''s failure_modes. Returns how many. Called by the reaper.';
