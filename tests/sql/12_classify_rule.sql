-- The classification rule (issue 9): canonical form, per-pattern specificity, wrappers, and
-- ops.classify_candidates as the one ranking that ops.classify_error answers from.
BEGIN;
SELECT plan(29);

-- canonical form
SELECT is(ops.canonical_text('UNAUTHORIZED_INVALID_JWT_FORMAT'), 'unauthorized invalid jwt format',
    'case folded and "_" runs become one space');
SELECT is(ops.canonical_text(E'CPU-Time  hard\tlimit'), 'cpu time hard limit', '"-", blanks and tabs fold to one space');
SELECT is(ops.canonical_text('ＥＲＲＯＲ ５２９'), 'error 529', 'NFKC folds full-width letters and digits');
SELECT is(ops.canonical_text('Оvеrlоаdеd'), 'overloaded', 'Cyrillic look-alikes fold to Latin');
SELECT is(ops.canonical_text(E'a\r\nb\rc'), E'a\nb\nc', 'line breaks are kept, as \n');

-- specificity: literal text every match must contain
SELECT is(ops_private.regex_literal_length('cpu time.{0,20}(limit|exceeded|reached)'), 13,
    'a regex counts its literals and the shortest alternative');
SELECT is(ops_private.regex_literal_length('(^|[^a-z])fm 01(x)?'), 5, 'bracket expressions and optional groups count nothing');
SELECT is(ops_private.regex_literal_length('^exit status \d+$'), 14, 'class escapes count nothing, anchors one each');
SELECT is(ops_private.regex_literal_length('dead letter(?! exchange)'), 11,
    'a negative lookahead counts nothing: its text is what a match must not contain');
SELECT is(ops_private.regex_literal_length('a(?=b(c|d)e)(x|yz)'), 2, 'a positive lookahead, nested groups and all, counts nothing');
SELECT is(ops_private.regex_literal_length('(?<!lock: )(?<=[a-z] \()timeout'), 7,
    'a lookbehind, negative or positive, counts nothing: its text comes before the match');

-- Test-owned codes; the marker words appear nowhere in the taxonomy.
INSERT INTO ops.failure_modes (code, position, title, category, severity, retryable, runbook, remediate_kind,
                               escalate_after_count, escalate_destination, sources)
VALUES ('TEST.FAMILY', 9101, 'family', 'ops', 'low', false, 'x', 'checklist', 100, 'work_queue',
        '{supabase_fn,github_actions,vercel,odoo,dns,terraform}'),
       ('TEST.SCOPED', 9102, 'scoped', 'ops', 'low', false, 'x', 'checklist', 100, 'work_queue', '{terraform}'),
       ('TEST.ELSEWHERE', 9103, 'elsewhere', 'ops', 'low', false, 'x', 'checklist', 100, 'work_queue', '{odoo,vercel}'),
       ('TEST.LONG', 9104, 'long', 'ops', 'low', false, 'x', 'checklist', 100, 'work_queue', '{terraform}'),
       ('TEST.WRAPPED', 9105, 'wrapped', 'ops', 'low', false, 'x', 'checklist', 100, 'work_queue', '{github_actions}');
INSERT INTO ops.failure_mode_patterns (code, position, kind, pattern, priority)
VALUES ('TEST.FAMILY', 1, 'substring', 'qzx_deadline', 50),
       ('TEST.SCOPED', 1, 'substring', 'QZX-PROVIDER', 0),
       ('TEST.ELSEWHERE', 1, 'substring', 'qzx provider qzx deadline', 0),
       ('TEST.LONG', 1, 'substring', 'qzx provider packages', 0),
       ('TEST.WRAPPED', 1, 'regex', 'exit code 1([^0-9]|$)', 0),
       ('TEST.FAMILY', 2, 'substring', 'qzx cause line', 0);

SELECT is((SELECT specificity FROM ops.failure_mode_patterns WHERE code = 'TEST.LONG'), 21,
    'a substring''s specificity is its canonical length (set by a trigger when the pattern is stored)');
SELECT is((SELECT pattern_canonical FROM ops.failure_mode_patterns WHERE code = 'TEST.SCOPED'), 'qzx provider',
    'substring patterns are stored in canonical form too');

SELECT is((SELECT code FROM ops.classify_error('terraform', 'init', 'Failed: qzx provider: QZX_DEADLINE exceeded')),
    'TEST.SCOPED', 'scope: the source''s own code beats a cross-source family, whatever the family''s priority');
SELECT is((SELECT decided_by FROM ops.classify_candidates('terraform', 'init', 'Failed: qzx provider: QZX_DEADLINE exceeded')
           WHERE code = 'TEST.FAMILY'), '4 scope: the winner''s code is scoped to the source, this one is a cross-source family',
    'the candidate listing names the rule step that decided');
SELECT is((SELECT code FROM ops.classify_error('terraform', NULL, 'qzx provider packages: qzx deadline')),
    'TEST.LONG', 'specificity: between two scoped codes the longer literal pattern wins');
