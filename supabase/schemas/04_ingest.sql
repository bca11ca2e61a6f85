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
    resolution_ref      text,
    resolved_by         text,
    resolution_sha256   text CONSTRAINT agent_errors_resolution_sha256_hex CHECK (resolution_sha256 ~ '^[0-9a-f]{64}$'),
    ignored_until       timestamptz
) WITH (fillfactor = 70);
COMMENT ON TABLE ops.agent_errors IS
    'One row per fingerprint: how often an error occurred, when first and last, and its triage status. Maintained by '
    'the ingest trigger on ops.error_events; never written by producers.';
COMMENT ON COLUMN ops.agent_errors.status IS
    'open | acknowledged | resolved | regressed | ignored. A resolved error that occurs again becomes regressed and escalates.';
COMMENT ON COLUMN ops.agent_errors.window_count IS
    'Events in the current escalation window (codes with escalate.within), counted from window_started_at.';
COMMENT ON COLUMN ops.agent_errors.regression_count IS 'How many times this error came back after being resolved.';
COMMENT ON COLUMN ops.agent_errors.resolved_by IS
    'Who resolved the error last: a person (`ops resolve --by`, default the login) or fixbot (a merged FixBot pull request '
    'after the quiet period). NULL: never resolved.';
COMMENT ON COLUMN ops.agent_errors.resolution_sha256 IS
    'Lowercase hex SHA-256 of the resolution record''s bytes (the file at resolution_ref) as written.';
COMMENT ON COLUMN ops.agent_errors.ignored_until IS
    'For status ignored: when the ignore ends (NULL: until reopened). An ignored error still counts but never escalates '
    'before this time; after it, the next escalation reopens it.';
-- Every event updates its group's row: no indexed column moves on that update (the index keys on code, never on
-- last_seen_at or count) and fillfactor 70 leaves room on the page, so the updates are heap-only (HOT) and leave no
-- dead index entries behind (bench/README.md, "Heap-only updates of the hot rows").
CREATE INDEX agent_errors_code_idx ON ops.agent_errors (code);

