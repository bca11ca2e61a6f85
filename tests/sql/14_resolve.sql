-- Resolve, ignore and reopen (the triage state machine), prefix resolution, ignored errors that never
-- escalate until their date, regressions after a resolve, the status history and FixBot auto-resolve.
BEGIN;
SELECT plan(39);

INSERT INTO ops.failure_modes (code, position, title, category, severity, retryable, runbook, remediate_kind,
                               escalate_after_count, escalate_within, escalate_destination)
VALUES ('TEST.RES', 9201, 'escalates at 2 within an hour', 'ops', 'high', false, 'docs/runbooks/failures/TEST.RES.md',
        'checklist', 2, '1 hour', 'work_queue'),
       ('TEST.FIXR', 9202, 'fixbot at 1', 'ops', 'high', false, 'docs/runbooks/failures/TEST.FIXR.md', 'fixbot', 1, NULL,
        'fixbot');
INSERT INTO ops.failure_mode_patterns (code, position, kind, pattern)
VALUES ('TEST.RES', 1, 'substring', 'qqr-res'), ('TEST.FIXR', 1, 'substring', 'qqr-fix');

CREATE TEMP TABLE fp AS
SELECT (SELECT fingerprint FROM ops.record_error(source => 'ops', phase => 'one', message => 'qqr-res 1')) AS one,
       (SELECT fingerprint FROM ops.record_error(source => 'ops', phase => 'two', message => 'qqr-res 1')) AS two;
GRANT SELECT ON fp TO ops_analyst;

-- Prefix resolution, as git resolves commit ids.
SELECT is(ops.find_error((SELECT one FROM fp)), (SELECT one FROM fp), 'a full fingerprint finds itself');
SELECT is(ops.find_error(upper(left((SELECT one FROM fp), 12))), (SELECT one FROM fp),
    'a unique prefix (any case) finds the fingerprint');
SELECT throws_ok($$ SELECT ops.find_error('0000000000000000000000000000000000000000000000000000000000000000') $$, 'OP004',
    'no error with a fingerprint starting "0000000000000000000000000000000000000000000000000000000000000000"',
    'a prefix nothing matches is not found (OP004)');
SELECT throws_ok($$ SELECT ops.find_error('ab') $$, 'OP001', NULL, 'a prefix shorter than 4 hex digits is refused');
SELECT throws_ok($$ SELECT ops.find_error('zzzz') $$, 'OP001', NULL, 'a prefix that is not hex is refused');
-- An ambiguous prefix for sure: two rows made to share their first digits.
INSERT INTO ops.agent_errors (fingerprint, fingerprint_version, code, source, count, first_seen_at, last_seen_at, sample_message)
VALUES ('abcd' || repeat('0', 60), 2, 'TEST.RES', 'ops', 1, now(), now(), 'x'),
       ('abcd' || repeat('1', 60), 2, 'TEST.RES', 'ops', 1, now(), now(), 'y');
SELECT throws_like($$ SELECT ops.find_error('abcd') $$, 'fingerprint prefix "abcd" is ambiguous: 2 errors match',
    'an ambiguous prefix is refused, saying how many match');
SELECT is((SELECT ops.find_error('abcd1')), 'abcd' || repeat('1', 60), 'one more digit makes it unique');
INSERT INTO ops.error_aliases (fingerprint, target_fingerprint, reason) VALUES ('feed' || repeat('2', 60), 'abcd' || repeat('0', 60), 'promote');
SELECT is(ops.find_error('feed2222'), 'abcd' || repeat('0', 60), 'an old (aliased) fingerprint finds its group today');
SET LOCAL ROLE ops_analyst;
SELECT is(ops.find_error(left((SELECT one FROM fp), 10)), (SELECT one FROM fp), 'an analyst may resolve a prefix');
SELECT is((SELECT count(*)::int FROM ops.error_groups WHERE fingerprint = (SELECT one FROM fp)), 1,
    'an analyst reads ops.error_groups');
RESET ROLE;

-- Resolve.
SELECT throws_ok(format($$ SELECT ops.resolve_error(%L, 'notes/x.md', repeat('a', 64)) $$, (SELECT one FROM fp)), 'OP001',
    NULL, 'a record outside docs/resolutions/YYYY/MM/ is refused');
