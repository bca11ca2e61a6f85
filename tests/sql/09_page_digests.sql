-- Page budgets: a digest per destination (and code), enforced at escalation time; exactly one page or
-- one digest line per crossing.
BEGIN;
SELECT plan(39);

-- A host name with no digits (digits are normalized away, letters are kept): one fingerprint per host.
CREATE FUNCTION pg_temp.host(i integer) RETURNS text LANGUAGE sql IMMUTABLE
RETURN 'svc-' || translate(lpad(i::text, 4, '0'), '0123456789', 'abcdefghij') || '.example.com';

INSERT INTO ops.failure_modes (code, position, title, category, severity, retryable, runbook, remediate_kind,
                               escalate_after_count, escalate_within, escalate_destination)
VALUES ('TEST.PAGE_A', 9201, 'page a', 'ops', 'high', false, 'docs/a.md', 'checklist', 1, NULL, 'oncall'),
       ('TEST.PAGE_B', 9202, 'page b', 'ops', 'high', false, 'docs/b.md', 'checklist', 1, NULL, 'oncall'),
       ('TEST.PAGE_FIX', 9203, 'fixbot', 'ops', 'high', false, 'docs/f.md', 'fixbot', 1, NULL, 'oncall'),
       ('TEST.PAGE_HOOK', 9204, 'no digest', 'ops', 'high', false, 'docs/h.md', 'checklist', 1, NULL, 'ops_webhook');
INSERT INTO ops.failure_mode_patterns (code, position, kind, pattern)
VALUES ('TEST.PAGE_A', 1, 'substring', 'qqp-a'), ('TEST.PAGE_B', 1, 'substring', 'qqp-b'),
       ('TEST.PAGE_FIX', 1, 'substring', 'qqp-fix'), ('TEST.PAGE_HOOK', 1, 'substring', 'qqp-hook');

-- The settings.
SELECT is(ops_private.duration_interval('10m'), interval '10 minutes', 'a duration in minutes');
SELECT is(ops_private.duration_interval('2h'), interval '2 hours', 'a duration in hours');
SELECT is(ops_private.duration_interval('10 minutes'), NULL, 'anything else is no duration');
SELECT is(ops_private.duration_interval('0s'), NULL, 'a zero window is no window');

-- A destination without a digest pages as before.
INSERT INTO ops.error_events (source, message) SELECT 'ops', 'qqp-hook ' || pg_temp.host(i) FROM generate_series(1, 5) i;
SELECT is((SELECT count(*)::int FROM ops.escalations WHERE code = 'TEST.PAGE_HOOK'), 5,
    'without a digest every crossing is its own page');
SELECT is((SELECT count(*)::int FROM ops.page_windows), 0, 'without a digest no page window is opened');
SELECT is((SELECT count(*)::int FROM ops.escalations WHERE reason = 'digest'), 0, 'and no digest is queued');

-- The 200-host outage: DNS.RECORD_MISSING (2 within 1h) on 200 hosts, oncall with one page per 10 minutes.
UPDATE ops.destinations SET config = config || '{"digest": {"window": "10m", "max_pages": 1}}' WHERE name = 'oncall';
SELECT is((SELECT window_length FROM ops_private.page_digest_rule('oncall', 'DNS.RECORD_MISSING')), interval '10 minutes',
    'the destination''s digest applies to its codes');
INSERT INTO ops.error_events (source, message)
SELECT 'dns', 'getaddrinfo ENOTFOUND ' || pg_temp.host(i) FROM generate_series(1, 200) i, generate_series(1, 2);
SELECT is((SELECT count(*)::int FROM ops.agent_errors WHERE code = 'DNS.RECORD_MISSING'), 200, 'two hundred groups');
SELECT is((SELECT count(*)::int FROM ops.escalations WHERE code = 'DNS.RECORD_MISSING' AND reason <> 'digest'), 1,
    'one page for the outage');
SELECT is((SELECT count(*)::int FROM ops.escalations WHERE reason = 'digest'), 1, 'one digest for the rest');
SELECT is((SELECT count(*)::int FROM ops.page_window_items), 199, 'the digest holds the other 199 crossings');
SELECT is((SELECT count(*)::int FROM ops.page_window_items i JOIN ops.escalations e USING (dedupe_key)), 0,
    'no crossing is both a page and a digest line');
