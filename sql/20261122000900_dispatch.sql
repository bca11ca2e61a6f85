-- The dispatch side of the outbox: claiming with leases, fenced completion, retries, dead letters,
-- and the tables destinations write to. The worker (worker/dispatch/) calls only these functions.
--
-- Fencing: every claim increments `claims` and hands it to the worker as its token. Completion,
-- failure, heartbeat and release all require the token, so a worker whose lease expired and whose
-- job was re-claimed by another cannot overwrite the newer attempt's result.
-- `attempts` counts real delivery attempts (a destination that is not configured yet waits
-- without spending them); at max_attempts a failure is final (`dead`).

ALTER TABLE ops.escalations
    ADD COLUMN claims integer NOT NULL DEFAULT 0,
    ADD COLUMN max_attempts integer NOT NULL DEFAULT 10 CONSTRAINT escalations_max_attempts_positive CHECK (max_attempts > 0),
    ADD COLUMN claimed_at timestamptz,
    ADD COLUMN result jsonb;
COMMENT ON COLUMN ops.escalations.claims IS 'Times claimed; the current value is the fence token of the claim in force.';
COMMENT ON COLUMN ops.escalations.attempts IS 'Delivery attempts made (a wait for configuration does not count).';
COMMENT ON COLUMN ops.escalations.result IS 'What the destination returned on success (ids, URLs), for the record.';

ALTER TABLE ops.agent_runs
    ADD COLUMN branch text,
    ADD COLUMN pr_url text;
COMMENT ON COLUMN ops.agent_runs.branch IS 'The branch FixBot worked on; never the default branch.';
COMMENT ON COLUMN ops.agent_runs.pr_url IS 'The pull request FixBot opened (PR-only: nothing is pushed to the default branch).';