SELECT is((SELECT code FROM ops.classify_error('dns', NULL, 'qzx provider qzx deadline')),
    'TEST.FAMILY', 'source: a code that lists the source beats a longer pattern of a code that does not');
SELECT is((SELECT decided_by FROM ops.classify_candidates('dns', NULL, 'qzx provider qzx deadline') WHERE code = 'TEST.ELSEWHERE'),
    '1 source: the winner''s code lists the event''s source, this code does not', 'the source step is named');
SELECT is((SELECT code FROM ops.classify_error('agent_runner', NULL, 'qzx provider qzx deadline')), 'TEST.ELSEWHERE',
    'a code listing two other sources is still a candidate when nothing lists the event''s source');
SELECT is((SELECT code FROM ops.classify_error('agent_runner', NULL, 'only qzx provider packages here')), 'UNKNOWN.AGENT_RUNNER',
    'a code that names one other source is no candidate: its fact is that source''s (TEST.SCOPED and TEST.LONG name terraform)');

-- Wrappers (the synced SSOT's `wrappers:`): a match found only on a wrapper line loses to the cause.
SELECT is((SELECT code FROM ops.classify_error('github_actions', 'build',
           E'qzx cause line here\n##[error]Process completed with exit code 1.')),
    'TEST.FAMILY', 'cause: the root-cause line beats a wrapper line, though the wrapper match is scoped');
SELECT results_eq($$ SELECT code, on_cause, line_number FROM ops.classify_candidates('github_actions', 'build',
                     E'qzx cause line here\n##[error]Process completed with exit code 1.') ORDER BY rank $$,
    $$ VALUES ('TEST.FAMILY', true, 1), ('TEST.WRAPPED', false, 2) $$,
    'candidates carry the line they matched on and whether it is a cause line');
SELECT is((SELECT code FROM ops.classify_error('github_actions', 'build', 'Process completed with exit code 1.')),
    'TEST.WRAPPED', 'a wrapper match still classifies when nothing else matched');
SELECT is((SELECT code FROM ops.classify_error('github_actions', NULL, 'supabase db push failed: qzx cause line')),
    'TEST.FAMILY', 'a wrapper prefix covers only itself: the cause after it on the same line counts');

-- classify_error is rank 1 of classify_candidates, for every synthetic-looking message below.
SELECT is((SELECT count(*)::int FROM (VALUES
              ('github_actions', 'build', E'The runner has received a shutdown signal.\nProcess completed with exit code 137.'),
              ('terraform', 'init', 'Failed to query available provider packages: context deadline exceeded'),
              ('odoo', 'rpc', 'xmlrpc.client.Fault: <Fault AccessDenied: ''Access denied''>'),
              ('agent_runner', NULL, 'API Error: 529 Overloaded.'),
              ('supabase_fn', NULL, 'UNAUTHORIZED_INVALID_JWT_FORMAT')) AS e (source, phase, message)
           WHERE (SELECT code FROM ops.classify_error(e.source, e.phase, e.message))
                 IS DISTINCT FROM (SELECT code FROM ops.classify_candidates(e.source, e.phase, e.message) WHERE rank = 1)),
    0, 'classify_error answers with the rank-1 candidate');
SELECT results_eq($$ SELECT (SELECT code FROM ops.classify_error(s, p, m)) FROM (VALUES
              ('github_actions', 'build', E'The runner has received a shutdown signal.\nProcess completed with exit code 137.'),
              ('terraform', 'init', 'Failed to query available provider packages: context deadline exceeded'),
              ('odoo', 'rpc', 'xmlrpc.client.Fault: <Fault AccessDenied: ''Access denied''>'),
              ('agent_runner', NULL, 'API Error: 529 Overloaded.'),
              ('supabase_fn', NULL, 'UNAUTHORIZED_INVALID_JWT_FORMAT')) AS e (s, p, m) $$,
    $$ VALUES ('CI.RUNNER_LOST'), ('TF.PROVIDER_INIT_FAILED'), ('ODOO.ACCESS_ERROR'), ('AGENT.MODEL_OVERLOADED'),
              ('AUTH.INVALID_JWT') $$,
    'the issue''s examples: runner shutdown over exit 137, the source''s own code over generic families, spelling variants');

-- The input is capped: first and last 16 KiB.
SELECT is((SELECT code FROM ops.classify_error('github_actions', NULL,
           repeat('x', 100000) || ' qzx cause line ' || repeat('y', 100000))),
    'UNKNOWN.GITHUB_ACTIONS', 'text in the middle of a long message is not read');
SELECT is((SELECT code FROM ops.classify_error('github_actions', NULL, repeat('x ', 5000000) || 'qzx cause line')),
    'TEST.FAMILY', 'the last 16 KiB of a 10 MB message are read');
SELECT is((SELECT count(*)::int FROM ops.classify_candidates('github_actions', NULL, 'nothing at all matches qzq')), 0,
    'no candidates when nothing matches (classify_error then answers UNKNOWN.<SOURCE>)');

SELECT * FROM finish();
ROLLBACK;
