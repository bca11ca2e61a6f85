-- Triage of UNKNOWN (promote with an alias, refusals, the queue with suggested codes) and guardrails that
-- block a merge (a finding opens on escalation, closes on resolve, reopens on regression; the gate view).
BEGIN;
SELECT plan(55);

INSERT INTO ops.failure_modes (code, position, title, category, severity, retryable, runbook, remediate_kind,
                               escalate_after_count, escalate_within, escalate_destination, aliases)
VALUES ('TEST.TRI', 9201, 'triaged code', 'ops', 'high', false, 'docs/runbooks/failures/TEST.TRI.md', 'checklist', 100,
        NULL, 'work_queue', '{}'),
       ('TEST.GRD', 9202, 'guardrail code', 'ops', 'critical', false, 'docs/runbooks/failures/TEST.GRD.md', 'guardrail',
        1, NULL, 'work_queue', '{GR-1}'),
       ('TEST.CHK', 9203, 'checklist code escalating at 1', 'ops', 'high', false, 'docs/c.md', 'checklist', 1, NULL,
        'work_queue', '{}');
INSERT INTO ops.failure_mode_patterns (code, position, kind, pattern)
VALUES ('TEST.TRI', 1, 'substring', 'zzq tri'), ('TEST.GRD', 1, 'substring', 'zzq guard'),
       ('TEST.CHK', 1, 'substring', 'zzq check');

-- An UNKNOWN group of two events.
CREATE TEMP TABLE u AS SELECT * FROM ops.record_error(source => 'github_actions', message => 'zzq mystery failure in step 17');
SELECT ops.record_error(source => 'github_actions', message => 'zzq mystery failure in step 23');
SELECT results_eq($$ SELECT a.code, a.count FROM ops.agent_errors a JOIN u USING (fingerprint) $$,
    $$ VALUES ('UNKNOWN.GITHUB_ACTIONS', 2::bigint) $$, 'an unclassified message is an UNKNOWN group');

-- Refusals.
SELECT throws_ok($$ SELECT ops.promote_error((SELECT fingerprint FROM u), 'TEST.NOPE') $$, 'OP001',
    'unknown code "TEST.NOPE"', 'promoting to a code the taxonomy lacks is refused');
SELECT throws_ok($$ SELECT ops.promote_error((SELECT fingerprint FROM u), 'UNKNOWN.SUPABASE_FN') $$, 'OP001', NULL,
    'promoting to an UNKNOWN code is refused');
SELECT throws_ok($$ SELECT ops.promote_error((SELECT fingerprint FROM u), 'UNKNOWN.GITHUB_ACTIONS') $$, 'OP001', NULL,
    'promoting to the error''s own code is refused');
SELECT throws_ok($$ SELECT ops.promote_error('0000', 'TEST.TRI') $$, 'OP004', 'no error with fingerprint "0000"',
    'promoting an unknown fingerprint is not found');
SELECT is((SELECT count(*)::int FROM ops.error_aliases WHERE reason = 'promote'), 0, 'a refusal changes nothing');

-- The queue, with the nearest classified group's code suggested.
SELECT ops.record_error(source => 'github_actions', message => 'zzq tri mystery failure in step 5');
SELECT ok((SELECT fingerprint FROM ops.triage_queue('github_actions', 50, 3) WHERE fingerprint = (SELECT fingerprint FROM u)) IS NOT NULL,
    'the UNKNOWN group is in the triage queue');
SELECT is((SELECT suggested -> 0 ->> 'code' FROM ops.triage_queue('github_actions', 50, 3) WHERE fingerprint = (SELECT fingerprint FROM u)),
    'TEST.TRI', 'the suggestion is the code of the nearest classified group by trigram similarity');
SELECT ok((SELECT (suggested -> 0 ->> 'similarity')::numeric BETWEEN 0.1 AND 1 FROM ops.triage_queue(NULL, 50, 3)
           WHERE fingerprint = (SELECT fingerprint FROM u)), 'the suggestion carries its similarity (0.1..1)');
