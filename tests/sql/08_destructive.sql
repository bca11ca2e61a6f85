-- Destructive operations: a typo destroys nothing (retention, requeue, SSOT sync).
BEGIN;
SELECT plan(22);

-- Events today (the issue's example: a negative retention deleted them), yesterday and in 3 days.
INSERT INTO ops.error_events (source, message, received_at)
VALUES ('ops', 'qqd today', now()), ('ops', 'qqd yesterday', now() - interval '1 day'),
       ('ops', 'qqd yesterday too', now() - interval '1 day'), ('ops', 'qqd future', now() + interval '3 days');

-- Retention: the argument is validated.
SELECT throws_ok($$ SELECT * FROM ops.drop_error_event_partitions(interval '-1 day') $$, 'OPD01',
    'older_than must not be negative, not -1 days: a negative retention would drop today''s and future events',
    'a negative retention is refused with OPD01, naming older_than');
SELECT throws_ok($$ SELECT * FROM ops.drop_error_event_partitions(interval '-1 day', confirm_zero => true) $$, 'OPD01', NULL,
    'a negative retention is refused even when confirmed');
SELECT throws_ok($$ SELECT * FROM ops.drop_error_event_partitions(NULL) $$, 'OPD01', NULL,
    'a NULL retention is refused with OPD01');
SELECT throws_like($$ SELECT * FROM ops.drop_error_event_partitions(interval '0 days') $$,
    '%less than one day%confirm_zero => true%', 'a zero retention needs confirm_zero');
SELECT throws_ok($$ SELECT * FROM ops.drop_error_event_partitions(interval '6 hours') $$, 'OPD02', NULL,
    'so does any retention under one day (it drops the same partitions as zero)');
SELECT is((SELECT count(*)::int FROM ops.error_events WHERE message LIKE 'qqd%'), 4, 'a refused retention dropped nothing');

-- A dry run lists what would go, with row counts, and drops nothing.
SELECT results_eq(
    $$ SELECT partition_name, day, row_count, dropped
       FROM ops.drop_error_event_partitions(interval '0 days', confirm_zero => true, dry_run => true) $$,
    $$ VALUES ('error_events_' || to_char(current_date - 1, 'YYYYMMDD'), current_date - 1, 2::bigint, false) $$,
    'a dry run lists yesterday''s partition and its two rows, not dropped');
SELECT is((SELECT count(*)::int FROM ops.error_events WHERE message LIKE 'qqd%'), 4, 'the dry run dropped nothing');

-- A confirmed zero drops yesterday, never today or the future; the result names what went.
SELECT results_eq(
    $$ SELECT partition_name, row_count, dropped FROM ops.drop_error_event_partitions(interval '0 days', confirm_zero => true) $$,
    $$ VALUES ('error_events_' || to_char(current_date - 1, 'YYYYMMDD'), 2::bigint, true) $$,
    'a confirmed zero retention drops yesterday''s partition and says how many rows it held');
SELECT is((SELECT array_agg(message ORDER BY message) FROM ops.error_events WHERE message LIKE 'qqd%'),
    ARRAY['qqd future', 'qqd today'], 'today''s and future events survive a zero retention');
SELECT ok(to_regclass('ops_private.error_events_' || to_char(current_date, 'YYYYMMDD')) IS NOT NULL,
    'today''s partition is still there');
SELECT is((SELECT count(*)::int FROM ops.drop_error_event_partitions(interval '90 days')), 0,
    'the default retention finds nothing to drop in a young table');

-- Requeue: a wrong id and a state it must not touch are told apart, and change nothing.
INSERT INTO ops.escalations (dedupe_key, fingerprint, code, reason, destination, count_at, payload)
VALUES ('qqd-1', 'fpq1', 'DB.DEADLOCK', 'manual', 'work_queue', 1, '{}');
SELECT throws_ok($$ SELECT ops.requeue_escalation(-7) $$, 'OP004', 'no escalation -7 (see `ops dispatch list`)',
    'requeueing an id that does not exist is OP004, naming the id');
SELECT throws_ok($$ SELECT ops.requeue_escalation((SELECT id FROM ops.escalations WHERE dedupe_key = 'qqd-1')) $$,
    'OPD04', NULL, 'requeueing a pending escalation is refused with OPD04');
SELECT throws_like($$ SELECT ops.requeue_escalation((SELECT id FROM ops.escalations WHERE dedupe_key = 'qqd-1')) $$,
    '%is pending, not dead%', 'the refusal names the state');
SELECT is((SELECT state || '/' || max_attempts FROM ops.escalations WHERE dedupe_key = 'qqd-1'), 'pending/10',
    'the refused requeue changed nothing');

-- SSOT sync never orphans history. A document without DB.DEADLOCK (errors reference it) is refused.
SELECT ops.record_error(source => 'github_actions', message => 'ERROR: deadlock detected');
CREATE TEMP TABLE doc AS
SELECT jsonb_set(d, '{failure_modes}',
                 (SELECT jsonb_agg(fm) FROM jsonb_array_elements(d -> 'failure_modes') fm WHERE fm ->> 'code' <> 'DB.DEADLOCK')) AS d
FROM (SELECT jsonb_build_object(
        'sources', (SELECT jsonb_agg(source ORDER BY position) FROM ops.sources),
        'destinations', (SELECT jsonb_agg(jsonb_build_object('name', name, 'kind', kind, 'config', config)) FROM ops.destinations),
        'failure_modes', (SELECT jsonb_agg(to_jsonb(f)) FROM ops.failure_modes f),
        'redaction_rules', (SELECT jsonb_agg(to_jsonb(r)) FROM ops.redaction_rules r),
        'files', '[]'::jsonb) AS d) x;
SELECT throws_like($$ SELECT ops.sync_ssot((SELECT d FROM doc)) $$,
    'ssot sync refused: it would delete failure mode DB.DEADLOCK (1 error groups, %',
    'a sync that would delete a code errors reference is refused, naming the code and its history');
SELECT throws_ok($$ SELECT ops.sync_ssot((SELECT d FROM doc)) $$, 'OPD03', NULL, 'with SQLSTATE OPD03');
SELECT is((SELECT count(*)::int FROM ops.failure_modes WHERE code = 'DB.DEADLOCK'), 1, 'the code is still in the taxonomy');
-- A source with recorded errors, and a destination with undelivered escalations, are kept the same way.
UPDATE doc SET d = jsonb_set(d, '{sources}', (SELECT jsonb_agg(s) FROM jsonb_array_elements(d -> 'sources') s
                                              WHERE s #>> '{}' <> 'github_actions'));
SELECT throws_like($$ SELECT ops.sync_ssot((SELECT d FROM doc)) $$, '%failure mode DB.DEADLOCK%',
    'codes are checked first');
UPDATE doc SET d = jsonb_set(d, '{failure_modes}', (SELECT jsonb_agg(to_jsonb(f)) FROM ops.failure_modes f));
SELECT throws_like($$ SELECT ops.sync_ssot((SELECT d FROM doc)) $$, '%source github_actions (1 error groups)%',
    'a sync that would delete a source errors reference is refused');

UPDATE doc SET d = jsonb_set(d, '{sources}', (SELECT jsonb_agg(source ORDER BY position) FROM ops.sources));
UPDATE doc SET d = jsonb_set(d, '{destinations}', (SELECT jsonb_agg(e) FROM jsonb_array_elements(d -> 'destinations') e
                                                   WHERE e ->> 'name' <> 'work_queue'));
SELECT throws_like($$ SELECT ops.sync_ssot((SELECT d FROM doc)) $$, '%destination work_queue (1 undelivered escalations)%',
    'a sync that would delete a destination with undelivered escalations is refused');

SELECT * FROM finish();
ROLLBACK;