SELECT throws_ok(format($$ SELECT ops.resolve_error(%L, 'docs/resolutions/2026/11/x.md', 'nothex') $$, (SELECT one FROM fp)),
    'OP001', NULL, 'a malformed sha256 is refused');
SELECT results_eq(format($$ SELECT status, resolved_by, resolution_ref, resolution_sha256 FROM ops.resolve_error(%L,
        'docs/resolutions/2026/11/2026-11-30_TEST.RES_fixed.md', repeat('b', 64), 'ana') $$, (SELECT one FROM fp)),
    $$ VALUES ('resolved', 'ana', 'docs/resolutions/2026/11/2026-11-30_TEST.RES_fixed.md', repeat('b', 64)) $$,
    'resolve records who, the record path and its sha256');
SELECT ok((SELECT resolved_at = now() FROM ops.agent_errors WHERE fingerprint = (SELECT one FROM fp)), 'and when');
SELECT throws_ok(format($$ SELECT ops.resolve_error(%L, 'docs/resolutions/2026/11/y.md', repeat('c', 64)) $$, (SELECT one FROM fp)),
    'OPD04', NULL, 'a resolved error cannot be resolved again (reopen it first)');
SELECT throws_ok(format($$ SELECT ops.set_error_status(%L, 'acknowledged') $$, (SELECT one FROM fp)), 'OPD04', NULL,
    'a resolved error cannot be acknowledged');
SELECT throws_ok(format($$ SELECT ops.set_error_status(%L, 'regressed') $$, (SELECT one FROM fp)), 'OP001', NULL,
    'regressed is set by ingest only');
SELECT throws_ok(format($$ SELECT ops.reopen_error(%L) $$, (SELECT two FROM fp)), 'OPD04', NULL, 'an open error cannot be reopened');

-- Regression after resolve.
SELECT ops.record_error(source => 'ops', phase => 'one', message => 'qqr-res 2');
SELECT is((SELECT status FROM ops.agent_errors WHERE fingerprint = (SELECT one FROM fp)), 'regressed',
    'a resolved error that recurs is regressed');
SELECT is((SELECT count(*)::int FROM ops.escalations WHERE fingerprint = (SELECT one FROM fp) AND reason = 'regression'), 1,
    'and escalates');
SELECT results_eq(format($$ SELECT from_status, to_status, actor, resolution_ref FROM ops.error_status_log
                            WHERE fingerprint = %L ORDER BY change_id $$, (SELECT one FROM fp)),
    $$ VALUES ('open', 'resolved', 'ana', 'docs/resolutions/2026/11/2026-11-30_TEST.RES_fixed.md'),
              ('resolved', 'regressed', 'ingest', NULL::text) $$,
    'the status history holds the resolve and the regression, with who did each');
SELECT is((SELECT status FROM ops.resolve_error((SELECT one FROM fp), 'docs/resolutions/2026/11/2026-11-30_TEST.RES_fixed-1.md',
                                                 repeat('d', 64))), 'resolved', 'a regressed error can be resolved again');
SELECT is((SELECT status FROM ops.reopen_error((SELECT one FROM fp))), 'open', 'a resolved error can be reopened');
SELECT is((SELECT resolution_ref FROM ops.agent_errors WHERE fingerprint = (SELECT one FROM fp)),
    'docs/resolutions/2026/11/2026-11-30_TEST.RES_fixed-1.md', 'reopening keeps the last record as history');

-- Ignore: still counts, never escalates until the date, then open again.
SELECT throws_ok(format($$ SELECT ops.ignore_error(%L, now() - interval '1 minute') $$, (SELECT two FROM fp)), 'OP001',
    NULL, 'an ignore that ends in the past is refused');
SELECT results_eq(format($$ SELECT status, ignored_until FROM ops.ignore_error(%L, now() + interval '1 day') $$, (SELECT two FROM fp)),
    $$ VALUES ('ignored', now() + interval '1 day') $$, 'ignore with until records the date');