SELECT is((SELECT count(*)::int FROM ops.triage_queue('supabase_fn', 50, 3) WHERE fingerprint = (SELECT fingerprint FROM u)), 0,
    'the queue filters by source');
SELECT is((SELECT jsonb_array_length(suggested) FROM ops.triage_queue(NULL, 50, 0) WHERE fingerprint = (SELECT fingerprint FROM u)), 0,
    'suggestions => 0 suggests nothing');

-- A pattern tried before it is added: the classifier says what it would move, and nothing stays.
SELECT ops.record_error(source => 'github_actions', message => 'zzq check and zzq mystery both');
SELECT results_eq($$ SELECT code_before, code_after, steals FROM ops.pattern_conflicts('TEST.TRI', 'substring', 'ZZQ Mystery')
                     WHERE origin = 'group' ORDER BY steals DESC LIMIT 1 $$,
    $$ VALUES ('TEST.CHK', 'TEST.TRI', true) $$, 'a pattern that would move a message another code classifies steals it');
SELECT ok((SELECT bool_and(NOT steals) AND count(*) >= 1 FROM ops.pattern_conflicts('TEST.TRI', 'substring', 'mystery failure in step')),
    'a pattern that only classifies UNKNOWN messages steals nothing (and lists what it would classify)');
SELECT results_eq($$ SELECT origin, code_before, steals FROM ops.pattern_conflicts('TEST.TRI', 'regex', 'guard (tripped|armed)', NULL,
                         '[{"source": "github_actions", "phase": null, "message": "zzq guard armed"}]') $$,
    $$ VALUES ('message 1', 'TEST.GRD', true) $$, 'given messages (a corpus) are checked too, regexes as well');
SELECT is((SELECT count(*)::int FROM ops.failure_mode_patterns WHERE code = 'TEST.TRI'), 1, 'the trial pattern is rolled back');
SELECT throws_ok($$ SELECT * FROM ops.pattern_conflicts('UNKNOWN.GITHUB_ACTIONS', 'substring', 'x') $$, 'OP001', NULL,
    'a pattern for an UNKNOWN code is refused');

-- Promote, as the triage role.
GRANT SELECT ON u TO ops_triage;
SET LOCAL ROLE ops_triage;
CREATE TEMP TABLE p AS SELECT * FROM ops.promote_error((SELECT fingerprint FROM u), 'TEST.TRI');
RESET ROLE;
SELECT results_eq($$ SELECT old_code, new_code, count, events_moved FROM p $$,
    $$ VALUES ('UNKNOWN.GITHUB_ACTIONS', 'TEST.TRI', 2::bigint, 2::bigint) $$,
    'promote (as ops_triage) returns the old and new code, the count carried over and the events moved');
SELECT is((SELECT count(*)::int FROM ops.agent_errors WHERE fingerprint = (SELECT fingerprint FROM u)), 0,
    'the old group is gone from ops.agent_errors');
SELECT results_eq($$ SELECT code, count FROM ops.agent_errors WHERE fingerprint = (SELECT new_fingerprint FROM p) $$,
    $$ VALUES ('TEST.TRI', 2::bigint) $$, 'the new group has the new code and the old count');
SELECT results_eq($$ SELECT target_fingerprint, reason, from_code, target_code FROM ops.error_aliases
                     WHERE fingerprint = (SELECT fingerprint FROM u) $$,
    $$ SELECT new_fingerprint, 'promote', 'UNKNOWN.GITHUB_ACTIONS', 'TEST.TRI' FROM p $$,
    'the old group points to the new one (alias, reason promote, both codes)');
SELECT is((SELECT count(*)::int FROM ops.error_events WHERE fingerprint = (SELECT new_fingerprint FROM p) AND code = 'TEST.TRI'), 2,
    'the stored events moved to the new group and code');
SELECT is((SELECT count(*)::int FROM ops.unknown_triage WHERE fingerprint = (SELECT fingerprint FROM u)), 0,
    'the promoted error left the triage queue');

