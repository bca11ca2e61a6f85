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
REVOKE ALL ON FUNCTION ops_private.tg_agent_runs__score() FROM PUBLIC;