CREATE TABLE ops.work_items (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    escalation_id bigint NOT NULL REFERENCES ops.escalations (id) CONSTRAINT work_items_escalation_id_key UNIQUE,
    fingerprint   text NOT NULL,
    code          text NOT NULL,
    title         text NOT NULL,
    body          text NOT NULL,
    status        text NOT NULL DEFAULT 'open' CONSTRAINT work_items_status_known CHECK (status IN ('open', 'in_progress', 'done', 'wontfix')),
    created_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ops.work_items IS 'Work items created by the work_item destination: one per escalation (idempotent).';

CREATE TABLE ops.github_issue_links (
    fingerprint  text NOT NULL,
    repo         text NOT NULL,
    issue_number integer NOT NULL,
    url          text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT github_issue_links_pkey PRIMARY KEY (fingerprint, repo)
);
COMMENT ON TABLE ops.github_issue_links IS 'The GitHub issue opened for an error; later escalations of it comment there.';

CREATE FUNCTION ops.claim_escalations(worker text, max_jobs integer DEFAULT 10, lease interval DEFAULT interval '30 seconds')
RETURNS SETOF ops.escalations
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
    UPDATE ops.escalations e
    SET state = 'claimed', claims = e.claims + 1, claimed_by = worker, claimed_at = now(),
        lease_expires_at = now() + lease
    WHERE e.id IN (
        SELECT s.id FROM ops.escalations s
        WHERE s.state = 'pending' AND s.next_attempt_at <= now()
        ORDER BY s.next_attempt_at, s.id
        FOR UPDATE SKIP LOCKED
        LIMIT max_jobs)
    RETURNING e.*
$$;
COMMENT ON FUNCTION ops.claim_escalations(text, integer, interval) IS
    'Claims up to max_jobs due escalations for a worker (FOR UPDATE SKIP LOCKED: concurrent workers never get the same '
    'row), with a lease. Each returned row''s `claims` is the fence token for complete/fail/heartbeat/release.';

CREATE FUNCTION ops.heartbeat_escalations(ids bigint[], tokens integer[], lease interval DEFAULT interval '30 seconds')
RETURNS integer
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
    WITH extended AS (
        UPDATE ops.escalations e SET lease_expires_at = now() + lease
        FROM unnest(ids, tokens) AS t (id, token)
        WHERE e.id = t.id AND e.claims = t.token AND e.state = 'claimed'
        RETURNING 1)
    SELECT count(*)::integer FROM extended
$$;
COMMENT ON FUNCTION ops.heartbeat_escalations(bigint[], integer[], interval) IS
    'Extends the leases of in-flight escalations still held under the given tokens; returns how many were extended.';

CREATE FUNCTION ops.complete_escalation(id bigint, token integer, result jsonb DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
BEGIN
    UPDATE ops.escalations e
    SET state = 'delivered', delivered_at = now(), attempts = e.attempts + 1, lease_expires_at = NULL,
        result = complete_escalation.result
    WHERE e.id = complete_escalation.id AND e.claims = token AND e.state = 'claimed';
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION ops.complete_escalation(bigint, integer, jsonb) IS
    'Marks a claimed escalation delivered. Fenced: false (and no change) when the claim was lost to another worker.';

CREATE FUNCTION ops.fail_escalation(id bigint, token integer, error text, retry_after interval DEFAULT NULL,
                                    permanent boolean DEFAULT false, counts boolean DEFAULT true)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    esc ops.escalations;
    next_state text;
BEGIN
    SELECT * INTO esc FROM ops.escalations e
    WHERE e.id = fail_escalation.id AND e.claims = token AND e.state = 'claimed'
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'fenced';
    END IF;
    next_state := CASE
        WHEN permanent OR (counts AND esc.attempts + 1 >= esc.max_attempts) THEN 'dead'
        ELSE 'pending' END;
    UPDATE ops.escalations e
    SET state = next_state,
        attempts = e.attempts + counts::integer,
        next_attempt_at = now() + coalesce(retry_after, interval '0'),
        lease_expires_at = NULL,
        last_error = left(ops.redact(error), 2000),
        error_history = e.error_history || jsonb_build_array(jsonb_build_object(
            'at', now(), 'attempt', e.attempts + counts::integer, 'claim', token, 'worker', e.claimed_by,
            'error', left(ops.redact(error), 2000), 'permanent', permanent, 'counted', counts))
    WHERE e.id = fail_escalation.id;
    IF next_state = 'dead' THEN
        -- The system's own failure goes through the pipeline like any other.
        PERFORM ops.record_error(
            source => 'ops', phase => 'dispatch', code_hint => 'OPS.DELIVERY_FAILED',
            message => format('escalation to %s for %s dead after %s attempt(s): %s',
                              esc.destination, esc.code, esc.attempts + counts::integer, left(error, 500)),
            context => jsonb_build_object('escalation_id', esc.id, 'destination', esc.destination,
                                          'fingerprint', esc.fingerprint));
    END IF;
    RETURN next_state;
END
$$;
COMMENT ON FUNCTION ops.fail_escalation(bigint, integer, text, interval, boolean, boolean) IS
    'Records a failed delivery. Retries after retry_after unless permanent or out of attempts, in which case the row is '
    'dead, keeps its error history and an OPS.DELIVERY_FAILED error is recorded. counts => false (a destination waiting '
    'for configuration) does not spend an attempt. Returns the new state, or ''fenced'' when the claim was lost.';

CREATE FUNCTION ops.release_escalation(id bigint, token integer)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
BEGIN
    UPDATE ops.escalations e SET state = 'pending', lease_expires_at = NULL, next_attempt_at = now()
    WHERE e.id = release_escalation.id AND e.claims = token AND e.state = 'claimed';
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION ops.release_escalation(bigint, integer) IS
    'Gives a claimed escalation back to the queue untouched (graceful shutdown). Fenced like completion.';

CREATE FUNCTION ops.reap_expired_leases()
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    reaped integer;
BEGIN
    UPDATE ops.escalations e
    SET state = 'pending', next_attempt_at = now(), lease_expires_at = NULL,
        error_history = e.error_history || jsonb_build_array(jsonb_build_object(
            'at', now(), 'claim', e.claims, 'worker', e.claimed_by, 'error', 'lease expired'))
    WHERE e.id IN (SELECT s.id FROM ops.escalations s
                   WHERE s.state = 'claimed' AND s.lease_expires_at < now()
                   FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS reaped = ROW_COUNT;
    RETURN reaped;
END
$$;
COMMENT ON FUNCTION ops.reap_expired_leases() IS
    'Returns escalations whose lease expired (their worker died or hung) to the queue; returns how many.';

CREATE FUNCTION ops.requeue_escalation(id bigint)
RETURNS ops.escalations
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    esc ops.escalations;
BEGIN
    UPDATE ops.escalations e
    SET state = 'pending', next_attempt_at = now(), max_attempts = e.attempts + 10, lease_expires_at = NULL,
        error_history = e.error_history || jsonb_build_array(jsonb_build_object('at', now(), 'error', 'requeued by hand'))
    WHERE e.id = requeue_escalation.id AND e.state = 'dead'
    RETURNING e.* INTO esc;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'escalation % is not dead (only dead escalations can be requeued)', requeue_escalation.id
            USING ERRCODE = 'OP004';
    END IF;
    RETURN esc;
END
$$;
COMMENT ON FUNCTION ops.requeue_escalation(bigint) IS
    'Brings a dead escalation back to the queue with ten more attempts, keeping its error history.';

CREATE FUNCTION ops.create_work_item(escalation_id bigint)
RETURNS ops.work_items
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    item ops.work_items;
BEGIN
    INSERT INTO ops.work_items (escalation_id, fingerprint, code, title, body)
    SELECT e.id, e.fingerprint, e.code,
           format('[%s] %s', e.code, e.payload ->> 'title'),
           format(E'%s (%s, count %s)\nfirst seen %s, last seen %s\nrunbook: %s\n\n%s',
                  e.payload ->> 'title', e.reason, e.count_at, e.payload ->> 'first_seen_at',
                  e.payload ->> 'last_seen_at', e.payload ->> 'runbook', e.payload ->> 'sample_message')
    FROM ops.escalations e WHERE e.id = create_work_item.escalation_id
    ON CONFLICT ON CONSTRAINT work_items_escalation_id_key DO NOTHING
    RETURNING * INTO item;
    IF item.id IS NULL THEN
        SELECT * INTO item FROM ops.work_items w WHERE w.escalation_id = create_work_item.escalation_id;
    END IF;
    RETURN item;
END
$$;
COMMENT ON FUNCTION ops.create_work_item(bigint) IS 'The work_item destination: one work item per escalation, idempotent.';

CREATE FUNCTION ops.link_github_issue(fingerprint text, repo text, issue_number integer, url text)
RETURNS void
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
    INSERT INTO ops.github_issue_links (fingerprint, repo, issue_number, url) VALUES (fingerprint, repo, issue_number, url)
    ON CONFLICT ON CONSTRAINT github_issue_links_pkey DO NOTHING
$$;
COMMENT ON FUNCTION ops.link_github_issue(text, text, integer, text) IS 'Remembers the GitHub issue opened for an error.';

CREATE FUNCTION ops.update_agent_run(id bigint, status text, verdict jsonb DEFAULT NULL, branch text DEFAULT NULL,
                                     pr_url text DEFAULT NULL, error text DEFAULT NULL)
RETURNS ops.agent_runs
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    run ops.agent_runs;
BEGIN
    UPDATE ops.agent_runs r
    SET status = update_agent_run.status,
        verdict = coalesce(update_agent_run.verdict, r.verdict),
        branch = coalesce(update_agent_run.branch, r.branch),
        pr_url = coalesce(update_agent_run.pr_url, r.pr_url),
        last_error = coalesce(left(ops.redact(update_agent_run.error), 2000), r.last_error),
        attempts = r.attempts + (update_agent_run.status IN ('running', 'claimed'))::integer,
        updated_at = now(),
        finished_at = CASE WHEN update_agent_run.status IN ('succeeded', 'failed', 'rejected', 'dead', 'cancelled')
                           THEN now() END
    WHERE r.id = update_agent_run.id
    RETURNING r.* INTO run;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no agent run %', update_agent_run.id USING ERRCODE = 'OP004';
    END IF;
    RETURN run;
END
$$;
COMMENT ON FUNCTION ops.update_agent_run(bigint, text, jsonb, text, text, text) IS
    'Moves a FixBot run along (queued, running, succeeded, failed, rejected, ...), recording verdict, branch and PR.';

CREATE VIEW ops.dispatch_queue AS
SELECT e.id, e.code, e.destination, e.reason, e.state, e.attempts, e.max_attempts, e.next_attempt_at,
       e.lease_expires_at, e.claimed_by, e.last_error, e.created_at, e.delivered_at,
       r.id AS agent_run_id, r.status AS agent_run_status
FROM ops.escalations e
LEFT JOIN ops.agent_runs r ON r.escalation_id = e.id;
COMMENT ON VIEW ops.dispatch_queue IS 'Every escalation with its delivery state and, for FixBot, its agent run.';
COMMENT ON COLUMN ops.dispatch_queue.id IS 'Escalation id.';
COMMENT ON COLUMN ops.dispatch_queue.code IS 'Failure-mode code.';
COMMENT ON COLUMN ops.dispatch_queue.destination IS 'Destination name.';
COMMENT ON COLUMN ops.dispatch_queue.reason IS 'threshold, window, regression or manual.';
COMMENT ON COLUMN ops.dispatch_queue.state IS 'pending, claimed, delivered or dead.';
COMMENT ON COLUMN ops.dispatch_queue.attempts IS 'Delivery attempts made.';
COMMENT ON COLUMN ops.dispatch_queue.max_attempts IS 'Attempts after which a failure is final.';
COMMENT ON COLUMN ops.dispatch_queue.next_attempt_at IS 'Earliest next attempt.';
COMMENT ON COLUMN ops.dispatch_queue.lease_expires_at IS 'When the current claim expires.';
COMMENT ON COLUMN ops.dispatch_queue.claimed_by IS 'Worker holding (or last holding) the claim.';
COMMENT ON COLUMN ops.dispatch_queue.last_error IS 'Error of the last failed attempt (redacted).';
COMMENT ON COLUMN ops.dispatch_queue.created_at IS 'When the escalation was created.';
COMMENT ON COLUMN ops.dispatch_queue.delivered_at IS 'When it was delivered.';
COMMENT ON COLUMN ops.dispatch_queue.agent_run_id IS 'The FixBot run this escalation dispatches, if any.';
COMMENT ON COLUMN ops.dispatch_queue.agent_run_status IS 'Status of that run.';

CREATE VIEW ops.dispatch_stats AS
SELECT count(*) FILTER (WHERE state = 'pending') AS pending,
       count(*) FILTER (WHERE state = 'claimed') AS claimed,
       count(*) FILTER (WHERE state = 'dead') AS dead,
       count(*) FILTER (WHERE state = 'delivered') AS delivered,
       coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE state = 'pending')), 0)::double precision
           AS oldest_pending_seconds
