-- Least privilege by construction, not by convention (issue 11, item 4).
--
-- * The worker role writes only through the outbox protocol's SECURITY DEFINER functions, each of
--   which checks the claim token (fence) itself: no direct INSERT, UPDATE or DELETE on any table
--   (it keeps SELECT where it reads). Before this, ops_worker could `UPDATE ops.escalations` and
--   `ops.agent_runs` directly and so walk around the fence.
-- * Every protocol function is SECURITY DEFINER with a pinned search_path. They already were; the
--   ALTERs below restate it after every other migration of the session (this file runs last), so a
--   redefinition elsewhere that forgot the clause cannot leave a protocol function running with the
--   caller's rights, which the worker no longer has.
-- * The ingest and analyst roles call none of the worker's functions (revoked explicitly, whatever
--   was granted before).
-- * ops.fold_text reads at most 65536 characters of a direct argument (8.8 s on a 10 MB argument
--   before; every internal caller passes less).
-- * Each group role carries a statement_timeout, lock_timeout and idle_in_transaction_session_timeout.
--   PostgreSQL applies ALTER ROLE ... SET only to the role a session logs in as, never to the roles
--   it is a member of, so ops.configure_login(login) copies them onto a login role (README, Security).

-- The worker: no direct writes anywhere, SELECT where it reads.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA ops FROM ops_worker;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA ops_private FROM ops_worker;
REVOKE USAGE, UPDATE ON ALL SEQUENCES IN SCHEMA ops FROM ops_worker;
DROP POLICY escalations_worker ON ops.escalations;
DROP POLICY agent_runs_worker ON ops.agent_runs;
CREATE POLICY escalations_worker_read ON ops.escalations FOR SELECT TO ops_worker USING (true);
CREATE POLICY agent_runs_worker_read ON ops.agent_runs FOR SELECT TO ops_worker USING (true);
-- The worker records its own failures through ops.record_error (SECURITY DEFINER), never a raw INSERT.
ALTER POLICY error_events_ingest_insert ON ops.error_events TO ops_ingest;

-- The protocol functions the worker calls (worker/queries/dispatch.sql) run with their owner's rights
-- and a pinned search_path.
ALTER FUNCTION ops.claim_escalations(text, integer, interval) SECURITY DEFINER SET search_path = pg_catalog, ops;
ALTER FUNCTION ops.heartbeat_escalations(bigint[], integer[], interval) SECURITY DEFINER SET search_path = pg_catalog, ops;
ALTER FUNCTION ops.complete_escalation(bigint, integer, jsonb) SECURITY DEFINER SET search_path = pg_catalog, ops;
ALTER FUNCTION ops.fail_escalation(bigint, integer, text, interval, boolean, boolean)
    SECURITY DEFINER SET search_path = pg_catalog, ops;
ALTER FUNCTION ops.release_escalation(bigint, integer) SECURITY DEFINER SET search_path = pg_catalog, ops;
ALTER FUNCTION ops.reap_expired_leases() SECURITY DEFINER SET search_path = pg_catalog, ops;
ALTER FUNCTION ops.expire_agent_runs(interval) SECURITY DEFINER SET search_path = pg_catalog, ops;
ALTER FUNCTION ops.requeue_escalation(bigint) SECURITY DEFINER SET search_path = pg_catalog, ops;
ALTER FUNCTION ops.create_work_item(bigint) SECURITY DEFINER SET search_path = pg_catalog, ops;
ALTER FUNCTION ops.link_github_issue(text, text, integer, text) SECURITY DEFINER SET search_path = pg_catalog, ops;
ALTER FUNCTION ops.update_agent_run(bigint, text, jsonb, text, text, text) SECURITY DEFINER SET search_path = pg_catalog, ops;
ALTER FUNCTION ops.ensure_error_event_partitions(integer) SECURITY DEFINER SET search_path = pg_catalog, ops;
ALTER FUNCTION ops.record_error(text, text, text, text, text, text, text, jsonb, timestamptz, text)
    SECURITY DEFINER SET search_path = pg_catalog, ops;
ALTER FUNCTION ops.record_errors(jsonb) SECURITY DEFINER SET search_path = pg_catalog, ops;

