-- Privileges, last so that they cover every object above. Tables are private; each role gets exactly
-- what it needs, listed here by role; row level security is on for every table (owners and SECURITY
-- DEFINER functions bypass it), each role reading through a policy.
-- (Schema grants and the default that new functions are not executable by PUBLIC: 00_roles_and_schemas.)

REVOKE ALL ON ALL TABLES IN SCHEMA ops FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA ops FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ops FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ops_private FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA ops FROM anon, authenticated;

-- Row level security on every table, the daily partitions of ops.error_events included
-- (ops.ensure_error_event_partitions() turns it on for the ones it creates later).
DO $rls$
DECLARE
    t regclass;
BEGIN
    FOR t IN
        SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('ops', 'ops_private') AND c.relkind IN ('r', 'p') AND NOT c.relrowsecurity
    LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t);
    END LOOP;
END
$rls$;

-- Producers: record errors, nothing else; they may read the known sources, so a client can refuse an
-- unknown source before it asks (`ops classify` does, like ingest).
GRANT EXECUTE ON FUNCTION ops.record_error(text, text, text, text, text, text, text, jsonb, timestamptz, text),
                          ops.record_error(text, text, text, text, text, text, text, text, jsonb, timestamptz, text),
                          ops.record_errors(jsonb),
                          ops.record_errors(jsonb, boolean),
                          ops.is_blank(text),
                          ops.context_depth_exceeds(jsonb, integer),
                          ops.internal_sources(),
                          ops.classify_error(text, text, text),
                          ops.redact(text),
                          ops.normalize_message(text),
                          ops.error_fingerprint(text, text, text, text, text)
      TO ops_ingest, ops_worker;
GRANT INSERT (source, message, phase, top_frame, run_id, correlation_id, origin, context, occurred_at, code,
               event_key)
      ON ops.error_events TO ops_ingest, ops_worker;
GRANT USAGE ON SEQUENCE ops.error_events_id_seq TO ops_ingest, ops_worker;
CREATE POLICY error_events_ingest_insert ON ops.error_events FOR INSERT TO ops_ingest, ops_worker WITH CHECK (true);
GRANT SELECT ON ops.sources TO ops_ingest, ops_worker;
CREATE POLICY sources_read ON ops.sources FOR SELECT TO ops_ingest, ops_worker USING (true);

-- Analysts: the views and the pure functions.
GRANT SELECT ON ops.failure_mode_summary, ops.error_trend_daily, ops.top_errors, ops.unknown_triage,
                ops.pending_escalations, ops.dispatch_queue, ops.dispatch_stats TO ops_analyst;
GRANT EXECUTE ON FUNCTION ops.classify_error(text, text, text), ops.normalize_message(text),
                          ops.error_fingerprint(text, text, text, text, text)
      TO ops_analyst;
GRANT EXECUTE ON FUNCTION ops.is_blank(text) TO ops_analyst;

-- The worker: the outbox, agent runs, the taxonomy it formats messages from, partition upkeep, and the
-- dispatch API (claim, heartbeat, complete, fail, release, reap, requeue, destinations' writes, agent runs).
GRANT SELECT, UPDATE ON ops.escalations, ops.agent_runs TO ops_worker;
GRANT SELECT ON ops.failure_modes, ops.destinations, ops.agent_errors, ops.ssot_state TO ops_worker;
GRANT SELECT ON ops.pending_escalations, ops.dispatch_queue, ops.dispatch_stats, ops.github_issue_links TO ops_worker;
GRANT EXECUTE ON FUNCTION ops.ensure_error_event_partitions(integer) TO ops_worker;
GRANT EXECUTE ON FUNCTION ops.claim_escalations(text, integer, interval), ops.heartbeat_escalations(bigint[], integer[], interval),
    ops.complete_escalation(bigint, integer, jsonb), ops.fail_escalation(bigint, integer, text, interval, boolean, boolean),
    ops.release_escalation(bigint, integer), ops.reap_expired_leases(), ops.requeue_escalation(bigint),
    ops.create_work_item(bigint), ops.link_github_issue(text, text, integer, text),
    ops.update_agent_run(bigint, text, jsonb, text, text, text), ops.expire_agent_runs(interval) TO ops_worker;
CREATE POLICY escalations_worker ON ops.escalations FOR ALL TO ops_worker USING (true) WITH CHECK (true);
CREATE POLICY agent_runs_worker ON ops.agent_runs FOR ALL TO ops_worker USING (true) WITH CHECK (true);
CREATE POLICY failure_modes_worker_read ON ops.failure_modes FOR SELECT TO ops_worker USING (true);
CREATE POLICY destinations_worker_read ON ops.destinations FOR SELECT TO ops_worker USING (true);
CREATE POLICY agent_errors_worker_read ON ops.agent_errors FOR SELECT TO ops_worker USING (true);
CREATE POLICY ssot_state_worker_read ON ops.ssot_state FOR SELECT TO ops_worker USING (true);
CREATE POLICY github_issue_links_worker_read ON ops.github_issue_links FOR SELECT TO ops_worker USING (true);

-- Unit CI (`stratt`) runs as the owner: its tables and functions are granted to no role.
