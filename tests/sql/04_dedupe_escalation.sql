-- Dedupe counts, escalation exactly once per crossing, regression, FixBot runs, bad input.
BEGIN;
SELECT plan(34);

INSERT INTO ops.failure_modes (code, position, title, category, severity, retryable, runbook, remediate_kind,
                               escalate_after_count, escalate_within, escalate_destination)
VALUES ('TEST.ESC', 9101, 'escalates at 3', 'ops', 'high', false, 'docs/x.md', 'checklist', 3, NULL, 'work_queue'),
       ('TEST.FIX', 9102, 'fixbot at 2', 'ops', 'high', false, 'docs/y.md', 'fixbot', 2, NULL, 'fixbot'),
       ('TEST.WIN', 9103, 'two within an hour', 'ops', 'high', true, 'docs/z.md', 'checklist', 2, '1 hour', 'oncall');
INSERT INTO ops.failure_mode_patterns (code, position, kind, pattern)
VALUES ('TEST.ESC', 1, 'substring', 'qqx-esc'), ('TEST.FIX', 1, 'substring', 'qqx-fix'), ('TEST.WIN', 1, 'substring', 'qqx-win');

-- Counting.
SELECT results_eq($$ SELECT code, count FROM ops.record_error(source => 'ops', message => 'qqx-esc after 10s') $$,
    $$ VALUES ('TEST.ESC', 1::bigint) $$, 'record_error returns the code and the new count');
SELECT results_eq($$ SELECT count FROM ops.record_error(source => 'ops', message => 'qqx-esc after 99s') $$,
    $$ VALUES (2::bigint) $$, 'a repeat with other volatile parts counts on the same fingerprint');
SELECT is((SELECT count(*)::int FROM ops.escalations WHERE code = 'TEST.ESC'), 0, 'no escalation below the threshold');
INSERT INTO ops.error_events (source, message) VALUES ('ops', 'qqx-esc after 1s');
SELECT is((SELECT count FROM ops.agent_errors WHERE code = 'TEST.ESC'), 3::bigint, 'a plain INSERT counts like record_error');
SELECT is((SELECT count(*)::int FROM ops.escalations WHERE code = 'TEST.ESC'), 1, 'crossing the threshold escalates once');
INSERT INTO ops.error_events (source, message) SELECT 'ops', 'qqx-esc after ' || i || 's' FROM generate_series(1, 10) i;
SELECT is((SELECT count FROM ops.agent_errors WHERE code = 'TEST.ESC'), 13::bigint, 'a multi-row insert adds every row');
SELECT is((SELECT count(*)::int FROM ops.escalations WHERE code = 'TEST.ESC'), 1, 'counts past the threshold do not escalate again');
SELECT is((SELECT count(*)::int FROM ops.agent_errors WHERE code = 'TEST.ESC'), 1, 'all of it is one row in ops.agent_errors');
SELECT is((SELECT payload ->> 'runbook' FROM ops.escalations WHERE code = 'TEST.ESC'), 'docs/x.md',
    'the escalation carries the runbook');
SELECT is((SELECT count_at FROM ops.escalations WHERE code = 'TEST.ESC'), 3::bigint, 'the escalation records the count at the crossing');

-- One statement that crosses the threshold on a fresh fingerprint.
INSERT INTO ops.error_events (source, phase, message) SELECT 'ops', 'bulk', 'qqx-esc' FROM generate_series(1, 5);
SELECT results_eq($$ SELECT count_at FROM ops.escalations e JOIN ops.agent_errors a USING (fingerprint) WHERE a.phase = 'bulk' $$,
    $$ VALUES (5::bigint) $$, 'a single statement that crosses the threshold escalates exactly once');

-- first_seen kept, last_seen advanced.
INSERT INTO ops.error_events (source, phase, message, received_at) VALUES ('ops', 'times', 'qqx-esc', now() - interval '2 hours');
INSERT INTO ops.error_events (source, phase, message, received_at) VALUES ('ops', 'times', 'qqx-esc', now() - interval '1 hour');
SELECT results_eq($$ SELECT first_seen_at, last_seen_at FROM ops.agent_errors WHERE phase = 'times' $$,
    $$ VALUES (now() - interval '2 hours', now() - interval '1 hour') $$, 'first_seen_at is kept and last_seen_at advances');

-- Regression.
SELECT lives_ok($$ SELECT ops.set_error_status(fingerprint, 'resolved', 'docs/resolutions/2026/11/x.md')
    FROM ops.agent_errors WHERE code = 'TEST.ESC' AND phase IS NULL $$, 'an error can be resolved');
INSERT INTO ops.error_events (source, message) VALUES ('ops', 'qqx-esc after 7s');
SELECT is((SELECT status FROM ops.agent_errors WHERE code = 'TEST.ESC' AND phase IS NULL), 'regressed',
    'a resolved error that recurs is regressed');
SELECT is((SELECT count(*)::int FROM ops.escalations WHERE code = 'TEST.ESC' AND reason = 'regression'), 1, 'a regression escalates');
INSERT INTO ops.error_events (source, message) VALUES ('ops', 'qqx-esc after 7s');
SELECT is((SELECT count(*)::int FROM ops.escalations WHERE code = 'TEST.ESC' AND reason = 'regression'), 1,
    'further occurrences of a regressed error do not escalate again');
