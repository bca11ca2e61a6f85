-- Ingest hardening (issue 11 items 3, 7, 8, 9, 10): producers trusted only as far as their role, one rule
-- for "empty", one rule for the context's depth, every cut field marked, and idempotency keys.
--
-- * Trust. An external producer is the ingest role (any role that is neither a superuser, nor the owner
--   of ops.error_events, nor a member of ops_worker), or any session that set `ops.producer` (the Edge
--   Function does so for its JWT callers, naming the JWT's role). An external producer may not write the
--   internal sources (ops, stratt: SQLSTATE OP006, naming the source and the role); its code hint is
--   honoured only when the code's detect.sources include the event's source, and a hint for a code whose
--   remediation is a FixBot run only when the classifier agrees. A hint that is not honoured is kept as
--   evidence (context._claimed_code) and the message is classified. The system's own roles keep naming
--   their codes (OPS.DELIVERY_FAILED, AGENT.RUN_TIMEOUT, UNIT.*, ...).
-- * Empty. A source or message with no visible character (only whitespace, NBSP, zero-width characters,
--   bidi controls, other format or control characters) is refused (OP001): ops.is_blank() is the rule,
--   worker/ingest.py applies the same character set (a property test proves they agree).
-- * Depth. A context nested deeper than 32 levels (the value itself is level 1) is refused (OP001,
--   column context) whatever its size; the CLI and the Edge Function apply the same limit.
-- * Cut fields. truncated_fields lists every field that was shortened (message, phase, top_frame,
--   run_id, correlation_id, origin, context); `truncated` stays true for a cut message.
-- * Idempotency. An optional event_key (1..200 characters, no control characters) makes an event
--   idempotent: the first event with a key is stored, any later one (same statement, another session,
--   a re-run days later) is skipped by the BEFORE trigger (it returns NULL, so the row is neither stored
--   nor counted). Keys live in ops_private.event_keys (a unique index on the partitioned table would
--   need the partition key); concurrent inserts of one key serialize on its primary key, so a key is
--   stored once. ops.prune_event_keys() drops keys older than the oldest daily partition (their events
--   are gone, so a replay that old is stored again: the retention horizon is the dedupe horizon).

ALTER TABLE ops.error_events
    ADD COLUMN event_key text,
    ADD COLUMN truncated_fields text[] NOT NULL DEFAULT '{}';
COMMENT ON COLUMN ops.error_events.event_key IS
    'Optional idempotency key from the producer (like Sentry''s event_id; 1..200 characters). A second event with '
    'the same key is not stored. Keys are global: producers should use UUIDs or prefix them with their name.';
COMMENT ON COLUMN ops.error_events.truncated_fields IS
    'Names of the fields that were shortened on ingest (message, phase, top_frame, run_id, correlation_id, origin, '
    'context). Empty when nothing was cut.';

GRANT INSERT (event_key) ON ops.error_events TO ops_ingest;

CREATE TABLE ops_private.event_keys (
    event_key   text PRIMARY KEY,
    event_id    bigint NOT NULL,
    fingerprint text NOT NULL,
    code        text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE ops_private.event_keys ENABLE ROW LEVEL SECURITY;
COMMENT ON TABLE ops_private.event_keys IS
    'Idempotency keys of stored events (ops.error_events.event_key): the first event''s id, fingerprint and code. '
    'Written by the ingest trigger only; pruned by ops.prune_event_keys().';
CREATE INDEX event_keys_received_idx ON ops_private.event_keys (received_at);

CREATE FUNCTION ops.is_blank(value text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- Invisible: C0/C1 controls and space, NBSP, soft hyphen, combining grapheme joiner, Arabic letter mark,
-- Hangul fillers, Ogham space, Khmer invisible vowels, Mongolian selectors, the U+2000 spaces, zero-width
-- characters, directional marks, line/paragraph separators, bidi embeddings/overrides/isolates, narrow
-- NBSP, invisible operators, braille blank, ideographic space, variation selectors, BOM, specials.
-- worker/ingest.py INVISIBLE is the same set.
RETURN value IS NULL OR value !~ (U&'[^\0001-\0020\007F-\00A0\00AD\034F\061C\115F\1160\1680\17B4\17B5\180B-\180F'
                                  || U&'\2000-\200F\2028-\202F\205F-\206F\2800\3000\3164\FE00-\FE0F\FEFF\FFA0\FFF9-\FFFB]');
COMMENT ON FUNCTION ops.is_blank(text) IS
    'The one rule for "empty": true when the text is NULL or has no visible character (only whitespace, NBSP, '
    'zero-width characters, bidi controls, variation selectors, control characters). A blank source or message is '
    'refused by ingest (OP001). text -> boolean.';

CREATE FUNCTION ops.context_depth_exceeds(context jsonb, max_depth integer DEFAULT 32) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
-- Level 0 of a JSON path is the value itself (depth 1), so a node at level max_depth is one too deep.
RETURN context IS NOT NULL AND jsonb_path_exists(context, ('strict $.**{' || max_depth || '}')::jsonpath);
COMMENT ON FUNCTION ops.context_depth_exceeds(jsonb, integer) IS
    'True when a JSON value nests deeper than max_depth levels (the value itself is level 1, so {"a": 1} has depth 2). '
    'Ingest refuses a context deeper than 32 (OP001, column context). jsonb, integer -> boolean.';

CREATE FUNCTION ops_private.external_producer() RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog
-- The caller on whose behalf the row arrives: SET ROLE's role, else the login (current_user is the
-- definer inside SECURITY DEFINER functions, so it cannot tell).
RETURN CASE
    WHEN nullif(current_setting('ops.producer', true), '') IS NOT NULL
        THEN current_setting('ops.producer', true)
    WHEN EXISTS (
        SELECT FROM pg_roles r
        WHERE r.rolname = coalesce(nullif(current_setting('role'), 'none'), session_user::text)
          AND (r.rolsuper
               OR pg_has_role(r.oid, 'ops_worker', 'MEMBER')
               OR pg_has_role(r.oid, (SELECT c.relowner FROM pg_class c WHERE c.oid = 'ops.error_events'::regclass),
                              'MEMBER')))
        THEN NULL
    ELSE 'role ' || coalesce(nullif(current_setting('role'), 'none'), session_user::text)
END;
COMMENT ON FUNCTION ops_private.external_producer() IS
    'NULL when the event comes from one of the system''s roles (a superuser, the owner of ops.error_events, a member '
    'of ops_worker); otherwise who it comes from: the session''s `ops.producer` setting (the Edge Function names its '
    'JWT callers there) or "role <name>". External producers may not write internal sources, and their code hints '
    'are checked against the taxonomy.';

CREATE FUNCTION ops.internal_sources() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ARRAY['ops', 'stratt'];
COMMENT ON FUNCTION ops.internal_sources() IS
    'Sources only the system''s roles may write (ops: the worker and the database''s own failures; stratt: unit CI). '
    'The ingest role and the Edge Function''s JWT callers are refused with OP006. -> text[].';

CREATE OR REPLACE FUNCTION ops_private.tg_error_events__prepare() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    max_length constant integer := 32768;  -- longer messages keep head and tail around a marker
    head_length constant integer := 24576;
    tail_length constant integer := 8192;
    margin constant integer := 8192;       -- a secret cut by the slice is still whole inside the margin
    max_context constant integer := 16384;
    max_depth constant integer := 32;
    max_key constant integer := 200;
    original_length integer;
    context_text text;
    redacted text;
    known text;
    producer text;
    claimed text;
    hinted record;
    classified record;
    have_class boolean := false;
    honoured boolean := false;
    cut text[] := ARRAY[]::text[];
    stored integer;
BEGIN
    producer := ops_private.external_producer();
    IF ops.is_blank(NEW.source) THEN
        RAISE EXCEPTION 'source is required' USING ERRCODE = 'OP001', COLUMN = 'source',
            DETAIL = 'it has no visible character',
            HINT = 'Pass one of the sources in ops.sources, e.g. github_actions.';
    END IF;
    NEW.source := lower(btrim(NEW.source));
    IF NOT EXISTS (SELECT FROM ops.sources s WHERE s.source = NEW.source) THEN
        SELECT string_agg(s.source, ', ' ORDER BY s.position) INTO known FROM ops.sources s;
        RAISE EXCEPTION 'unknown source "%"', left(NEW.source, 100) USING ERRCODE = 'OP002', COLUMN = 'source',
            DETAIL = 'known sources: ' || coalesce(known, 'none (the taxonomy is not synced: run `ops ssot sync`)');
    END IF;
    IF producer IS NOT NULL AND NEW.source = ANY (ops.internal_sources()) THEN
        RAISE EXCEPTION 'source "%" is reserved for the system''s roles; % may not write it', NEW.source, producer
            USING ERRCODE = 'OP006', COLUMN = 'source',
            HINT = 'Use the source that names where the error happened (see ops.sources).';
    END IF;
    IF ops.is_blank(NEW.message) THEN
        RAISE EXCEPTION 'message is required' USING ERRCODE = 'OP001', COLUMN = 'message',
            DETAIL = 'it has no visible character';
    END IF;

    IF NEW.event_key IS NOT NULL THEN
        IF length(NEW.event_key) > max_key OR ops.is_blank(NEW.event_key) OR NEW.event_key ~ '[[:cntrl:]]' THEN
            RAISE EXCEPTION 'event_key must be 1 to % characters with a visible one and no control character', max_key
                USING ERRCODE = 'OP001', COLUMN = 'event_key';
        END IF;
        -- A replay: skip the row (neither stored nor counted). A concurrent first insert is caught below.
        IF EXISTS (SELECT FROM ops_private.event_keys k WHERE k.event_key = NEW.event_key) THEN
            RETURN NULL;
        END IF;
    END IF;

    original_length := length(NEW.message);
    NEW.message_length := original_length;
    IF original_length > max_length THEN
        NEW.message := left(ops.redact(left(NEW.message, head_length + margin)), head_length)
            || format(E'\n[… %s characters truncated …]\n', original_length - head_length - tail_length)
            || right(ops.redact(right(NEW.message, tail_length + margin)), tail_length);
        NEW.truncated := true;
        cut := cut || 'message'::text;
    ELSE
        NEW.message := ops.redact(NEW.message);
        NEW.truncated := false;
    END IF;

    NEW.phase := nullif(btrim(NEW.phase), '');
    IF length(NEW.phase) > 200 THEN
        NEW.phase := left(NEW.phase, 200);
        cut := cut || 'phase'::text;
    END IF;
    NEW.top_frame := nullif(btrim(NEW.top_frame), '');
    IF length(NEW.top_frame) > 4096 THEN
        cut := cut || 'top_frame'::text;
    END IF;
    NEW.top_frame := left(ops.redact(left(NEW.top_frame, 4096 + margin)), 4096);
    IF length(NEW.run_id) > 256 THEN
        cut := cut || 'run_id'::text;
    END IF;
    NEW.run_id := left(ops.redact(left(NEW.run_id, 256 + margin)), 256);
    IF length(NEW.correlation_id) > 256 THEN
        cut := cut || 'correlation_id'::text;
    END IF;
    NEW.correlation_id := left(ops.redact(left(NEW.correlation_id, 256 + margin)), 256);
    IF length(NEW.origin) > 256 THEN
        cut := cut || 'origin'::text;
    END IF;
    NEW.origin := left(ops.redact(left(NEW.origin, 256 + margin)), 256);
    NEW.occurred_at := coalesce(NEW.occurred_at, NEW.received_at);

    NEW.context := coalesce(NEW.context, '{}');
    IF ops.context_depth_exceeds(NEW.context, max_depth) THEN
        RAISE EXCEPTION 'context is nested deeper than % levels', max_depth USING ERRCODE = 'OP001', COLUMN = 'context',
            HINT = 'Flatten the context or put bulky structures behind a link.';
    END IF;
    IF jsonb_typeof(NEW.context) <> 'object' THEN
        NEW.context := jsonb_build_object('value', NEW.context);
    END IF;
    context_text := NEW.context::text;
    IF length(context_text) > max_context THEN
        NEW.context := jsonb_build_object('_truncated', true, '_original_length', length(context_text),
                                          '_preview', left(ops.redact(left(context_text, 2048 + margin)), 2048));
        cut := cut || 'context'::text;
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
    NEW.truncated_fields := cut;

    -- A producer may name the code (e.g. from a Problem Details document's ipai.code). The system's roles
    -- are trusted when the taxonomy knows the code; an external producer's hint also needs the code to
    -- list the event's source, and a hint that would start a FixBot run needs the classifier to agree.
    -- A hint not honoured is kept as evidence and the message is classified.
    claimed := left(nullif(btrim(NEW.code), ''), 200);
    IF claimed IS NOT NULL THEN
        SELECT f.code, f.sources, f.remediate_kind INTO hinted FROM ops.failure_modes f WHERE f.code = claimed;
        honoured := FOUND AND (producer IS NULL OR NEW.source = ANY (hinted.sources));
        IF honoured AND producer IS NOT NULL AND hinted.remediate_kind = 'fixbot' THEN
            SELECT c.code, c.confidence, c.matched_pattern INTO classified
            FROM ops.classify_error(NEW.source, NEW.phase, NEW.message) c;
            have_class := true;
            honoured := classified.code = claimed;
        END IF;
    END IF;
    IF honoured THEN
        NEW.code := claimed;
        NEW.confidence := 1.0;
        NEW.matched_pattern := NULL;
    ELSE
        IF claimed IS NOT NULL THEN
            NEW.context := NEW.context || jsonb_build_object('_claimed_code', claimed);
        END IF;
        IF NOT have_class THEN
            SELECT c.code, c.confidence, c.matched_pattern INTO classified
            FROM ops.classify_error(NEW.source, NEW.phase, NEW.message) c;
        END IF;
        NEW.code := classified.code;
        NEW.confidence := classified.confidence;
        NEW.matched_pattern := classified.matched_pattern;
    END IF;

    -- A classified event groups by the line its pattern matched (the cause line), so two pastes of one
    -- failure with different context lines around it are one group; an unclassified one by its whole text.
    NEW.fingerprint := ops.error_fingerprint(NEW.source, NEW.phase, NEW.code,
                                             ops.grouping_text(NEW.message, NEW.code, NEW.matched_pattern), NEW.top_frame);
    NEW.fingerprint_version := ops.current_fingerprint_version();

    IF NEW.event_key IS NOT NULL THEN
        -- Waits for a concurrent insert of the same key to commit or roll back; a conflict skips the row.
        INSERT INTO ops_private.event_keys (event_key, event_id, fingerprint, code, received_at)
        VALUES (NEW.event_key, NEW.id, NEW.fingerprint, NEW.code, NEW.received_at)
        ON CONFLICT (event_key) DO NOTHING;
        GET DIAGNOSTICS stored = ROW_COUNT;
        IF stored = 0 THEN
            RETURN NULL;
        END IF;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION ops_private.tg_error_events__prepare() IS
    'BEFORE INSERT per row on ops.error_events: validates (blank source/message OP001, unknown source OP002, internal '
    'source from an external producer OP006, bad event_key OP001, context deeper than 32 OP001), truncates and marks '
    'cut fields, redacts, honours or records a code hint, classifies, fingerprints, and skips (returns NULL) an event '
    'whose event_key was already stored.';

-- record_error and record_errors keep their signatures and results (callers and later migrations name them);
-- an overload of each takes the idempotency key and says which events were duplicates. event_key comes
-- third and has no default, so a call that names no event_key resolves to the original function (callers
-- use named arguments, the documented contract).
CREATE FUNCTION ops.record_error(
    source text,
    message text,
    event_key text,
    phase text DEFAULT NULL,
    top_frame text DEFAULT NULL,
    run_id text DEFAULT NULL,
    correlation_id text DEFAULT NULL,
    origin text DEFAULT NULL,
    context jsonb DEFAULT NULL,
    occurred_at timestamptz DEFAULT NULL,
    code_hint text DEFAULT NULL)
RETURNS TABLE (event_id bigint, fingerprint text, code text, count bigint, duplicate boolean)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
#variable_conflict use_column
BEGIN
    INSERT INTO ops.error_events AS e (source, message, phase, top_frame, run_id, correlation_id, origin,
                                       context, occurred_at, code, event_key)
    VALUES (record_error.source, record_error.message, record_error.phase, record_error.top_frame,
            record_error.run_id, record_error.correlation_id, record_error.origin, record_error.context,
            record_error.occurred_at, record_error.code_hint, record_error.event_key)
    RETURNING e.id, e.fingerprint, e.code INTO event_id, fingerprint, code;
    duplicate := NOT FOUND;
    IF duplicate THEN
        -- The trigger skipped a replay: answer with the event that holds the key.
        SELECT k.event_id, k.fingerprint, k.code INTO event_id, fingerprint, code
        FROM ops_private.event_keys k WHERE k.event_key = record_error.event_key;
    END IF;
    -- This transaction holds the row lock from the upsert, so the count read here is the one it made.
    SELECT a.count INTO count FROM ops.agent_errors a WHERE a.fingerprint = record_error.fingerprint;
    RETURN NEXT;
END
$$;
COMMENT ON FUNCTION ops.record_error(text, text, text, text, text, text, text, text, jsonb, timestamptz, text) IS
    'The ingest API with an idempotency key (call with named arguments, event_key => included; without it the '
    'ten-argument ops.record_error answers). Stores one redacted, classified event and returns (event_id, fingerprint, code, count, duplicate) where count is the fingerprint''s total. '
    'code_hint is a code the producer already knows (e.g. a Problem Details ipai.code), honoured as the trigger '
    'allows. event_key (optional, 1..200 characters) makes the call idempotent: a key already stored returns the '
    'original event''s id, fingerprint and code with duplicate = true and stores nothing. Errors: OP001 (blank or '
    'bad field), OP002 (unknown source), OP006 (internal source from an external producer).';

CREATE FUNCTION ops.record_errors(events jsonb, report_duplicates boolean)
RETURNS TABLE (event_id bigint, fingerprint text, code text, count bigint, duplicate boolean)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
#variable_conflict use_column
DECLARE
    ids bigint[];
    fingerprints text[];
    codes text[];
    keys text[];
BEGIN
    IF jsonb_typeof(events) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'events must be a JSON array of objects' USING ERRCODE = 'OP001', COLUMN = 'events';
    END IF;
    WITH stored AS (
        INSERT INTO ops.error_events AS e (source, message, phase, top_frame, run_id, correlation_id, origin,
                                           context, occurred_at, code, event_key)
        SELECT x.source, x.message, x.phase, x.top_frame, x.run_id, x.correlation_id, x.origin, x.context,
               x.occurred_at, x.code_hint, x.event_key
        FROM jsonb_array_elements(events) WITH ORDINALITY AS item (doc, ord)
        CROSS JOIN LATERAL jsonb_to_record(item.doc) AS x (
            source text, message text, phase text, top_frame text, run_id text, correlation_id text,
            origin text, context jsonb, occurred_at timestamptz, code_hint text, event_key text)
        ORDER BY item.ord
        RETURNING e.id, e.fingerprint, e.code, e.event_key
    )
    SELECT array_agg(s.id ORDER BY s.id), array_agg(s.fingerprint ORDER BY s.id), array_agg(s.code ORDER BY s.id),
           array_agg(s.event_key ORDER BY s.id)
    INTO ids, fingerprints, codes, keys
    FROM stored s;
    -- A new statement, so a new snapshot: the counts include what the aggregate trigger just wrote.
    -- Rows are numbered in input order as they were inserted; an event without a key is the n-th stored row
    -- without a key, an event with a key answers with the event that holds it (a replay, or a repeat of a
    -- key earlier in this batch, is a duplicate).
    RETURN QUERY
    WITH input AS (
        SELECT item.ord, item.doc ->> 'event_key' AS event_key,
               row_number() OVER (PARTITION BY item.doc ->> 'event_key' ORDER BY item.ord) AS nth_of_key,
               row_number() OVER (PARTITION BY (item.doc ->> 'event_key') IS NULL ORDER BY item.ord) AS nth
        FROM jsonb_array_elements(events) WITH ORDINALITY AS item (doc, ord)
    ), keyless AS (
        SELECT u.id, u.fingerprint, u.code, row_number() OVER (ORDER BY u.id) AS nth
        FROM unnest(ids, fingerprints, codes, keys) AS u (id, fingerprint, code, event_key)
        WHERE u.event_key IS NULL
    )
    SELECT coalesce(k.event_id, s.id), coalesce(k.fingerprint, s.fingerprint), coalesce(k.code, s.code), a.count,
           CASE WHEN i.event_key IS NULL THEN false
                ELSE i.nth_of_key > 1 OR NOT k.event_id = ANY (coalesce(ids, '{}')) END
    FROM input i
    LEFT JOIN ops_private.event_keys k ON k.event_key = i.event_key
    LEFT JOIN keyless s ON i.event_key IS NULL AND s.nth = i.nth
    JOIN ops.agent_errors a ON a.fingerprint = coalesce(k.fingerprint, s.fingerprint)
    ORDER BY i.ord;
END
$$;
COMMENT ON FUNCTION ops.record_errors(jsonb, boolean) IS
    'Batch ingest (the bulk path for the ingest role, which COPY cannot serve under row level security): a JSON array '
    'of objects with the arguments of ops.record_error as keys (event_key included), stored in one statement. Returns '
    'one row per event in input order (event_id, fingerprint, code, count, duplicate); count is the fingerprint''s '
    'total after the whole batch; an event whose key was already stored (or repeats a key earlier in the batch) '
    'returns the stored event with duplicate = true. report_duplicates is part of the signature only (pass true).';

CREATE OR REPLACE FUNCTION ops.record_errors(events jsonb)
RETURNS TABLE (event_id bigint, fingerprint text, code text, count bigint)
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
    SELECT r.event_id, r.fingerprint, r.code, r.count FROM ops.record_errors(events, true) r;
$$;
COMMENT ON FUNCTION ops.record_errors(jsonb) IS
    'Batch ingest: a JSON array of objects with the arguments of ops.record_error as keys (event_key included), stored '
    'in one statement. Returns one row per event in input order; count is the fingerprint''s total after the whole '
    'batch; a duplicate (a key already stored) returns the stored event. ops.record_errors(events, true) also says '
    'which were duplicates.';

REVOKE ALL ON FUNCTION ops.record_error(text, text, text, text, text, text, text, text, jsonb, timestamptz, text),
                       ops.record_errors(jsonb, boolean), ops.is_blank(text), ops.context_depth_exceeds(jsonb, integer),
                       ops.internal_sources(), ops_private.external_producer() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ops.record_error(text, text, text, text, text, text, text, text, jsonb, timestamptz, text),
                          ops.record_errors(jsonb, boolean),
                          ops.is_blank(text),
                          ops.context_depth_exceeds(jsonb, integer),
                          ops.internal_sources()
      TO ops_ingest, ops_worker;
GRANT EXECUTE ON FUNCTION ops.is_blank(text) TO ops_analyst;

CREATE FUNCTION ops.prune_event_keys() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    oldest date;
    pruned integer;
BEGIN
    SELECT min(to_date(substr(c.relname, 14), 'YYYYMMDD')) INTO oldest
    FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'ops.error_events'::regclass AND c.relname ~ '^error_events_[0-9]{8}$';
    IF oldest IS NULL THEN
        RETURN 0;
    END IF;
    DELETE FROM ops_private.event_keys k WHERE k.received_at < oldest;
    GET DIAGNOSTICS pruned = ROW_COUNT;
    RETURN pruned;
END
$$;
COMMENT ON FUNCTION ops.prune_event_keys() IS
    'Retention of idempotency keys: deletes the keys received before the oldest daily partition of ops.error_events '
    '(their events were dropped by retention). Run it after ops.drop_error_event_partitions(). Returns how many keys '
    'it deleted.';
-- Run by `ops db maintain` (as the owner), like retention; granted to no role.
REVOKE ALL ON FUNCTION ops.prune_event_keys() FROM PUBLIC;
