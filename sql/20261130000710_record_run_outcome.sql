-- Outcomes in (issue 10): ops.record_run_outcome(), the one way an outcome of an agent run is stored (the
-- GitHub webhook Edge Function and `ops fixbot report` call it), granted to a new least-privilege group
-- role ops_outcomes; and ops.set_agent_run_artifacts(), through which the worker stores a run's patch and
-- transcript (redacted).
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'ops_outcomes') THEN
        CREATE ROLE ops_outcomes NOLOGIN;
    END IF;
END
$roles$;
GRANT USAGE ON SCHEMA ops TO ops_outcomes;

CREATE FUNCTION ops.record_run_outcome(
    kind text,
    state text,
    run_id bigint DEFAULT NULL,
    branch text DEFAULT NULL,
    pr_url text DEFAULT NULL,
    check_name text DEFAULT NULL,
    target_fixed boolean DEFAULT NULL,
    regressions integer DEFAULT NULL,
    detail jsonb DEFAULT '{}',
    delivery_id text DEFAULT NULL,
    occurred_at timestamptz DEFAULT NULL)
RETURNS TABLE (outcome_id bigint, matched_run_id bigint, duplicate boolean)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    run ops.agent_runs;
    fixed boolean := record_run_outcome.target_fixed;
    clean jsonb;