SELECT ops.record_error(source => 'ops', phase => 'two', message => 'qqr-res 2');
SELECT ops.record_error(source => 'ops', phase => 'two', message => 'qqr-res 3');
SELECT is((SELECT count FROM ops.agent_errors WHERE fingerprint = (SELECT two FROM fp)), 3::bigint, 'an ignored error still counts');
SELECT is((SELECT count(*)::int FROM ops.escalations WHERE fingerprint = (SELECT two FROM fp)), 0,
    'an ignored error does not escalate though it crossed its threshold');
SELECT is((SELECT status FROM ops.agent_errors WHERE fingerprint = (SELECT two FROM fp)), 'ignored', 'and stays ignored');
-- The date passes (moved back by hand, as time would).
UPDATE ops.agent_errors SET ignored_until = now() - interval '1 second', window_started_at = now() - interval '2 hours'
WHERE fingerprint = (SELECT two FROM fp);
SELECT is((SELECT status FROM ops.error_groups WHERE fingerprint = (SELECT two FROM fp)), 'open',
    'an ignore past its date reads as open');
SELECT ops.record_error(source => 'ops', phase => 'two', message => 'qqr-res 4');
SELECT ops.record_error(source => 'ops', phase => 'two', message => 'qqr-res 5');
SELECT is((SELECT count(*)::int FROM ops.escalations WHERE fingerprint = (SELECT two FROM fp)), 1,
    'after the date the next crossing escalates');
SELECT results_eq(format($$ SELECT status, ignored_until FROM ops.agent_errors WHERE fingerprint = %L $$, (SELECT two FROM fp)),
    $$ VALUES ('open', NULL::timestamptz) $$, 'and the error is open again');
SELECT is((SELECT status FROM ops.ignore_error((SELECT two FROM fp))), 'ignored', 'ignore without a date');
SELECT is((SELECT status FROM ops.reopen_error((SELECT two FROM fp))), 'open', 'an ignored error can be reopened');

-- FixBot auto-resolve: a merged pull request, and no occurrence since, for the quiet period.
SELECT ops.record_error(source => 'agent_runner', message => 'qqr-fix broke');
UPDATE ops.agent_runs SET status = 'succeeded', pr_url = 'https://github.com/o/r/pull/7', finished_at = now() - interval '2 days'
WHERE code = 'TEST.FIXR';
-- The merge arrives as an outcome (the GitHub webhook or `ops fixbot report` record it so).
SELECT * FROM ops.record_run_outcome(kind => 'pull_request', state => 'merged',
    run_id => (SELECT id FROM ops.agent_runs WHERE code = 'TEST.FIXR'), occurred_at => now() - interval '2 days');
UPDATE ops.agent_errors SET last_seen_at = now() - interval '3 days' WHERE code = 'TEST.FIXR';
SELECT results_eq($$ SELECT code, pr_url FROM ops.fixbot_resolution_candidates('1 day') $$,
    $$ VALUES ('TEST.FIXR', 'https://github.com/o/r/pull/7') $$, 'a merged fix quiet for the period is a candidate');
SELECT is_empty($$ SELECT * FROM ops.fixbot_resolution_candidates('3 days') $$, 'not before the quiet period has passed');
SELECT throws_ok($$ SELECT * FROM ops.fixbot_resolution_candidates('0') $$, 'OPD01', NULL, 'a quiet period of zero is refused');
SELECT throws_ok($$ SELECT ops.resolve_error_by_fixbot((SELECT fingerprint FROM ops.agent_errors WHERE code = 'TEST.FIXR'),
        (SELECT id FROM ops.agent_runs WHERE code = 'TEST.FIXR'), '3 days', 'docs/resolutions/2026/11/f.md', repeat('e', 64)) $$,
    'OPD04', NULL, 'the worker cannot resolve an error that is not (yet) a candidate');
SET LOCAL ROLE ops_worker;
SELECT is((SELECT resolved_by FROM ops.resolve_error_by_fixbot((SELECT fingerprint FROM ops.error_groups WHERE code = 'TEST.FIXR'),
        (SELECT run_id FROM ops.error_agent_run_log WHERE code = 'TEST.FIXR'), '1 day', 'docs/resolutions/2026/11/f.md',
        repeat('e', 64))), 'fixbot', 'the worker resolves a candidate as fixbot');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
