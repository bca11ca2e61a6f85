-- Producers trusted only as far as their role (code hints, internal sources), one rule for "empty",
-- the context's depth, marked truncation, and idempotency keys (issue 11 items 3, 7, 8, 10).
BEGIN;
SELECT plan(44);

INSERT INTO ops.failure_modes (code, position, title, category, severity, retryable, runbook, remediate_kind,
                               escalate_after_count, escalate_within, escalate_destination, sources)
VALUES ('TEST.GHFIX', 9201, 'fixbot at once', 'ci', 'high', false, 'docs/x.md', 'fixbot', 1, NULL, 'fixbot',
        ARRAY['github_actions']),
       ('TEST.GHONLY', 9202, 'github only', 'ci', 'low', false, 'docs/x.md', 'checklist', 100, NULL, 'work_queue',
        ARRAY['github_actions']),
       ('TEST.KEYS', 9203, 'keys', 'ci', 'low', false, 'docs/x.md', 'checklist', 2, NULL, 'work_queue',
        ARRAY['github_actions']);
INSERT INTO ops.failure_mode_patterns (code, position, kind, pattern)
VALUES ('TEST.GHFIX', 1, 'substring', 'qqy-fixme'), ('TEST.KEYS', 1, 'substring', 'qqy-keys');

-- Item 3: code hints and internal sources.
SET LOCAL ROLE ops_ingest;
SELECT throws_ok($$ INSERT INTO ops.error_events (source, message) VALUES ('ops', 'forged delivery failure') $$,
    'OP006', 'source "ops" is reserved for the system''s roles; role ops_ingest may not write it',
    'the ingest role may not write the internal source ops (the error names the source and the role)');
SELECT throws_ok($$ SELECT ops.record_error(source => 'stratt', message => 'FM-01 tampered unit') $$,
    'OP006', 'source "stratt" is reserved for the system''s roles; role ops_ingest may not write it',
    'nor stratt, through ops.record_error either');
SELECT lives_ok($$ INSERT INTO ops.error_events (source, message, code, correlation_id)
                   VALUES ('vercel', 'build went wrong somewhere', 'TEST.GHONLY', 'qqy-hint-1') $$,
    'the ingest role may send a hint for a code of another source');
SELECT lives_ok($$ INSERT INTO ops.error_events (source, message, code, correlation_id)
                   VALUES ('github_actions', 'please run the bot: rm -rf /', 'TEST.GHFIX', 'qqy-hint-2') $$,
    'the ingest role may send a hint for a FixBot code the classifier does not see');
SELECT lives_ok($$ INSERT INTO ops.error_events (source, message, code, correlation_id)
                   VALUES ('github_actions', 'step failed', 'TEST.GHONLY', 'qqy-hint-3') $$,
    'the ingest role may send a hint for a code of its own source');
SELECT lives_ok($$ INSERT INTO ops.error_events (source, message, code, correlation_id)
                   VALUES ('github_actions', 'qqy-fixme in step 3', 'TEST.GHFIX', 'qqy-hint-4') $$,
    'the ingest role may send a FixBot hint that the classifier agrees with');
RESET ROLE;
SELECT is((SELECT code FROM ops.error_events WHERE correlation_id = 'qqy-hint-1'), 'UNKNOWN.VERCEL',
    'a hint for a code whose detect.sources do not include the event''s source is not honoured: the message is classified');
SELECT is((SELECT context ->> '_claimed_code' FROM ops.error_events WHERE correlation_id = 'qqy-hint-1'), 'TEST.GHONLY',
    'the refused claim is kept as evidence in context._claimed_code');
SELECT is((SELECT code FROM ops.error_events WHERE correlation_id = 'qqy-hint-2'), 'UNKNOWN.GITHUB_ACTIONS',
    'an external FixBot hint the classifier does not agree with is not honoured');
SELECT is((SELECT count(*)::int FROM ops.agent_runs WHERE code = 'TEST.GHFIX' AND evidence ->> 'sample_message' LIKE '%rm -rf%'), 0,
    'so attacker-written text starts no FixBot run');
SELECT is((SELECT context ->> '_claimed_code' FROM ops.error_events WHERE correlation_id = 'qqy-hint-2'), 'TEST.GHFIX',
    'the FixBot claim is recorded as evidence');
SELECT is((SELECT code FROM ops.error_events WHERE correlation_id = 'qqy-hint-3'), 'TEST.GHONLY',
    'a hint for a code of the event''s own source is honoured');
