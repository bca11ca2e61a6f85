-- Least privilege by construction (issue 11, item 4): the worker writes only through the fenced protocol
-- functions, producers and analysts call none of them, the pure functions cap their input, and each role
-- carries its timeouts. Tried as each role with SET ROLE, like 05_roles.sql.
BEGIN;
SELECT plan(59);

-- Catalog: who may write what.
SELECT is_empty($$
    SELECT c.oid::regclass::text || ' ' || p.priv FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    CROSS JOIN unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS p (priv)
    WHERE n.nspname IN ('ops', 'ops_private') AND c.relkind IN ('r', 'p')
      AND (has_table_privilege('ops_worker', c.oid, p.priv)
           OR (p.priv IN ('INSERT', 'UPDATE') AND has_any_column_privilege('ops_worker', c.oid, p.priv)))
$$, 'ops_worker may INSERT, UPDATE, DELETE or TRUNCATE no table, not even a column of one');
SELECT is_empty($$
    SELECT c.oid::regclass::text || ' ' || p.priv FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    CROSS JOIN unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS p (priv)
    WHERE n.nspname IN ('ops', 'ops_private') AND c.relkind IN ('r', 'p')
      AND (has_table_privilege('ops_ingest', c.oid, p.priv)
           OR (p.priv IN ('INSERT', 'UPDATE') AND has_any_column_privilege('ops_ingest', c.oid, p.priv)))
      AND NOT (c.oid = 'ops.error_events'::regclass AND p.priv = 'INSERT')
$$, 'ops_ingest writes nothing but INSERTs into ops.error_events');
SELECT is_empty($$
    SELECT c.oid::regclass::text || ' ' || p.priv FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    CROSS JOIN unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS p (priv)
    WHERE n.nspname IN ('ops', 'ops_private') AND c.relkind IN ('r', 'p', 'v')
      AND (has_table_privilege('ops_analyst', c.oid, p.priv)
           OR (p.priv IN ('INSERT', 'UPDATE') AND has_any_column_privilege('ops_analyst', c.oid, p.priv)))
$$, 'ops_analyst writes nothing');
SELECT ok(has_table_privilege('ops_worker', 'ops.escalations', 'SELECT')
          AND has_table_privilege('ops_worker', 'ops.agent_runs', 'SELECT'),
    'ops_worker still reads the outbox and the agent runs');

-- The SECURITY DEFINER functions each role may call, exactly (a new grant must be added here on purpose).
SELECT set_eq($$
    SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname IN ('ops', 'ops_private') AND p.prosecdef AND has_function_privilege('ops_worker', p.oid, 'EXECUTE')
$$, ARRAY['ops.claim_escalations(text,integer,interval)', 'ops.heartbeat_escalations(bigint[],integer[],interval)',
          'ops.complete_escalation(bigint,integer,jsonb)', 'ops.complete_escalations(bigint[],integer[],jsonb[])',
          'ops.fail_escalation(bigint,integer,text,interval,boolean,boolean)',
          'ops.release_escalation(bigint,integer)', 'ops.reap_expired_leases()', 'ops.expire_agent_runs(interval)', 'ops.seal_page_digest(bigint,integer)',
          'ops.requeue_escalation(bigint)', 'ops.create_work_item(bigint)', 'ops.link_github_issue(text,text,integer,text)',
          'ops.update_agent_run(bigint,text,jsonb,text,text,text)', 'ops.ensure_error_event_partitions(integer)',
          'ops.record_error(text,text,text,text,text,text,text,jsonb,timestamp with time zone,text)',
          'ops.record_error(text,text,text,text,text,text,text,text,jsonb,timestamp with time zone,text)',
          'ops.record_errors(jsonb)', 'ops.record_errors(jsonb,boolean)',
          'ops.classify_error(text,text,text)', 'ops.classify_candidates(text,text,text,boolean)', 'ops.redact(text)',
          'ops.grouping_rule(text)', 'ops.grouping_rule(text,text)', 'ops.pattern_group_key(text,text)',
          'ops.find_error(text)', 'ops.fixbot_resolution_candidates(interval)',
          'ops.resolve_error_by_fixbot(text,bigint,interval,text,text)', 'ops.set_agent_run_artifacts(bigint,text,jsonb)',
          'ops.record_variant_choice(bigint,text,jsonb)', 'ops.variant_posteriors(text,text)'],
    'ops_worker calls exactly the outbox protocol, the ingest functions, the pure SECURITY DEFINER functions, the '
    'on-call reads and FixBot auto-resolve, the one that stores a run''s patch and transcript, and variant choice');