-- Late events of the old fingerprint land in the new group: the first one classified afresh (the alias
-- looked up after fingerprinting), the later ones from the classification cache (the alias joined to it).
DELETE FROM ops_private.classification_cache;
SELECT results_eq($$ SELECT fingerprint, code, count FROM ops.record_error(source => 'github_actions', message => 'zzq mystery failure in step 99') $$,
    $$ SELECT new_fingerprint, 'TEST.TRI', 3::bigint FROM p $$,
    'a late event of the promoted text counts in the new group, under the new code');
INSERT INTO ops.error_events (source, message) SELECT 'github_actions', 'zzq mystery failure in step ' || i FROM generate_series(1, 3) i;
SELECT is((SELECT count FROM ops.agent_errors WHERE fingerprint = (SELECT new_fingerprint FROM p)), 6::bigint,
    'a multi-row INSERT of late events adds every row to the new group');
SELECT is((SELECT count(*)::int FROM ops.agent_errors WHERE fingerprint = (SELECT fingerprint FROM u)), 0,
    'late events never recreate the old group');
SELECT results_eq($$ SELECT fingerprint, count, duplicate FROM ops.record_error(source => 'github_actions',
                         message => 'zzq mystery failure in step 1', event_key => 'triage-key-1') $$,
    $$ SELECT new_fingerprint, 7::bigint, false FROM p $$, 'a late event with an idempotency key lands in the new group');
SELECT results_eq($$ SELECT fingerprint, code, count, duplicate FROM ops.record_error(source => 'github_actions',
                         message => 'zzq mystery failure in step 1', event_key => 'triage-key-1') $$,
    $$ SELECT new_fingerprint, 'TEST.TRI', 7::bigint, true FROM p $$,
    'its replay answers with the new group and is not counted');
SELECT throws_ok($$ SELECT ops.promote_error((SELECT fingerprint FROM u), 'TEST.GRD') $$, 'OP004', NULL,
    'promoting an already promoted fingerprint is refused (the hint names where it went)');

-- A classified error needs force; the alias chain follows the group.
SELECT throws_ok($$ SELECT ops.promote_error((SELECT new_fingerprint FROM p), 'TEST.CHK') $$, 'OPD04', NULL,
    'promoting an error a pattern classified is refused without force');
CREATE TEMP TABLE p2 AS SELECT * FROM ops.promote_error((SELECT new_fingerprint FROM p), 'TEST.CHK', force => true);
SELECT is((SELECT count FROM p2), 7::bigint, 'with force it is re-coded, count carried over');
SELECT is((SELECT target_fingerprint FROM ops.error_aliases WHERE fingerprint = (SELECT fingerprint FROM u)),
    (SELECT new_fingerprint FROM p2), 'an alias to a group that moves again follows it');
SELECT is((SELECT code FROM ops.record_error(source => 'github_actions', message => 'zzq mystery failure in step 4')),
    'TEST.CHK', 'a late event of the first fingerprint lands in the latest group');

-- The alias is applied by the prepare trigger itself: no second row trigger.
SELECT is((SELECT array_agg(tgname::text ORDER BY tgname::text) FROM pg_trigger
           WHERE tgrelid = 'ops.error_events'::regclass AND NOT tgisinternal AND tgname::text LIKE 'tg_error_events__1%'),
    ARRAY['tg_error_events__10_prepare'], 'one BEFORE row trigger: prepare applies the alias itself');

-- Guardrails.
CREATE TEMP TABLE g AS SELECT * FROM ops.record_error(source => 'github_actions', message => 'zzq guard tripped',
    context => '{"repository": "acme/api", "branch": "main"}');
SELECT is((SELECT count(*)::int FROM ops.escalations WHERE code = 'TEST.GRD'), 1, 'the guardrail error escalates');
SELECT results_eq($$ SELECT kind, target, code, alias, severity, runbook FROM ops.gate_findings WHERE code = 'TEST.GRD' $$,
    $$ VALUES ('guardrail', 'acme/api@main', 'TEST.GRD', 'GR-1', 'critical', 'docs/runbooks/failures/TEST.GRD.md') $$,
    'the escalation opened a blocking finding for repository@branch, with its runbook');