SELECT results_eq($$ SELECT count(DISTINCT fingerprint)::int FROM (
                        SELECT fingerprint FROM ops.escalations WHERE code = 'DNS.RECORD_MISSING' AND reason = 'window'
                        UNION ALL SELECT fingerprint FROM ops.page_window_items) x $$,
    $$ VALUES (200) $$, 'every group is a page or a digest line');
SELECT results_eq($$ SELECT window_start, window_end, crossings, max_pages, scope FROM ops.page_windows $$,
    $$ VALUES (date_bin('10 minutes', now(), timestamptz '2000-01-01 00:00:00+00'),
               date_bin('10 minutes', now(), timestamptz '2000-01-01 00:00:00+00') + interval '10 minutes',
               200::bigint, 1, 'DNS.RECORD_MISSING') $$,
    'one aligned window for the code, 200 crossings counted');
SELECT is((SELECT next_attempt_at FROM ops.escalations WHERE reason = 'digest'),
          (SELECT window_end FROM ops.page_windows), 'the digest falls due when the window closes');
SELECT is((SELECT payload -> 'page_window' ->> 'max_pages' FROM ops.escalations WHERE code = 'DNS.RECORD_MISSING'
           AND reason = 'window'), '1', 'the page says which budget it belongs to');

UPDATE ops.escalations SET created_at = now() - interval '1 hour' WHERE reason = 'digest';
SELECT is((SELECT oldest_pending_seconds FROM ops.dispatch_stats), 0::double precision,
    'a digest waiting for its window to close does not count as an old pending escalation');

-- Later statements in the same window join the same digest.
INSERT INTO ops.error_events (source, message)
SELECT 'dns', 'getaddrinfo ENOTFOUND ' || pg_temp.host(i) FROM generate_series(201, 203) i, generate_series(1, 2);
SELECT is((SELECT count(*)::int FROM ops.escalations WHERE code = 'DNS.RECORD_MISSING' AND reason <> 'digest'), 1,
    'later crossings in the window do not page');
SELECT is((SELECT count(*)::int FROM ops.escalations WHERE reason = 'digest'), 1, 'they join the one digest');
SELECT is((SELECT count(*)::int FROM ops.page_window_items), 202, 'and are listed in it');

-- Per code by default: another code has its own budget.
INSERT INTO ops.error_events (source, message) SELECT 'ops', 'qqp-a ' || pg_temp.host(i) FROM generate_series(1, 3) i;
SELECT is((SELECT count(*)::int FROM ops.escalations WHERE code = 'TEST.PAGE_A' AND reason = 'threshold'), 1,
    'another code pages once on its own budget');
SELECT is((SELECT count(*)::int FROM ops.escalations WHERE reason = 'digest'), 2, 'and has its own digest');

-- FixBot codes are never held back: each crossing queues its run.
INSERT INTO ops.error_events (source, message) SELECT 'ops', 'qqp-fix ' || pg_temp.host(i) FROM generate_series(1, 3) i;
SELECT is((SELECT count(*)::int FROM ops.agent_runs WHERE code = 'TEST.PAGE_FIX'), 3, 'a FixBot code pages every crossing');

-- Sealing: the worker claims the digest when it is due and freezes the list.
UPDATE ops.escalations SET next_attempt_at = now() WHERE reason = 'digest' AND code = 'DNS.RECORD_MISSING';
SELECT is((SELECT count(*)::int FROM ops.claim_escalations('w1', 100) WHERE reason = 'digest'), 1, 'the due digest is claimed');
SELECT is(ops.seal_page_digest((SELECT id FROM ops.escalations WHERE reason = 'digest' AND code = 'DNS.RECORD_MISSING'), 999),
    NULL, 'sealing is fenced by the claim token');
SELECT is((SELECT (ops.seal_page_digest(id, claims) ->> 'similar_groups')::int FROM ops.escalations
           WHERE reason = 'digest' AND code = 'DNS.RECORD_MISSING'), 202, 'the sealed digest counts the similar groups');