SELECT set_eq($$
    SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname IN ('ops', 'ops_private') AND p.prosecdef AND has_function_privilege('ops_outcomes', p.oid, 'EXECUTE')
$$, ARRAY['ops.record_run_outcome(text,text,bigint,text,text,text,boolean,integer,jsonb,text,timestamp with time zone)',
          'ops.set_agent_run_artifacts(bigint,text,jsonb)'],
    'ops_outcomes (the GitHub webhook, `ops fixbot report`) calls exactly the outcome recorder and the artifact store');
SELECT is_empty($$
    SELECT c.oid::regclass::text || ' ' || p.priv FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) AS p (priv)
    WHERE n.nspname IN ('ops', 'ops_private') AND c.relkind IN ('r', 'p', 'v')
      AND (has_table_privilege('ops_outcomes', c.oid, p.priv)
           OR (p.priv IN ('SELECT', 'INSERT', 'UPDATE') AND has_any_column_privilege('ops_outcomes', c.oid, p.priv)))
$$, 'ops_outcomes reads and writes no table or view directly');
SELECT set_eq($$
    SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname IN ('ops', 'ops_private') AND p.prosecdef AND has_function_privilege('ops_ingest', p.oid, 'EXECUTE')
$$, ARRAY['ops.record_error(text,text,text,text,text,text,text,jsonb,timestamp with time zone,text)',
          'ops.record_error(text,text,text,text,text,text,text,text,jsonb,timestamp with time zone,text)',
          'ops.record_errors(jsonb)', 'ops.record_errors(jsonb,boolean)',
          'ops.classify_error(text,text,text)', 'ops.classify_candidates(text,text,text,boolean)', 'ops.redact(text)',
          'ops.grouping_rule(text)', 'ops.grouping_rule(text,text)', 'ops.pattern_group_key(text,text)'],
    'ops_ingest calls exactly the ingest functions and the pure SECURITY DEFINER functions');
SELECT set_eq($$
    SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname IN ('ops', 'ops_private') AND p.prosecdef AND has_function_privilege('ops_analyst', p.oid, 'EXECUTE')
$$, ARRAY['ops.classify_error(text,text,text)', 'ops.classify_candidates(text,text,text,boolean)', 'ops.redact(text)',
          'ops.grouping_rule(text)', 'ops.grouping_rule(text,text)', 'ops.pattern_group_key(text,text)',
          'ops.find_error(text)', 'ops.triage_queue(text,integer,integer)',
          'ops.variant_posteriors(text,text)', 'ops.variant_pairs(text,text)', 'ops.variant_record(text)'],
    'ops_analyst calls only the read-only SECURITY DEFINER functions (classify and its candidate listing, redact for `ops classify`, find_error, the triage queue and the variant statistics of `ops bench compare`)');
SELECT set_eq($$
    SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname IN ('ops', 'ops_private') AND p.prosecdef AND has_function_privilege('ops_triage', p.oid, 'EXECUTE')
$$, ARRAY['ops.classify_error(text,text,text)', 'ops.classify_candidates(text,text,text,boolean)', 'ops.redact(text)',
          'ops.grouping_rule(text)', 'ops.grouping_rule(text,text)', 'ops.pattern_group_key(text,text)',
          'ops.find_error(text)', 'ops.triage_queue(text,integer,integer)',
          'ops.variant_posteriors(text,text)', 'ops.variant_pairs(text,text)', 'ops.variant_record(text)',
          'ops.promote_error(text,text,boolean)', 'ops.pattern_conflicts(text,text,text,text[],jsonb)'],
    'ops_triage calls what ops_analyst calls plus ops.promote_error and ops.pattern_conflicts, nothing else');