SELECT ops.set_error_status(fingerprint, 'resolved') FROM ops.agent_errors WHERE code = 'TEST.ESC' AND phase IS NULL;
INSERT INTO ops.error_events (source, message) VALUES ('ops', 'qqx-esc after 8s');
SELECT is((SELECT count(*)::int FROM ops.escalations WHERE code = 'TEST.ESC' AND reason = 'regression'), 2,
    'a second regression escalates again');
SELECT throws_ok($$ SELECT ops.set_error_status('nope', 'resolved') $$, 'OP004', NULL, 'resolving an unknown fingerprint is an error');

-- FixBot.
SELECT ops.record_error(source => 'agent_runner', message => 'qqx-fix 1');
SELECT is((SELECT count(*)::int FROM ops.agent_runs WHERE code = 'TEST.FIX'), 0, 'no FixBot run below the threshold');
SELECT ops.record_error(source => 'agent_runner', message => 'qqx-fix 2');
SELECT is((SELECT count(*)::int FROM ops.agent_runs WHERE code = 'TEST.FIX' AND status = 'queued'), 1,
    'crossing the threshold of a fixbot code queues one agent run');
SELECT ok((SELECT policy_ref = 'ssot/agents/fixbot_policy.yaml' AND policy_sha256 ~ '^[0-9a-f]{64}$'
           FROM ops.agent_runs WHERE code = 'TEST.FIX'), 'the run references the policy file and its SHA-256');
SELECT ok((SELECT metadata ? 'variant_id' AND evidence ->> 'sample_message' LIKE 'qqx-fix%' AND escalation_id IS NOT NULL
           FROM ops.agent_runs WHERE code = 'TEST.FIX'), 'the run carries the variant, the evidence and its escalation');
SELECT throws_ok($$ INSERT INTO ops.agent_runs (fingerprint, code, policy_ref)
    SELECT fingerprint, code, 'p' FROM ops.agent_errors WHERE code = 'TEST.FIX' $$, '23505', NULL,
    'at most one active FixBot run per fingerprint');

-- Windows (explicit received_at: inside one transaction now() does not move).
INSERT INTO ops.error_events (source, message, received_at)
VALUES ('ops', 'qqx-win', now() - interval '3 hours'), ('ops', 'qqx-win', now() - interval '3 hours' + interval '1 minute');
SELECT is((SELECT count(*)::int FROM ops.escalations WHERE code = 'TEST.WIN' AND reason = 'window'), 1,
    'two events within the window escalate');
INSERT INTO ops.error_events (source, message, received_at) VALUES ('ops', 'qqx-win', now() - interval '3 hours' + interval '2 minutes');
SELECT is((SELECT count(*)::int FROM ops.escalations WHERE code = 'TEST.WIN'), 1, 'a third in the same window does not');
SELECT ops.record_error(source => 'ops', message => 'qqx-win');
SELECT is((SELECT window_count FROM ops.agent_errors WHERE code = 'TEST.WIN'), 1::bigint, 'an event after the window opens a new one');
SELECT ops.record_error(source => 'ops', message => 'qqx-win');
SELECT is((SELECT count(*)::int FROM ops.escalations WHERE code = 'TEST.WIN'), 2, 'crossing again in the new window escalates again');

-- Bad input: refused with the field named, or accepted deliberately.
SELECT throws_ok($$ SELECT ops.record_error(source => NULL, message => 'x') $$, 'OP001', 'source is required', 'a missing source is refused, naming the field');
SELECT throws_ok($$ SELECT ops.record_error(source => '  ', message => 'x') $$, 'OP001', 'source is required', 'an empty source is refused');
SELECT throws_ok($$ SELECT ops.record_error(source => 'ops', message => '') $$, 'OP001', 'message is required', 'an empty message is refused, naming the field');
SELECT throws_ok($$ INSERT INTO ops.error_events (source, message) VALUES ('mainframe', 'x') $$, 'OP002', 'unknown source "mainframe"',
    'an unknown source is refused');
SELECT ops.record_error(source => 'ops', phase => 'huge', message => repeat('abcdefghij', 4000) || ' password=hunter2');
SELECT ok((SELECT truncated AND message_length = 40017 AND length(message) < 32900 AND message LIKE '%characters truncated%'
                  AND message NOT LIKE '%hunter2%' AND message LIKE '%[REDACTED]'
           FROM ops.error_events WHERE phase = 'huge'), 'a long message keeps head and tail around a marker, redacted');
SELECT ops.record_error(source => 'ops', phase => 'ctx', message => 'm', context => '[1, 2]');
SELECT is((SELECT context FROM ops.error_events WHERE phase = 'ctx'), '{"value": [1, 2]}'::jsonb, 'a context that is not an object is wrapped');
SELECT throws_ok($$ UPDATE ops.error_events SET message = 'x' $$, 'OP003', NULL, 'events are append-only');

SELECT * FROM finish();
ROLLBACK;
