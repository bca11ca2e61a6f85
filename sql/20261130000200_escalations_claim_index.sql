-- The claim reads the due queue in its order straight from an index and locks only the rows it takes
-- (issue 12: it sorted the whole pending set by (next_attempt_at, id) before locking a handful).
-- escalations_pending_idx now holds the whole sort key; claim_escalations is PL/pgSQL so its plan
-- is cached per session, and LIMIT comes before FOR UPDATE SKIP LOCKED in the text as in the plan.
-- The lease index keys on id instead of lease_expires_at, so a heartbeat (which only moves the lease)
-- changes no indexed column and can be a HOT update.
-- Migrations run in one transaction, where DROP INDEX CONCURRENTLY cannot; ops.escalations holds one
-- row per crossing (small), so the brief ACCESS EXCLUSIVE lock is the price of a plain drop.
-- squawk-ignore require-concurrent-index-deletion
DROP INDEX ops.escalations_pending_idx;
CREATE INDEX escalations_pending_idx ON ops.escalations (next_attempt_at, id) WHERE state = 'pending';
-- squawk-ignore require-concurrent-index-deletion
DROP INDEX ops.escalations_claimed_lease_idx;
CREATE INDEX escalations_claimed_idx ON ops.escalations (id) WHERE state = 'claimed';

CREATE OR REPLACE FUNCTION ops.claim_escalations(worker text, max_jobs integer DEFAULT 10, lease interval DEFAULT interval '30 seconds')
RETURNS SETOF ops.escalations
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
BEGIN
    RETURN QUERY
    UPDATE ops.escalations e
    SET state = 'claimed', claims = e.claims + 1, claimed_by = worker, claimed_at = now(),
        lease_expires_at = now() + lease
    WHERE e.id IN (
        SELECT s.id FROM ops.escalations s
        WHERE s.state = 'pending' AND s.next_attempt_at <= now()
        ORDER BY s.next_attempt_at, s.id
        LIMIT max_jobs
        FOR UPDATE SKIP LOCKED)
    RETURNING e.*;
END
$$;
COMMENT ON FUNCTION ops.claim_escalations(text, integer, interval) IS
    'Claims up to max_jobs due escalations for a worker, oldest due first (next_attempt_at, id), with a lease; '
    'FOR UPDATE SKIP LOCKED: concurrent workers never get the same row. Reads escalations_pending_idx in order and '
    'locks only the rows it returns. Each returned row''s `claims` is the fence token for '
    'complete/fail/heartbeat/release.';