SELECT is((SELECT scope FROM ops.convergence_findings WHERE fingerprint = (SELECT fingerprint FROM g)), 'guardrail|acme/api@main',
    'the finding''s scope is guardrail|<target>');
SELECT ops.record_error(source => 'github_actions', message => 'zzq check one', context => '{"target": "acme/api@main"}');
SELECT is((SELECT count(*)::int FROM ops.gate_findings WHERE code = 'TEST.CHK'), 0,
    'an escalation of a checklist code opens no finding');
SELECT ops.record_error(source => 'github_actions', message => 'zzq guard other', context => '{"target": "web"}');
SELECT ops.record_error(source => 'github_actions', message => 'zzq guard third', origin => 'deploy-host');
SELECT ops.record_error(source => 'github_actions', message => 'zzq guard fourth');
SELECT is((SELECT array_agg(target ORDER BY target) FROM ops.gate_findings WHERE code = 'TEST.GRD'),
    ARRAY['acme/api@main', 'deploy-host', 'source:github_actions', 'web'],
    'the target is context.target, else repository@branch, else origin, else source:<source>');

SELECT ops.record_error(source => 'stratt', message => 'zzq guard from unit ci', context => '{"target": "u"}');
SELECT is((SELECT count(*)::int FROM ops.convergence_findings WHERE scope = 'guardrail|u'), 0,
    'what stratt records opens no guardrail finding (unit CI keeps its own findings)');
SELECT ops.set_error_status((SELECT fingerprint FROM g), 'acknowledged');
SELECT is((SELECT count(*)::int FROM ops.gate_findings WHERE target = 'acme/api@main'), 1, 'acknowledging does not close it');
SELECT ops.set_error_status((SELECT fingerprint FROM g), 'resolved');
SELECT is((SELECT status FROM ops.convergence_findings WHERE fingerprint = (SELECT fingerprint FROM g)), 'resolved',
    'resolving the error closes its finding');
SELECT is((SELECT count(*)::int FROM ops.gate_findings WHERE target = 'acme/api@main'), 0, 'the gate is clear for that target');
SELECT is((SELECT count(*)::int FROM ops.gate_findings WHERE code = 'TEST.GRD'), 3, 'other targets still block');

SELECT ops.record_error(source => 'github_actions', message => 'zzq guard tripped', context => '{"repository": "acme/api", "branch": "main"}');
SELECT results_eq($$ SELECT status, reopen_count, occurrences FROM ops.convergence_findings WHERE fingerprint = (SELECT fingerprint FROM g) $$,
    $$ VALUES ('open', 1, 2) $$, 'a regression escalates and reopens the finding');
UPDATE ops.agent_errors SET count = count + 1 WHERE fingerprint = (SELECT fingerprint FROM g);
SELECT is((SELECT status FROM ops.convergence_findings WHERE fingerprint = (SELECT fingerprint FROM g)), 'open',
    'an update that does not resolve leaves the finding open');

-- A crossing a page budget holds back still blocks (oncall pages once per 10 minutes and code).
INSERT INTO ops.failure_modes (code, position, title, category, severity, retryable, runbook, remediate_kind,
                               escalate_after_count, escalate_within, escalate_destination)
VALUES ('TEST.GRD3', 9204, 'paged guardrail', 'ops', 'high', false, 'docs/g3.md', 'guardrail', 1, NULL, 'oncall');
INSERT INTO ops.failure_mode_patterns (code, position, kind, pattern) VALUES ('TEST.GRD3', 1, 'substring', 'zzq paged');
SELECT ops.record_error(source => 'github_actions', message => 'zzq paged one', context => '{"target": "t3"}');
SELECT ops.record_error(source => 'github_actions', message => 'zzq paged two', context => '{"target": "t3"}');
SELECT results_eq($$ SELECT (SELECT count(*)::int FROM ops.page_window_items WHERE code = 'TEST.GRD3'),
                            (SELECT count(*)::int FROM ops.gate_findings WHERE code = 'TEST.GRD3' AND target = 't3') $$,
    $$ VALUES (1, 2) $$, 'a guardrail crossing held back by a page budget opens its finding too');

