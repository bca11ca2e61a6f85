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
                          ops.classify_candidates(text, text, text, boolean),
                          ops.canonical_text(text),
                          ops.redact(text),
                          ops.normalize_message(text),
                          ops.error_fingerprint(text, text, text, text, text)
      TO ops_ingest, ops_worker;
-- Only producers INSERT raw events; the worker records its own failures through ops.record_error.
GRANT INSERT (source, message, phase, top_frame, run_id, correlation_id, origin, context, occurred_at, code,
               event_key)
      ON ops.error_events TO ops_ingest;
GRANT USAGE ON SEQUENCE ops.error_events_id_seq TO ops_ingest;
CREATE POLICY error_events_ingest_insert ON ops.error_events FOR INSERT TO ops_ingest WITH CHECK (true);
GRANT SELECT ON ops.sources TO ops_ingest, ops_worker;
CREATE POLICY sources_read ON ops.sources FOR SELECT TO ops_ingest, ops_worker USING (true);

GRANT EXECUTE ON FUNCTION ops.fold_text(text), ops.current_fingerprint_version(), ops.grouping_text(text, text, text),
                          ops.fingerprint_field(text), ops.fingerprint_text(text),
                          ops.code_group_fingerprint(text, text, text),
                          ops.pattern_group_fingerprint(text, text, text, text), ops.pattern_group_key(text, text)
      TO ops_ingest, ops_worker, ops_analyst;
-- Fingerprint version 4 reads a code's grouping rule through this SECURITY DEFINER function, and a pattern's own
-- (`grouping: pattern`) through its two-argument form.
GRANT EXECUTE ON FUNCTION ops.grouping_rule(text), ops.grouping_rule(text, text) TO ops_ingest, ops_worker, ops_analyst;

-- Analysts: the views and the pure functions (ops.redact too: `ops classify` redacts before classifying).
GRANT SELECT ON ops.failure_mode_summary, ops.error_trend_daily, ops.top_errors, ops.unknown_triage,
                ops.pending_escalations, ops.dispatch_queue, ops.dispatch_stats TO ops_analyst;
-- The report's views (`ops report`).
GRANT SELECT ON ops.report_error_daily, ops.report_error_changes, ops.report_resolution_times, ops.report_agent_runs,
                ops.report_unit_checks, ops.report_open_findings TO ops_analyst;
GRANT SELECT ON ops.agent_scorecard, ops.agent_failure_modes_hit TO ops_analyst;
GRANT EXECUTE ON FUNCTION ops.classify_error(text, text, text), ops.normalize_message(text),
                          ops.error_fingerprint(text, text, text, text, text), ops.redact(text),
                          ops.classify_candidates(text, text, text, boolean), ops.canonical_text(text)
      TO ops_analyst;
GRANT EXECUTE ON FUNCTION ops.is_blank(text) TO ops_analyst;
-- The triage queue with suggested codes, and what blocks a merge (`ops triage list`, `ops gate check`).
GRANT EXECUTE ON FUNCTION ops.triage_queue(text, integer, integer) TO ops_analyst;
GRANT SELECT ON ops.gate_findings TO ops_analyst;

-- Triage (a member of ops_analyst): re-codes an error (ops.promote_error) and tries a pattern before it is
-- added to the SSOT (ops.pattern_conflicts, which always rolls back).
GRANT EXECUTE ON FUNCTION ops.promote_error(text, text, boolean), ops.pattern_conflicts(text, text, text, text[], jsonb)
      TO ops_triage;

-- Who may read and change triage: analysts read the on-call views and resolve fingerprint prefixes; the
-- worker reads them to write FixBot's resolution records and may resolve only what FixBot fixed. resolve,
-- ignore, reopen and set_error_status stay with the owner (`ops resolve` and friends run as the owner).
GRANT SELECT ON ops.error_groups, ops.error_event_log, ops.error_escalation_log, ops.error_agent_run_log,
                ops.error_status_log TO ops_analyst, ops_worker;
GRANT EXECUTE ON FUNCTION ops.find_error(text) TO ops_analyst, ops_worker;
GRANT EXECUTE ON FUNCTION ops.fixbot_resolution_candidates(interval),
                          ops.resolve_error_by_fixbot(text, bigint, interval, text, text) TO ops_worker;

