-- issue 12 (ingest cost): classification once per distinct event text, not once per event.
-- ops_private.classification_cache keeps what the ingest trigger computed (code, confidence, matched
-- pattern, fingerprint) for a (source, phase, redacted message, redacted top frame) under a taxonomy
-- version; ops_private.taxonomy_version is raised by triggers on every table classification and grouping
-- read, so a sync (or any edit) makes old entries unreadable and deletes them. The prepare trigger reads
-- the cache first (events with a code hint take the old path), and tests each field with LIKE ANY
-- against all redaction prefilter literals (ops_private.taxonomy_version.redaction_prefilter, kept by a
-- trigger on ops.redaction_rules), calling ops.redact only for a field that holds one. Results are identical to
-- computing them (tests/test_ingest_cache.py proves it on the corpora).
CREATE TABLE ops_private.taxonomy_version (
    singleton           boolean PRIMARY KEY DEFAULT true CONSTRAINT taxonomy_version_singleton CHECK (singleton),
    version             bigint NOT NULL,
    changed_by          xid8,
    redaction_prefilter text[]
);
COMMENT ON TABLE ops_private.taxonomy_version IS
    'One row: the version of everything classification and grouping read (ops.sources, ops.failure_modes, '
    'ops.failure_mode_patterns, ops.ssot_state), raised by every row changed in them; changed_by is the transaction '
    'that raised it last. ops_private.classification_cache answers only for the current version.';
COMMENT ON COLUMN ops_private.taxonomy_version.redaction_prefilter IS
    'Every prefilter literal of ops.redaction_rules as a LIKE pattern %<literal>% (ops_private.redaction_prefilter_patterns), '
    'kept current by a trigger on ops.redaction_rules: a lower-cased field LIKE none of them holds nothing any rule '
    'can change. NULL when some rule has no prefilter (every field is then redacted).';
INSERT INTO ops_private.taxonomy_version (singleton, version) VALUES (true, 1);