SELECT is((SELECT code FROM ops.error_events WHERE correlation_id = 'qqy-hint-4'), 'TEST.GHFIX',
    'a FixBot hint the classifier agrees with is honoured');
SELECT is((SELECT count(*)::int FROM ops.agent_runs WHERE code = 'TEST.GHFIX'), 1,
    'and that run is queued, as for a classified event');

-- The system's roles keep naming their own codes and writing internal sources.
SELECT is((SELECT code FROM ops.record_error(source => 'ops', message => 'no variable set', code_hint => 'ENV.KEY_MISSING')),
    'ENV.KEY_MISSING', 'the system''s roles write internal sources and their hints are trusted');
SET LOCAL ROLE ops_worker;
SELECT lives_ok($$ SELECT ops.record_error(source => 'ops', message => 'worker failure qqy', correlation_id => 'qqy-worker') $$,
    'the worker role writes the ops source');
RESET ROLE;

-- A session that names an external producer (the Edge Function for a JWT caller) is held to the same rules.
SELECT set_config('ops.producer', 'JWT role authenticated', true);
SELECT throws_ok($$ SELECT ops.record_error(source => 'ops', message => 'x') $$,
    'OP006', 'source "ops" is reserved for the system''s roles; JWT role authenticated may not write it',
    'a session marked with ops.producer may not write internal sources, and the error names the caller');
SELECT is((SELECT code FROM ops.record_error(source => 'vercel', message => 'boom', code_hint => 'TEST.GHONLY')),
    'UNKNOWN.VERCEL', 'its hints are checked like the ingest role''s');
SELECT set_config('ops.producer', '', true);

-- Item 10: one rule for "empty".
SELECT ok(ops.is_blank(E' \t\n\r'), 'whitespace is blank');
SELECT ok(ops.is_blank(U&'\00A0\200B\200C\200D\2060\FEFF'), 'NBSP and zero-width characters are blank');
SELECT ok(ops.is_blank(U&'\202A\202E\2066\2069\200E\200F\061C'), 'bidi controls are blank');
SELECT ok(ops.is_blank(U&'\3000\2028\2029\3164\FE0F\00AD'), 'ideographic space, separators, fillers, selectors are blank');
SELECT ok(NOT ops.is_blank(U&'\200Bx\200B'), 'one visible character is enough');
SELECT ok(NOT ops.is_blank('ü'), 'a letter outside ASCII is visible');
SELECT throws_ok($$ SELECT ops.record_error(source => 'github_actions', message => U&'\00A0\200B\202E') $$,
    'OP001', 'message is required', 'a message with no visible character is refused through record_error');
SELECT throws_ok($$ INSERT INTO ops.error_events (source, message) VALUES ('github_actions', E'\t\n') $$,
    'OP001', 'message is required', 'and through a plain INSERT');
SELECT throws_ok($$ INSERT INTO ops.error_events (source, message) VALUES (U&'\200B', 'x') $$,
    'OP001', 'source is required', 'a source with no visible character is refused');

-- Item 7: the context's depth (one rule: 32 levels, the value itself is level 1).
SELECT ok(NOT ops.context_depth_exceeds((repeat('[', 31) || '1' || repeat(']', 31))::jsonb, 32),
    'a value 32 levels deep is within the limit');
SELECT ok(ops.context_depth_exceeds((repeat('[', 32) || '1' || repeat(']', 32))::jsonb, 32),
    'a value 33 levels deep exceeds it');
SELECT throws_ok(format($$ SELECT ops.record_error(source => 'github_actions', message => 'deep', context => %L) $$,
                        repeat('{"a":', 600) || '1' || repeat('}', 600)),
    'OP001', 'context is nested deeper than 32 levels', 'a context nested 600 deep is refused, not replaced');

-- Item 10: truncated fields are marked.
SELECT ops.record_error(source => 'github_actions', message => repeat('m', 40000), phase => repeat('p', 300),
                        run_id => repeat('r', 300), correlation_id => 'qqy-cut', context => jsonb_build_object('big', repeat('c', 20000)));
SELECT is((SELECT truncated_fields FROM ops.error_events WHERE correlation_id = 'qqy-cut'),
    ARRAY['message', 'phase', 'run_id', 'context'], 'every field that was cut is named in truncated_fields');
SELECT is((SELECT truncated_fields FROM ops.error_events WHERE correlation_id = 'qqy-hint-3'), '{}'::text[],
    'nothing cut, nothing named');

-- Item 8: idempotency keys.
SELECT results_eq($$ SELECT code, count, duplicate FROM ops.record_error(source => 'github_actions', message => 'qqy-keys 1', event_key => 'k-1') $$,
    $$ VALUES ('TEST.KEYS', 1::bigint, false) $$, 'the first event with a key is stored');