-- The worker: reads the outbox, agent runs and the taxonomy it formats messages from, and changes them
-- only through the dispatch API (claim, heartbeat, complete, fail, release, reap, requeue, destinations'
-- writes, agent runs, partition upkeep): SECURITY DEFINER functions that check the claim token (fence)
-- themselves. It has no INSERT, UPDATE or DELETE on any table, so the fence cannot be walked around.
GRANT SELECT ON ops.escalations, ops.agent_runs TO ops_worker;
GRANT SELECT ON ops.failure_modes, ops.destinations, ops.agent_errors, ops.ssot_state TO ops_worker;
GRANT SELECT ON ops.pending_escalations, ops.dispatch_queue, ops.dispatch_stats, ops.github_issue_links TO ops_worker;
GRANT EXECUTE ON FUNCTION ops.ensure_error_event_partitions(integer) TO ops_worker;
GRANT EXECUTE ON FUNCTION ops.claim_escalations(text, integer, interval), ops.heartbeat_escalations(bigint[], integer[], interval),
    ops.complete_escalation(bigint, integer, jsonb), ops.complete_escalations(bigint[], integer[], jsonb[]),
    ops.fail_escalation(bigint, integer, text, interval, boolean, boolean),
    ops.release_escalation(bigint, integer), ops.reap_expired_leases(), ops.requeue_escalation(bigint),
    ops.create_work_item(bigint), ops.link_github_issue(text, text, integer, text),
    ops.update_agent_run(bigint, text, jsonb, text, text, text), ops.expire_agent_runs(interval),
    ops.seal_page_digest(bigint, integer) TO ops_worker;
CREATE POLICY escalations_worker_read ON ops.escalations FOR SELECT TO ops_worker USING (true);
CREATE POLICY agent_runs_worker_read ON ops.agent_runs FOR SELECT TO ops_worker USING (true);
CREATE POLICY failure_modes_worker_read ON ops.failure_modes FOR SELECT TO ops_worker USING (true);
CREATE POLICY destinations_worker_read ON ops.destinations FOR SELECT TO ops_worker USING (true);
CREATE POLICY agent_errors_worker_read ON ops.agent_errors FOR SELECT TO ops_worker USING (true);
CREATE POLICY ssot_state_worker_read ON ops.ssot_state FOR SELECT TO ops_worker USING (true);
CREATE POLICY github_issue_links_worker_read ON ops.github_issue_links FOR SELECT TO ops_worker USING (true);

-- Outcome reporters (the GitHub webhook Edge Function, `ops fixbot report`): store outcomes of agent runs
-- through ops.record_run_outcome, and a runner's transcript through ops.set_agent_run_artifacts; nothing else.
-- The worker stores the patch and transcript its runners return.
GRANT EXECUTE ON FUNCTION ops.record_run_outcome(text, text, bigint, text, text, text, boolean, integer, jsonb, text, timestamptz)
      TO ops_outcomes;
GRANT EXECUTE ON FUNCTION ops.set_agent_run_artifacts(bigint, text, jsonb) TO ops_worker, ops_outcomes;

-- Agent variants: the worker reads them and records the variant it dispatches a FixBot run with; analysts read
-- the lineage and the paired samples `ops bench compare` works on.
GRANT SELECT ON ops.agent_variants TO ops_worker;
CREATE POLICY agent_variants_worker_read ON ops.agent_variants FOR SELECT TO ops_worker USING (true);
GRANT EXECUTE ON FUNCTION ops.record_variant_choice(bigint, text, jsonb) TO ops_worker;
GRANT EXECUTE ON FUNCTION ops.variant_posteriors(text, text) TO ops_worker, ops_analyst;
GRANT EXECUTE ON FUNCTION ops.variant_pairs(text, text), ops.variant_record(text) TO ops_analyst;
GRANT SELECT ON ops.variant_lineage TO ops_analyst;

-- The v2 classifier's recorded models, for `ops triage list` suggestions.
GRANT SELECT ON ops.classifier_model_files TO ops_analyst;

-- Unit CI (`stratt`) runs as the owner: its tables and functions are granted to no role.