-- Unit-CI findings keep their place in the gate.
INSERT INTO ops.convergence_findings (scope, fingerprint, code, alias, severity, message, first_run_id, last_run_id)
VALUES ('unit_ci|council/x|units', 'f1', 'UNIT.FINGERPRINT_TAMPER', 'FM-01', 'blocking', 'tampered', 1, 1),
       ('unit_ci|council/x|units', 'f2', 'UNIT.FINGERPRINT_TAMPER', 'FM-01', 'blocking', 'waived one', 1, 1);
UPDATE ops.convergence_findings SET status = 'waived' WHERE fingerprint = 'f2';
SELECT results_eq($$ SELECT kind, target, fingerprint FROM ops.gate_findings WHERE kind = 'unit_ci' $$,
    $$ VALUES ('unit_ci', 'unit_ci|council/x|units', 'f1') $$, 'open unit-CI findings block; waived ones do not');

-- A code with ci_behavior non_blocking is listed but does not block; a guardrail cannot be non_blocking_until_fixed.
INSERT INTO ops.failure_modes (code, position, title, category, severity, retryable, ci_behavior, runbook, remediate_kind,
                               escalate_after_count, escalate_within, escalate_destination)
VALUES ('TEST.GRD4', 9205, 'guardrail (non-blocking)', 'ops', 'low', false, 'non_blocking', 'docs/g4.md', 'guardrail', 1,
        NULL, 'work_queue');
INSERT INTO ops.failure_mode_patterns (code, position, kind, pattern) VALUES ('TEST.GRD4', 1, 'substring', 'zzq board');
SELECT ops.record_error(source => 'github_actions', message => 'zzq board move failed', context => '{"target": "t4"}');
SELECT results_eq($$ SELECT code, blocking FROM ops.gate_findings WHERE target = 't4' $$,
    $$ VALUES ('TEST.GRD4', false) $$, 'a non_blocking guardrail''s finding is listed, not blocking');
SELECT is((SELECT bool_and(blocking) FROM ops.gate_findings WHERE target <> 't4'), true,
    'the others block (blocking, no ci_behavior, unit CI)');
SELECT throws_ok($$ UPDATE ops.failure_modes SET ci_behavior = 'non_blocking_until_fixed' WHERE code = 'TEST.GRD4' $$,
    '23514', NULL, 'a guardrail code is never non_blocking_until_fixed');

-- Privileges.
SELECT ok(has_function_privilege('ops_triage', 'ops.promote_error(text, text, boolean)', 'EXECUTE'), 'ops_triage may promote');
SELECT ok(NOT has_function_privilege('ops_analyst', 'ops.promote_error(text, text, boolean)', 'EXECUTE'),
    'ops_analyst may not promote');
SELECT ok(NOT has_function_privilege('ops_ingest', 'ops.promote_error(text, text, boolean)', 'EXECUTE'),
    'ops_ingest may not promote');
SELECT ok(has_table_privilege('ops_analyst', 'ops.gate_findings', 'SELECT')
          AND has_function_privilege('ops_analyst', 'ops.triage_queue(text, integer, integer)', 'EXECUTE'),
    'ops_analyst reads the gate and the triage queue');

CREATE ROLE triage_login_15 LOGIN IN ROLE ops_triage;
SELECT ops.configure_login('triage_login_15'::regrole);
SELECT ok((SELECT 'statement_timeout=120s' = ANY (rolconfig) FROM pg_roles WHERE rolname = 'triage_login_15'),
    'a triage login gets the analyst''s limits from ops.configure_login (ops_triage is a member of ops_analyst)');

SELECT * FROM finish();
ROLLBACK;