FROM ops.escalations;
COMMENT ON VIEW ops.dispatch_stats IS 'Queue depth by state and the age of the oldest pending escalation (the worker''s metrics).';
COMMENT ON COLUMN ops.dispatch_stats.pending IS 'Escalations waiting for delivery.';
COMMENT ON COLUMN ops.dispatch_stats.claimed IS 'Escalations being delivered.';
COMMENT ON COLUMN ops.dispatch_stats.dead IS 'Escalations that failed for good.';
COMMENT ON COLUMN ops.dispatch_stats.delivered IS 'Escalations delivered.';
COMMENT ON COLUMN ops.dispatch_stats.oldest_pending_seconds IS 'Age in seconds of the oldest pending escalation.';

-- Privileges for what this file added.
ALTER TABLE ops.work_items ENABLE ROW LEVEL SECURITY;
ALTER TABLE ops.github_issue_links ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON ops.work_items, ops.github_issue_links, ops.dispatch_queue, ops.dispatch_stats FROM PUBLIC;
REVOKE ALL ON FUNCTION ops.claim_escalations(text, integer, interval), ops.heartbeat_escalations(bigint[], integer[], interval),
    ops.complete_escalation(bigint, integer, jsonb), ops.fail_escalation(bigint, integer, text, interval, boolean, boolean),
    ops.release_escalation(bigint, integer), ops.reap_expired_leases(), ops.requeue_escalation(bigint),
    ops.create_work_item(bigint), ops.link_github_issue(text, text, integer, text),
    ops.update_agent_run(bigint, text, jsonb, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ops.claim_escalations(text, integer, interval), ops.heartbeat_escalations(bigint[], integer[], interval),
    ops.complete_escalation(bigint, integer, jsonb), ops.fail_escalation(bigint, integer, text, interval, boolean, boolean),
    ops.release_escalation(bigint, integer), ops.reap_expired_leases(), ops.requeue_escalation(bigint),
    ops.create_work_item(bigint), ops.link_github_issue(text, text, integer, text),
    ops.update_agent_run(bigint, text, jsonb, text, text, text) TO ops_worker;
GRANT SELECT ON ops.dispatch_queue, ops.dispatch_stats, ops.github_issue_links TO ops_worker;
GRANT SELECT ON ops.dispatch_queue, ops.dispatch_stats TO ops_analyst;
CREATE POLICY github_issue_links_worker_read ON ops.github_issue_links FOR SELECT TO ops_worker USING (true);