SELECT ok((SELECT sealed_at IS NOT NULL FROM ops.page_windows WHERE scope = 'DNS.RECORD_MISSING'), 'the window is sealed');
SELECT results_eq($$ SELECT jsonb_array_length(payload -> 'groups'), count_at,
                            payload -> 'groups' -> 0 ?& ARRAY['code', 'count', 'fingerprint', 'sample_message', 'source'],
                            payload -> 'groups' -> 0 ->> 'sample_message' LIKE 'getaddrinfo ENOTFOUND svc-%'
                     FROM ops.escalations WHERE reason = 'digest' AND code = 'DNS.RECORD_MISSING' $$,
    $$ VALUES (202, 202::bigint, true, true) $$, 'the digest lists each group with code, count, fingerprint and sample');
SELECT is((SELECT ops.seal_page_digest(id, claims) -> 'groups' FROM ops.escalations WHERE reason = 'digest' AND code = 'DNS.RECORD_MISSING'),
          (SELECT payload -> 'groups' FROM ops.escalations WHERE reason = 'digest' AND code = 'DNS.RECORD_MISSING'),
    'sealing again (a retried delivery) gives the same list');
-- A crossing that reaches a sealed window pages on its own: never lost, never in a digest already sent.
INSERT INTO ops.error_events (source, message)
SELECT 'dns', 'getaddrinfo ENOTFOUND ' || pg_temp.host(300) FROM generate_series(1, 2);
SELECT is((SELECT count(*)::int FROM ops.escalations WHERE code = 'DNS.RECORD_MISSING' AND reason = 'window'), 2,
    'a crossing after the seal is its own page');
SELECT is((SELECT count(*)::int FROM ops.page_window_items WHERE code = 'DNS.RECORD_MISSING'), 202,
    'and is not added to the sealed digest');

-- per: destination: one budget shared by every code; a per-code entry overrides it.
UPDATE ops.destinations SET config = config || '{"digest": {"window": "1h", "max_pages": 2, "per": "destination",
    "codes": {"TEST.PAGE_A": {"max_pages": 5}}}}' WHERE name = 'oncall';
INSERT INTO ops.error_events (source, message)
SELECT 'ops', 'qqp-b ' || pg_temp.host(i) FROM generate_series(1, 4) i;
SELECT is((SELECT count(*)::int FROM ops.escalations WHERE code = 'TEST.PAGE_B' AND reason = 'threshold'), 2,
    'per destination: max_pages pages in the window');
SELECT results_eq($$ SELECT scope, crossings FROM ops.page_windows WHERE scope = '*' $$, $$ VALUES ('*', 4::bigint) $$,
    'per destination: one window for every code');
SELECT results_eq($$ SELECT scope, window_length, max_pages FROM ops_private.page_digest_rule('oncall', 'TEST.PAGE_A') $$,
    $$ VALUES ('TEST.PAGE_A', interval '1 hour', 5) $$, 'a per-code entry has its own budget and inherits the window');

-- A malformed setting (written past ops ssot check) pages as before instead of holding anything back.
UPDATE ops.destinations SET config = config || '{"digest": {"window": "soon", "max_pages": 1}}' WHERE name = 'oncall';
INSERT INTO ops.error_events (source, message) SELECT 'ops', 'qqp-b ' || pg_temp.host(i) FROM generate_series(50, 52) i;
SELECT is((SELECT count(*)::int FROM ops.escalations WHERE code = 'TEST.PAGE_B' AND reason = 'threshold'), 5,
    'a malformed digest holds nothing back');

-- Privileges: only the worker seals, nobody reads the window tables directly.
SELECT ok(has_function_privilege('ops_worker', 'ops.seal_page_digest(bigint, integer)', 'EXECUTE'), 'the worker may seal a digest');
SELECT ok(NOT has_function_privilege('ops_ingest', 'ops.seal_page_digest(bigint, integer)', 'EXECUTE'), 'a producer may not');
SELECT ok(NOT has_table_privilege('ops_worker', 'ops.page_window_items', 'SELECT')
          AND NOT has_table_privilege('ops_ingest', 'ops.page_windows', 'INSERT'), 'the window tables are private');

SELECT * FROM finish();
ROLLBACK;