BEGIN
    IF kind IS NULL OR kind NOT IN ('ci', 'pull_request', 'review', 'report') THEN
        RAISE EXCEPTION 'kind must be ci, pull_request, review or report, not %', coalesce(quote_literal(kind), 'null')
            USING ERRCODE = 'OP001', COLUMN = 'kind';
    END IF;
    IF state IS NULL OR state !~ '^[a-z][a-z0-9_]{0,39}$' THEN
        RAISE EXCEPTION 'state must be a lower-case word (success, failure, merged, approved, ...), not %',
                        coalesce(quote_literal(left(state, 60)), 'null')
            USING ERRCODE = 'OP001', COLUMN = 'state';
    END IF;
    IF regressions < 0 THEN
        RAISE EXCEPTION 'regressions must be 0 or more, not %', regressions USING ERRCODE = 'OP001', COLUMN = 'regressions';
    END IF;
    IF detail IS NULL OR jsonb_typeof(detail) <> 'object' THEN
        RAISE EXCEPTION 'detail must be a JSON object' USING ERRCODE = 'OP001', COLUMN = 'detail';
    END IF;
    IF length(delivery_id) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION 'delivery_id must be 1 to 200 characters' USING ERRCODE = 'OP001', COLUMN = 'delivery_id';
    END IF;

    -- Which run: the id when given, else the run whose pull request it is, else the latest run on the branch.
    IF record_run_outcome.run_id IS NOT NULL THEN
        SELECT * INTO run FROM ops.agent_runs r WHERE r.id = record_run_outcome.run_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'no agent run %', record_run_outcome.run_id USING ERRCODE = 'OP004', COLUMN = 'run_id';
        END IF;
    ELSE
        SELECT * INTO run FROM ops.agent_runs r
        WHERE (record_run_outcome.pr_url IS NOT NULL AND r.pr_url = record_run_outcome.pr_url)
           OR (record_run_outcome.branch IS NOT NULL AND r.branch = record_run_outcome.branch)
        ORDER BY (r.pr_url IS NOT DISTINCT FROM record_run_outcome.pr_url) DESC, r.id DESC
        LIMIT 1;
        IF NOT FOUND THEN
            -- Not one of ours (another bot's branch, a person's PR): nothing is stored.
            RETURN QUERY SELECT NULL::bigint, NULL::bigint, false;
            RETURN;
        END IF;
    END IF;

    -- A check run of the run's target check (metadata.target_check) says whether the target is fixed.
    IF fixed IS NULL AND kind = 'ci' AND check_name IS NOT NULL
       AND check_name = run.metadata ->> 'target_check' AND state IN ('success', 'failure', 'timed_out') THEN
        fixed := state = 'success';
    END IF;
    -- Evidence is redacted like everything stored: every top-level string member.
    SELECT coalesce(jsonb_object_agg(e.key, CASE WHEN jsonb_typeof(e.value) = 'string'
                                                 THEN to_jsonb(ops.redact(e.value #>> '{}')) ELSE e.value END), '{}')
    INTO clean
    FROM jsonb_each(detail) e;

    INSERT INTO ops.agent_run_outcomes AS o (run_id, kind, state, check_name, target_fixed, regressions, detail,
                                             delivery_id, occurred_at)
    VALUES (run.id, kind, state, left(check_name, 200), fixed, regressions, clean, delivery_id,
            coalesce(occurred_at, now()))
    ON CONFLICT ON CONSTRAINT agent_run_outcomes_delivery_id_key DO NOTHING
    RETURNING o.id INTO outcome_id;
    IF outcome_id IS NULL THEN
        -- A replayed delivery: counted once.
        SELECT o.id, o.run_id INTO outcome_id, matched_run_id
        FROM ops.agent_run_outcomes o WHERE o.delivery_id = record_run_outcome.delivery_id;
        duplicate := true;
        RETURN NEXT;
        RETURN;
    END IF;
    IF kind = 'pull_request' AND record_run_outcome.pr_url IS NOT NULL AND run.pr_url IS NULL THEN
        UPDATE ops.agent_runs r SET pr_url = record_run_outcome.pr_url, updated_at = now() WHERE r.id = run.id;
    END IF;
    IF EXISTS (SELECT FROM ops.ssot_state s WHERE s.name = 'benchmark' AND s.detail ? 'metrics') THEN
        PERFORM ops.score_agent_runs(ARRAY[run.id]);
    END IF;
    matched_run_id := run.id;
    duplicate := false;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION ops.record_run_outcome(text, text, bigint, text, text, text, boolean, integer, jsonb, text, timestamptz) IS
    'Stores one outcome of an agent run (ops.agent_run_outcomes) and rescores the run (ops.score_agent_runs, when the '
    'benchmark is synced). The run: run_id when given (OP004 if it does not exist), else the run whose pr_url equals '
    'pr_url, else the latest run on branch; no match stores nothing and returns (NULL, NULL, false). A ci outcome for '
    'the run''s metadata.target_check sets target_fixed from its state when not given. delivery_id (GitHub''s '
    'X-GitHub-Delivery) makes a replay a no-op: it returns the stored row with duplicate = true. Top-level string '
    'members of detail are redacted. A pull_request outcome fills the run''s pr_url when it has none. Returns '
    '(outcome_id, matched_run_id, duplicate). Raises OP001 naming the field for a bad kind, state, regressions, '
    'detail or delivery_id. Granted to ops_outcomes (the GitHub webhook and `ops fixbot report`).';

CREATE FUNCTION ops_private.redact_transcript(transcript jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, ops
AS $$
DECLARE
    message jsonb;
    result jsonb := '[]'::jsonb;
    i integer := 0;
BEGIN
    IF transcript IS NULL THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(transcript) <> 'array' THEN
        RAISE EXCEPTION 'transcript must be a JSON array of chat messages' USING ERRCODE = 'OP001', COLUMN = 'transcript';
    END IF;
    FOR message IN SELECT value FROM jsonb_array_elements(transcript) LOOP
        IF jsonb_typeof(message) <> 'object' OR NOT coalesce(message ->> 'role' IN ('system', 'user', 'assistant', 'tool'), false)
           OR (message ? 'content' AND jsonb_typeof(message -> 'content') NOT IN ('string', 'null'))
           OR (message ? 'tool_calls' AND jsonb_typeof(message -> 'tool_calls') <> 'array') THEN
            RAISE EXCEPTION 'transcript[%]: a message is {role: system|user|assistant|tool, content: text, '
                            'tool_calls?: [...], tool_call_id?}', i
                USING ERRCODE = 'OP001', COLUMN = 'transcript';
        END IF;
        IF jsonb_typeof(message -> 'content') = 'string' THEN
            message := jsonb_set(message, '{content}', to_jsonb(ops.redact(message ->> 'content')));
        END IF;
        IF message ? 'tool_calls' THEN
            message := jsonb_set(message, '{tool_calls}', coalesce((
                SELECT jsonb_agg(CASE WHEN jsonb_typeof(c #> '{function,arguments}') = 'string'
                                      THEN jsonb_set(c, '{function,arguments}', to_jsonb(ops.redact(c #>> '{function,arguments}')))
                                      ELSE c END ORDER BY n)
                FROM jsonb_array_elements(message -> 'tool_calls') WITH ORDINALITY AS t (c, n)), '[]'));
        END IF;
        result := result || jsonb_build_array(message);
        i := i + 1;
    END LOOP;
    RETURN result;
END
$$;
COMMENT ON FUNCTION ops_private.redact_transcript(jsonb) IS
    'Checks a chat transcript (a JSON array of {role: system|user|assistant|tool, content, tool_calls?: [{type, '
    'function: {name, arguments}}], tool_call_id?}) and returns it with every content and tool-call arguments string '
    'redacted by ops.redact(). Raises OP001 (column transcript) naming the first bad message.';

CREATE FUNCTION ops.set_agent_run_artifacts(id bigint, patch text DEFAULT NULL, transcript jsonb DEFAULT NULL)
RETURNS ops.agent_runs
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    run ops.agent_runs;
BEGIN
    UPDATE ops.agent_runs r
    SET patch = coalesce(ops.redact(set_agent_run_artifacts.patch), r.patch),
        transcript = coalesce(ops_private.redact_transcript(set_agent_run_artifacts.transcript), r.transcript),
        updated_at = now()
    WHERE r.id = set_agent_run_artifacts.id
    RETURNING r.* INTO run;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no agent run %', set_agent_run_artifacts.id USING ERRCODE = 'OP004', COLUMN = 'id';
    END IF;
    RETURN run;
END
$$;
COMMENT ON FUNCTION ops.set_agent_run_artifacts(bigint, text, jsonb) IS
    'Stores what a runner produced on its run: patch (a unified diff; redacted, at most 65536 characters kept, as '
    'ops.redact reads) and transcript (chat messages, checked and redacted by ops_private.redact_transcript). NULL '
    'leaves a field as it is. Raises OP004 for an unknown run, OP001 (column transcript) for a malformed transcript. '
    'Granted to ops_worker (the FixBot destination, `ops fixbot verify --run`) and ops_outcomes (`ops fixbot report '
    '--transcript`).';

REVOKE ALL ON FUNCTION ops.record_run_outcome(text, text, bigint, text, text, text, boolean, integer, jsonb, text, timestamptz),
                       ops_private.redact_transcript(jsonb), ops.set_agent_run_artifacts(bigint, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ops.record_run_outcome(text, text, bigint, text, text, text, boolean, integer, jsonb, text, timestamptz)
      TO ops_outcomes;
GRANT EXECUTE ON FUNCTION ops.set_agent_run_artifacts(bigint, text, jsonb) TO ops_worker, ops_outcomes;
-- Why these values (README, Security): a webhook delivery or a report is one short call; GitHub gives a
-- delivery 10 s before it counts it failed.
ALTER ROLE ops_outcomes SET statement_timeout = '10s';
ALTER ROLE ops_outcomes SET lock_timeout = '5s';
ALTER ROLE ops_outcomes SET idle_in_transaction_session_timeout = '30s';
