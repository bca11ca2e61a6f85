-- Ingest: one row per fingerprint (ops.agent_errors), the triggers that redact, classify, fingerprint
-- and aggregate each event and queue escalations, and the API producers call (ops.record_error[s]).

CREATE TABLE ops.agent_errors (
    fingerprint         text PRIMARY KEY,
    fingerprint_version smallint NOT NULL,
    code                text NOT NULL,
    source              text NOT NULL,
    phase               text,
    count               bigint NOT NULL CONSTRAINT agent_errors_count_positive CHECK (count > 0),
    first_seen_at       timestamptz NOT NULL,
    last_seen_at        timestamptz NOT NULL,
    status              text NOT NULL DEFAULT 'open' CONSTRAINT agent_errors_status_known
                        CHECK (status IN ('open', 'acknowledged', 'resolved', 'regressed', 'ignored')),
    confidence          real,
    matched_pattern     text,
    sample_message      text NOT NULL,
    top_frame           text,
    last_event_id       bigint,
    last_run_id         text,
    last_correlation_id text,
    window_started_at   timestamptz,
    window_count        bigint,
    regression_count    integer NOT NULL DEFAULT 0,
    resolved_at         timestamptz,
    resolution_ref      text
);
COMMENT ON TABLE ops.agent_errors IS
    'One row per fingerprint: how often an error occurred, when first and last, and its triage status. Maintained by '
    'the ingest trigger on ops.error_events; never written by producers.';
COMMENT ON COLUMN ops.agent_errors.status IS
    'open | acknowledged | resolved | regressed | ignored. A resolved error that occurs again becomes regressed and escalates.';
COMMENT ON COLUMN ops.agent_errors.window_count IS
    'Events in the current escalation window (codes with escalate.within), counted from window_started_at.';
COMMENT ON COLUMN ops.agent_errors.regression_count IS 'How many times this error came back after being resolved.';
CREATE INDEX agent_errors_code_last_seen_idx ON ops.agent_errors (code, last_seen_at DESC);

CREATE FUNCTION ops_private.tg_error_events__prepare() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    max_length constant integer := 32768;  -- longer messages keep head and tail around a marker
    head_length constant integer := 24576;
    tail_length constant integer := 8192;
    margin constant integer := 8192;       -- a secret cut by the slice is still whole inside the margin
    max_context constant integer := 16384;
    original_length integer;
    context_text text;
    redacted text;
    known text;