-- Producers and analysts call none of the worker's functions.
REVOKE EXECUTE ON FUNCTION ops.claim_escalations(text, integer, interval), ops.heartbeat_escalations(bigint[], integer[], interval),
    ops.complete_escalation(bigint, integer, jsonb), ops.fail_escalation(bigint, integer, text, interval, boolean, boolean),
    ops.release_escalation(bigint, integer), ops.reap_expired_leases(), ops.expire_agent_runs(interval),
    ops.requeue_escalation(bigint), ops.create_work_item(bigint), ops.link_github_issue(text, text, integer, text),
    ops.update_agent_run(bigint, text, jsonb, text, text, text), ops.ensure_error_event_partitions(integer)
    FROM ops_ingest, ops_analyst;

-- `ops classify` redacts the message before classifying it (worker/queries/errors.sql), and the README
-- hands that command to analysts: they may run the redaction too (it reads only the rules).
GRANT EXECUTE ON FUNCTION ops.redact(text) TO ops_analyst;

-- ops.fold_text, from its current definition (20261129000300_grouping_v2.sql), reading at most 65536
-- characters: ops.normalize_message passes at most 40000 and the ingest trigger at most a stored
-- message (32768 and a marker), so only a direct call with a longer argument is cut (and marked).
CREATE OR REPLACE FUNCTION ops.fold_text(message text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
RETURN translate(
    regexp_replace(normalize(left(message, 65536), NFKC),
                   -- zero-width space/joiners, word joiner, BOM, soft hyphen; bidi embeddings, overrides, isolates
                   U&'[\200B-\200D\2060\FEFF\00AD\202A-\202E\2066-\2069\200E\200F]', '', 'g'),
    -- Cyrillic and Greek letters that render like Latin ones (Unicode confusables, the common subset).
    U&'\0410\0412\0415\041A\041C\041D\041E\0420\0421\0422\0425\0423\0430\0435\043E\0440\0441\0443\0445\0456\0458\0455\0501\051B\051D\0406\0408\0405\04CF'
    || U&'\0391\0392\0395\0396\0397\0399\039A\039C\039D\039F\03A1\03A4\03A5\03A7\03BF',
    'ABEKMHOPCTXYaeopcyxijsdqwIJSl'
    || 'ABEZHIKMNOPTYXo')
    || CASE WHEN length(message) > 65536
            THEN format(E'\n[… %s characters cut before folding …]', length(message) - 65536) ELSE '' END;
COMMENT ON FUNCTION ops.fold_text(text) IS
    'Folds text before classification and normalization: Unicode NFKC (full-width and compatibility forms), removes '
    'zero-width characters, soft hyphens and bidi controls, and maps the Cyrillic and Greek letters that look like '
    'Latin ones to Latin (a subset of Unicode TR39 confusables). Case is kept. Reads at most 65536 characters; a longer '
    'argument is cut there and ends with a "[… N characters cut before folding …]" marker. text -> text; NULL for NULL.';

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
    IF login_name IN ('ops_ingest', 'ops_worker', 'ops_analyst') THEN
        RAISE EXCEPTION 'login must be a login role that is a member of an ops role, not the group role % itself', login_name
            USING ERRCODE = 'OP001', COLUMN = 'login';
    END IF;
    IF (SELECT r.rolsuper FROM pg_roles r WHERE r.oid = login) THEN
        RAISE EXCEPTION 'login % is a superuser: the ops roles'' limits are for least-privilege logins', login_name
            USING ERRCODE = 'OP001', COLUMN = 'login';
    END IF;
    SELECT array_agg(g.rolname ORDER BY g.rolname) INTO groups
    FROM pg_roles g
    WHERE g.rolname IN ('ops_ingest', 'ops_worker', 'ops_analyst') AND pg_has_role(login, g.oid, 'MEMBER');
    IF groups IS NULL THEN
        RAISE EXCEPTION 'login % is a member of none of ops_ingest, ops_worker, ops_analyst (GRANT one of them first)',
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
    'is a member of (ops_ingest, ops_worker, ops_analyst) onto the login itself (ALTER ROLE login SET ...): PostgreSQL '
    'applies role settings only to the role a session logs in as. A member of several groups gets the most permissive '
    'value of each. Takes effect from the login''s next session. Returns (setting, value) per setting applied. Raises '
    'OP001 for a group role itself, a superuser, or a role in none of the groups. Needs CREATEROLE; granted to nobody.';
REVOKE ALL ON FUNCTION ops.configure_login(regrole) FROM PUBLIC;