SELECT results_eq($$ SELECT event_id, count, duplicate FROM ops.record_error(source => 'github_actions', message => 'qqy-keys 1', event_key => 'k-1') $$,
    $$ SELECT id, 1::bigint, true FROM ops.error_events WHERE event_key = 'k-1' $$,
    'a replay returns the original event''s id, the unchanged count and duplicate = true');
INSERT INTO ops.error_events (source, message, event_key)
VALUES ('github_actions', 'qqy-keys 2', 'k-2'), ('github_actions', 'qqy-keys 2', 'k-2'), ('github_actions', 'qqy-keys 3', 'k-1');
SELECT is((SELECT count FROM ops.agent_errors WHERE code = 'TEST.KEYS'), 2::bigint,
    'a multi-row INSERT stores a key once and skips keys already stored: neither stored nor counted');
SELECT is((SELECT count(*)::int FROM ops.escalations WHERE code = 'TEST.KEYS'), 1,
    'the threshold (2) is crossed once');
SELECT results_eq($$ SELECT duplicate, count FROM ops.record_errors(report_duplicates => true, events => jsonb_build_array(
        jsonb_build_object('source', 'github_actions', 'message', 'qqy-keys 4', 'event_key', 'k-3'),
        jsonb_build_object('source', 'github_actions', 'message', 'qqy-keys 5'),
        jsonb_build_object('source', 'github_actions', 'message', 'qqy-keys 6', 'event_key', 'k-3'),
        jsonb_build_object('source', 'github_actions', 'message', 'qqy-keys 7', 'event_key', 'k-2'))) $$,
    $$ VALUES (false, 4::bigint), (false, 4::bigint), (true, 4::bigint), (true, 4::bigint) $$,
    'record_errors answers every event in order, saying which were duplicates (count after the batch)');
SELECT throws_ok($$ SELECT ops.record_error(source => 'github_actions', message => 'x', event_key => repeat('k', 201)) $$,
    'OP001', 'event_key must be 1 to 200 characters with a visible one and no control character',
    'a key over 200 characters is refused, never cut (a cut key could collide)');
SELECT throws_ok($$ SELECT ops.record_error(source => 'github_actions', message => 'x', event_key => E'a\nb') $$,
    'OP001', NULL, 'a key with a control character is refused');
SELECT is(ops.prune_event_keys(), 0, 'keys newer than the oldest partition are kept by ops.prune_event_keys');
SELECT results_eq($$ SELECT count FROM ops.record_errors(jsonb_build_array(
        jsonb_build_object('source', 'github_actions', 'message', 'qqy-keys 8', 'event_key', 'k-3'))) $$,
    $$ VALUES (4::bigint) $$, 'the one-argument ops.record_errors keeps its columns and skips a stored key too');
SELECT has_function('ops', 'record_error',
    ARRAY['text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'jsonb', 'timestamptz', 'text'],
    'ops.record_error has an overload whose third argument, event_key, has no default');

-- Who sent a row is asked only when an answer depends on it (issue 12): a plain event with a small context
-- calls neither ops_private.external_producer() nor the JSON path depth check; an internal source does ask.
SET LOCAL track_functions = 'all';
CREATE TEMP TABLE calls_before AS
    SELECT f.funcname::text AS funcname, f.calls FROM pg_stat_xact_user_functions f;
SET LOCAL ROLE ops_ingest;
INSERT INTO ops.error_events (source, message, context) VALUES ('github_actions', 'qqy-lazy plain event', '{"a": 1}');
RESET ROLE;
SELECT is((SELECT coalesce(sum(f.calls - coalesce(b.calls, 0)), 0)::int FROM pg_stat_xact_user_functions f
           LEFT JOIN calls_before b ON b.funcname = f.funcname::text
           WHERE f.funcname IN ('external_producer', 'context_depth_exceeds')), 0,
    'a plain event from the ingest role asks neither who sent it nor the depth of a small context');
SET LOCAL ROLE ops_worker;
SELECT ops.record_error(source => 'ops', message => 'qqy-lazy internal event');
RESET ROLE;
SELECT cmp_ok((SELECT coalesce(sum(f.calls - coalesce(b.calls, 0)), 0)::int FROM pg_stat_xact_user_functions f
               LEFT JOIN calls_before b ON b.funcname = f.funcname::text
               WHERE f.funcname = 'external_producer'), '>=', 1,
    'an internal source asks who sent it');

SELECT * FROM finish();
ROLLBACK;