BEGIN
    NEW.source := lower(nullif(btrim(NEW.source), ''));
    IF NEW.source IS NULL THEN
        RAISE EXCEPTION 'source is required' USING ERRCODE = 'OP001', COLUMN = 'source',
            HINT = 'Pass one of the sources in ops.sources, e.g. github_actions.';
    END IF;
    IF NOT EXISTS (SELECT FROM ops.sources s WHERE s.source = NEW.source) THEN
        SELECT string_agg(s.source, ', ' ORDER BY s.position) INTO known FROM ops.sources s;
        RAISE EXCEPTION 'unknown source "%"', left(NEW.source, 100) USING ERRCODE = 'OP002', COLUMN = 'source',
            DETAIL = 'known sources: ' || coalesce(known, 'none (the taxonomy is not synced: run `ops ssot sync`)');
    END IF;
    IF NEW.message IS NULL OR btrim(NEW.message) = '' THEN
        RAISE EXCEPTION 'message is required' USING ERRCODE = 'OP001', COLUMN = 'message';
    END IF;

    original_length := length(NEW.message);
    NEW.message_length := original_length;
    IF original_length > max_length THEN
        NEW.message := left(ops.redact(left(NEW.message, head_length + margin)), head_length)
            || format(E'\n[… %s characters truncated …]\n', original_length - head_length - tail_length)
            || right(ops.redact(right(NEW.message, tail_length + margin)), tail_length);
        NEW.truncated := true;
    ELSE
        NEW.message := ops.redact(NEW.message);
        NEW.truncated := false;
    END IF;

    NEW.phase := left(nullif(btrim(NEW.phase), ''), 200);
    NEW.top_frame := left(ops.redact(left(nullif(btrim(NEW.top_frame), ''), 4096 + margin)), 4096);
    NEW.run_id := left(ops.redact(NEW.run_id), 256);
    NEW.correlation_id := left(ops.redact(NEW.correlation_id), 256);
    NEW.origin := left(ops.redact(NEW.origin), 256);
    NEW.occurred_at := coalesce(NEW.occurred_at, NEW.received_at);

    NEW.context := coalesce(NEW.context, '{}');
    IF jsonb_typeof(NEW.context) <> 'object' THEN
        NEW.context := jsonb_build_object('value', NEW.context);
    END IF;
    context_text := NEW.context::text;
    IF length(context_text) > max_context THEN
        NEW.context := jsonb_build_object('_truncated', true, '_original_length', length(context_text),
                                          '_preview', left(ops.redact(left(context_text, 2048 + margin)), 2048));
    ELSE
        redacted := ops.redact(context_text);
        IF redacted IS DISTINCT FROM context_text THEN
            BEGIN
                NEW.context := redacted::jsonb;
            EXCEPTION WHEN invalid_text_representation THEN
                NEW.context := jsonb_build_object('_redaction_broke_json', true, '_preview', left(redacted, 2048));
            END;
        END IF;
    END IF;

    -- A producer may name the code (e.g. from a Problem Details document's ipai.code); it is kept only
    -- when the taxonomy knows it. Otherwise the message is classified and the claim kept as evidence.
    IF NEW.code IS NOT NULL AND EXISTS (SELECT FROM ops.failure_modes f WHERE f.code = NEW.code) THEN
        NEW.confidence := 1.0;
        NEW.matched_pattern := NULL;
    ELSE
        IF NEW.code IS NOT NULL THEN
            NEW.context := NEW.context || jsonb_build_object('_claimed_code', left(NEW.code, 200));
        END IF;
        SELECT c.code, c.confidence, c.matched_pattern INTO NEW.code, NEW.confidence, NEW.matched_pattern
        FROM ops.classify_error(NEW.source, NEW.phase, NEW.message) c;
    END IF;

    NEW.fingerprint := ops.error_fingerprint(NEW.source, NEW.phase, NEW.code, NEW.message, NEW.top_frame);
    NEW.fingerprint_version := 1;
    RETURN NEW;
END
$$;

CREATE FUNCTION ops_private.tg_error_events__append_only() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $$
BEGIN
    IF current_setting('ops.maintenance', true) = 'on' THEN
        RETURN OLD;  -- ops.ensure_error_event_partitions moving rows out of the default partition
    END IF;
    RAISE EXCEPTION 'ops.error_events is append-only' USING ERRCODE = 'OP003',
        HINT = 'Retention drops whole partitions: ops.drop_error_event_partitions().';
END
$$;

CREATE FUNCTION ops_private.tg_error_events__aggregate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
BEGIN
    WITH batch AS (
        SELECT e.fingerprint,
               min(e.fingerprint_version) AS fingerprint_version,
               min(e.code) AS code,
               min(e.source) AS source,
               min(e.phase) AS phase,
               count(*) AS n,
               min(e.received_at) AS first_at,
               max(e.received_at) AS last_at,
               (array_agg(e.id ORDER BY e.id DESC))[1] AS last_event_id,
               (array_agg(e.message ORDER BY e.id DESC))[1] AS sample_message,
               (array_agg(e.top_frame ORDER BY e.id DESC))[1] AS top_frame,
               (array_agg(e.run_id ORDER BY e.id DESC))[1] AS run_id,
               (array_agg(e.correlation_id ORDER BY e.id DESC))[1] AS correlation_id,
               max(e.confidence) AS confidence,
               min(e.matched_pattern) AS matched_pattern
        FROM inserted e
        GROUP BY e.fingerprint
    ), upserted AS (
        -- Rows are upserted in fingerprint order, so concurrent multi-row statements lock in one order.
        INSERT INTO ops.agent_errors AS a (
            fingerprint, fingerprint_version, code, source, phase, count, first_seen_at, last_seen_at,
            confidence, matched_pattern, sample_message, top_frame, last_event_id, last_run_id,
            last_correlation_id, window_started_at, window_count)
        SELECT b.fingerprint, b.fingerprint_version, b.code, b.source, b.phase, b.n, b.first_at, b.last_at,
               b.confidence, b.matched_pattern, b.sample_message, b.top_frame, b.last_event_id, b.run_id,
               b.correlation_id,
               CASE WHEN fm.escalate_within IS NOT NULL THEN b.first_at END,
               CASE WHEN fm.escalate_within IS NOT NULL THEN b.n END
        FROM batch b
        LEFT JOIN ops.failure_modes fm ON fm.code = b.code
        ORDER BY b.fingerprint
        ON CONFLICT (fingerprint) DO UPDATE SET
            count = a.count + excluded.count,
            last_seen_at = greatest(a.last_seen_at, excluded.last_seen_at),
            sample_message = excluded.sample_message,
            top_frame = excluded.top_frame,
            last_event_id = excluded.last_event_id,
            last_run_id = coalesce(excluded.last_run_id, a.last_run_id),
            last_correlation_id = coalesce(excluded.last_correlation_id, a.last_correlation_id),
            status = CASE WHEN a.status = 'resolved' THEN 'regressed' ELSE a.status END,
            regression_count = a.regression_count + (a.status = 'resolved')::integer,
            -- A window opens at the first event after the previous one closed.
            window_started_at = CASE
                WHEN excluded.window_started_at IS NULL THEN NULL
                WHEN a.window_started_at IS NULL
                  OR excluded.first_seen_at >= a.window_started_at
                     + (SELECT f.escalate_within FROM ops.failure_modes f WHERE f.code = a.code)
                THEN excluded.window_started_at
                ELSE a.window_started_at END,
            window_count = CASE
                WHEN excluded.window_started_at IS NULL THEN NULL
                WHEN a.window_started_at IS NULL
                  OR excluded.first_seen_at >= a.window_started_at
                     + (SELECT f.escalate_within FROM ops.failure_modes f WHERE f.code = a.code)
                THEN excluded.window_count
                ELSE a.window_count + excluded.window_count END
        RETURNING a.fingerprint, a.code, a.source, a.phase, a.count, a.window_count, a.window_started_at,
                  a.status, a.regression_count, a.first_seen_at, a.last_seen_at, a.sample_message,
                  a.top_frame, a.last_event_id, a.last_run_id
    ), crossings AS (
        -- The upsert returns the new counts; this statement added b.n, so the old count is new - n.
        SELECT u.*, b.n, r.reason, r.dedupe_key,
               fm.escalate_destination, fm.title, fm.severity, fm.category, fm.runbook, fm.retryable,
               fm.remediate_kind
        FROM upserted u
        JOIN batch b ON b.fingerprint = u.fingerprint
        JOIN ops.failure_modes fm ON fm.code = u.code
        CROSS JOIN LATERAL (VALUES
            ('threshold', u.fingerprint || ':threshold',
             fm.escalate_within IS NULL
             AND u.count - b.n < fm.escalate_after_count AND u.count >= fm.escalate_after_count),
            ('window', u.fingerprint || ':window:' || to_char(u.window_started_at AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS.US'),
             fm.escalate_within IS NOT NULL
             AND u.window_count - b.n < fm.escalate_after_count AND u.window_count >= fm.escalate_after_count),
            ('regression', u.fingerprint || ':regression:' || u.regression_count,
             u.status = 'regressed')
        ) AS r (reason, dedupe_key, fires)
        WHERE r.fires
    ), escalated AS (
        INSERT INTO ops.escalations (dedupe_key, fingerprint, code, reason, destination, count_at, payload)
        SELECT c.dedupe_key, c.fingerprint, c.code, c.reason, c.escalate_destination, c.count,
               jsonb_build_object(
                   'code', c.code, 'title', c.title, 'severity', c.severity, 'category', c.category,
                   'reason', c.reason, 'count', c.count, 'window_count', c.window_count,
                   'first_seen_at', c.first_seen_at, 'last_seen_at', c.last_seen_at,
                   'source', c.source, 'phase', c.phase, 'sample_message', c.sample_message,
                   'top_frame', c.top_frame, 'runbook', c.runbook, 'retryable', c.retryable,
                   'remediate_kind', c.remediate_kind, 'last_event_id', c.last_event_id,
                   'last_run_id', c.last_run_id, 'fingerprint', c.fingerprint)
        FROM crossings c
        ORDER BY c.dedupe_key
        ON CONFLICT (dedupe_key) DO NOTHING
        RETURNING id, fingerprint, code, payload
    )
    INSERT INTO ops.agent_runs (fingerprint, code, escalation_id, policy_ref, policy_sha256, evidence, metadata)
    SELECT e.fingerprint, e.code, e.id, coalesce(p.path, 'ssot/agents/fixbot_policy.yaml'), p.sha256,
           e.payload - 'remediate_kind',
           jsonb_build_object('variant_id', coalesce(p.detail ->> 'default_variant', 'baseline'))
    FROM escalated e
    JOIN ops.failure_modes fm ON fm.code = e.code AND fm.remediate_kind = 'fixbot'
    LEFT JOIN ops.ssot_state p ON p.name = 'fixbot_policy'
    ORDER BY e.fingerprint
    ON CONFLICT (fingerprint) WHERE status IN ('queued', 'claimed', 'running') DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER tg_error_events__10_prepare BEFORE INSERT ON ops.error_events
    FOR EACH ROW EXECUTE FUNCTION ops_private.tg_error_events__prepare();

CREATE TRIGGER tg_error_events__20_append_only BEFORE UPDATE OR DELETE ON ops.error_events
    FOR EACH ROW EXECUTE FUNCTION ops_private.tg_error_events__append_only();

CREATE TRIGGER tg_error_events__90_aggregate AFTER INSERT ON ops.error_events
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION ops_private.tg_error_events__aggregate();

CREATE FUNCTION ops.record_error(
    source text,
    message text,
    phase text DEFAULT NULL,
    top_frame text DEFAULT NULL,
    run_id text DEFAULT NULL,
    correlation_id text DEFAULT NULL,
    origin text DEFAULT NULL,
    context jsonb DEFAULT NULL,
    occurred_at timestamptz DEFAULT NULL,
    code_hint text DEFAULT NULL)
RETURNS TABLE (event_id bigint, fingerprint text, code text, count bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
#variable_conflict use_column
BEGIN
    INSERT INTO ops.error_events AS e (source, message, phase, top_frame, run_id, correlation_id, origin,
                                       context, occurred_at, code)
    VALUES (record_error.source, record_error.message, record_error.phase, record_error.top_frame,
            record_error.run_id, record_error.correlation_id, record_error.origin, record_error.context,
            record_error.occurred_at, record_error.code_hint)
    RETURNING e.id, e.fingerprint, e.code INTO event_id, fingerprint, code;
    -- This transaction holds the row lock from the upsert, so the count read here is the one it made.
    SELECT a.count INTO count FROM ops.agent_errors a WHERE a.fingerprint = record_error.fingerprint;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION ops.record_error(text, text, text, text, text, text, text, jsonb, timestamptz, text) IS
    'The ingest API (call with named arguments; source and message are required). Stores one redacted, classified '
    'event and returns (event_id, fingerprint, code, count) where count is the fingerprint''s new total. code_hint is '
    'a code the producer already knows (e.g. a Problem Details ipai.code); it is used when the taxonomy has it.';

CREATE FUNCTION ops.record_errors(events jsonb)
RETURNS TABLE (event_id bigint, fingerprint text, code text, count bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
#variable_conflict use_column
DECLARE
    ids bigint[];
    fingerprints text[];
    codes text[];
BEGIN
    IF jsonb_typeof(events) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'events must be a JSON array of objects' USING ERRCODE = 'OP001', COLUMN = 'events';
    END IF;
    WITH stored AS (
        INSERT INTO ops.error_events AS e (source, message, phase, top_frame, run_id, correlation_id, origin,
                                           context, occurred_at, code)
        SELECT x.source, x.message, x.phase, x.top_frame, x.run_id, x.correlation_id, x.origin, x.context,
               x.occurred_at, x.code_hint
        FROM jsonb_array_elements(events) WITH ORDINALITY AS item (doc, ord)
        CROSS JOIN LATERAL jsonb_to_record(item.doc) AS x (
            source text, message text, phase text, top_frame text, run_id text, correlation_id text,
            origin text, context jsonb, occurred_at timestamptz, code_hint text)
        ORDER BY item.ord
        RETURNING e.id, e.fingerprint, e.code
    )
    SELECT array_agg(s.id ORDER BY s.id), array_agg(s.fingerprint ORDER BY s.id), array_agg(s.code ORDER BY s.id)
    INTO ids, fingerprints, codes
    FROM stored s;
    -- A new statement, so a new snapshot: the counts include what the aggregate trigger just wrote.
    RETURN QUERY
    SELECT u.id, u.fingerprint, u.code, a.count
    FROM unnest(ids, fingerprints, codes) WITH ORDINALITY AS u (id, fingerprint, code, ord)
    JOIN ops.agent_errors a ON a.fingerprint = u.fingerprint
    ORDER BY u.ord;
END
$$;
COMMENT ON FUNCTION ops.record_errors(jsonb) IS
    'Batch ingest: a JSON array of objects with the arguments of ops.record_error as keys, stored in one statement. '
    'Returns one row per event in input order; count is the fingerprint''s total after the whole batch.';

CREATE FUNCTION ops.set_error_status(fingerprint text, status text, resolution_ref text DEFAULT NULL)
RETURNS SETOF ops.agent_errors
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
#variable_conflict use_column
BEGIN
    IF set_error_status.status NOT IN ('open', 'acknowledged', 'resolved', 'ignored') THEN
        RAISE EXCEPTION 'status must be open, acknowledged, resolved or ignored, not "%"', set_error_status.status
            USING ERRCODE = 'OP001', COLUMN = 'status';
    END IF;
    RETURN QUERY
    UPDATE ops.agent_errors a
    SET status = set_error_status.status,
        resolved_at = CASE WHEN set_error_status.status = 'resolved' THEN now() END,
        resolution_ref = coalesce(set_error_status.resolution_ref, a.resolution_ref)
    WHERE a.fingerprint = set_error_status.fingerprint
    RETURNING a.*;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no error with fingerprint "%"', set_error_status.fingerprint USING ERRCODE = 'OP004';
    END IF;
END
$$;
COMMENT ON FUNCTION ops.set_error_status(text, text, text) IS
    'Triage: sets an error''s status (open, acknowledged, resolved, ignored). resolution_ref points at the resolution '
    'record (docs/resolutions/...). A resolved error that occurs again becomes regressed and escalates.';