CREATE FUNCTION ops_private.redaction_prefilter_patterns() RETURNS text[]
LANGUAGE sql STABLE
SET search_path = pg_catalog, ops
-- LIKE ANY over these runs without a query or a regex, as a plain expression of the trigger.
RETURN CASE WHEN EXISTS (SELECT FROM ops.redaction_rules r WHERE r.prefilter IS NULL) THEN NULL
            ELSE coalesce((SELECT array_agg(DISTINCT '%' || replace(replace(replace(f.f, '\', '\\'), '%', '\%'), '_', '\_')
                                            || '%')
                           FROM ops.redaction_rules r CROSS JOIN LATERAL unnest(r.prefilter) AS f (f)), '{}') END;
COMMENT ON FUNCTION ops_private.redaction_prefilter_patterns() IS
    'The prefilter literals of all redaction rules as LIKE patterns "%<literal>%" (backslash, % and _ escaped) -> text[]; '
    'empty when there are no rules, NULL when a rule has no prefilter.';

CREATE FUNCTION ops_private.tg_redaction_rules__changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, ops
AS $$
BEGIN
    UPDATE ops_private.taxonomy_version v SET redaction_prefilter = ops_private.redaction_prefilter_patterns();
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ops_private.tg_redaction_rules__changed() IS
    'AFTER statement trigger on ops.redaction_rules: recomputes ops_private.taxonomy_version.redaction_prefilter.';
CREATE TRIGGER tg_redaction_rules__prefilter AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ops.redaction_rules
    FOR EACH STATEMENT EXECUTE FUNCTION ops_private.tg_redaction_rules__changed();

CREATE UNLOGGED TABLE ops_private.classification_cache (
    key                 bytea PRIMARY KEY,
    taxonomy_version    bigint NOT NULL,
    code                text NOT NULL,
    confidence          real,
    matched_pattern     text,
    fingerprint         text NOT NULL,
    cached_at           timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ops_private.classification_cache IS
    'What the ingest trigger computed for a redacted event without a code hint: key = SHA-256 over the fingerprint '
    'version, source, phase, redacted message and redacted top frame (each length-prefixed, '
    'ops_private.classification_key); code, confidence and matched_pattern from ops.classify_error and the '
    'fingerprint from ops.error_fingerprint, valid while taxonomy_version is ops_private.taxonomy_version''s. '
    'A repeated event reads one row instead of classifying and normalizing again. Unlogged: a crash empties it '
    '(it is only a cache). Entries of older versions are deleted when the taxonomy changes.';

CREATE FUNCTION ops_private.classification_key(source text, phase text, message text, top_frame text) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE
-- No SET clause, so the planner inlines it into the trigger's expression (a RETURN body is parsed once,
-- at creation, so the search path at call time does not matter).
RETURN sha256(convert_to(
    ops.current_fingerprint_version()::text
    || '|' || ops.fingerprint_field(source) || '|' || ops.fingerprint_field(phase)
    || '|' || ops.fingerprint_field(message) || '|' || ops.fingerprint_field(top_frame), 'UTF8'));
COMMENT ON FUNCTION ops_private.classification_key(text, text, text, text) IS
    'Key of ops_private.classification_cache: SHA-256 (bytea) over the fingerprint version and the length-prefixed '
    'source, phase, message and top frame (the redacted, trimmed values the ingest trigger classifies and '
    'fingerprints). Everything else classification and grouping read is the taxonomy, versioned apart.';

CREATE FUNCTION ops_private.tg_taxonomy__changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, ops
AS $$
DECLARE
    previous xid8;
BEGIN
    -- Every changed row raises the version (so an ingest between two changes in one transaction never
    -- reads an entry of the first); the entries of older versions are deleted once per transaction.
    SELECT v.changed_by INTO previous FROM ops_private.taxonomy_version v;
    UPDATE ops_private.taxonomy_version v SET version = v.version + 1, changed_by = pg_current_xact_id();
    IF previous IS DISTINCT FROM pg_current_xact_id() THEN
        DELETE FROM ops_private.classification_cache c
        WHERE c.taxonomy_version < (SELECT v.version FROM ops_private.taxonomy_version v);
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ops_private.tg_taxonomy__changed() IS
    'AFTER trigger on ops.sources, ops.failure_modes, ops.failure_mode_patterns and ops.ssot_state (each changed row, '
    'or a TRUNCATE): raises ops_private.taxonomy_version and, once per transaction, deletes the classification cache '
    'entries of older versions. A concurrent ingest that classified under the old taxonomy stores its entry under '
    'the old version, which no later lookup reads.';
CREATE TRIGGER tg_sources__taxonomy_changed AFTER INSERT OR UPDATE OR DELETE ON ops.sources
    FOR EACH ROW EXECUTE FUNCTION ops_private.tg_taxonomy__changed();
CREATE TRIGGER tg_sources__taxonomy_truncated AFTER TRUNCATE ON ops.sources
    FOR EACH STATEMENT EXECUTE FUNCTION ops_private.tg_taxonomy__changed();
CREATE TRIGGER tg_failure_modes__taxonomy_changed AFTER INSERT OR UPDATE OR DELETE ON ops.failure_modes
    FOR EACH ROW EXECUTE FUNCTION ops_private.tg_taxonomy__changed();
CREATE TRIGGER tg_failure_modes__taxonomy_truncated AFTER TRUNCATE ON ops.failure_modes
    FOR EACH STATEMENT EXECUTE FUNCTION ops_private.tg_taxonomy__changed();
CREATE TRIGGER tg_failure_mode_patterns__taxonomy_changed AFTER INSERT OR UPDATE OR DELETE ON ops.failure_mode_patterns
    FOR EACH ROW EXECUTE FUNCTION ops_private.tg_taxonomy__changed();
CREATE TRIGGER tg_failure_mode_patterns__taxonomy_truncated AFTER TRUNCATE ON ops.failure_mode_patterns
    FOR EACH STATEMENT EXECUTE FUNCTION ops_private.tg_taxonomy__changed();
CREATE TRIGGER tg_ssot_state__taxonomy_changed AFTER INSERT OR UPDATE OR DELETE ON ops.ssot_state
    FOR EACH ROW EXECUTE FUNCTION ops_private.tg_taxonomy__changed();
CREATE TRIGGER tg_ssot_state__taxonomy_truncated AFTER TRUNCATE ON ops.ssot_state
    FOR EACH STATEMENT EXECUTE FUNCTION ops_private.tg_taxonomy__changed();

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
    cache_key bytea;
    cached record;
    candidates boolean[];
    taxonomy record;
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

    -- The context in its stored shape first: its text is one of the fields redaction looks at.
    NEW.context := coalesce(NEW.context, '{}');
    IF ops.context_depth_exceeds(NEW.context, max_depth) THEN
        RAISE EXCEPTION 'context is nested deeper than % levels', max_depth USING ERRCODE = 'OP001', COLUMN = 'context',
            HINT = 'Flatten the context or put bulky structures behind a link.';
    END IF;
    IF jsonb_typeof(NEW.context) <> 'object' THEN
        NEW.context := jsonb_build_object('value', NEW.context);
    END IF;
    context_text := NEW.context::text;

    original_length := length(NEW.message);
    NEW.message_length := original_length;
    -- Literal anchors before regexes: LIKE against every redaction rule's prefilter literals says, per
    -- field, whether any rule could change it (each piece redacted below is a part of that field). Where
    -- none could, ops.redact is not called. A message too long to read whole takes the old path.
    SELECT v.version, v.redaction_prefilter INTO taxonomy FROM ops_private.taxonomy_version v;
    IF original_length > max_length OR taxonomy.redaction_prefilter IS NULL THEN
        candidates := ARRAY[true, true, true, true, true, true];
    ELSE
        candidates := ARRAY[coalesce(lower(NEW.message) LIKE ANY (taxonomy.redaction_prefilter), false),
                            coalesce(lower(NEW.top_frame) LIKE ANY (taxonomy.redaction_prefilter), false),
                            coalesce(lower(NEW.run_id) LIKE ANY (taxonomy.redaction_prefilter), false),
                            coalesce(lower(NEW.correlation_id) LIKE ANY (taxonomy.redaction_prefilter), false),
                            coalesce(lower(NEW.origin) LIKE ANY (taxonomy.redaction_prefilter), false),
                            coalesce(lower(context_text) LIKE ANY (taxonomy.redaction_prefilter), false)];
    END IF;
    IF original_length > max_length THEN
        NEW.message := left(ops.redact(left(NEW.message, head_length + margin)), head_length)
            || format(E'\n[… %s characters truncated …]\n', original_length - head_length - tail_length)
            || right(ops.redact(right(NEW.message, tail_length + margin)), tail_length);
        NEW.truncated := true;
        cut := cut || 'message'::text;
    ELSE
        IF candidates[1] THEN
            NEW.message := ops.redact(NEW.message);
        END IF;
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
    IF length(NEW.run_id) > 256 THEN
        cut := cut || 'run_id'::text;
    END IF;
    IF length(NEW.correlation_id) > 256 THEN
        cut := cut || 'correlation_id'::text;
    END IF;
    IF length(NEW.origin) > 256 THEN
        cut := cut || 'origin'::text;
    END IF;
    NEW.top_frame := left(CASE WHEN candidates[2] THEN ops.redact(left(NEW.top_frame, 4096 + margin))
                               ELSE NEW.top_frame END, 4096);
    NEW.run_id := left(CASE WHEN candidates[3] THEN ops.redact(left(NEW.run_id, 256 + margin))
                            ELSE NEW.run_id END, 256);
    NEW.correlation_id := left(CASE WHEN candidates[4] THEN ops.redact(left(NEW.correlation_id, 256 + margin))
                                    ELSE NEW.correlation_id END, 256);
    NEW.origin := left(CASE WHEN candidates[5] THEN ops.redact(left(NEW.origin, 256 + margin))
                            ELSE NEW.origin END, 256);
    NEW.occurred_at := coalesce(NEW.occurred_at, NEW.received_at);

    IF length(context_text) > max_context THEN
        NEW.context := jsonb_build_object('_truncated', true, '_original_length', length(context_text),
                                          '_preview', left(CASE WHEN candidates[6]
                                                                THEN ops.redact(left(context_text, 2048 + margin))
                                                                ELSE context_text END, 2048));
        cut := cut || 'context'::text;
    ELSIF candidates[6] THEN
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
    IF claimed IS NULL THEN
        -- Classification and fingerprint are functions of (source, phase, message, top frame) and the
        -- taxonomy: a repeated event reads them from the cache (the version was read above, before
        -- classifying, so an entry is never stored under a version newer than the taxonomy it was computed with).
        cache_key := ops_private.classification_key(NEW.source, NEW.phase, NEW.message, NEW.top_frame);
        SELECT c.code, c.confidence, c.matched_pattern, c.fingerprint INTO cached
        FROM ops_private.classification_cache c
        WHERE c.key = cache_key AND c.taxonomy_version = taxonomy.version;
        IF FOUND THEN
            NEW.code := cached.code;
            NEW.confidence := cached.confidence;
            NEW.matched_pattern := cached.matched_pattern;
            NEW.fingerprint := cached.fingerprint;
        ELSE
            SELECT c.code, c.confidence, c.matched_pattern INTO classified
            FROM ops.classify_error(NEW.source, NEW.phase, NEW.message) c;
            NEW.code := classified.code;
            NEW.confidence := classified.confidence;
            NEW.matched_pattern := classified.matched_pattern;
            NEW.fingerprint := ops.error_fingerprint(NEW.source, NEW.phase, NEW.code,
                                                     ops.grouping_text(NEW.message, NEW.code, NEW.matched_pattern),
                                                     NEW.top_frame);
            INSERT INTO ops_private.classification_cache AS c (key, taxonomy_version, code, confidence,
                                                               matched_pattern, fingerprint)
            VALUES (cache_key, taxonomy.version, NEW.code, NEW.confidence, NEW.matched_pattern, NEW.fingerprint)
            ON CONFLICT (key) DO UPDATE SET
                taxonomy_version = excluded.taxonomy_version, code = excluded.code, confidence = excluded.confidence,
                matched_pattern = excluded.matched_pattern, fingerprint = excluded.fingerprint,
                cached_at = excluded.cached_at
            WHERE c.taxonomy_version < excluded.taxonomy_version;
        END IF;
    ELSIF honoured THEN
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
    IF claimed IS NOT NULL THEN
        NEW.fingerprint := ops.error_fingerprint(NEW.source, NEW.phase, NEW.code,
                                                 ops.grouping_text(NEW.message, NEW.code, NEW.matched_pattern),
                                                 NEW.top_frame);
    END IF;
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
    'whose event_key was already stored. Without a code hint, classification and fingerprint come from '
    'ops_private.classification_cache when the same (source, phase, message, top frame) was seen under the current '
    'taxonomy version, and are stored there otherwise.';

UPDATE ops_private.taxonomy_version SET redaction_prefilter = ops_private.redaction_prefilter_patterns();
ALTER TABLE ops_private.taxonomy_version ENABLE ROW LEVEL SECURITY;
ALTER TABLE ops_private.classification_cache ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON FUNCTION ops_private.classification_key(text, text, text, text), ops_private.tg_taxonomy__changed(),
                       ops_private.redaction_prefilter_patterns(), ops_private.tg_redaction_rules__changed()
    FROM PUBLIC;
