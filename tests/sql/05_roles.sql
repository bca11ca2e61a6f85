-- What each role can do, tried as that role.
BEGIN;
SELECT plan(16);

SET LOCAL ROLE ops_ingest;
SELECT lives_ok($$ SELECT ops.record_error(source => 'github_actions', message => 'role test one') $$, 'the ingest role records through ops.record_error');
SELECT lives_ok($$ INSERT INTO ops.error_events (source, message) VALUES ('github_actions', 'role test two') $$, 'the ingest role inserts raw events');
SELECT throws_ok($$ SELECT * FROM ops.error_events $$, '42501', NULL, 'the ingest role cannot read events');
SELECT throws_ok($$ SELECT * FROM ops.agent_errors $$, '42501', NULL, 'the ingest role cannot read ops.agent_errors');
SELECT throws_ok($$ SELECT * FROM ops.top_errors $$, '42501', NULL, 'the ingest role cannot read the views');
RESET ROLE;

SET LOCAL ROLE ops_analyst;
SELECT is((SELECT count(*)::int FROM ops.top_errors WHERE sample_message LIKE 'role test%'), 2, 'the analyst reads what was ingested through a view');
SELECT throws_ok($$ SELECT * FROM ops.agent_errors $$, '42501', NULL, 'the analyst cannot read tables');
SELECT throws_ok($$ SELECT ops.record_error(source => 'github_actions', message => 'x') $$, '42501', NULL, 'the analyst cannot ingest');
RESET ROLE;

SET LOCAL ROLE ops_worker;
SELECT lives_ok($$ SELECT * FROM ops.claim_escalations('pgtap-worker', 1) $$, 'the worker role claims escalations');
SELECT lives_ok($$ SELECT ops.reap_expired_leases(), ops.expire_agent_runs(interval '6 hours') $$, 'the worker role runs the reaper');
SELECT throws_ok($$ SELECT * FROM ops.error_events $$, '42501', NULL, 'the worker role cannot read raw events');
SELECT throws_ok($$ UPDATE ops.failure_modes SET severity = 'low' $$, '42501', NULL, 'the worker role cannot change the taxonomy');
SELECT throws_ok($$ SELECT * FROM ops.work_items $$, '42501', NULL, 'the worker role reaches work items only through their function');
RESET ROLE;

SET LOCAL ROLE ops_ingest;
SELECT ok((SELECT count(*) FROM ops.sources) > 0, 'a producer can list the known sources');
RESET ROLE;

SET LOCAL ROLE anon;
SELECT throws_ok($$ SELECT ops.record_error(source => 'ops', message => 'x') $$, '42501', NULL, 'anon cannot ingest');
SELECT throws_ok($$ SELECT * FROM ops.top_errors $$, '42501', NULL, 'anon reads nothing');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
