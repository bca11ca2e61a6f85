-- The outbox's dispatch functions: claims with leases and fence tokens, retries, dead letters.
BEGIN;
SELECT plan(22);

INSERT INTO ops.escalations (dedupe_key, fingerprint, code, reason, destination, count_at, payload, max_attempts)
SELECT 'k' || i, 'fp' || i, 'DB.DEADLOCK', 'manual', 'work_queue', 1,
       jsonb_build_object('title', 'Deadlock', 'runbook', 'docs/runbooks/failures/DB.DEADLOCK.md', 'sample_message', 'x'), 3
FROM generate_series(1, 5) i;

SELECT is((SELECT count(*)::int FROM ops.claim_escalations('w1', 3)), 3, 'a claim takes at most max_jobs rows');
SELECT is((SELECT count(*)::int FROM ops.claim_escalations('w2', 10)), 2, 'a second claim takes only what is left');
SELECT is((SELECT count(*)::int FROM ops.claim_escalations('w3', 10)), 0, 'nothing is claimed twice');
SELECT ok((SELECT bool_and(claims = 1 AND lease_expires_at > now() AND claimed_by IN ('w1', 'w2'))
           FROM ops.escalations), 'each claim sets a lease, a worker and fence token 1');

SELECT ok(ops.complete_escalation((SELECT id FROM ops.escalations WHERE dedupe_key = 'k1'), 1, '{"ok": true}'),
    'the holder of the claim completes the delivery');
SELECT ok(NOT ops.complete_escalation((SELECT id FROM ops.escalations WHERE dedupe_key = 'k1'), 1),
    'completing twice changes nothing');
SELECT is((SELECT state || '/' || attempts FROM ops.escalations WHERE dedupe_key = 'k1'), 'delivered/1', 'delivered after one attempt');

-- Fencing: the lease of k2 expires, the reaper requeues it, another worker claims it (token 2).
UPDATE ops.escalations SET lease_expires_at = now() - interval '1 second' WHERE dedupe_key = 'k2';
SELECT is(ops.reap_expired_leases(), 1, 'the reaper returns an expired lease to the queue');
SELECT is((SELECT claims FROM ops.claim_escalations('w4', 1)), 2, 'the next claim carries token 2');
SELECT ok(NOT ops.complete_escalation((SELECT id FROM ops.escalations WHERE dedupe_key = 'k2'), 1),
    'the stale worker (token 1) cannot complete the rescued job');
SELECT is(ops.fail_escalation((SELECT id FROM ops.escalations WHERE dedupe_key = 'k2'), 1, 'late failure'), 'fenced',
    'nor record a failure for it');
SELECT ok(ops.complete_escalation((SELECT id FROM ops.escalations WHERE dedupe_key = 'k2'), 2), 'the current holder completes it');

-- Retries and dead letters (max_attempts 3).
SELECT is(ops.fail_escalation((SELECT id FROM ops.escalations WHERE dedupe_key = 'k3'), 1, 'HTTP 500', interval '1 hour'), 'pending',
    'a failure with attempts left goes back to pending');
SELECT ok((SELECT next_attempt_at > now() + interval '59 minutes' AND attempts = 1 FROM ops.escalations WHERE dedupe_key = 'k3'),
    'with its next attempt after the backoff');
UPDATE ops.escalations SET next_attempt_at = now() WHERE dedupe_key = 'k3';
SELECT ops.claim_escalations('w1', 1);
SELECT is(ops.fail_escalation((SELECT id FROM ops.escalations WHERE dedupe_key = 'k3'), 2, 'OPS_SLACK_WEBHOOK_URL is not set', NULL, false, false),
    'pending', 'a wait for configuration does not spend an attempt');
SELECT is((SELECT attempts FROM ops.escalations WHERE dedupe_key = 'k3'), 1, 'attempts unchanged');
SELECT ops.claim_escalations('w1', 1);
SELECT is(ops.fail_escalation((SELECT id FROM ops.escalations WHERE dedupe_key = 'k3'), 3, 'HTTP 410 Gone with token=abc123', NULL, true),
    'dead', 'a permanent failure is dead at once');
SELECT ok((SELECT jsonb_array_length(error_history) = 3 AND last_error NOT LIKE '%abc123%' FROM ops.escalations WHERE dedupe_key = 'k3'),
    'a dead escalation keeps its (redacted) error history');
SELECT is((SELECT count(*)::int FROM ops.error_events WHERE code = 'OPS.DELIVERY_FAILED' AND context ->> 'destination' = 'work_queue'), 1,
    'a dead escalation is recorded as OPS.DELIVERY_FAILED through the pipeline');
SELECT is((ops.requeue_escalation((SELECT id FROM ops.escalations WHERE dedupe_key = 'k3'))).state, 'pending',
    'a dead escalation can be requeued');
SELECT throws_ok($$ SELECT ops.requeue_escalation((SELECT id FROM ops.escalations WHERE dedupe_key = 'k1')) $$, 'OPD04', NULL,
    'only dead escalations can be requeued');

-- Work items are idempotent per escalation.
SELECT ops.create_work_item((SELECT id FROM ops.escalations WHERE dedupe_key = 'k4'));
SELECT ops.create_work_item((SELECT id FROM ops.escalations WHERE dedupe_key = 'k4'));
SELECT is((SELECT count(*)::int FROM ops.work_items), 1, 'one work item per escalation, however often delivered');

SELECT * FROM finish();
ROLLBACK;
