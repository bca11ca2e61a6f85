-- Classification: exactly one row, deterministic precedence, UNKNOWN fallback.
BEGIN;
SELECT plan(17);

-- Test-owned failure modes (positions after the real taxonomy); the marker text appears nowhere else.
INSERT INTO ops.failure_modes (code, position, title, category, severity, retryable, runbook, remediate_kind,
                               escalate_after_count, escalate_destination, phases)
VALUES ('TEST.GENERIC_A', 9001, 'generic a', 'ops', 'low', false, 'x', 'checklist', 100, 'work_queue', NULL),
       ('TEST.GENERIC_B', 9002, 'generic b', 'ops', 'low', false, 'x', 'checklist', 100, 'work_queue', NULL),
       ('TEST.PRIORITY', 9003, 'priority', 'ops', 'low', false, 'x', 'checklist', 100, 'work_queue', NULL),
       ('TEST.SOURCED', 9004, 'sourced', 'ops', 'low', false, 'x', 'checklist', 100, 'work_queue', NULL),
       ('TEST.PHASED', 9005, 'phased', 'ops', 'low', false, 'x', 'checklist', 100, 'work_queue', '{deploy}'),
       ('TEST.BOTH', 9006, 'both', 'ops', 'low', false, 'x', 'checklist', 100, 'work_queue', NULL),
       ('TEST.REGEX', 9007, 'regex', 'ops', 'low', false, 'x', 'checklist', 100, 'work_queue', NULL);
INSERT INTO ops.failure_mode_patterns (code, position, kind, pattern, sources, phases, priority)
VALUES ('TEST.GENERIC_A', 1, 'substring', 'zzq boom', NULL, NULL, 0),
       ('TEST.GENERIC_B', 1, 'substring', 'zzq boom', NULL, NULL, 0),
       ('TEST.PRIORITY', 1, 'substring', 'zzq boom', NULL, NULL, 5),
       ('TEST.SOURCED', 1, 'substring', 'zzq boom', '{vercel}', NULL, 0),
       ('TEST.PHASED', 1, 'substring', 'zzq boom', NULL, NULL, 0),
       ('TEST.BOTH', 1, 'substring', 'zzq boom', '{vercel}', '{deploy}', 0),
       ('TEST.REGEX', 1, 'regex', 'zzq [0-9]+ kaboom(s)?$', NULL, NULL, 0),
       ('TEST.GENERIC_A', 2, 'substring', 'zzq tie', NULL, NULL, 0),
       ('TEST.GENERIC_B', 2, 'substring', 'zzq tie', NULL, NULL, 0);

SELECT is((SELECT count(*)::int FROM ops.classify_error('github_actions', NULL, 'ZZQ BOOM here')), 1,
    'classification returns exactly one row even when seven patterns match');
SELECT is((SELECT code FROM ops.classify_error('github_actions', NULL, 'ZZQ BOOM here')), 'TEST.PRIORITY',
    'among unrestricted patterns the higher priority wins, and substrings match case-insensitively');
SELECT is((SELECT code FROM ops.classify_error('vercel', NULL, 'zzq boom')), 'TEST.SOURCED',
    'a source-restricted pattern beats any unrestricted one, whatever its priority');
SELECT is((SELECT code FROM ops.classify_error('github_actions', 'deploy', 'zzq boom')), 'TEST.PHASED',
    'a phase-restricted code (detect.phases) beats unrestricted patterns');
SELECT is((SELECT code FROM ops.classify_error('vercel', 'deploy', 'zzq boom')), 'TEST.BOTH',
    'a pattern restricted by both source and phase beats one restricted by either');
SELECT is((SELECT code FROM ops.classify_error('github_actions', NULL, 'zzq tie')), 'TEST.GENERIC_A',
    'with equal restriction and priority the earlier code in YAML order wins');
SELECT is((SELECT code FROM ops.classify_error('ops', NULL, 'ZZQ 42 KABOOM')), 'TEST.REGEX',
    'regexes match case-insensitively');
SELECT is((SELECT matched_pattern FROM ops.classify_error('ops', NULL, 'zzq 7 kaboom')), 'zzq [0-9]+ kaboom(s)?$',
    'the matched pattern is returned as written');
SELECT is((SELECT confidence FROM ops.classify_error('ops', NULL, 'zzq 7 kaboom')), 0.9::real,
    'a lone regex match has confidence 0.9');
SELECT is((SELECT confidence FROM ops.classify_error('github_actions', NULL, 'zzq boom')), 0.7::real,
    'a substring match that other codes also matched has confidence 0.8 - 0.1');
SELECT is((SELECT confidence FROM ops.classify_error('vercel', 'deploy', 'zzq boom')), 0.8::real,
    'each matched restriction adds 0.05 (0.8 + 0.1 - 0.1 for ambiguity)');
SELECT results_eq($$ SELECT code, confidence, matched_pattern FROM ops.classify_error('agent_runner', 'plan', 'nothing matches zzq-unique-text') $$,
    $$ VALUES ('UNKNOWN.AGENT_RUNNER', 0::real, NULL::text) $$,
    'no match gives UNKNOWN.<SOURCE> with confidence 0 and no pattern');
SELECT ok(EXISTS (SELECT FROM ops.failure_modes WHERE code = 'UNKNOWN.AGENT_RUNNER'),
    'the UNKNOWN fallback is a registered taxonomy code');
SELECT is((SELECT code FROM ops.classify_error('github_actions', NULL, 'zzq (.* [ boom \ ^$')), 'UNKNOWN.GITHUB_ACTIONS',
    'regex metacharacters in a message are plain text to the matcher');

-- The real taxonomy's documented precedence cases.
SELECT is((SELECT code FROM ops.classify_error('github_actions', 'project-automation', 'HTTP 403: Resource not accessible by integration')),
    'CI.AUTOMATION.PROJECT_BOARD_FAILED', 'a 403 in phase project-automation is the project-board failure');
SELECT is((SELECT code FROM ops.classify_error('github_actions', 'deploy', 'HTTP 403: Resource not accessible by integration')),
    'AUTH.GITHUB.PERMISSION_DENIED', 'the same 403 in another phase is a GitHub permission failure');
SELECT is((SELECT code FROM ops.classify_error('stratt', 'ci', 'FM-04 ✗ blocking — Pathfinder protected agent BECK-02 missing.')),
    'UNIT.PROTECTED_AGENT_MISSING', 'a unit-CI log line classifies to its FM code');

SELECT * FROM finish();
ROLLBACK;
