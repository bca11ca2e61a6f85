-- Privileges, last so that it covers every object above. Tables are private; roles get exactly
-- what they need; RLS is on for every table (owners and SECURITY DEFINER functions bypass it).

REVOKE ALL ON ALL TABLES IN SCHEMA ops FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA ops FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ops FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ops_private FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA ops FROM anon, authenticated;

DO $rls$
DECLARE
    t regclass;
BEGIN
    FOR t IN
        SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('ops', 'ops_private') AND c.relkind IN ('r', 'p')
    LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
    END LOOP;
END
$rls$;

-- Producers: record errors, nothing else.
GRANT EXECUTE ON FUNCTION ops.record_error(text, text, text, text, text, text, text, jsonb, timestamptz, text),
                          ops.record_errors(jsonb),
                          ops.classify_error(text, text, text),
                          ops.redact(text),
                          ops.normalize_message(text),
                          ops.error_fingerprint(text, text, text, text, text)
      TO ops_ingest, ops_worker;
GRANT INSERT (source, message, phase, top_frame, run_id, correlation_id, origin, context, occurred_at, code)
      ON ops.error_events TO ops_ingest, ops_worker;
GRANT USAGE ON SEQUENCE ops.error_events_id_seq TO ops_ingest, ops_worker;
CREATE POLICY error_events_ingest_insert ON ops.error_events FOR INSERT TO ops_ingest, ops_worker WITH CHECK (true);

-- Analysts: the views and the pure functions.
GRANT SELECT ON ops.failure_mode_summary, ops.error_trend_daily, ops.top_errors, ops.unknown_triage,
                ops.pending_escalations TO ops_analyst;
GRANT EXECUTE ON FUNCTION ops.classify_error(text, text, text), ops.normalize_message(text),
                          ops.error_fingerprint(text, text, text, text, text)
      TO ops_analyst;

-- The worker: the outbox, agent runs, the taxonomy it formats messages from, partition upkeep.
GRANT SELECT, UPDATE ON ops.escalations, ops.agent_runs TO ops_worker;
GRANT SELECT ON ops.failure_modes, ops.destinations, ops.agent_errors, ops.ssot_state TO ops_worker;
GRANT SELECT ON ops.pending_escalations TO ops_worker;
GRANT EXECUTE ON FUNCTION ops.ensure_error_event_partitions(integer) TO ops_worker;
CREATE POLICY escalations_worker ON ops.escalations FOR ALL TO ops_worker USING (true) WITH CHECK (true);
CREATE POLICY agent_runs_worker ON ops.agent_runs FOR ALL TO ops_worker USING (true) WITH CHECK (true);
CREATE POLICY failure_modes_worker_read ON ops.failure_modes FOR SELECT TO ops_worker USING (true);
CREATE POLICY destinations_worker_read ON ops.destinations FOR SELECT TO ops_worker USING (true);
CREATE POLICY agent_errors_worker_read ON ops.agent_errors FOR SELECT TO ops_worker USING (true);
CREATE POLICY ssot_state_worker_read ON ops.ssot_state FOR SELECT TO ops_worker USING (true);
