-- Outbox and dispatch: the escalation outbox and FixBot agent runs the ingest trigger queues, the
-- NOTIFY that wakes the worker, and the functions the worker (worker/dispatch/) calls: claiming with
-- leases, fenced completion, retries, dead letters, requeue, agent-run progress and expiry.
--
-- Fencing: every claim increments `claims` and hands it to the worker as its token. Completion,
-- failure, heartbeat and release all require the token, so a worker whose lease expired and whose
-- job was re-claimed by another cannot overwrite the newer attempt's result.
-- `attempts` counts real delivery attempts (a destination that is not configured yet waits
-- without spending them); at max_attempts a failure is final (`dead`).
-- A finished agent run (succeeded, failed, rejected, dead, cancelled) is final (SQLSTATE OP005);
-- requeueing its escalation is the one way back.

CREATE TABLE ops.escalations (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dedupe_key       text NOT NULL CONSTRAINT escalations_dedupe_key_key UNIQUE,
    fingerprint      text NOT NULL,
    code             text NOT NULL,
    reason           text NOT NULL CONSTRAINT escalations_reason_known CHECK (reason IN ('threshold', 'window', 'regression', 'manual', 'digest')),
    destination      text NOT NULL,
    count_at         bigint NOT NULL,
    payload          jsonb NOT NULL,
    state            text NOT NULL DEFAULT 'pending' CONSTRAINT escalations_state_known
                     CHECK (state IN ('pending', 'claimed', 'delivered', 'dead')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    lease_expires_at timestamptz,
    claimed_by       text,
    last_error       text,
    error_history    jsonb NOT NULL DEFAULT '[]',
    created_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    claims           integer NOT NULL DEFAULT 0,
    max_attempts     integer NOT NULL DEFAULT 10 CONSTRAINT escalations_max_attempts_positive CHECK (max_attempts > 0),
    claimed_at       timestamptz,
    result           jsonb
) WITH (fillfactor = 70);
COMMENT ON TABLE ops.escalations IS
    'The outbox: one row per threshold crossing or regression (dedupe_key makes each crossing unique). The worker '
    'claims pending rows with SKIP LOCKED and delivers them to `destination`. Inserting notifies channel ops_outbox.';
COMMENT ON COLUMN ops.escalations.claims IS 'Times claimed; the current value is the fence token of the claim in force.';
COMMENT ON COLUMN ops.escalations.attempts IS 'Delivery attempts made (a wait for configuration does not count).';
COMMENT ON COLUMN ops.escalations.result IS 'What the destination returned on success (ids, URLs), for the record.';
-- The claim reads the due queue in its order from escalations_pending_idx (the whole sort key). The
-- claimed rows' index keys on id, not the lease, so a heartbeat changes no indexed column (HOT update);
-- fillfactor 70 leaves each page room for its rows' new versions.
CREATE INDEX escalations_pending_idx ON ops.escalations (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX escalations_claimed_idx ON ops.escalations (id) WHERE state = 'claimed';
COMMENT ON COLUMN ops.escalations.reason IS
    'threshold | window | regression | manual, or digest: the crossings a destination''s page budget held back in '
    'one window (payload.groups once sealed).';

-- Page budgets (a destination's digest): one row per (destination, scope, window start); the
-- crossings a budget held back, listed in the window's digest escalation.
CREATE TABLE ops.page_windows (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    destination  text NOT NULL,
    scope        text NOT NULL,
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    max_pages    integer NOT NULL CONSTRAINT page_windows_max_pages_positive CHECK (max_pages >= 1),
    crossings    bigint NOT NULL DEFAULT 0,
    sealed_at    timestamptz,
    CONSTRAINT page_windows_key UNIQUE (destination, scope, window_start)
);
COMMENT ON TABLE ops.page_windows IS
    'One row per (destination, scope, window start) of a destination with a digest: how many threshold crossings '
    'the window saw. The first max_pages were paged; the rest are in ops.page_window_items and one digest escalation '
    '(dedupe_key digest:<id>). sealed_at: when the worker froze the digest; later crossings are paged on their own.';
COMMENT ON COLUMN ops.page_windows.scope IS 'The code the budget is for, or * when the whole destination shares one.';
COMMENT ON COLUMN ops.page_windows.crossings IS 'Crossings counted in this window: pages and digested ones together.';

CREATE TABLE ops.page_window_items (
    dedupe_key  text PRIMARY KEY,
    window_id   bigint NOT NULL REFERENCES ops.page_windows (id),
    fingerprint text NOT NULL,
    code        text NOT NULL,
    reason      text NOT NULL,
    count_at    bigint NOT NULL,
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ops.page_window_items IS
    'Threshold crossings a page budget held back: each is listed in its window''s digest instead of paging. '
    'dedupe_key is the escalation key the crossing would have had, so a crossing is a page or an item, never both.';
CREATE INDEX page_window_items_window_idx ON ops.page_window_items (window_id);

CREATE TABLE ops.agent_runs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fingerprint      text NOT NULL,
    code             text NOT NULL,
    escalation_id    bigint REFERENCES ops.escalations (id),
    status           text NOT NULL DEFAULT 'queued' CONSTRAINT agent_runs_status_known
                     CHECK (status IN ('queued', 'claimed', 'running', 'succeeded', 'failed', 'rejected', 'dead', 'cancelled')),
    policy_ref       text NOT NULL,
    policy_sha256    text,
    evidence         jsonb NOT NULL DEFAULT '{}',
    metadata         jsonb NOT NULL DEFAULT '{}',
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    lease_expires_at timestamptz,
    claimed_by       text,
    last_error       text,
    error_history    jsonb NOT NULL DEFAULT '[]',
    verdict          jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    branch           text,
    pr_url           text,
    patch            text,
    transcript       jsonb CONSTRAINT agent_runs_transcript_array
                     CHECK (transcript IS NULL OR jsonb_typeof(transcript) = 'array'),
    agent_type       text NOT NULL DEFAULT 'fixbot' CONSTRAINT agent_runs_agent_type_format
                     CHECK (agent_type ~ '^[a-z][a-z0-9_]*$'),
    task_id          text
);
COMMENT ON TABLE ops.agent_runs IS
    'FixBot dispatch records. Queued by the ingest trigger for codes with remediate.kind fixbot; at most one active run '
    'per fingerprint. metadata->>''variant_id'' names the ablation variant.';
COMMENT ON COLUMN ops.agent_runs.branch IS 'The branch FixBot worked on; never the default branch.';
COMMENT ON COLUMN ops.agent_runs.pr_url IS 'The pull request FixBot opened (PR-only: nothing is pushed to the default branch).';
COMMENT ON COLUMN ops.agent_runs.patch IS
    'The unified diff the runner produced (git diff format), redacted with ops.redact(); NULL: no patch (yet).';
COMMENT ON COLUMN ops.agent_runs.transcript IS
    'The runner''s conversation as it reported it, redacted: a JSON array of chat messages {role: system|user|'
    'assistant|tool, content: text, tool_calls?: [{type: "function", function: {name, arguments}}], tool_call_id?} '
    '(the OpenAI / Hugging Face chat-messages shape). NULL: the runner reported none.';
COMMENT ON COLUMN ops.agent_runs.agent_type IS
    'Which kind of agent did the run (lower-case identifier; ''fixbot'' for the FixBot runner). Scorecards group by it.';
COMMENT ON COLUMN ops.agent_runs.task_id IS
    'The benchmark task the run attempted; NULL: the error group (fingerprint) is the task. '
    'ops.agent_benchmark_results.task_id is coalesce(task_id, fingerprint).';
CREATE UNIQUE INDEX agent_runs_one_active_per_fingerprint ON ops.agent_runs (fingerprint)
    WHERE status IN ('queued', 'claimed', 'running');
CREATE INDEX agent_runs_queued_idx ON ops.agent_runs (next_attempt_at) WHERE status = 'queued';

-- NOTIFY is a wake-up, not a message: one payload-free notification per statement that inserted rows
-- (PostgreSQL also folds identical notifications within a transaction).
CREATE FUNCTION ops_private.tg_outbox__notify() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $$
BEGIN
    IF EXISTS (SELECT FROM inserted) THEN
        PERFORM pg_notify('ops_outbox', '');
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER tg_escalations__90_notify AFTER INSERT ON ops.escalations
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION ops_private.tg_outbox__notify();

CREATE TRIGGER tg_agent_runs__90_notify AFTER INSERT ON ops.agent_runs
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION ops_private.tg_outbox__notify();

CREATE FUNCTION ops.claim_escalations(worker text, max_jobs integer DEFAULT 10, lease interval DEFAULT interval '30 seconds')
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

CREATE FUNCTION ops.complete_escalations(ids bigint[], tokens integer[], results jsonb[])
RETURNS SETOF bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
BEGIN
    IF cardinality(ids) IS DISTINCT FROM cardinality(tokens) OR cardinality(ids) IS DISTINCT FROM cardinality(results) THEN
        RAISE EXCEPTION 'complete_escalations: ids (%), tokens (%) and results (%) must have the same length',
            cardinality(ids), cardinality(tokens), cardinality(results)
            USING ERRCODE = '22023';
    END IF;
    RETURN QUERY
    UPDATE ops.escalations e
    SET state = 'delivered', delivered_at = now(), attempts = e.attempts + 1, lease_expires_at = NULL,
        result = t.result
    FROM unnest(ids, tokens, results) AS t (id, token, result)
    WHERE e.id = t.id AND e.claims = t.token AND e.state = 'claimed'
    RETURNING e.id;
END
$$;
COMMENT ON FUNCTION ops.complete_escalations(bigint[], integer[], jsonb[]) IS
    'Marks many claimed escalations delivered in one statement: ids[i] under token tokens[i] with result results[i] '
    '(what the destination returned, or NULL). Fenced per row like ops.complete_escalation: returns the ids it '
    'completed; an id missing from the answer had lost its claim and is unchanged. Raises 22023 when the three '
    'arrays differ in length. A repeated id completes at most once.';

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
            'error', left(ops.redact(error), 2000), 'permanent', permanent, 'counted', counts,
            'retry_at', CASE WHEN next_state = 'pending' THEN now() + coalesce(retry_after, interval '0') END))
    WHERE e.id = fail_escalation.id;
    IF next_state = 'dead' THEN
        UPDATE ops.agent_runs r
        SET status = 'dead', last_error = left(ops.redact(error), 2000), updated_at = now(), finished_at = now()
        WHERE r.escalation_id = esc.id AND r.status IN ('queued', 'claimed', 'running');
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
    'dead, keeps its error history, its still-active FixBot run (if any) becomes dead too, and an OPS.DELIVERY_FAILED '
    'error is recorded. counts => false (a destination waiting for configuration) does not spend an attempt. Returns '
    'the new state, or ''fenced'' when the claim was lost.';

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
    SET state = 'pending', lease_expires_at = NULL,
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
    'Returns escalations whose lease expired (their worker died or hung) to the queue, at their old place (they were '
    'due when claimed, so they go before what arrived since); returns how many.';

CREATE FUNCTION ops.requeue_escalation(id bigint)
RETURNS ops.escalations
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    esc ops.escalations;
    current_state text;
BEGIN
    UPDATE ops.escalations e
    SET state = 'pending', next_attempt_at = now(), max_attempts = e.attempts + 10, lease_expires_at = NULL,
        error_history = e.error_history || jsonb_build_array(jsonb_build_object('at', now(), 'error', 'requeued by hand'))
    WHERE e.id = requeue_escalation.id AND e.state = 'dead'
    RETURNING e.* INTO esc;
    IF NOT FOUND THEN
        SELECT e.state INTO current_state FROM ops.escalations e WHERE e.id = requeue_escalation.id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'no escalation % (see `ops dispatch list`)', requeue_escalation.id
                USING ERRCODE = 'OP004', COLUMN = 'id';
        END IF;
        RAISE EXCEPTION 'escalation % is %, not dead: only dead escalations can be requeued', requeue_escalation.id,
                        current_state
            USING ERRCODE = 'OPD04', COLUMN = 'id';
    END IF;
    BEGIN
        UPDATE ops.agent_runs r
        SET status = 'queued', finished_at = NULL, updated_at = now()
        WHERE r.escalation_id = esc.id AND r.status = 'dead';
    EXCEPTION WHEN unique_violation THEN
        NULL;  -- another run for the fingerprint is active: it does the work, this one stays dead
    END;
    RETURN esc;
END
$$;
COMMENT ON FUNCTION ops.requeue_escalation(bigint) IS
    'Brings a dead escalation back to the queue with ten more attempts, keeping its error history. Its FixBot run, '
    'dead with it, is queued again unless another run for the same fingerprint is active. Raises OP004 for an id '
    'that does not exist and OPD04 (naming the state) for an escalation that is not dead; neither changes anything.';

CREATE FUNCTION ops.update_agent_run(id bigint, status text, verdict jsonb DEFAULT NULL, branch text DEFAULT NULL,
                                                pr_url text DEFAULT NULL, error text DEFAULT NULL)
RETURNS ops.agent_runs
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    run ops.agent_runs;
BEGIN
    SELECT * INTO run FROM ops.agent_runs r WHERE r.id = update_agent_run.id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no agent run %', update_agent_run.id USING ERRCODE = 'OP004';
    END IF;
    IF run.status IN ('succeeded', 'failed', 'rejected', 'dead', 'cancelled') THEN
        RAISE EXCEPTION 'agent run % is already % (%): a finished run is not changed', run.id, run.status,
                        coalesce(run.last_error, 'no error')
            USING ERRCODE = 'OP005';
    END IF;
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
    RETURN run;
END
$$;
COMMENT ON FUNCTION ops.update_agent_run(bigint, text, jsonb, text, text, text) IS
    'Moves a FixBot run along (queued, running, succeeded, failed, rejected, ...), recording verdict, branch and PR. '
    'A finished run is final: changing it raises OP005.';

CREATE FUNCTION ops.expire_agent_runs(run_timeout interval)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    expired ops.agent_runs;
    ids bigint[] := ARRAY[]::bigint[];
BEGIN
    -- Each timeout is recorded with the run's id before the run fails: that update rescores the runs
    -- (tg_agent_runs__50_score_updated), and a run's failure_modes are the errors recorded with its id by then.
    FOR expired IN
        SELECT s.* FROM ops.agent_runs s
        WHERE s.status = 'running' AND s.updated_at < now() - run_timeout
        ORDER BY s.id
        FOR UPDATE SKIP LOCKED
    LOOP
        PERFORM ops.record_error(
            source => 'agent_runner', phase => 'dispatch', code_hint => 'AGENT.RUN_TIMEOUT',
            message => format('FixBot run %s for %s: no result reported within %s of dispatch',
                              expired.id, expired.code, run_timeout),
            run_id => expired.id::text,
            context => jsonb_build_object('fingerprint', expired.fingerprint, 'agent_run_id', expired.id));
        ids := ids || expired.id;
    END LOOP;
    UPDATE ops.agent_runs r
    SET status = 'failed', updated_at = now(), finished_at = now(),
        last_error = format('no result reported within %s of dispatch', run_timeout)
    WHERE r.id = ANY (ids);
    RETURN cardinality(ids);
END
$$;
COMMENT ON FUNCTION ops.expire_agent_runs(interval) IS
    'Fails FixBot runs left running longer than run_timeout (a runner that never reported back), freeing their '
    'fingerprint for a later run; each is first recorded through the pipeline (AGENT.RUN_TIMEOUT with the run''s id), '
    'so the rescore the update triggers counts it among the run''s failure_modes. Returns how many. Called by the reaper.';

CREATE FUNCTION ops.seal_page_digest(id bigint, token integer) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    esc ops.escalations;
    win ops.page_windows;
    groups jsonb;
    sealed jsonb;
BEGIN
    SELECT * INTO esc FROM ops.escalations e
    WHERE e.id = seal_page_digest.id AND e.claims = token AND e.state = 'claimed' AND e.reason = 'digest';
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    -- Waits for any transaction still adding to this window; from here on its crossings page on their own.
    UPDATE ops.page_windows w SET sealed_at = coalesce(w.sealed_at, now())
    WHERE w.id = (esc.payload ->> 'window_id')::bigint
    RETURNING * INTO win;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'digest escalation % names no page window (payload.window_id %)', esc.id,
            coalesce(esc.payload ->> 'window_id', 'missing') USING ERRCODE = 'OP061';
    END IF;
    SELECT coalesce(jsonb_agg(i.payload || jsonb_build_object(
               'sample_message', left(i.payload ->> 'sample_message', 300), 'reason', i.reason, 'count', i.count_at)
               ORDER BY i.count_at DESC, i.code, i.fingerprint), '[]')
    INTO groups
    FROM ops.page_window_items i
    WHERE i.window_id = win.id;
    UPDATE ops.escalations e
    SET payload = e.payload || jsonb_build_object('similar_groups', jsonb_array_length(groups), 'groups', groups,
                                                  'sealed_at', win.sealed_at, 'window_crossings', win.crossings),
        count_at = jsonb_array_length(groups)
    WHERE e.id = esc.id AND e.claims = token AND e.state = 'claimed'
    RETURNING e.payload INTO sealed;
    RETURN sealed;
END
$$;
COMMENT ON FUNCTION ops.seal_page_digest(bigint, integer) IS
    'Freezes a claimed digest escalation (reason digest) before delivery and returns its payload with '
    'similar_groups (how many) and groups (code, title, count, fingerprint, source, phase, first/last seen, sample of '
    'at most 300 characters; highest count first). Fenced by the claim token: NULL when the claim was lost or the '
    'escalation is not a digest. Waits for transactions still adding to the window; crossings after the seal page on '
    'their own. Idempotent: a retried delivery gets the same list. Raises OP061 when the window is missing.';

-- Ignored errors never escalate until their ignored_until.
CREATE FUNCTION ops_private.tg_escalations__skip_ignored() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    until timestamptz;
BEGIN
    SELECT a.ignored_until INTO until FROM ops.agent_errors a
    WHERE a.fingerprint = NEW.fingerprint AND a.status = 'ignored';
    IF NOT FOUND THEN
        RETURN NEW;  -- not ignored (or a digest, whose fingerprint names its window)
    END IF;
    IF until IS NULL OR until > now() THEN
        RETURN NULL;
    END IF;
    UPDATE ops.agent_errors a SET status = 'open', ignored_until = NULL
    WHERE a.fingerprint = NEW.fingerprint AND a.status = 'ignored';
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION ops_private.tg_escalations__skip_ignored() IS
    'BEFORE INSERT per row on ops.escalations: skips (returns NULL) an escalation of an error that is ignored with no '
    'ignored_until or one still ahead; an ignore that has run out is reopened (status open) and the escalation kept.';

CREATE TRIGGER tg_escalations__10_skip_ignored BEFORE INSERT ON ops.escalations
    FOR EACH ROW EXECUTE FUNCTION ops_private.tg_escalations__skip_ignored();

-- FixBot auto-resolve: merged pull requests whose error stayed quiet.

CREATE FUNCTION ops.resolve_error_by_fixbot(fingerprint text, run_id bigint, quiet_period interval,
                                            resolution_ref text, resolution_sha256 text)
RETURNS SETOF ops.agent_errors
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
BEGIN
    PERFORM FROM ops.agent_errors a WHERE a.fingerprint = resolve_error_by_fixbot.fingerprint FOR UPDATE;
    IF NOT EXISTS (SELECT FROM ops.fixbot_resolution_candidates(resolve_error_by_fixbot.quiet_period) c
                   WHERE c.fingerprint = resolve_error_by_fixbot.fingerprint AND c.run_id = resolve_error_by_fixbot.run_id) THEN
        RAISE EXCEPTION 'error % is not resolvable by FixBot run %', left(resolve_error_by_fixbot.fingerprint, 12),
                        resolve_error_by_fixbot.run_id
            USING ERRCODE = 'OPD04',
            HINT = 'It needs a merged FixBot pull request and no occurrence since, for the quiet period.';
    END IF;
    RETURN QUERY SELECT * FROM ops.resolve_error(resolve_error_by_fixbot.fingerprint, resolve_error_by_fixbot.resolution_ref,
                                                 resolve_error_by_fixbot.resolution_sha256, 'fixbot');
END
$$;
COMMENT ON FUNCTION ops.resolve_error_by_fixbot(text, bigint, interval, text, text) IS
    'The worker''s auto-resolve: resolves the error (resolved_by fixbot, with its record''s path and sha256) only if it '
    'is still a candidate of ops.fixbot_resolution_candidates(quiet_period) for that run, else OPD04. Returns the row.';