SELECT is_empty($$
    SELECT f FROM unnest(ARRAY['ops.claim_escalations(text,integer,interval)', 'ops.heartbeat_escalations(bigint[],integer[],interval)',
          'ops.complete_escalation(bigint,integer,jsonb)', 'ops.complete_escalations(bigint[],integer[],jsonb[])',
          'ops.fail_escalation(bigint,integer,text,interval,boolean,boolean)',
          'ops.release_escalation(bigint,integer)', 'ops.reap_expired_leases()', 'ops.expire_agent_runs(interval)', 'ops.seal_page_digest(bigint,integer)',
          'ops.requeue_escalation(bigint)', 'ops.create_work_item(bigint)', 'ops.link_github_issue(text,text,integer,text)',
          'ops.update_agent_run(bigint,text,jsonb,text,text,text)', 'ops.ensure_error_event_partitions(integer)']) AS f
    JOIN pg_proc p ON p.oid = f::regprocedure
    WHERE NOT p.prosecdef OR NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c = 'search_path=pg_catalog, ops')
$$, 'every protocol function the worker calls is SECURITY DEFINER with search_path pg_catalog, ops');

-- The worker cannot write the outbox directly.
INSERT INTO ops.escalations (dedupe_key, fingerprint, code, reason, destination, count_at, payload)
VALUES ('lp1', 'fp-lp1', 'DB.DEADLOCK', 'manual', 'work_queue', 1, '{"title": "Deadlock"}');
SET LOCAL ROLE ops_worker;
SELECT throws_ok($$ UPDATE ops.escalations SET state = 'delivered' WHERE dedupe_key = 'lp1' $$, '42501', NULL,
    'the worker role cannot UPDATE ops.escalations directly (the fence cannot be walked around)');
SELECT throws_ok($$ UPDATE ops.escalations SET claims = claims + 1 $$, '42501', NULL,
    'nor forge a fence token');
SELECT throws_ok($$ DELETE FROM ops.escalations $$, '42501', NULL, 'nor DELETE escalations');
SELECT throws_ok($$ INSERT INTO ops.escalations (dedupe_key, fingerprint, code, reason, destination, count_at, payload)
                    VALUES ('lp2', 'fp', 'DB.DEADLOCK', 'manual', 'work_queue', 1, '{}') $$, '42501', NULL,
    'nor INSERT escalations');
SELECT throws_ok($$ UPDATE ops.agent_runs SET status = 'succeeded' $$, '42501', NULL, 'nor UPDATE ops.agent_runs');
SELECT throws_ok($$ INSERT INTO ops.error_events (source, message) VALUES ('ops', 'raw') $$, '42501', NULL,
    'the worker records errors only through ops.record_error, not a raw INSERT');
SELECT throws_ok($$ INSERT INTO ops.work_items (escalation_id, fingerprint, code, title, body)
                    SELECT id, 'fp', 'DB.DEADLOCK', 't', 'b' FROM ops.escalations $$, '42501', NULL,
    'nor INSERT work items (ops.create_work_item does)');
SELECT is((SELECT state FROM ops.escalations WHERE dedupe_key = 'lp1'), 'pending', 'the worker role still reads the outbox');
SELECT lives_ok($$ SELECT * FROM ops.record_error(source => 'ops', phase => 'dispatch', message => 'the worker''s own failure') $$,
    'the worker records its own failures through ops.record_error');

-- Fencing, as the worker role: w1 claims (token 1), its lease runs out, the reaper requeues, w2 claims (token 2).
SELECT is((SELECT claims FROM ops.claim_escalations('w1', 1)), 1, 'w1 claims with token 1');
RESET ROLE;
UPDATE ops.escalations SET lease_expires_at = now() - interval '1 second' WHERE dedupe_key = 'lp1';
SET LOCAL ROLE ops_worker;
SELECT is(ops.reap_expired_leases(), 1, 'the reaper returns the expired lease');
SELECT is((SELECT claims FROM ops.claim_escalations('w2', 1)), 2, 'w2 claims with token 2');
SELECT is(ops.heartbeat_escalations(ARRAY[(SELECT id FROM ops.escalations WHERE dedupe_key = 'lp1')], ARRAY[1]), 0,
    'the stale worker cannot extend the lease w2 holds');
