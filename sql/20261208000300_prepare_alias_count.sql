-- Issue 12, seventh pass: a text seen before no longer joins ops.error_aliases in the ingest trigger's probe, and the
-- probe reads the taxonomy version row by its key instead of scanning the table.
-- ops_private.taxonomy_version counts the promote aliases (kept exact by a trigger on ops.error_aliases); the probe
-- reads the count with the version, and the alias is looked up by the cached fingerprint only while the count is above
-- zero. Same rows stored (bench/README.md, "Two scans fewer per event (issue 12, seventh pass)").

ALTER TABLE ops_private.taxonomy_version ADD COLUMN promote_aliases bigint NOT NULL DEFAULT 0;
COMMENT ON COLUMN ops_private.taxonomy_version.promote_aliases IS
    'How many rows of ops.error_aliases have reason promote, kept exact by ops_private.tg_error_aliases__count (an '
    'increment or decrement in the transaction that changes them). The ingest trigger reads it with the version: at 0, '
    'a text seen before needs no alias lookup (bench/README.md, "Two scans fewer per event (issue 12, seventh pass)").';
UPDATE ops_private.taxonomy_version v
SET promote_aliases = (SELECT count(*) FROM ops.error_aliases al WHERE al.reason = 'promote');

CREATE FUNCTION ops_private.tg_error_aliases__count() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, ops
AS $$
DECLARE
    delta bigint;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE ops_private.taxonomy_version v SET promote_aliases = 0;
        RETURN NULL;
    END IF;
    delta := CASE WHEN TG_OP IN ('INSERT', 'UPDATE') AND NEW.reason = 'promote' THEN 1 ELSE 0 END
           - CASE WHEN TG_OP IN ('UPDATE', 'DELETE') AND OLD.reason = 'promote' THEN 1 ELSE 0 END;
    -- An increment, not a recount: concurrent changes serialize on the version row's lock and each adds its own
    -- delta to the latest value, so the count stays exact (a recount could miss a concurrent transaction's row).
    IF delta <> 0 THEN
        UPDATE ops_private.taxonomy_version v SET promote_aliases = v.promote_aliases + delta;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ops_private.tg_error_aliases__count() IS
    'AFTER trigger on ops.error_aliases (each inserted, updated or deleted row; TRUNCATE): keeps '
    'ops_private.taxonomy_version.promote_aliases equal to the number of aliases with reason promote, so the ingest '
    'trigger looks an alias up only while one exists.';
REVOKE ALL ON FUNCTION ops_private.tg_error_aliases__count() FROM PUBLIC;
CREATE TRIGGER tg_error_aliases__count AFTER INSERT OR UPDATE OR DELETE ON ops.error_aliases
    FOR EACH ROW EXECUTE FUNCTION ops_private.tg_error_aliases__count();
CREATE TRIGGER tg_error_aliases__count_truncated AFTER TRUNCATE ON ops.error_aliases
    FOR EACH STATEMENT EXECUTE FUNCTION ops_private.tg_error_aliases__count();

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
    producer_known boolean := false;
    alias_known boolean := false;
    target_fingerprint text;
    target_code text;
    seen boolean := false;
    fields text[];
BEGIN
    -- Per row, only what depends on the row: who the producer is (a catalog query) is asked only when an
    -- answer depends on it (an internal source, a code hint); the taxonomy version and a text seen before are
    -- one query, and the source is looked up only when the text was not seen (an entry's key names its source);
    -- redaction's prefilter runs once over all fields before once per field.
    IF ops.is_blank(NEW.source) THEN
        RAISE EXCEPTION 'source is required' USING ERRCODE = 'OP001', COLUMN = 'source',
            DETAIL = 'it has no visible character',
            HINT = 'Pass one of the sources in ops.sources, e.g. github_actions.';
    END IF;
    NEW.source := lower(btrim(NEW.source));
    -- A text seen before: when the message, phase and top frame, as sent, are the key of a cache entry of
    -- the current taxonomy version, they are what ops.redact returned for an earlier event under the current
    -- rules (a change of ops.redaction_rules raises the version, and so does a migration that changes
    -- ops.redact), so they are stored as sent, with the entry's classification and fingerprint, and the
    -- prefilter reads only the other fields. A text with a secret never hits: no key is of unredacted text.
    IF NEW.code IS NULL AND length(NEW.message) <= max_length AND coalesce(length(btrim(NEW.phase)), 0) <= 200
       AND coalesce(length(btrim(NEW.top_frame)), 0) <= 4096 THEN
        cache_key := ops_private.classification_key(NEW.source, nullif(btrim(NEW.phase), ''), NEW.message,
                                                     nullif(btrim(NEW.top_frame), ''));
    END IF;
    -- The entry is read by a LATERAL subquery with LIMIT 1 (the key is unique), so the plan is an index probe per
    -- row whatever the statistics say: the plain join's generic plan hashed the entry and its alias once per row
    -- wherever the one-row version table had never been analyzed (planned as 1,166 rows), ~10 % of a 500-row
    -- INSERT's server CPU under perf.
    -- The promote alias is not joined here: a join to ops.error_aliases cost ~4 µs of the probe's ~14 per row even
    -- when the table is empty (executor start-up and locks of one more scan). The version row counts the promote
    -- aliases, and a text seen before looks its alias up (below) only while there is one. The version row is read by
    -- its key (WHERE v.singleton): every changed taxonomy row updates it, so a first `ops ssot sync` (~1,400 changes)
    -- leaves the table 14 pages long (a vacuum empties them, but only trailing empty pages are given back), and a
    -- sequential scan read every page for every event.
    SELECT v.version, v.redaction_prefilter, v.promote_aliases, c.key IS NOT NULL AS seen, c.code, c.confidence,
           c.matched_pattern, c.fingerprint
    INTO taxonomy
    FROM ops_private.taxonomy_version v
    LEFT JOIN LATERAL (
        SELECT c.key, c.code, c.confidence, c.matched_pattern, c.fingerprint
        FROM ops_private.classification_cache c
        WHERE c.key = cache_key AND c.taxonomy_version = v.version
        LIMIT 1) c ON true
    WHERE v.singleton;
    seen := coalesce(taxonomy.seen, false);
    -- An entry's key names its source and entries are of the current taxonomy, so a hit is a known source; the
    -- source is looked up only on a miss (nested, so a hit runs no query for it).
    IF NOT seen THEN
        IF NOT EXISTS (SELECT FROM ops.sources s WHERE s.source = NEW.source) THEN
            SELECT string_agg(s.source, ', ' ORDER BY s.position) INTO known FROM ops.sources s;
            RAISE EXCEPTION 'unknown source "%"', left(NEW.source, 100) USING ERRCODE = 'OP002', COLUMN = 'source',
                DETAIL = 'known sources: ' || coalesce(known, 'none (the taxonomy is not synced: run `ops ssot sync`)');
        END IF;
    END IF;
    IF NEW.source = ANY (ops.internal_sources()) THEN
        producer := ops_private.external_producer();
        producer_known := true;
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
        -- A key is stored as sent and compared exactly, so it cannot be redacted: one that holds a secret shape
        -- is refused.
        IF (taxonomy.redaction_prefilter IS NULL OR lower(NEW.event_key) LIKE ANY (taxonomy.redaction_prefilter))
           AND ops.redact(NEW.event_key) <> NEW.event_key THEN
            RAISE EXCEPTION 'event_key holds what a redaction rule treats as a secret' USING ERRCODE = 'OP001',
                COLUMN = 'event_key', HINT = 'Key events by a request or job id, never by a credential or a signed URL.';
        END IF;
        -- A replay: skip the row (neither stored nor counted). A concurrent first insert is caught below.
        IF EXISTS (SELECT FROM ops_private.event_keys k WHERE k.event_key = NEW.event_key) THEN
            RETURN NULL;
        END IF;
    END IF;

    -- The context in its stored shape first: its text is one of the fields redaction looks at.
    NEW.context := coalesce(NEW.context, '{}');
    context_text := NEW.context::text;
    -- A value nested max_depth levels deep has at least max_depth + 1 characters in its text.
    IF length(context_text) > max_depth AND ops.context_depth_exceeds(NEW.context, max_depth) THEN
        RAISE EXCEPTION 'context is nested deeper than % levels', max_depth USING ERRCODE = 'OP001', COLUMN = 'context',
            HINT = 'Flatten the context or put bulky structures behind a link.';
    END IF;
    IF jsonb_typeof(NEW.context) <> 'object' THEN
        NEW.context := jsonb_build_object('value', NEW.context);
        context_text := NEW.context::text;
    END IF;

    original_length := length(NEW.message);
    NEW.message_length := original_length;
    -- Literal anchors before regexes: LIKE against every redaction rule's prefilter literals says, per
    -- field, whether any rule could change it (each piece redacted below is a part of that field). Where
    -- none could, ops.redact is not called. A message too long to read whole takes the old path. The seven
    -- fields joined by U+0001 are tested first: a literal in none of them is in no field (a match across
    -- the joint only sends the row to the per-field test). Fields: message, top frame, run id, correlation
    -- id, origin, context, phase.
    IF original_length > max_length OR taxonomy.redaction_prefilter IS NULL THEN
        candidates := ARRAY[true, true, true, true, true, true, true];
    ELSE
        -- A text seen before needs no redaction of its message, top frame and phase (above): they are left out.
        fields := ARRAY[CASE WHEN NOT seen THEN NEW.message END, CASE WHEN NOT seen THEN NEW.top_frame END,
                        NEW.run_id, NEW.correlation_id, NEW.origin, context_text, CASE WHEN NOT seen THEN NEW.phase END];
        IF NOT coalesce(lower(array_to_string(fields, U&'\0001')) LIKE ANY (taxonomy.redaction_prefilter), false) THEN
            candidates := ARRAY[false, false, false, false, false, false, false];
        ELSE
            candidates := ARRAY[coalesce(lower(fields[1]) LIKE ANY (taxonomy.redaction_prefilter), false),
                                coalesce(lower(fields[2]) LIKE ANY (taxonomy.redaction_prefilter), false),
                                coalesce(lower(fields[3]) LIKE ANY (taxonomy.redaction_prefilter), false),
                                coalesce(lower(fields[4]) LIKE ANY (taxonomy.redaction_prefilter), false),
                                coalesce(lower(fields[5]) LIKE ANY (taxonomy.redaction_prefilter), false),
                                coalesce(lower(fields[6]) LIKE ANY (taxonomy.redaction_prefilter), false),
                                coalesce(lower(fields[7]) LIKE ANY (taxonomy.redaction_prefilter), false)];
        END IF;
    END IF;
    IF original_length > max_length THEN
        NEW.message := ops_private.redact_head(NEW.message, head_length, margin)
            || format(E'\n[… %s characters truncated …]\n', original_length - head_length - tail_length)
            || ops_private.redact_tail(NEW.message, tail_length, margin);
        NEW.truncated := true;
        cut := cut || 'message'::text;
    ELSE
        IF candidates[1] THEN
            NEW.message := ops.redact(NEW.message);
        END IF;
        NEW.truncated := false;
    END IF;

    NEW.phase := nullif(btrim(NEW.phase), '');
    NEW.top_frame := nullif(btrim(NEW.top_frame), '');
    -- The fields cut below, in column order (one expression, not one statement per field).
    cut := cut || array_remove(ARRAY[CASE WHEN length(NEW.phase) > 200 THEN 'phase' END,
                                     CASE WHEN length(NEW.top_frame) > 4096 THEN 'top_frame' END,
                                     CASE WHEN length(NEW.run_id) > 256 THEN 'run_id' END,
                                     CASE WHEN length(NEW.correlation_id) > 256 THEN 'correlation_id' END,
                                     CASE WHEN length(NEW.origin) > 256 THEN 'origin' END], NULL);
    NEW.phase := CASE WHEN candidates[7] THEN ops_private.redact_head(NEW.phase, 200, margin) ELSE left(NEW.phase, 200) END;
    NEW.top_frame := CASE WHEN candidates[2] THEN ops_private.redact_head(NEW.top_frame, 4096, margin)
                          ELSE left(NEW.top_frame, 4096) END;
    NEW.run_id := CASE WHEN candidates[3] THEN ops_private.redact_head(NEW.run_id, 256, margin)
                       ELSE left(NEW.run_id, 256) END;
    NEW.correlation_id := CASE WHEN candidates[4] THEN ops_private.redact_head(NEW.correlation_id, 256, margin)
                               ELSE left(NEW.correlation_id, 256) END;
    NEW.origin := CASE WHEN candidates[5] THEN ops_private.redact_head(NEW.origin, 256, margin)
                       ELSE left(NEW.origin, 256) END;
    NEW.occurred_at := coalesce(NEW.occurred_at, NEW.received_at);

    IF length(context_text) > max_context THEN
        NEW.context := jsonb_build_object('_truncated', true, '_original_length', length(context_text),
                                          '_preview', CASE WHEN candidates[6]
                                                           THEN ops_private.redact_head(context_text, 2048, margin)
                                                           ELSE left(context_text, 2048) END);
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
    IF claimed IS NOT NULL AND NOT producer_known THEN
        producer := ops_private.external_producer();
    END IF;
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
    IF seen THEN
        NEW.code := taxonomy.code;
        NEW.confidence := taxonomy.confidence;
        NEW.matched_pattern := taxonomy.matched_pattern;
        NEW.fingerprint := taxonomy.fingerprint;
        -- No promote alias exists (as of the probe's snapshot, which is all the join read before): none to follow.
        -- Otherwise the lookup below runs by the cached fingerprint.
        alias_known := taxonomy.promote_aliases = 0;
    ELSIF claimed IS NULL THEN
        -- Classification and fingerprint are functions of (source, phase, message, top frame) and the
        -- taxonomy: a repeated event reads them from the cache (the version was read above, before
        -- classifying, so an entry is never stored under a version newer than the taxonomy it was computed with).
        cache_key := ops_private.classification_key(NEW.source, NEW.phase, NEW.message, NEW.top_frame);
        -- The promote alias of the cached fingerprint comes with it (one query, not two).
        SELECT c.code, c.confidence, c.matched_pattern, c.fingerprint, al.target_fingerprint, al.target_code
        INTO cached
        FROM ops_private.classification_cache c
        LEFT JOIN ops.error_aliases al ON al.fingerprint = c.fingerprint AND al.reason = 'promote'
        WHERE c.key = cache_key AND c.taxonomy_version = taxonomy.version;
        IF FOUND THEN
            NEW.code := cached.code;
            NEW.confidence := cached.confidence;
            NEW.matched_pattern := cached.matched_pattern;
            NEW.fingerprint := cached.fingerprint;
            target_fingerprint := cached.target_fingerprint;
            target_code := cached.target_code;
            alias_known := true;
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
            -- Kept as evidence, redacted: a producer may put a header value where the code goes.
            NEW.context := NEW.context || jsonb_build_object('_claimed_code', ops.redact(claimed));
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

    -- A fingerprint that triage promoted (ops.error_aliases, reason promote) is recorded under the target
    -- group's fingerprint and code, so late events of a promoted error count in the group that took it over.
    IF NOT alias_known THEN
        SELECT al.target_fingerprint, al.target_code INTO target_fingerprint, target_code
        FROM ops.error_aliases al WHERE al.fingerprint = NEW.fingerprint AND al.reason = 'promote';
    END IF;
    IF target_fingerprint IS NOT NULL THEN
        NEW.fingerprint := target_fingerprint;
        NEW.code := target_code;
    END IF;

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
