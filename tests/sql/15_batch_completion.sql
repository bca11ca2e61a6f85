-- Batch completion (ops.complete_escalations) and the claim's plan (issue 12): fenced per row like
-- ops.complete_escalation; a crash between claim and batch completion loses nothing (reap, re-claim);
-- the claim reads escalations_pending_idx in queue order.
BEGIN;
SELECT plan(18);

INSERT INTO ops.escalations (dedupe_key, fingerprint, code, reason, destination, count_at, payload, next_attempt_at)
SELECT 'b' || i, 'fp-b' || i, 'DB.DEADLOCK', 'manual', 'work_queue', 1, '{}', now() - make_interval(secs => 100 - i)
FROM generate_series(1, 6) i;

CREATE TEMP TABLE c1 AS SELECT id, claims FROM ops.claim_escalations('w1', 4);
SELECT is((SELECT array_agg(dedupe_key ORDER BY id) FROM ops.escalations WHERE state = 'claimed'),
          ARRAY['b1', 'b2', 'b3', 'b4'], 'the claim takes the oldest due first');

-- Lose b2's claim: its lease expires, the reaper gives it back, w2 re-claims it under token 2.
UPDATE ops.escalations SET lease_expires_at = now() - interval '1 second' WHERE dedupe_key = 'b2';
SELECT is(ops.reap_expired_leases(), 1, 'the expired lease is reaped');
CREATE TEMP TABLE c2 AS SELECT id, claims FROM ops.claim_escalations('w2', 1);
SELECT is((SELECT claims FROM c2), 2, 'b2 is re-claimed first (its old place) under token 2');

-- A heartbeat changes only lease_expires_at, which no index keys on: a HOT update.
CREATE TEMP TABLE hot0 AS
    SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relid = 'ops.escalations'::regclass;
SELECT is(ops.heartbeat_escalations(ARRAY[(SELECT id FROM c2)], ARRAY[2], interval '30 seconds'), 1, 'w2 extends its lease');
SELECT is((SELECT (x.n_tup_upd - h.n_tup_upd, x.n_tup_hot_upd - h.n_tup_hot_upd)::text
           FROM pg_stat_xact_user_tables x, hot0 h WHERE x.relid = 'ops.escalations'::regclass), '(1,1)',
          'the heartbeat was one update, and HOT');

-- w1 completes its whole batch in one call, b2 with its stale token 1.
SELECT set_eq(
    $$ SELECT ops.complete_escalations((SELECT array_agg(id ORDER BY id) FROM c1), (SELECT array_agg(claims ORDER BY id) FROM c1),
                                        (SELECT array_agg(jsonb_build_object('n', id) ORDER BY id) FROM c1)) $$,
    $$ SELECT id FROM ops.escalations WHERE dedupe_key IN ('b1', 'b3', 'b4') $$,
    'the batch completes the rows still held under their tokens and answers their ids');
SELECT is((SELECT state FROM ops.escalations WHERE dedupe_key = 'b2'), 'claimed', 'the fenced row is left to its holder');
SELECT is((SELECT count(*)::int FROM ops.escalations WHERE state = 'delivered' AND attempts = 1 AND lease_expires_at IS NULL
           AND delivered_at IS NOT NULL AND result = jsonb_build_object('n', id)), 3,
          'each completed row is delivered with its own result, one attempt, no lease');
SELECT is_empty($$ SELECT ops.complete_escalations((SELECT array_agg(id) FROM c1), (SELECT array_agg(claims) FROM c1),
                                                    (SELECT array_agg(NULL::jsonb) FROM c1)) $$,
                'completing the same batch again changes nothing');
SELECT is((SELECT count(*)::int FROM ops.escalations WHERE state = 'delivered' AND result IS NOT NULL), 3,
          'and keeps the first results');
SELECT is((SELECT array_agg(x) FROM ops.complete_escalations(ARRAY[(SELECT id FROM c2), (SELECT id FROM c2)], ARRAY[2, 2],
                                                             ARRAY[NULL, NULL]::jsonb[]) x),
          ARRAY[(SELECT id FROM c2)], 'a repeated id completes once');
SELECT is((SELECT attempts FROM ops.escalations WHERE dedupe_key = 'b2'), 1, 'and counts one attempt');
SELECT throws_ok($$ SELECT ops.complete_escalations(ARRAY[1, 2]::bigint[], ARRAY[1], ARRAY[NULL]::jsonb[]) $$, '22023',
                 NULL, 'arrays of different lengths are refused');
SELECT is_empty($$ SELECT ops.complete_escalations('{}', '{}', '{}') $$, 'an empty batch is a no-op');

-- The claim's plan: an index scan in queue order, locking only what it returns.
CREATE FUNCTION pg_temp.claim_plan() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    line text;
    plan text := '';
BEGIN
    FOR line IN EXPLAIN SELECT s.id FROM ops.escalations s WHERE s.state = 'pending' AND s.next_attempt_at <= now()
                        ORDER BY s.next_attempt_at, s.id LIMIT 10 FOR UPDATE SKIP LOCKED LOOP
        plan := plan || line || E'\n';
    END LOOP;
    RETURN plan;
END
$$;
SELECT set_config('enable_seqscan', 'off', true);
SELECT matches(pg_temp.claim_plan(), 'Limit.*LockRows.*Index Scan using escalations_pending_idx',
               'the claim reads escalations_pending_idx in order under LockRows and Limit');
SELECT doesnt_match(pg_temp.claim_plan(), 'Sort', 'and sorts nothing');
SELECT has_index('ops', 'escalations', 'escalations_pending_idx', ARRAY['next_attempt_at', 'id'],
                 'escalations_pending_idx holds the whole claim order (next_attempt_at, id)');
SELECT is((SELECT reloptions FROM pg_class WHERE oid = 'ops.escalations'::regclass), ARRAY['fillfactor=70'],
          'the outbox leaves room on each page for new row versions');

SELECT * FROM finish();
ROLLBACK;