SELECT ok(NOT ops.complete_escalation((SELECT id FROM ops.escalations WHERE dedupe_key = 'lp1'), 1, '{"by": "w1"}'),
    'the stale worker cannot complete the job w2 owns');
SELECT is(ops.fail_escalation((SELECT id FROM ops.escalations WHERE dedupe_key = 'lp1'), 1, 'late failure'), 'fenced',
    'nor fail it');
SELECT ok(NOT ops.release_escalation((SELECT id FROM ops.escalations WHERE dedupe_key = 'lp1'), 1), 'nor release it');
SELECT is((SELECT state || '/' || claims || '/' || claimed_by || '/' || attempts || '/' || (result IS NULL)
           FROM ops.escalations WHERE dedupe_key = 'lp1'), 'claimed/2/w2/0/true',
    'the job is untouched: still claimed by w2 under token 2, no attempt counted, no result');
SELECT throws_ok($$ SELECT id FROM ops.escalations WHERE dedupe_key = 'lp1' FOR UPDATE $$,
    '42501', NULL, 'the worker cannot even lock outbox rows itself (SELECT ... FOR UPDATE needs UPDATE)');
SELECT ok(ops.complete_escalation((SELECT id FROM ops.escalations WHERE dedupe_key = 'lp1'), 2, '{"by": "w2"}'),
    'the holder of token 2 completes it');
SELECT is((SELECT result ->> 'by' FROM ops.escalations WHERE dedupe_key = 'lp1'), 'w2', 'with its own result');
RESET ROLE;

-- Producers call none of the worker's functions.
SET LOCAL ROLE ops_ingest;
SELECT throws_ok($$ SELECT * FROM ops.claim_escalations('intruder', 10) $$, '42501', NULL, 'ops_ingest cannot claim escalations');
SELECT throws_ok($$ SELECT ops.heartbeat_escalations(ARRAY[1::bigint], ARRAY[1]) $$, '42501', NULL, 'nor heartbeat');
SELECT throws_ok($$ SELECT ops.complete_escalation(1, 1) $$, '42501', NULL, 'nor complete');
SELECT throws_ok($$ SELECT ops.fail_escalation(1, 1, 'x') $$, '42501', NULL, 'nor fail');
SELECT throws_ok($$ SELECT ops.release_escalation(1, 1) $$, '42501', NULL, 'nor release');
SELECT throws_ok($$ SELECT ops.reap_expired_leases() $$, '42501', NULL, 'nor reap');
SELECT throws_ok($$ SELECT ops.expire_agent_runs(interval '1 second') $$, '42501', NULL, 'nor expire agent runs');
SELECT throws_ok($$ SELECT ops.requeue_escalation(1) $$, '42501', NULL, 'nor requeue');
SELECT throws_ok($$ SELECT ops.create_work_item(1) $$, '42501', NULL, 'nor create work items');
SELECT throws_ok($$ SELECT ops.link_github_issue('fp', 'a/b', 1, 'u') $$, '42501', NULL, 'nor link GitHub issues');
SELECT throws_ok($$ SELECT ops.update_agent_run(1, 'succeeded') $$, '42501', NULL, 'nor move a FixBot run');
SELECT throws_ok($$ SELECT ops.ensure_error_event_partitions(1) $$, '42501', NULL, 'nor create partitions');
SELECT throws_ok($$ SELECT * FROM ops.escalations $$, '42501', NULL, 'nor read the outbox');
RESET ROLE;

SET LOCAL ROLE ops_analyst;
SELECT throws_ok($$ SELECT * FROM ops.claim_escalations('intruder', 10) $$, '42501', NULL, 'ops_analyst cannot claim escalations');
SELECT is(ops.redact('password=hunter2 in the message'), 'password=[REDACTED] in the message', 'ops_analyst may redact (ops classify does)');
RESET ROLE;