-- Per-role limits. Why these values (README, Security):
--   ops_ingest   a producer's statement is one event or a CLI batch of 500; 60 s bounds a runaway batch
--                while a batch of 500 messages of a few KB (tens of seconds on a small machine) passes.
--                10 s lock wait: a producer queued behind a long lock (partition DDL, a huge batch holding
--                a group's row) gives up and retries instead of piling up connections. 30 s idle in a
--                transaction: an open transaction holds its groups' row locks and would stall every other
--                producer of the same error.
--   ops_worker   its statements are single protocol calls and small claims: 30 s; 5 s lock wait so
--                partition upkeep never queues ahead of ingest behind a long lock (it retries next
--                round); it runs in autocommit, so 60 s idle in a transaction is already a bug.
--   ops_analyst  reports over the views may scan a lot: 120 s; reads wait at most 5 s behind DDL; an
--                interactive session may sit in a transaction, but not past 10 minutes (it holds back
--                vacuum).
ALTER ROLE ops_ingest SET statement_timeout = '60s';
ALTER ROLE ops_ingest SET lock_timeout = '10s';
ALTER ROLE ops_ingest SET idle_in_transaction_session_timeout = '30s';
ALTER ROLE ops_worker SET statement_timeout = '30s';
ALTER ROLE ops_worker SET lock_timeout = '5s';
ALTER ROLE ops_worker SET idle_in_transaction_session_timeout = '60s';
ALTER ROLE ops_analyst SET statement_timeout = '120s';
ALTER ROLE ops_analyst SET lock_timeout = '5s';
ALTER ROLE ops_analyst SET idle_in_transaction_session_timeout = '10min';
--   ops_outcomes a webhook delivery or a report is one short call; GitHub gives a delivery 10 s before it
--                counts it failed.
ALTER ROLE ops_outcomes SET statement_timeout = '10s';
ALTER ROLE ops_outcomes SET lock_timeout = '5s';
ALTER ROLE ops_outcomes SET idle_in_transaction_session_timeout = '30s';

CREATE FUNCTION ops.configure_login(login regrole)
RETURNS TABLE (setting text, value text)
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $$
DECLARE
    login_name text := (SELECT r.rolname FROM pg_roles r WHERE r.oid = login);
    groups text[];
    candidate record;
    best_ms bigint;
    ms bigint;
    saved text;
BEGIN
    IF login_name IN ('ops_ingest', 'ops_worker', 'ops_analyst', 'ops_outcomes') THEN
        RAISE EXCEPTION 'login must be a login role that is a member of an ops role, not the group role % itself', login_name
            USING ERRCODE = 'OP001', COLUMN = 'login';
    END IF;
    IF (SELECT r.rolsuper FROM pg_roles r WHERE r.oid = login) THEN
        RAISE EXCEPTION 'login % is a superuser: the ops roles'' limits are for least-privilege logins', login_name
            USING ERRCODE = 'OP001', COLUMN = 'login';
    END IF;
    SELECT array_agg(g.rolname ORDER BY g.rolname) INTO groups
    FROM pg_roles g
    WHERE g.rolname IN ('ops_ingest', 'ops_worker', 'ops_analyst', 'ops_outcomes') AND pg_has_role(login, g.oid, 'MEMBER');
    IF groups IS NULL THEN
        RAISE EXCEPTION 'login % is a member of none of ops_ingest, ops_worker, ops_analyst, ops_outcomes (GRANT one of them first)',
                        login_name
            USING ERRCODE = 'OP001', COLUMN = 'login';
    END IF;
    FOREACH setting IN ARRAY ARRAY['idle_in_transaction_session_timeout', 'lock_timeout', 'statement_timeout'] LOOP
        -- A member of several groups gets the most permissive value (0 is no limit); values are compared
        -- in milliseconds as PostgreSQL reads them, whatever unit they were written in.
        saved := current_setting(setting);
        value := NULL;
        best_ms := NULL;
        FOR candidate IN
            SELECT substr(c.config, strpos(c.config, '=') + 1) AS v
            FROM pg_db_role_setting s
            JOIN pg_roles g ON g.oid = s.setrole
            CROSS JOIN LATERAL unnest(s.setconfig) AS c (config)
            WHERE s.setdatabase = 0 AND g.rolname = ANY (groups) AND split_part(c.config, '=', 1) = setting
        LOOP
            PERFORM set_config(setting, candidate.v, true);
            ms := (SELECT ps.setting::bigint FROM pg_settings ps WHERE ps.name = configure_login.setting);
            IF best_ms IS NULL OR (best_ms <> 0 AND (ms = 0 OR ms > best_ms)) THEN
                best_ms := ms;
                value := candidate.v;
            END IF;
        END LOOP;
        PERFORM set_config(setting, saved, true);
        IF value IS NOT NULL THEN
            EXECUTE format('ALTER ROLE %I SET %I = %L', login_name, setting, value);
            RETURN NEXT;
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION ops.configure_login(regrole) IS
    'Copies the statement_timeout, lock_timeout and idle_in_transaction_session_timeout of the ops group roles a login '
    'is a member of (ops_ingest, ops_worker, ops_analyst, ops_outcomes) onto the login itself (ALTER ROLE login SET ...): PostgreSQL '
    'applies role settings only to the role a session logs in as. A member of several groups gets the most permissive '
    'value of each. Takes effect from the login''s next session. Returns (setting, value) per setting applied. Raises '
    'OP001 for a group role itself, a superuser, or a role in none of the groups. Needs CREATEROLE; granted to nobody.';
REVOKE ALL ON FUNCTION ops.configure_login(regrole) FROM PUBLIC;