CREATE TABLE ops_private.event_keys (
    event_key   text PRIMARY KEY,
    event_id    bigint NOT NULL,
    fingerprint text NOT NULL,
    code        text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ops_private.event_keys IS
    'Idempotency keys of stored events (ops.error_events.event_key): the first event''s id, fingerprint and code. '
    'Written by the ingest trigger only; pruned by ops.prune_event_keys().';
CREATE INDEX event_keys_received_idx ON ops_private.event_keys (received_at);

CREATE TABLE ops_private.taxonomy_version (
    singleton           boolean PRIMARY KEY DEFAULT true CONSTRAINT taxonomy_version_singleton CHECK (singleton),
    version             bigint NOT NULL,
    changed_by          xid8,
    redaction_prefilter text[]
);
COMMENT ON TABLE ops_private.taxonomy_version IS
    'One row: the version of everything classification, grouping and redaction read (ops.sources, ops.failure_modes, '
    'ops.failure_mode_patterns, ops.ssot_state, ops.redaction_rules), raised by every row changed in them and by a '
    'migration that changes ops.redact or the classifier; changed_by is the transaction that raised it last. '
    'ops_private.classification_cache answers only for the current version.';
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
    'ops_private.classification_key); confidence and matched_pattern from ops.classify_error; code and fingerprint '
    'of the group the text goes to: ops.classify_error''s code and ops.error_fingerprint''s fingerprint, or, when '
    'triage promoted that fingerprint (ops.error_aliases, reason promote), the target''s fingerprint and code. Valid '
    'while taxonomy_version is ops_private.taxonomy_version''s; ops_private.move_group deletes the entries of a group '
    'it moves. A repeated event reads one row instead of classifying, normalizing and following aliases again. '
    'Unlogged: a crash empties it (it is only a cache). Entries of older versions are deleted when the taxonomy changes.';

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
    'AFTER trigger on ops.sources, ops.failure_modes, ops.failure_mode_patterns, ops.ssot_state and '
    'ops.redaction_rules (each changed row, '
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
-- A cache key is made of redacted text, and the ingest trigger stores a text equal to a key as sent: a rule
-- changed, added or removed makes every entry unreadable.
CREATE TRIGGER tg_redaction_rules__taxonomy_changed AFTER INSERT OR UPDATE OR DELETE ON ops.redaction_rules
    FOR EACH ROW EXECUTE FUNCTION ops_private.tg_taxonomy__changed();
CREATE TRIGGER tg_redaction_rules__taxonomy_truncated AFTER TRUNCATE ON ops.redaction_rules
    FOR EACH STATEMENT EXECUTE FUNCTION ops_private.tg_taxonomy__changed();

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

CREATE FUNCTION ops_private.redact_head(value text, keep integer, margin integer) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, ops
AS $$
DECLARE
    slice text := left(value, keep + margin);
    redacted text := ops.redact(slice);
BEGIN
    IF length(value) <= keep + margin THEN
        RETURN left(redacted, keep);     -- nothing was cut before redaction
    END IF;
    -- A secret the cut split starts in the slice's last `margin` characters. Redaction shortens what precedes it
    -- by (slice - redacted) characters, so the first `keep` redacted characters could reach it by that much: keep
    -- that much less.
    RETURN left(redacted, greatest(keep - greatest(length(slice) - length(redacted), 0), 0));
END
$$;
COMMENT ON FUNCTION ops_private.redact_head(text, integer, integer) IS
    'The first `keep` characters of ops.redact(value) without any part of a secret a cut could split: value up to '
    'keep + margin characters is redacted whole; a longer one is redacted in its first keep + margin characters and '
    'what is kept shrinks by what redaction removed, so it never reaches the last `margin` characters of that slice '
    '(margin: the longest secret a rule must see whole, 8192 in the ingest trigger). -> text, NULL for NULL.';

CREATE FUNCTION ops_private.redact_tail(value text, keep integer, margin integer) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, ops
AS $$
DECLARE
    slice text := right(value, keep + margin);
    redacted text := ops.redact(slice);
BEGIN
    IF length(value) <= keep + margin THEN
        RETURN right(redacted, keep);
    END IF;
    -- The mirror of redact_head: a secret the cut split ends in the slice's first `margin` characters.
    RETURN right(redacted, greatest(keep - greatest(length(slice) - length(redacted), 0), 0));
END
$$;
COMMENT ON FUNCTION ops_private.redact_tail(text, integer, integer) IS
    'The last `keep` characters of ops.redact(value) without any part of a secret a cut could split (the mirror of '
    'ops_private.redact_head). -> text, NULL for NULL.';

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
    -- INSERT's server CPU under perf. The version row is read by its key (WHERE v.singleton): every changed taxonomy
    -- row updates it, so a first `ops ssot sync` (~1,400 changes) leaves the table 14 pages long (a vacuum empties
    -- them, but only trailing empty pages are given back), and a sequential scan read every page for every event.
    -- An entry holds the group its text goes to: the fingerprint and code after a promotion (ops.error_aliases,
    -- reason promote), so a hit reads no alias (ops.promote_error deletes the entries of the group it moves, and
    -- the aggregate trigger moves a group that a promotion committing meanwhile left behind).
    SELECT v.version, v.redaction_prefilter, c.key IS NOT NULL AS seen, c.code, c.confidence, c.matched_pattern,
           c.fingerprint
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
        alias_known := true;
    ELSIF claimed IS NULL THEN
        -- Classification and fingerprint are functions of (source, phase, message, top frame) and the
        -- taxonomy: a repeated event reads them from the cache (the version was read above, before
        -- classifying, so an entry is never stored under a version newer than the taxonomy it was computed with).
        cache_key := ops_private.classification_key(NEW.source, NEW.phase, NEW.message, NEW.top_frame);
        SELECT c.code, c.confidence, c.matched_pattern, c.fingerprint
        INTO cached
        FROM ops_private.classification_cache c
        WHERE c.key = cache_key AND c.taxonomy_version = taxonomy.version;
        IF FOUND THEN
            NEW.code := cached.code;
            NEW.confidence := cached.confidence;
            NEW.matched_pattern := cached.matched_pattern;
            NEW.fingerprint := cached.fingerprint;
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
            -- The entry holds the group the text goes to: after a promotion, the target's fingerprint and code.
            SELECT al.target_fingerprint, al.target_code INTO target_fingerprint, target_code
            FROM ops.error_aliases al WHERE al.fingerprint = NEW.fingerprint AND al.reason = 'promote';
            IF target_fingerprint IS NOT NULL THEN
                NEW.fingerprint := target_fingerprint;
                NEW.code := target_code;
            END IF;
            alias_known := true;
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
        IF target_fingerprint IS NOT NULL THEN
            NEW.fingerprint := target_fingerprint;
            NEW.code := target_code;
        END IF;
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
COMMENT ON FUNCTION ops_private.tg_error_events__prepare() IS
    'BEFORE INSERT per row on ops.error_events: validates (blank source/message OP001, unknown source OP002, internal '
    'source from an external producer OP006, bad or secret-shaped event_key OP001, context deeper than 32 OP001), '
    'truncates and marks cut fields, redacts every text field (phase included; a slice of a long field keeps no part '
    'of a secret the cut split, ops_private.redact_head/redact_tail), honours or records a code hint, classifies, fingerprints, records an event of a promoted '
    'fingerprint (ops.error_aliases, reason promote) under the target group''s fingerprint and code (a cache entry '
    'holds them, so a text seen before reads no alias), and skips '
    '(returns NULL) an event whose event_key was already stored. Without a code hint, classification and fingerprint come from '
    'ops_private.classification_cache when the same (source, phase, message, top frame) was seen under the current '
    'taxonomy version, and are stored there otherwise. A message, phase and top frame that arrive equal to the redacted '
    'texts of such an entry (the key of a text seen before) are stored as sent: they are what ops.redact returned under '
    'the current rules, so only the other fields are prefiltered and redacted.';

CREATE FUNCTION ops_private.tg_error_events__append_only() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $$
BEGIN
    IF current_setting('ops.maintenance', true) = 'on' THEN
        -- ops.ensure_error_event_partitions moving rows out of the default partition (DELETE), or
        -- ops.regroup_errors re-fingerprinting them (UPDATE).
        RETURN CASE TG_OP WHEN 'UPDATE' THEN NEW ELSE OLD END;
    END IF;
    RAISE EXCEPTION 'ops.error_events is append-only' USING ERRCODE = 'OP003',
        HINT = 'Retention drops whole partitions: ops.drop_error_event_partitions().';
END
$$;

CREATE FUNCTION ops_private.duration_interval(duration text) RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN duration ~ '^[1-9][0-9]{0,6}[smhd]$'
            THEN make_interval(secs => left(duration, -1)::double precision
                 * CASE right(duration, 1) WHEN 's' THEN 1 WHEN 'm' THEN 60 WHEN 'h' THEN 3600 ELSE 86400 END)
       END;
COMMENT ON FUNCTION ops_private.duration_interval(text) IS
    'A duration as written in the SSOT (<1-9999999><s|m|h|d>, e.g. 10m) -> interval; NULL for anything else '
    '(ops ssot check refuses such values before they reach the database).';

CREATE FUNCTION ops_private.page_digest_rule(destination text, code text,
                                             OUT scope text, OUT window_length interval, OUT max_pages integer)
LANGUAGE sql STABLE
SET search_path = pg_catalog, ops
AS $$
    SELECT CASE WHEN o.rule IS NOT NULL OR coalesce(d.rule ->> 'per', 'code') = 'code'
                THEN page_digest_rule.code ELSE '*' END,
           ops_private.duration_interval(coalesce(o.rule ->> 'window', d.rule ->> 'window')),
           CASE WHEN coalesce(o.rule ->> 'max_pages', d.rule ->> 'max_pages', '1') ~ '^[1-9][0-9]{0,5}$'
                THEN coalesce(o.rule ->> 'max_pages', d.rule ->> 'max_pages', '1')::integer END
    FROM ops.destinations x
    CROSS JOIN LATERAL (SELECT CASE WHEN jsonb_typeof(x.config -> 'digest') = 'object' THEN x.config -> 'digest' END) AS d (rule)
    CROSS JOIN LATERAL (SELECT CASE WHEN jsonb_typeof(d.rule -> 'codes' -> page_digest_rule.code) = 'object'
                                    THEN d.rule -> 'codes' -> page_digest_rule.code END) AS o (rule)
    WHERE x.name = page_digest_rule.destination
      AND (o.rule IS NOT NULL OR d.rule ? 'window')
$$;
COMMENT ON FUNCTION ops_private.page_digest_rule(text, text) IS
    'The page budget for a code at a destination, from ops.destinations.config -> digest: (scope, window_length, '
    'max_pages); scope is the code (per: code, the default, or an entry under codes) or * (per: destination). '
    'All NULL when the destination has no digest for the code, or its values are malformed (then it pages as before).';

CREATE FUNCTION ops_private.tg_error_events__aggregate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    fired jsonb;
    ev record;
    fmode record;
    got record;
    known boolean;
    created text[];
    moving record;
    updated boolean := false;
BEGIN
    -- A single-row statement of an existing group (below) updates its row in place, its crossings decided here;
    -- the general upsert (hash aggregate, join back for the sample, sort, unique, ModifyTable) started ~19 % of such
    -- a statement's CPU in plan nodes one row does not need. Whether the statement has one row is read from at most
    -- two rows of the transition table (an init plan), so a 500-row statement pays nothing per row for the test.
    SELECT e.fingerprint, e.fingerprint_version, e.code, e.source, e.phase, e.received_at, e.id, e.confidence,
           e.matched_pattern, e.message, e.top_frame, e.run_id, e.correlation_id,
           (SELECT count(*) FROM (SELECT FROM inserted x LIMIT 2) x) AS rows
    INTO ev
    FROM inserted e
    LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    -- A single-row statement whose group exists under the event's code (a text seen before: every autocommit
    -- INSERT and ops.record_error call of a repeated error, a storm's events) updates that row in place with the
    -- ON CONFLICT rule's assignments below for one event (n = 1), the window length read with the failure mode,
    -- and decides its crossings here. Anything else (a new group, a group kept under another code, two rows or
    -- more) takes the general upsert, so the ON CONFLICT rule exists once and this UPDATE is its one-row
    -- existing-row case (tests/test_ingest_aggregate_paths.py: equal rows and escalations on the same events).
    -- Against the eighth pass's INSERT ... VALUES ... ON CONFLICT: no speculative insertion and no two per-row
    -- sub-selects of ops.failure_modes to start (bench/README.md, "(issue 12, tenth pass)").
    IF ev.rows = 1 THEN
        SELECT f.escalate_destination, f.title, f.severity, f.category, f.runbook, f.retryable, f.remediate_kind,
               f.escalate_within, f.escalate_after_count
        INTO fmode
        FROM ops.failure_modes f WHERE f.code = ev.code LIMIT 1;
        known := FOUND;
        -- fmode is the group's failure mode (the codes are equal); a code not in the taxonomy has none (no window).
        UPDATE ops.agent_errors AS a SET
            count = a.count + 1,
            last_seen_at = greatest(a.last_seen_at, ev.received_at),
            sample_message = ev.message,
            top_frame = ev.top_frame,
            last_event_id = ev.id,
            last_run_id = coalesce(ev.run_id, a.last_run_id),
            last_correlation_id = coalesce(ev.correlation_id, a.last_correlation_id),
            status = CASE WHEN a.status = 'resolved' THEN 'regressed' ELSE a.status END,
            regression_count = a.regression_count + (a.status = 'resolved')::integer,
            -- A window opens at the first event after the previous one closed.
            window_started_at = CASE
                WHEN fmode.escalate_within IS NULL THEN NULL
                WHEN a.window_started_at IS NULL OR ev.received_at >= a.window_started_at + fmode.escalate_within
                THEN ev.received_at
                ELSE a.window_started_at END,
            window_count = CASE
                WHEN fmode.escalate_within IS NULL THEN NULL
                WHEN a.window_started_at IS NULL OR ev.received_at >= a.window_started_at + fmode.escalate_within
                THEN 1
                ELSE a.window_count + 1 END
        WHERE a.fingerprint = ev.fingerprint AND a.code = ev.code
        RETURNING a.fingerprint, a.code, a.source, a.phase, a.count, a.window_count, a.window_started_at,
                  a.status, a.regression_count, a.first_seen_at, a.last_seen_at, a.sample_message,
                  a.top_frame, a.last_event_id, a.last_run_id, a.ignored_until
        INTO got;
        updated := FOUND;
    END IF;
    IF updated THEN
        -- The crossings, decided as the general path decides them for n = 1 (its inner join on the code: a code not
        -- in the taxonomy fires none); the fired jsonb is built only when one fired.
        IF known AND (got.status = 'regressed'
                      OR coalesce(CASE WHEN fmode.escalate_within IS NULL THEN got.count = fmode.escalate_after_count
                                       ELSE got.window_count = fmode.escalate_after_count END, false)) THEN
            SELECT jsonb_agg(jsonb_build_object(
                       'fingerprint', got.fingerprint, 'code', got.code, 'source', got.source, 'phase', got.phase,
                       'count', got.count, 'window_count', got.window_count,
                       'window_started_at', got.window_started_at, 'status', got.status,
                       'regression_count', got.regression_count, 'first_seen_at', got.first_seen_at,
                       'last_seen_at', got.last_seen_at, 'sample_message', got.sample_message,
                       'top_frame', got.top_frame,
                       'last_event_id', got.last_event_id, 'last_run_id', got.last_run_id,
                       'ignored_until', got.ignored_until, 'n', 1, 'reason', r.reason, 'dedupe_key', r.dedupe_key,
                       'escalate_destination', fmode.escalate_destination, 'title', fmode.title,
                       'severity', fmode.severity, 'category', fmode.category, 'runbook', fmode.runbook,
                       'retryable', fmode.retryable, 'remediate_kind', fmode.remediate_kind))
            INTO fired
            FROM (VALUES
                -- One event was added: a count crosses its threshold when it now equals it (old = new - 1 below it).
                ('threshold', got.fingerprint || ':threshold',
                 fmode.escalate_within IS NULL AND got.count = fmode.escalate_after_count),
                ('window', got.fingerprint || ':window:'
                           || to_char(got.window_started_at AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS.US'),
                 fmode.escalate_within IS NOT NULL AND got.window_count = fmode.escalate_after_count),
                ('regression', got.fingerprint || ':regression:' || got.regression_count, got.status = 'regressed')
            ) AS r (reason, dedupe_key, fires)
            WHERE r.fires;
        END IF;
    ELSE
        -- The common statement crosses nothing: it upserts the counts and stops. Only a statement with a
        -- crossing or regression plans and runs the escalation half (page budgets, escalations, FixBot runs),
        -- whose executor start-up (five INSERT ... ON CONFLICT) cost a single-row INSERT ~0.6 ms. The code's row of
        -- ops.failure_modes is read by a LATERAL probe with LIMIT 1 (its key is the code): the transition table is
        -- always planned as 500 rows, so a plain join read and hashed all of ops.failure_modes in every statement.
        WITH totals AS (
            SELECT e.fingerprint,
                   min(e.fingerprint_version) AS fingerprint_version,
                   min(e.code) AS code,
                   min(e.source) AS source,
                   min(e.phase) AS phase,
                   count(*) AS n,
                   min(e.received_at) AS first_at,
                   max(e.received_at) AS last_at,
                   max(e.id) AS last_event_id,
                   max(e.confidence) AS confidence,
                   min(e.matched_pattern) AS matched_pattern
            FROM inserted e
            GROUP BY e.fingerprint
        ), batch AS (
            -- The sample is the group's last event in this statement, found by a join on its id (DISTINCT ON
            -- in case an owner inserted an id twice), not by one sort per sampled column.
            SELECT DISTINCT ON (t.fingerprint) t.*, e.message AS sample_message, e.top_frame, e.run_id, e.correlation_id
            FROM totals t
            JOIN inserted e ON e.id = t.last_event_id AND e.fingerprint = t.fingerprint
            ORDER BY t.fingerprint
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
            LEFT JOIN LATERAL (SELECT f.escalate_within FROM ops.failure_modes f WHERE f.code = b.code LIMIT 1) fm ON true
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
                      a.top_frame, a.last_event_id, a.last_run_id, a.ignored_until
        )
        -- The upsert returns the new counts; this statement added b.n, so the old count is new - n.
        SELECT jsonb_agg(jsonb_build_object(
                   'fingerprint', u.fingerprint, 'code', u.code, 'source', u.source, 'phase', u.phase, 'count', u.count,
                   'window_count', u.window_count, 'window_started_at', u.window_started_at, 'status', u.status,
                   'regression_count', u.regression_count, 'first_seen_at', u.first_seen_at,
                   'last_seen_at', u.last_seen_at, 'sample_message', u.sample_message, 'top_frame', u.top_frame,
                   'last_event_id', u.last_event_id, 'last_run_id', u.last_run_id, 'ignored_until', u.ignored_until,
                   'n', b.n, 'reason', r.reason,
                   'dedupe_key', r.dedupe_key, 'escalate_destination', fm.escalate_destination, 'title', fm.title,
                   'severity', fm.severity, 'category', fm.category, 'runbook', fm.runbook, 'retryable', fm.retryable,
                   'remediate_kind', fm.remediate_kind)) FILTER (WHERE r.fires AND fm.known),
               -- The groups this statement created (their count is what it added), once each.
               array_agg(u.fingerprint) FILTER (WHERE u.count = b.n AND r.reason = 'threshold')
        INTO fired, created
        FROM upserted u
        JOIN batch b ON b.fingerprint = u.fingerprint
        -- A code not in the taxonomy fires nothing (fm.known is NULL), but its new group is still listed.
        LEFT JOIN LATERAL (SELECT true AS known, f.escalate_destination, f.title, f.severity, f.category, f.runbook,
                                  f.retryable, f.remediate_kind, f.escalate_within, f.escalate_after_count
                           FROM ops.failure_modes f WHERE f.code = u.code LIMIT 1) fm ON true
        CROSS JOIN LATERAL (VALUES
            ('threshold', u.fingerprint || ':threshold',
             fm.escalate_within IS NULL
             AND u.count - b.n < fm.escalate_after_count AND u.count >= fm.escalate_after_count),
            ('window', u.fingerprint || ':window:' || to_char(u.window_started_at AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS.US'),
             fm.escalate_within IS NOT NULL
             AND u.window_count - b.n < fm.escalate_after_count AND u.window_count >= fm.escalate_after_count),
            ('regression', u.fingerprint || ':regression:' || u.regression_count,
             u.status = 'regressed')
        ) AS r (reason, dedupe_key, fires);
    END IF;
    IF fired IS NOT NULL THEN

        WITH crossings AS (
            -- An error ignored for now (`ops ignore`) neither pages nor takes a place in a page budget or a digest; one
            -- whose ignore ran out goes on, and the escalation trigger reopens it (tg_escalations__10_skip_ignored).
            SELECT * FROM jsonb_to_recordset(fired) AS x (
                fingerprint text, code text, source text, phase text, count bigint, window_count bigint,
                window_started_at timestamptz, status text, regression_count integer, first_seen_at timestamptz,
                last_seen_at timestamptz, sample_message text, top_frame text, last_event_id bigint, last_run_id text,
                ignored_until timestamptz, n bigint, reason text, dedupe_key text, escalate_destination text, title text,
                severity text, category text, runbook text, retryable boolean, remediate_kind text)
            WHERE x.status IS DISTINCT FROM 'ignored' OR x.ignored_until <= now()
        ), ruled AS (
            -- The destination's page budget for the code, if any (FixBot codes are never held back).
            SELECT c.*, g.scope, g.window_length, g.max_pages,
                   date_bin(g.window_length, now(), timestamptz '2000-01-01 00:00:00+00') AS window_start,
                   (g.scope IS NOT NULL AND g.window_length IS NOT NULL AND g.max_pages IS NOT NULL) AS limited
            FROM crossings c
            LEFT JOIN LATERAL ops_private.page_digest_rule(c.escalate_destination, c.code) AS g
                ON c.remediate_kind IS DISTINCT FROM 'fixbot'
        ), ranked AS (
            SELECT r.*,
                   row_number() OVER (PARTITION BY r.escalate_destination, r.scope, r.window_start
                                      ORDER BY r.dedupe_key) AS rank_in_batch,
                   count(*) OVER (PARTITION BY r.escalate_destination, r.scope, r.window_start) AS batch_crossings
            FROM ruled r
        ), windows AS (
            -- One upsert per window: the row lock makes concurrent statements take their places in turn.
            INSERT INTO ops.page_windows AS w (destination, scope, window_start, window_end, max_pages, crossings)
            SELECT r.escalate_destination, r.scope, r.window_start, r.window_start + min(r.window_length),
                   min(r.max_pages), count(*)
            FROM ranked r
            WHERE r.limited
            GROUP BY r.escalate_destination, r.scope, r.window_start
            ORDER BY r.escalate_destination, r.scope, r.window_start
            ON CONFLICT (destination, scope, window_start) DO UPDATE SET crossings = w.crossings + excluded.crossings
            RETURNING w.id, w.destination, w.scope, w.window_start, w.window_end, w.max_pages, w.crossings, w.sealed_at
        ), decided AS (
            -- Crossings before this statement's = total - this statement's; the first max_pages of a window
            -- page, and so does any crossing that finds its window's digest already sealed.
            SELECT r.*, w.id AS window_id, w.window_end,
                   (w.id IS NULL OR w.sealed_at IS NOT NULL
                    OR w.crossings - r.batch_crossings + r.rank_in_batch <= w.max_pages) AS paged
            FROM ranked r
            LEFT JOIN windows w ON r.limited AND w.destination = r.escalate_destination AND w.scope = r.scope
                               AND w.window_start = r.window_start
        ), held AS (
            INSERT INTO ops.page_window_items (dedupe_key, window_id, fingerprint, code, reason, count_at, payload)
            SELECT d.dedupe_key, d.window_id, d.fingerprint, d.code, d.reason, d.count,
                   jsonb_build_object(
                       'code', d.code, 'title', d.title, 'severity', d.severity, 'reason', d.reason, 'count', d.count,
                       'first_seen_at', d.first_seen_at, 'last_seen_at', d.last_seen_at, 'source', d.source,
                       'phase', d.phase, 'sample_message', d.sample_message, 'runbook', d.runbook,
                       'fingerprint', d.fingerprint)
            FROM decided d
            WHERE NOT d.paged
            ORDER BY d.dedupe_key
            ON CONFLICT (dedupe_key) DO NOTHING
            RETURNING window_id
        ), digests AS (
            -- The window's digest: one escalation, due when the window closes (exactly one: the dedupe key).
            INSERT INTO ops.escalations (dedupe_key, fingerprint, code, reason, destination, count_at, payload,
                                         next_attempt_at)
            SELECT 'digest:' || d.window_id, 'digest:' || d.window_id, min(d.code), 'digest', d.escalate_destination, 0,
                   jsonb_build_object(
                       'title', CASE WHEN d.scope = '*' THEN 'Similar errors held back by the page budget'
                                     ELSE min(d.title) END,
                       'code', CASE WHEN d.scope = '*' THEN NULL ELSE d.scope END,
                       'scope', d.scope, 'window_id', d.window_id, 'window_start', d.window_start,
                       'window_end', d.window_end, 'max_pages', min(d.max_pages),
                       'severity', max(d.severity), 'runbook', CASE WHEN d.scope = '*' THEN NULL ELSE min(d.runbook) END),
                   d.window_end
            FROM decided d
            WHERE NOT d.paged
            GROUP BY d.window_id, d.escalate_destination, d.scope, d.window_start, d.window_end
            ORDER BY d.window_id
            ON CONFLICT (dedupe_key) DO NOTHING
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
                   || CASE WHEN c.window_id IS NULL THEN '{}'::jsonb
                           ELSE jsonb_build_object('page_window', jsonb_build_object(
                               'id', c.window_id, 'window_end', c.window_end, 'max_pages', c.max_pages)) END
            FROM decided c
            WHERE c.paged
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
    END IF;
    IF created IS NOT NULL THEN
        -- A group this statement created under a fingerprint that a promotion moved (ops.error_aliases, reason
        -- promote): its events were fingerprinted before the promotion committed (a cache entry or alias read
        -- earlier; the upsert then waited for the promotion's row lock). It is moved as the promotion moved the
        -- others (ops_private.move_group), so ingest never recreates a promoted group, and the cache entries that
        -- sent events there are deleted. A new group is the only case: a promoted group's row is gone.
        FOR moving IN
            SELECT al.fingerprint, al.target_fingerprint, al.target_code FROM ops.error_aliases al
            WHERE al.fingerprint = ANY (created) AND al.reason = 'promote'
            ORDER BY al.fingerprint
        LOOP
            PERFORM ops_private.move_group(moving.fingerprint, moving.target_fingerprint, moving.target_code);
        END LOOP;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ops_private.tg_error_events__aggregate() IS
    'AFTER INSERT statement trigger on ops.error_events: upserts ops.agent_errors once per fingerprint, writes one '
    'escalation per threshold/window crossing or regression (unique dedupe key), queues FixBot runs, and holds '
    'back crossings past a destination''s page budget (config.digest) into that window''s digest '
    '(ops.page_windows, ops.page_window_items, one reason=digest escalation due at the window''s end). An error '
    'ignored for now (ops.ignore_error) has no crossing: no page, no place in a budget or digest. A statement '
    'that crosses nothing runs only the upsert; the escalation half runs when a crossing or regression fired. A '
    'group the statement created under a fingerprint a promotion moved meanwhile follows it (ops_private.move_group). A '
    'statement of one row whose group exists under the event''s code updates that row by a plain UPDATE (the ON CONFLICT '
    'rule''s assignments for one event) and decides its crossings in PL/pgSQL (no speculative insertion, aggregate, '
    'sort or join to start); every other statement (a new group, a group kept under another code, two rows or more) '
    'takes one upsert over the transition table. Same rows and escalations either way. Raises nothing of its own.';

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

CREATE FUNCTION ops.record_errors(events jsonb)
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

CREATE FUNCTION ops.prune_classification_cache(max_age interval DEFAULT interval '7 days') RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    pruned integer;
BEGIN
    IF max_age IS NULL OR max_age <= interval '0' THEN
        RAISE EXCEPTION 'max_age must be above zero, not %', max_age USING ERRCODE = 'OPD01', COLUMN = 'max_age';
    END IF;
    DELETE FROM ops_private.classification_cache c WHERE c.cached_at < now() - max_age;
    GET DIAGNOSTICS pruned = ROW_COUNT;
    RETURN pruned;
END
$$;
COMMENT ON FUNCTION ops.prune_classification_cache(interval) IS
    'Retention of the classification cache: deletes entries written more than max_age ago (default 7 days; an entry '
    'is not refreshed when read, so a text still arriving is classified once more and cached again). Returns how many '
    'entries it deleted. OPD01 for a max_age not above zero. Run by `ops db maintain`.';

-- Triage: the status state machine, resolve / ignore / reopen, and the history of status changes.

CREATE TABLE ops.error_status_changes (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fingerprint    text NOT NULL,
    from_status    text NOT NULL,
    to_status      text NOT NULL,
    changed_at     timestamptz NOT NULL DEFAULT now(),
    actor          text NOT NULL,
    resolution_ref text,
    ignored_until  timestamptz
);
COMMENT ON TABLE ops.error_status_changes IS
    'Every status change of an ops.agent_errors row (resolve, ignore, reopen, acknowledge, and regressions by ingest), '
    'oldest first by id. Written by the trigger tg_agent_errors__50_status_changes only.';
COMMENT ON COLUMN ops.error_status_changes.actor IS
    'Who changed it: the session setting ops.actor (`ops resolve --by`, fixbot), else ingest for a regression, else the login.';
CREATE INDEX error_status_changes_fingerprint_idx ON ops.error_status_changes (fingerprint, id);

CREATE FUNCTION ops_private.tg_agent_errors__status_changes() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
BEGIN
    INSERT INTO ops.error_status_changes (fingerprint, from_status, to_status, actor, resolution_ref, ignored_until)
    VALUES (NEW.fingerprint, OLD.status, NEW.status,
            coalesce(nullif(current_setting('ops.actor', true), ''),
                     CASE WHEN NEW.status = 'regressed' THEN 'ingest' ELSE session_user::text END),
            CASE WHEN NEW.status = 'resolved' THEN NEW.resolution_ref END,
            CASE WHEN NEW.status = 'ignored' THEN NEW.ignored_until END);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ops_private.tg_agent_errors__status_changes() IS
    'AFTER UPDATE per row on ops.agent_errors when the status changed: appends the change to ops.error_status_changes.';

CREATE TRIGGER tg_agent_errors__50_status_changes AFTER UPDATE OF status ON ops.agent_errors
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION ops_private.tg_agent_errors__status_changes();

CREATE FUNCTION ops_private.transition_error(fingerprint text, to_status text, resolution_ref text DEFAULT NULL,
                                             resolution_sha256 text DEFAULT NULL, resolved_by text DEFAULT NULL,
                                             ignored_until timestamptz DEFAULT NULL)
RETURNS SETOF ops.agent_errors
LANGUAGE plpgsql
SET search_path = pg_catalog, ops
AS $$
DECLARE
    current_status text;
    allowed text[];
BEGIN
    SELECT a.status INTO current_status FROM ops.agent_errors a WHERE a.fingerprint = transition_error.fingerprint
    FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no error with fingerprint "%"', transition_error.fingerprint USING ERRCODE = 'OP004',
            HINT = 'List errors with `ops errors list`; a unique prefix of a fingerprint is enough.';
    END IF;
    -- An ignore that has run out is open again (the escalation trigger reopens it too, at the next crossing).
    IF current_status = 'ignored' AND (SELECT a.ignored_until <= now() FROM ops.agent_errors a
                                       WHERE a.fingerprint = transition_error.fingerprint) THEN
        current_status := 'open';
    END IF;
    allowed := CASE to_status
        WHEN 'acknowledged' THEN ARRAY['open', 'regressed']
        WHEN 'resolved' THEN ARRAY['open', 'acknowledged', 'regressed']
        WHEN 'ignored' THEN ARRAY['open', 'acknowledged', 'regressed', 'resolved', 'ignored']
        WHEN 'open' THEN ARRAY['resolved', 'ignored']
    END;
    IF allowed IS NULL THEN
        RAISE EXCEPTION 'status must be open, acknowledged, resolved or ignored, not "%"', to_status
            USING ERRCODE = 'OP001', COLUMN = 'status';
    END IF;
    IF NOT current_status = ANY (allowed) THEN
        RAISE EXCEPTION 'error % is %: it cannot become %', left(transition_error.fingerprint, 12), current_status, to_status
            USING ERRCODE = 'OPD04',
            HINT = CASE to_status
                WHEN 'open' THEN 'Only a resolved or ignored error can be reopened.'
                WHEN 'resolved' THEN 'Only an open, acknowledged or regressed error can be resolved; reopen it first.'
                ELSE 'Only an open or regressed error can be acknowledged.' END;
    END IF;
    RETURN QUERY
    UPDATE ops.agent_errors a
    SET status = to_status,
        resolved_at = CASE WHEN to_status = 'resolved' THEN now() ELSE a.resolved_at END,
        resolved_by = CASE WHEN to_status = 'resolved' THEN transition_error.resolved_by ELSE a.resolved_by END,
        resolution_ref = CASE WHEN to_status = 'resolved' THEN coalesce(transition_error.resolution_ref, a.resolution_ref)
                              ELSE a.resolution_ref END,
        resolution_sha256 = CASE WHEN to_status = 'resolved' AND transition_error.resolution_ref IS NOT NULL
                                 THEN transition_error.resolution_sha256 ELSE a.resolution_sha256 END,
        ignored_until = CASE WHEN to_status = 'ignored' THEN transition_error.ignored_until END
    WHERE a.fingerprint = transition_error.fingerprint
    RETURNING a.*;
END
$$;
COMMENT ON FUNCTION ops_private.transition_error(text, text, text, text, text, timestamptz) IS
    'The triage state machine behind ops.set_error_status, ops.resolve_error, ops.ignore_error and ops.reopen_error: '
    'open/acknowledged/regressed -> resolved; open/regressed -> acknowledged; any -> ignored; resolved/ignored -> open '
    '(an ignore past its ignored_until counts as open). Raises OP004 for an unknown fingerprint, OP001 for an unknown '
    'status, OPD04 for any other transition. resolved_at keeps the last resolution; the record fields change only on '
    'a resolve. Returns the updated row.';

CREATE FUNCTION ops.set_error_status(fingerprint text, status text, resolution_ref text DEFAULT NULL)
RETURNS SETOF ops.agent_errors
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
BEGIN
    RETURN QUERY SELECT * FROM ops_private.transition_error(set_error_status.fingerprint, set_error_status.status,
                                                            set_error_status.resolution_ref);
END
$$;
COMMENT ON FUNCTION ops.set_error_status(text, text, text) IS
    'Triage: sets an error''s status (open, acknowledged, resolved, ignored) through the state machine of '
    'ops_private.transition_error (OPD04 for a transition it refuses, OP004 unknown fingerprint, OP001 unknown status). '
    'resolution_ref points at the resolution record (docs/resolutions/...). A resolved error that occurs again becomes '
    'regressed and escalates. ops.resolve_error also records the record''s sha256 and who resolved it.';

CREATE FUNCTION ops.resolve_error(fingerprint text, resolution_ref text, resolution_sha256 text,
                                  resolved_by text DEFAULT NULL)
RETURNS SETOF ops.agent_errors
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
BEGIN
    IF resolve_error.resolution_ref IS NULL OR resolve_error.resolution_ref !~ '^docs/resolutions/[0-9]{4}/[0-9]{2}/[^/]+\.md$' THEN
        RAISE EXCEPTION 'resolution_ref must be docs/resolutions/YYYY/MM/<name>.md, not "%"', left(resolve_error.resolution_ref, 200)
            USING ERRCODE = 'OP001', COLUMN = 'resolution_ref';
    END IF;
    IF resolve_error.resolution_sha256 IS NULL OR resolve_error.resolution_sha256 !~ '^[0-9a-f]{64}$' THEN
        RAISE EXCEPTION 'resolution_sha256 must be 64 lowercase hex digits' USING ERRCODE = 'OP001',
            COLUMN = 'resolution_sha256';
    END IF;
    PERFORM set_config('ops.actor', coalesce(nullif(btrim(resolve_error.resolved_by), ''), session_user::text), true);
    RETURN QUERY SELECT * FROM ops_private.transition_error(
        resolve_error.fingerprint, 'resolved', resolve_error.resolution_ref, resolve_error.resolution_sha256,
        coalesce(nullif(btrim(resolve_error.resolved_by), ''), session_user::text));
    PERFORM set_config('ops.actor', '', true);
END
$$;
COMMENT ON FUNCTION ops.resolve_error(text, text, text, text) IS
    '`ops resolve`: marks an open, acknowledged or regressed error resolved and records its resolution record: path '
    '(docs/resolutions/YYYY/MM/<name>.md, else OP001), sha256 of the file (64 hex, else OP001) and who resolved it '
    '(default the login). OPD04 for an error in another state, OP004 for an unknown fingerprint. Returns the row.';

CREATE FUNCTION ops.ignore_error(fingerprint text, until timestamptz DEFAULT NULL)
RETURNS SETOF ops.agent_errors
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
BEGIN
    IF ignore_error.until IS NOT NULL AND ignore_error.until <= now() THEN
        RAISE EXCEPTION 'until must be in the future, not %', ignore_error.until USING ERRCODE = 'OP001', COLUMN = 'until';
    END IF;
    RETURN QUERY SELECT * FROM ops_private.transition_error(ignore_error.fingerprint, 'ignored',
                                                            ignored_until => ignore_error.until);
END
$$;
COMMENT ON FUNCTION ops.ignore_error(text, timestamptz) IS
    '`ops ignore`: the error still counts but never escalates until `until` (NULL: until reopened); afterwards it is '
    'open again. Any status may be ignored. OP001 for an until not in the future, OP004 unknown fingerprint. Returns the row.';

CREATE FUNCTION ops.reopen_error(fingerprint text)
RETURNS SETOF ops.agent_errors
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
BEGIN
    RETURN QUERY SELECT * FROM ops_private.transition_error(reopen_error.fingerprint, 'open');
END
$$;
COMMENT ON FUNCTION ops.reopen_error(text) IS
    '`ops reopen`: a resolved or ignored error is open again (OPD04 for any other status, OP004 unknown fingerprint). '
    'The last resolution record stays on the row as history. Returns the row.';

-- Regrouping: groups of an older fingerprint version moved under the current one (ops errors regroup).

CREATE FUNCTION ops.grouping_text(message text, code text, matched_pattern text) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, ops
SET plan_cache_mode = force_generic_plan
-- PL/pgSQL, not LANGUAGE sql, since the ninth ingest pass: PostgreSQL keeps a SQL function's parsed and planned body
-- only for the transaction that built it, and this body (a 74 kB parse tree, never inlined: it has SET and sublinks)
-- was read back and planned again in every transaction that grouped a new text (~6.5 ms of a ~9 ms single-row
-- event whose text carries a request id); PL/pgSQL keeps its plan for the session. The expression is unchanged
-- (bench/README.md, "Real producers' text"); a generic plan, since a custom one would be planned on every call.
-- The cause line is the first line (CR LF, CR and LF all end a line) whose canonical form the matched
-- pattern matches, as ops.classify_candidates matches it. Version 3: the text starts after the last ": " that
-- precedes the pattern's match on that line (what precedes it is the client's wrapper chain:
-- "(psycopg2.OperationalError) FATAL:", "connection to server at … failed: FATAL:", "Error refreshing state:"), and
-- keeps the rest of the line. When the text between that ": " and the match holds ", " (fields of an SDK's
-- error: "RequestID: <uuid>, api error ExpiredToken: …"), it starts at the match itself. A line whose text
-- before the match holds a ";" (a log record's fields, "QNAME: …; QTYPE: …;") is kept whole. The match
-- is found again on the folded line with case, `_`, `-` and tabs mapped one to one (so positions agree);
-- when that does not find it (a run of blanks the canonical form collapsed), the whole line is kept. The
-- whole message when no pattern matched (UNKNOWN, or a code the producer named) or when the pattern only
-- matches across lines. Version 6: a line of source code that raises the error (a traceback's
-- `raise ValueError("Expected singleton: %s" % self)`, `throw new Error(...)`) is the cause line only when no
-- other line matches; the message it quotes is printed on a later line with its values. Version 10: a compact JSON
-- key's '":"' before the match ends the wrapper like ": " does (the later of the two counts): a JSON error body
-- {"error":{"code":"…","message":"<text>"}} and the same <text> printed as prose are one cause (agent-b10pair-04).
-- Version 14: when such a JSON key starts the text, the text ends where the key's string value ends (its first
-- unescaped '"'), provided the match lies inside it: the rest of the line is the object's other keys (a Terraform
-- JSON diagnostic's "address" and "range", which name where one failure surfaced: tf-b16pair-04).
-- Version 20: a match that starts with a blank (a regex's "(^|[^a-z])" boundary read the blank after "HTTP 404:") has
-- that blank read as the prefix's, so a ": " right before the match ends the wrapper as the rule says; before, the
-- wrapper stayed when the boundary took its blank ("Provider error HTTP 404: Model 'x' not found …" and "HTTP 404:
-- Model 'x' not found …" are one failure: agent-b22pair-02).
-- Version 21: CoreDNS's errors plugin prints a failed upstream query as "[ERROR] plugin/errors: <rcode> <qname>
-- <qtype>: <error>" (or "[ERROR] <rcode> <qname> <qtype>: <error>"): the name asked for is what tells two failures
-- apart (two names behind one timing-out upstream are two failures: dns-b12pair-04, dns-b29pair-09) and sat in the
-- wrapper the text starts after; the line reads "[ERROR] plugin/errors: <error> for <qname>", the rcode and the
-- record type dropped (one name's A and AAAA queries timing out are one failure: dns-b12pair-02).
AS $fn$
BEGIN
-- A code grouped by pattern (ops.grouping_rule) is grouped by the pattern that read it (the first of its group, when
-- the pattern has a group name: ops.pattern_group_key), whatever its line says; NULL when none did (a code the
-- producer named), which ops.error_fingerprint reads as the code's one group. So is an event of a code grouped by
-- message whose pattern says `grouping: pattern` (the two-argument ops.grouping_rule).
IF ops.grouping_rule(code, matched_pattern) = 'pattern' THEN
    RETURN ops.pattern_group_key(code, matched_pattern);
END IF;
IF strpos(message, '[ERROR] ') > 0 THEN  -- guard
    message := regexp_replace(message,
        '\[ERROR\] (plugin/errors: )?[0-9]{1,3} ([^[:space:]]{1,253}\.) [A-Z][A-Z0-9]{0,9}: ([^\n]*)',
        '[ERROR] \1\3 for \2', 'gn');
END IF;
RETURN coalesce((
    SELECT CASE WHEN s.start > 0 AND strpos(w.prefix, ';') = 0
                THEN (SELECT CASE WHEN w.json AND length(v.closed) >= s.stop - v.b THEN v.closed ELSE v.t END
                      FROM (SELECT x.t, x.b, substring(x.t FROM '^(([^"\\]|\\.)*)') AS closed
                            FROM (SELECT substr(f.folded, y.b) AS t, y.b
                                  FROM (SELECT CASE WHEN w.k > 0 AND strpos(right(w.prefix, w.k - 1), ', ') = 0
                                                    THEN length(w.prefix) - w.k + 2
                                                    WHEN w.k > 0 THEN s.start ELSE 1 END AS b) y) x) v)
                ELSE c.line END
    FROM (SELECT (regexp_split_to_array(message, E'\r\n|\r|\n'))[t.n] AS line, p.kind, p.pattern, p.pattern_canonical
          FROM regexp_split_to_table(ops.canonical_text(left(message, 40000)), E'\n') WITH ORDINALITY AS t (l, n)
          JOIN LATERAL (SELECT p.kind, p.pattern, p.pattern_canonical FROM ops.failure_mode_patterns p
                        WHERE p.code = grouping_text.code AND p.pattern = grouping_text.matched_pattern LIMIT 1) p ON true
          WHERE CASE WHEN p.kind = 'substring' THEN strpos(t.l, p.pattern_canonical) > 0 ELSE t.l ~* p.pattern END
          ORDER BY left(ltrim(t.l), 6) IN ('raise ', 'throw '), t.n
          LIMIT 1) c
    CROSS JOIN LATERAL (SELECT ops.fold_text(c.line) AS folded) f
    CROSS JOIN LATERAL (SELECT translate(lower(f.folded), E'_-\t', '   ') AS flat) l
    CROSS JOIN LATERAL (SELECT CASE WHEN c.kind = 'substring' THEN strpos(l.flat, c.pattern_canonical)
                                    ELSE regexp_instr(l.flat, c.pattern, 1, 1, 0, 'i') END AS start,
                               CASE WHEN c.kind = 'substring' THEN strpos(l.flat, c.pattern_canonical) + length(c.pattern_canonical)
                                    ELSE regexp_instr(l.flat, c.pattern, 1, 1, 1, 'i') END AS stop) s
    CROSS JOIN LATERAL (SELECT left(f.folded, greatest(s.start - 1 + (substr(l.flat, s.start, 1) = ' ')::int, 0)) AS prefix) p
    CROSS JOIN LATERAL (SELECT p.prefix, strpos(reverse(p.prefix), ' :') AS colon, strpos(reverse(p.prefix), '":"') AS json) r
    CROSS JOIN LATERAL (SELECT r.prefix, CASE WHEN r.json > 0 AND (r.colon = 0 OR r.json < r.colon) THEN r.json
                                              ELSE r.colon END AS k,
                               r.json > 0 AND (r.colon = 0 OR r.json < r.colon) AS json) w),
    -- Version 13. A regex that matches only across lines (DB.DEADLOCK's "deadlock detected" read with its DETAIL and
    -- CONTEXT lines): the text is the match, from where it starts to the end of the line where it ends, found on the
    -- folded message with case, `_`, `-`, tabs and CR mapped one to one; the lines before it (a framework's wrapper
    -- naming the request: "ActiveRecord::Deadlocked in admin/dashboard#index") and after it (stack frames) are not
    -- the failure (ops-b15pair-02, -03). The whole message when the match is not found on that form.
    (SELECT substr(f.folded, m.s, CASE WHEN n.k = 0 THEN length(f.folded) ELSE m.e + n.k - 3 END - m.s + 1)
     FROM (SELECT p.pattern FROM ops.failure_mode_patterns p
           WHERE p.code = grouping_text.code AND p.pattern = grouping_text.matched_pattern AND p.kind = 'regex'
           LIMIT 1) p
     CROSS JOIN LATERAL (SELECT ops.fold_text(left(message, 40000)) AS folded) f
     CROSS JOIN LATERAL (SELECT translate(lower(f.folded), E'_-\t\r', '    ') AS flat) l
     CROSS JOIN LATERAL (SELECT regexp_instr(l.flat, p.pattern, 1, 1, 0, 'i') AS s,
                                regexp_instr(l.flat, p.pattern, 1, 1, 1, 'i') AS e) m
     CROSS JOIN LATERAL (SELECT strpos(substr(f.folded, m.e - 1), E'\n') AS k) n
     WHERE m.s > 0),
    message);
END
$fn$;
COMMENT ON FUNCTION ops.grouping_text(text, text, text) IS
    'The text an event is grouped by (fingerprint version 3): on the first line of the message that the matched pattern '
    'of its code matches (the cause line), the folded text after the last ": " before the match, to the line end (from '
    'the match itself when the text between holds ", "; a compact JSON key''s ''":"'' ends the wrapper like ": " (v10); the whole line when the text before the match holds ";" or '
    'the match is not found at the same place); the whole message when there is no matched pattern; a source line that '
    'raises the error (`raise …`, `throw …`) only when no other line matches (v6). Version 13: a regex that matches only '
    'across lines gives the folded text of its match, from its start to the end of the line where it ends (the lines '
    'before and after it are left out); the whole message when it is not found there. Version 14: a text that '
    'starts after a JSON key''s ''":"'' ends at the end of that string value (its first unescaped ''"'') when the match '
    'lies inside it. Version 20: a blank the match starts with (a regex''s "(^|[^a-z])" boundary) counts as the '
    'prefix''s, so a ": " right before the match ends the wrapper. Version 21: CoreDNS''s "[ERROR] plugin/errors: '
    '<rcode> <qname> <qtype>: <error>" line reads "[ERROR] plugin/errors: <error> for <qname>", so the name asked for '
    'is kept and the rcode and record type are not. For a code whose grouping rule is ''pattern'', or a matched pattern '
    'that says `grouping: pattern` under a code grouped by message (ops.grouping_rule(code, matched_pattern)), '
    'the text is ops.pattern_group_key(code, matched_pattern): the matched pattern, or the first pattern of its group '
    'name (NULL when NULL). '
    '(message, code, matched_pattern) -> text. Reads the first 40000 characters. PL/pgSQL (plan kept for the session) '
    'since the ninth ingest pass; the same expression as the LANGUAGE sql body it replaced.';

CREATE TABLE ops.error_aliases (
    fingerprint        text PRIMARY KEY,
    target_fingerprint text NOT NULL,
    reason             text NOT NULL CONSTRAINT error_aliases_reason_known CHECK (reason IN ('regroup', 'promote')),
    from_version       smallint,
    created_at         timestamptz NOT NULL DEFAULT now(),
    from_code          text,
    target_code        text
);
COMMENT ON TABLE ops.error_aliases IS
    'Old fingerprints and the group that took them over: `regroup` when a newer normalization moved a group '
    '(ops.regroup_errors), `promote` when triage re-coded it. Look an old fingerprint up here to find its group today.';
COMMENT ON COLUMN ops.error_aliases.from_version IS 'Fingerprint version of the old fingerprint.';
COMMENT ON COLUMN ops.error_aliases.from_code IS 'promote: the code the old group had (e.g. UNKNOWN.VERCEL); NULL for regroup.';
COMMENT ON COLUMN ops.error_aliases.target_code IS
    'promote: the code late events of the old fingerprint are recorded under (the target group''s code); NULL for regroup.';

CREATE INDEX error_aliases_target_idx ON ops.error_aliases (target_fingerprint);

CREATE FUNCTION ops_private.regroup_stale(a ops.agent_errors) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, ops
-- A group moves when an older fingerprint version made it, or when its code's grouping rule changed in the SSOT since
-- the group was made: the rule is `code` and the group is not the code's one group (`message` -> `code` merges the
-- code's groups), or the rule is `message` and the group is that one group (`code` -> `message` splits it by text).
-- The code's one group has the fingerprint ops.error_fingerprint gives under `code` (ops.code_group_fingerprint).
-- Under `pattern` a group belongs at the fingerprint of the pattern its row records, or of the first pattern of that
-- pattern's group name (ops.pattern_group_key; the code's one group when none): `code` -> `pattern` splits the code's
-- group by pattern, a group name given to patterns merges theirs, and `pattern` -> `message` moves a pattern's group.
-- The rule is read for the pattern the row records (ops.grouping_rule(code, pattern)), so a pattern of a code grouped
-- by message that takes or drops `grouping: pattern` moves its groups too.
RETURN a.fingerprint_version < ops.current_fingerprint_version()
    OR CASE ops.grouping_rule(a.code, a.matched_pattern)
           WHEN 'code' THEN a.fingerprint <> ops.code_group_fingerprint(a.source, a.phase, a.code)
           WHEN 'pattern' THEN a.fingerprint <> ops.error_fingerprint(a.source, a.phase, a.code,
                                                                      ops.pattern_group_key(a.code, a.matched_pattern), NULL)
           ELSE a.fingerprint IN (ops.code_group_fingerprint(a.source, a.phase, a.code),
                                  ops.pattern_group_fingerprint(a.source, a.phase, a.code,
                                                                ops.pattern_group_key(a.code, a.matched_pattern)))
       END;
COMMENT ON FUNCTION ops_private.regroup_stale(ops.agent_errors) IS
    'For ops.regroup_errors: true when the group was fingerprinted by an older version, or when the grouping rule of its '
    'code and recorded pattern (ops.grouping_rule(code, matched_pattern)) changed since it was made (rule code and the group is not the code''s one group; rule pattern '
    'and it is not the group of the pattern its row records, ops.pattern_group_fingerprint over ops.pattern_group_key, '
    'or the code''s one group '
    'when it records none; rule message and it is either). agent_errors row -> boolean.';

CREATE FUNCTION ops_private.regroup_plan()
RETURNS TABLE (old_fp text, new_fp text, events bigint, n bigint, is_main boolean, last_event bigint)
LANGUAGE sql STABLE
SET search_path = pg_catalog, ops
BEGIN ATOMIC
    WITH old AS (
        SELECT a.fingerprint, a.source, a.phase, a.code, a.sample_message, a.top_frame, a.count, a.matched_pattern
        FROM ops.agent_errors a
        WHERE ops_private.regroup_stale(a)
    ), per_event AS (
        SELECT o.fingerprint AS old_fp,
               ops.error_fingerprint(e.source, e.phase, e.code, ops.grouping_text(e.message, e.code, e.matched_pattern), e.top_frame) AS new_fp,
               count(*) AS n, max(e.id) AS last_event
        FROM old o JOIN ops.error_events e ON e.fingerprint = o.fingerprint
        GROUP BY 1, 2
    ), stored AS (
        SELECT p.old_fp, sum(p.n) AS n FROM per_event p GROUP BY p.old_fp
    ), main AS (
        -- The events retention already dropped are credited to the group of the old row's sample.
        SELECT o.fingerprint AS old_fp,
               ops.error_fingerprint(o.source, o.phase, o.code, ops.grouping_text(o.sample_message, o.code, o.matched_pattern), o.top_frame) AS new_fp,
               o.count - coalesce(s.n, 0) AS n
        FROM old o LEFT JOIN stored s ON s.old_fp = o.fingerprint
    )
    -- last_event: the latest stored event that moves to the new group from any old group, one window over the pairs.
    SELECT x.old_fp, x.new_fp, sum(x.events)::bigint, sum(x.n)::bigint, bool_or(x.is_main),
           max(max(x.last_event)) OVER (PARTITION BY x.new_fp)
    FROM (SELECT p.old_fp, p.new_fp, p.n AS events, p.n, false AS is_main, p.last_event FROM per_event p
          UNION ALL
          SELECT m.old_fp, m.new_fp, 0, m.n, true, NULL::bigint FROM main m) x
    GROUP BY x.old_fp, x.new_fp
    HAVING sum(x.n) > 0 OR bool_or(x.is_main);
END;
COMMENT ON FUNCTION ops_private.regroup_plan() IS
    'For ops.regroup_errors: every (old fingerprint, new fingerprint) pair of the groups to move '
    '(ops_private.regroup_stale), with the stored events and the count that move (is_main marks the pair of the old '
    'sample message) and the id of the latest stored event that moves to the new group from any old one (NULL when '
    'none does).';

CREATE FUNCTION ops.regroup_errors(dry_run boolean DEFAULT true)
RETURNS TABLE (old_fingerprint text, new_fingerprint text, code text, events bigint, count_moved bigint)
LANGUAGE plpgsql
SET search_path = pg_catalog, ops
AS $$
BEGIN
    -- One regroup at a time; the groups it moves are locked against concurrent ingest until commit.
    PERFORM pg_advisory_xact_lock(hashtext('ops.regroup_errors'));
    PERFORM FROM ops.agent_errors a WHERE ops_private.regroup_stale(a) FOR UPDATE;
    IF dry_run THEN
        RETURN QUERY
        SELECT r.old_fp, r.new_fp, a.code, r.events, r.n
        FROM ops_private.regroup_plan() r JOIN ops.agent_errors a ON a.fingerprint = r.old_fp
        ORDER BY 1, 2;
        RETURN;
    END IF;

    PERFORM set_config('ops.maintenance', 'on', true);  -- lets the append-only trigger pass the event UPDATE
    RETURN QUERY
    WITH plan AS MATERIALIZED (
        SELECT * FROM ops_private.regroup_plan()
    ), events_moved AS (
        UPDATE ops.error_events e
        SET fingerprint = ops.error_fingerprint(e.source, e.phase, e.code, ops.grouping_text(e.message, e.code, e.matched_pattern), e.top_frame),
            fingerprint_version = ops.current_fingerprint_version()
        WHERE e.fingerprint IN (SELECT p.old_fp FROM plan p)
        RETURNING e.id
    ), groups AS (
        -- Each new group: the counts it receives, the earliest first and latest last seen; the sample (message,
        -- pattern, top frame, last event, run and correlation ids) from the latest stored event that moved there, since a
        -- group split in two must not show the other part's text nor record its pattern (ops_private.regroup_stale reads
        -- it); the rest of the row (status, window, resolution) from its most recently seen old group. A group that
        -- receives only a count retention left (no stored event) keeps the old group's sample.
        INSERT INTO ops.agent_errors AS a (
            fingerprint, fingerprint_version, code, source, phase, count, first_seen_at, last_seen_at, status,
            confidence, matched_pattern, sample_message, top_frame, last_event_id, last_run_id,
            last_correlation_id, window_started_at, window_count, regression_count, resolved_at, resolution_ref,
            resolved_by, resolution_sha256, ignored_until)
        SELECT DISTINCT ON (p.new_fp)
               p.new_fp, ops.current_fingerprint_version(), o.code, o.source, o.phase,
               sum(p.n) OVER w, min(o.first_seen_at) OVER w, max(o.last_seen_at) OVER w, o.status,
               o.confidence,
               CASE WHEN s.id IS NULL THEN o.matched_pattern ELSE s.matched_pattern END,
               coalesce(s.message, o.sample_message),
               CASE WHEN s.id IS NULL THEN o.top_frame ELSE s.top_frame END,
               coalesce(s.id, o.last_event_id),
               coalesce(s.run_id, o.last_run_id), coalesce(s.correlation_id, o.last_correlation_id),
               o.window_started_at, o.window_count, o.regression_count, o.resolved_at,
               o.resolution_ref, o.resolved_by, o.resolution_sha256, o.ignored_until
        FROM plan p JOIN ops.agent_errors o ON o.fingerprint = p.old_fp
        LEFT JOIN LATERAL (SELECT e.id, e.message, e.matched_pattern, e.top_frame, e.run_id, e.correlation_id
                           FROM ops.error_events e
                           WHERE e.id = p.last_event
                           LIMIT 1) s ON true
        WHERE p.n > 0
        WINDOW w AS (PARTITION BY p.new_fp)
        ORDER BY p.new_fp, o.last_seen_at DESC
        ON CONFLICT (fingerprint) DO UPDATE SET
            count = a.count + excluded.count,
            first_seen_at = least(a.first_seen_at, excluded.first_seen_at),
            last_seen_at = greatest(a.last_seen_at, excluded.last_seen_at)
        RETURNING a.fingerprint, a.code
    ), aliases AS (
        INSERT INTO ops.error_aliases (fingerprint, target_fingerprint, reason, from_version)
        SELECT p.old_fp, p.new_fp, 'regroup', o.fingerprint_version
        FROM plan p JOIN ops.agent_errors o ON o.fingerprint = p.old_fp
        WHERE p.is_main
        ON CONFLICT (fingerprint) DO NOTHING
        RETURNING 1
    ), older_aliases AS (
        UPDATE ops.error_aliases al SET target_fingerprint = p.new_fp
        FROM plan p WHERE al.target_fingerprint = p.old_fp AND p.is_main
        RETURNING 1
    ), escalations_moved AS (
        -- Escalations and runs follow their group; dedupe keys keep the old fingerprint (history).
        UPDATE ops.escalations s SET fingerprint = p.new_fp
        FROM plan p WHERE s.fingerprint = p.old_fp AND p.is_main
        RETURNING 1
    ), runs_moved AS (
        UPDATE ops.agent_runs ar SET fingerprint = p.new_fp
        FROM plan p WHERE ar.fingerprint = p.old_fp AND p.is_main
        RETURNING 1
    ), old_removed AS (
        DELETE FROM ops.agent_errors a USING plan p WHERE a.fingerprint = p.old_fp
        RETURNING a.fingerprint, a.code
    )
    SELECT p.old_fp, p.new_fp,
           (SELECT r.code FROM old_removed r WHERE r.fingerprint = p.old_fp LIMIT 1),
           p.events, p.n
    FROM plan p  -- the data-modifying CTEs above run to completion whether or not this reads them
    ORDER BY 1, 2;
    PERFORM set_config('ops.maintenance', 'off', true);
END
$$;
COMMENT ON FUNCTION ops.regroup_errors(boolean) IS
    'Moves every group whose fingerprint_version is older than ops.current_fingerprint_version(), or whose grouping '
    'rule (its code''s, or its pattern''s own) changed since (ops_private.regroup_stale), under the current normalization and rules. Each stored event is re-fingerprinted; a new group receives the events that map to it, plus the '
    'old count that retention already dropped (credited to the group of the old sample message); first/last seen are '
    'the earliest and latest; the sample (sample_message, matched_pattern, top_frame, last_event_id, last_run_id, '
    'last_correlation_id) is the latest stored event that moved there (the old group''s when only a count moved); '
    'status, window and the resolution record (resolved_at, resolution_ref, resolved_by, '
    'resolution_sha256, ignored_until) come from the most recently seen old group. An alias old -> new is '
    'recorded in ops.error_aliases; escalations and agent runs follow their group. No escalation fires. With dry_run '
    '(the default) nothing changes. Returns one row per (old, new) pair: code, stored events and count moved.';

-- Triage: re-code a group (ops triage promote) and send late events of its old fingerprint to the new one.

CREATE FUNCTION ops_private.move_group(moved_fingerprint text, to_fingerprint text, to_code text) RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, ops
AS $$
DECLARE
    old ops.agent_errors;
    moved bigint;
    maintenance_was text := current_setting('ops.maintenance', true);
BEGIN
    SELECT a.* INTO old FROM ops.agent_errors a WHERE a.fingerprint = move_group.moved_fingerprint FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    PERFORM set_config('ops.maintenance', 'on', true);  -- lets the append-only trigger pass the event UPDATE
    UPDATE ops.error_events e SET fingerprint = move_group.to_fingerprint, code = move_group.to_code
    WHERE e.fingerprint = old.fingerprint;
    GET DIAGNOSTICS moved = ROW_COUNT;
    PERFORM set_config('ops.maintenance', coalesce(nullif(maintenance_was, ''), 'off'), true);
    UPDATE ops_private.event_keys k SET fingerprint = move_group.to_fingerprint, code = move_group.to_code
    WHERE k.fingerprint = old.fingerprint;

    INSERT INTO ops.agent_errors AS a (
        fingerprint, fingerprint_version, code, source, phase, count, first_seen_at, last_seen_at, status,
        confidence, matched_pattern, sample_message, top_frame, last_event_id, last_run_id, last_correlation_id,
        window_started_at, window_count, regression_count, resolved_at, resolution_ref)
    VALUES (move_group.to_fingerprint, ops.current_fingerprint_version(), move_group.to_code, old.source, old.phase,
            old.count, old.first_seen_at, old.last_seen_at, old.status, 1.0, NULL, old.sample_message, old.top_frame,
            old.last_event_id, old.last_run_id, old.last_correlation_id, NULL, NULL, old.regression_count,
            old.resolved_at, old.resolution_ref)
    ON CONFLICT (fingerprint) DO UPDATE SET
        count = a.count + excluded.count,
        first_seen_at = least(a.first_seen_at, excluded.first_seen_at),
        last_seen_at = greatest(a.last_seen_at, excluded.last_seen_at);

    -- Escalations, FixBot runs and guardrail findings follow their group (dedupe keys keep the old
    -- fingerprint: history).
    UPDATE ops.escalations s SET fingerprint = move_group.to_fingerprint WHERE s.fingerprint = old.fingerprint;
    UPDATE ops.agent_runs r SET fingerprint = move_group.to_fingerprint WHERE r.fingerprint = old.fingerprint;
    UPDATE ops.convergence_findings c SET fingerprint = move_group.to_fingerprint
    WHERE c.scope LIKE 'guardrail|%' AND c.fingerprint = old.fingerprint
      AND NOT EXISTS (SELECT FROM ops.convergence_findings t
                      WHERE t.scope = c.scope AND t.fingerprint = move_group.to_fingerprint);
    DELETE FROM ops.agent_errors a WHERE a.fingerprint = old.fingerprint;
    -- Cache entries hold the group a text goes to: those of the old group would send its text back there.
    DELETE FROM ops_private.classification_cache c WHERE c.fingerprint = old.fingerprint;
    RETURN moved;
END
$$;
COMMENT ON FUNCTION ops_private.move_group(text, text, text) IS
    'Moves one error group under another fingerprint and code (ops.promote_error, and the ingest trigger for a group '
    'it recreated while a promotion of it committed): its stored events and idempotency keys are re-coded, its count, '
    'first/last seen, status and regressions carry over (added to the target group if one exists: count summed, '
    'first/last seen widened), escalations, FixBot runs and guardrail findings follow, the old row is deleted and so '
    'are the classification cache entries that sent texts to it. Writes no escalation and no alias. Returns the '
    'number of events moved (0 when the group does not exist).';

CREATE FUNCTION ops.promote_error(fingerprint text, code text, force boolean DEFAULT false)
RETURNS TABLE (old_fingerprint text, new_fingerprint text, old_code text, new_code text, count bigint,
               events_moved bigint)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
#variable_conflict use_column
DECLARE
    old ops.agent_errors;
    target text;
    prior record;
    moved bigint;
BEGIN
    SELECT a.* INTO old FROM ops.agent_errors a WHERE a.fingerprint = promote_error.fingerprint FOR UPDATE;
    IF NOT FOUND THEN
        SELECT al.target_fingerprint, al.target_code, al.reason INTO prior
        FROM ops.error_aliases al WHERE al.fingerprint = promote_error.fingerprint;
        IF FOUND THEN
            RAISE EXCEPTION 'error "%" was already moved (%) to "%"', promote_error.fingerprint, prior.reason,
                prior.target_fingerprint USING ERRCODE = 'OP004',
                HINT = 'Promote the group it moved to instead.';
        END IF;
        RAISE EXCEPTION 'no error with fingerprint "%"', promote_error.fingerprint USING ERRCODE = 'OP004';
    END IF;
    IF promote_error.code IS NULL OR NOT EXISTS (SELECT FROM ops.failure_modes f WHERE f.code = promote_error.code) THEN
        RAISE EXCEPTION 'unknown code "%"', left(promote_error.code, 200) USING ERRCODE = 'OP001', COLUMN = 'code',
            HINT = 'Promote to a code of ssot/errors/failure_modes.yaml (add it there and run `ops ssot sync` first).';
    END IF;
    IF promote_error.code LIKE 'UNKNOWN.%' THEN
        RAISE EXCEPTION 'cannot promote to "%": an UNKNOWN code is the fallback, not a classification',
            promote_error.code USING ERRCODE = 'OP001', COLUMN = 'code';
    END IF;
    IF promote_error.code = old.code THEN
        RAISE EXCEPTION 'error "%" already has code %', old.fingerprint, old.code USING ERRCODE = 'OP001', COLUMN = 'code';
    END IF;
    IF old.code NOT LIKE 'UNKNOWN.%' AND EXISTS (SELECT FROM ops.failure_modes f WHERE f.code = old.code)
       AND NOT promote_error.force THEN
        RAISE EXCEPTION 'error "%" is classified as %, not UNKNOWN', old.fingerprint, old.code USING ERRCODE = 'OPD04',
            HINT = 'Re-coding a classified error overrides its pattern''s decision: pass force (ops triage promote --force).';
    END IF;

    -- The group an event of this text would have under the new code when a producer names it (no pattern
    -- matched, so the whole message groups): the same fingerprint function as ingest.
    target := ops.error_fingerprint(old.source, old.phase, promote_error.code,
                                    ops.grouping_text(old.sample_message, promote_error.code, NULL), old.top_frame);

    moved := ops_private.move_group(old.fingerprint, target, promote_error.code);

    -- The old group points to the new one; aliases that pointed at the old group follow it.
    INSERT INTO ops.error_aliases (fingerprint, target_fingerprint, reason, from_version, from_code, target_code)
    VALUES (old.fingerprint, target, 'promote', old.fingerprint_version, old.code, promote_error.code);
    UPDATE ops.error_aliases al
    SET target_fingerprint = target,
        target_code = CASE WHEN al.reason = 'promote' THEN promote_error.code ELSE al.target_code END
    WHERE al.target_fingerprint = old.fingerprint;

    RETURN QUERY
    SELECT old.fingerprint, target, old.code, promote_error.code, a.count, moved
    FROM ops.agent_errors a WHERE a.fingerprint = target;
END
$$;
COMMENT ON FUNCTION ops.promote_error(text, text, boolean) IS
    'Triage: re-codes one error group without losing its history. The group moves to the fingerprint its text has '
    'under the new code (ops.error_fingerprint over the whole sample message, as for a producer-named code): its '
    'stored events are re-coded, its count, first/last seen, status and regressions carry over (added to the target '
    'group if one exists), escalations, FixBot runs and guardrail findings follow, and ops.error_aliases records '
    'old -> new (reason promote, from_code, target_code) so late events of the old fingerprint land in the new group '
    '(the ingest trigger tg_error_events__10_prepare); the move is ops_private.move_group, which also deletes the '
    'classification cache entries of the old group. Writes no escalation. Returns (old_fingerprint, new_fingerprint, old_code, '
    'new_code, count, events_moved). Errors: OP004 no such fingerprint (or it was already moved: the hint says '
    'where); OP001 code unknown, UNKNOWN.*, or the error''s own code; OPD04 the error is classified by a pattern '
    '(not UNKNOWN, code still in the taxonomy) and force is false.';

CREATE FUNCTION ops.pattern_conflicts(code text, kind text, pattern text, required_literals text[] DEFAULT NULL,
                                      messages jsonb DEFAULT NULL)
RETURNS TABLE (origin text, fingerprint text, source text, phase text, message text, code_before text,
               code_after text, steals boolean)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
#variable_conflict use_variable
DECLARE
    tried jsonb;
    inputs jsonb;
BEGIN
    IF NOT EXISTS (SELECT FROM ops.failure_modes f WHERE f.code = pattern_conflicts.code) OR code LIKE 'UNKNOWN.%' THEN
        RAISE EXCEPTION 'unknown code "%"', left(code, 200) USING ERRCODE = 'OP001', COLUMN = 'code',
            HINT = 'A pattern belongs to a code of ssot/errors/failure_modes.yaml other than UNKNOWN.*.';
    END IF;
    IF kind IS NULL OR kind NOT IN ('substring', 'regex') THEN
        RAISE EXCEPTION 'kind must be substring or regex, not "%"', kind USING ERRCODE = 'OP001', COLUMN = 'kind';
    END IF;
    IF ops.is_blank(pattern) THEN
        RAISE EXCEPTION 'pattern is required' USING ERRCODE = 'OP001', COLUMN = 'pattern';
    END IF;
    IF messages IS NOT NULL AND jsonb_typeof(messages) IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'messages must be a JSON array of {source, phase, message}' USING ERRCODE = 'OP001',
            COLUMN = 'messages';
    END IF;

    -- Every stored group's sample, and the given messages (e.g. a labelled corpus), classified as today.
    WITH m AS (
        SELECT 'group' AS origin, a.fingerprint, a.source, a.phase, a.sample_message AS message
        FROM ops.agent_errors a
        UNION ALL
        SELECT 'message ' || x.ord, NULL, x.doc ->> 'source', x.doc ->> 'phase', x.doc ->> 'message'
        FROM jsonb_array_elements(coalesce(messages, '[]')) WITH ORDINALITY AS x (doc, ord)
        WHERE x.doc ->> 'source' IS NOT NULL AND x.doc ->> 'message' IS NOT NULL
    )
    SELECT coalesce(jsonb_agg(jsonb_build_object('origin', m.origin, 'fingerprint', m.fingerprint, 'source', m.source,
                                                 'phase', m.phase, 'message', m.message, 'code_before', c.code)), '[]')
    INTO inputs
    FROM m CROSS JOIN LATERAL ops.classify_error(m.source, m.phase, m.message) c;

    BEGIN
        INSERT INTO ops.failure_mode_patterns (code, position, kind, pattern, required_literals)
        SELECT pattern_conflicts.code, coalesce(max(p.position), 0) + 1, kind, pattern, required_literals
        FROM ops.failure_mode_patterns p WHERE p.code = pattern_conflicts.code;
        SELECT coalesce(jsonb_agg(i.doc || jsonb_build_object('code_after', c.code)), '[]')
        INTO tried
        FROM jsonb_array_elements(inputs) AS i (doc)
        CROSS JOIN LATERAL ops.classify_error(i.doc ->> 'source', i.doc ->> 'phase', i.doc ->> 'message') c
        WHERE c.code IS DISTINCT FROM i.doc ->> 'code_before';
        RAISE EXCEPTION 'roll the trial pattern back' USING ERRCODE = 'OPT01';
    EXCEPTION WHEN SQLSTATE 'OPT01' THEN
        NULL;  -- the pattern is gone again; tried keeps what it changed
    END;

    RETURN QUERY
    SELECT t.origin, t.fingerprint, t.source, t.phase, t.message, t.code_before, t.code_after,
           t.code_after = pattern_conflicts.code AND t.code_before NOT LIKE 'UNKNOWN.%'
    FROM jsonb_to_recordset(tried) AS t (origin text, fingerprint text, source text, phase text, message text,
                                         code_before text, code_after text)
    ORDER BY 8 DESC, t.code_before, t.origin, t.fingerprint;
END
$$;
COMMENT ON FUNCTION ops.pattern_conflicts(text, text, text, text[], jsonb) IS
    'Triage: what adding one pattern (kind substring|regex, with the regex''s required_literals as the SSOT sync '
    'computes them) to a code would change, decided by ops.classify_error itself: the pattern is inserted in a '
    'subtransaction that always rolls back, and every stored group''s sample message (and each {source, phase, '
    'message} of the optional messages array, e.g. a labelled corpus) is classified before and with it. Returns the '
    'messages whose code would change: steals is true when one a real code (not UNKNOWN.*) classifies today would '
    'move to this code (`ops triage promote --pattern` refuses then, naming the codes); false rows are UNKNOWN '
    'messages the pattern would also classify. Changes nothing. Errors: OP001 unknown or UNKNOWN.* code, bad kind, '
    'blank pattern, messages not an array; a regex PostgreSQL cannot compile raises its own error.';