-- Input caps: a direct 10 MB argument is read only up to the cap.
SELECT is(length(ops.fold_text(repeat('ab ', 3500000))), 65536 + length(E'\n[… 10434464 characters cut before folding …]'),
    'ops.fold_text reads at most 65536 characters of a 10 MB argument and marks the cut');
SELECT is(ops.fold_text(repeat('é', 65536)), normalize(repeat('é', 65536), NFKC), 'an argument at the cap is folded whole');
SELECT is(ops.error_fingerprint('ops', 'p', 'c', repeat('ab ', 3500000), NULL),
          ops.error_fingerprint('ops', 'p', 'c', left(repeat('ab ', 3500000), 40000), NULL),
    'ops.error_fingerprint reads a 10 MB message only as far as ops.normalize_message does (40000 characters)');

-- Per-role timeouts.
SELECT is((SELECT array_agg(c ORDER BY c) FROM pg_db_role_setting s, unnest(s.setconfig) c
           WHERE s.setrole = 'ops_ingest'::regrole AND s.setdatabase = 0),
    ARRAY['idle_in_transaction_session_timeout=30s', 'lock_timeout=10s', 'statement_timeout=60s'], 'ops_ingest''s timeouts');
SELECT is((SELECT array_agg(c ORDER BY c) FROM pg_db_role_setting s, unnest(s.setconfig) c
           WHERE s.setrole = 'ops_worker'::regrole AND s.setdatabase = 0),
    ARRAY['idle_in_transaction_session_timeout=60s', 'lock_timeout=5s', 'statement_timeout=30s'], 'ops_worker''s timeouts');
SELECT is((SELECT array_agg(c ORDER BY c) FROM pg_db_role_setting s, unnest(s.setconfig) c
           WHERE s.setrole = 'ops_analyst'::regrole AND s.setdatabase = 0),
    ARRAY['idle_in_transaction_session_timeout=10min', 'lock_timeout=5s', 'statement_timeout=120s'], 'ops_analyst''s timeouts');

-- ops.configure_login copies them onto a login (role settings are not inherited from group roles).
CREATE ROLE tap_lp_worker LOGIN IN ROLE ops_worker;
CREATE ROLE tap_lp_both LOGIN IN ROLE ops_ingest, ops_analyst;
CREATE ROLE tap_lp_none LOGIN;
SELECT set_eq($$ SELECT setting || '=' || value FROM ops.configure_login('tap_lp_worker') $$,
    ARRAY['idle_in_transaction_session_timeout=60s', 'lock_timeout=5s', 'statement_timeout=30s'],
    'configure_login reports the worker''s settings');
SELECT is((SELECT array_agg(c ORDER BY c) FROM pg_db_role_setting s, unnest(s.setconfig) c
           WHERE s.setrole = 'tap_lp_worker'::regrole AND s.setdatabase = 0),
    ARRAY['idle_in_transaction_session_timeout=60s', 'lock_timeout=5s', 'statement_timeout=30s'],
    'and stores them on the login');
SELECT set_eq($$ SELECT setting || '=' || value FROM ops.configure_login('tap_lp_both') $$,
    ARRAY['idle_in_transaction_session_timeout=10min', 'lock_timeout=10s', 'statement_timeout=120s'],
    'a member of two groups gets the most permissive value of each');
SELECT is(current_setting('statement_timeout'), '0', 'configuring a login leaves the caller''s own settings as they were');
SELECT throws_ok($$ SELECT * FROM ops.configure_login('tap_lp_none') $$, 'OP001', NULL, 'a role in no ops group is refused');
SELECT throws_ok($$ SELECT * FROM ops.configure_login('ops_worker') $$, 'OP001', NULL, 'so is a group role itself');
SELECT throws_ok($$ SELECT * FROM ops.configure_login(current_user::regrole) $$, 'OP001', NULL, 'and a superuser');

SELECT * FROM finish();
ROLLBACK;
