-- Issue 12 (ingest per-row CPU): the ingest triggers do per row only what depends on the row, and a
-- statement that crosses no threshold skips the escalation half of the aggregate trigger.
--   * tg_error_events__prepare: ops_private.external_producer() (a catalog query, ~10-14 us) only when an
--     answer depends on it (an internal source, a code hint); the source check and the taxonomy row in one
--     query; the context depth check (a JSON path query) only for a context text longer than the depth;
--     redaction's prefilter tested once over all six fields before per field; the promote alias (was the
--     row trigger tg_error_events__15_alias: a second trigger call and query per row) looked up by prepare,
--     joined to the classification cache's lookup on a repeated error.
--   * tg_error_events__aggregate: upsert the counts and collect the crossings (jsonb); return when none fired,
--     so a single-row INSERT no longer starts the five INSERT ... ON CONFLICT of the escalation half.
-- Behaviour is unchanged: the same errors in the same order, the same stored row, counts and escalations.

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
BEGIN
    -- Per row, only what depends on the row: who the producer is (a catalog query) is asked only when an
    -- answer depends on it (an internal source, a code hint); the source check and the taxonomy version
    -- are one query; redaction's prefilter runs once over all fields before once per field.
    IF ops.is_blank(NEW.source) THEN
        RAISE EXCEPTION 'source is required' USING ERRCODE = 'OP001', COLUMN = 'source',
            DETAIL = 'it has no visible character',
            HINT = 'Pass one of the sources in ops.sources, e.g. github_actions.';
    END IF;
    NEW.source := lower(btrim(NEW.source));
    SELECT v.version, v.redaction_prefilter,
           EXISTS (SELECT FROM ops.sources s WHERE s.source = NEW.source) AS known_source
    INTO taxonomy FROM ops_private.taxonomy_version v;
    IF taxonomy.known_source IS NOT TRUE THEN
        SELECT string_agg(s.source, ', ' ORDER BY s.position) INTO known FROM ops.sources s;
        RAISE EXCEPTION 'unknown source "%"', left(NEW.source, 100) USING ERRCODE = 'OP002', COLUMN = 'source',
            DETAIL = 'known sources: ' || coalesce(known, 'none (the taxonomy is not synced: run `ops ssot sync`)');
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
    -- none could, ops.redact is not called. A message too long to read whole takes the old path. The six
    -- fields joined by U+0001 are tested first: a literal in none of them is in no field (a match across
    -- the joint only sends the row to the per-field test).
    IF original_length > max_length OR taxonomy.redaction_prefilter IS NULL THEN
        candidates := ARRAY[true, true, true, true, true, true];
    ELSIF NOT coalesce(lower(concat_ws(U&'\0001', NEW.message, NEW.top_frame, NEW.run_id, NEW.correlation_id,
                                       NEW.origin, context_text)) LIKE ANY (taxonomy.redaction_prefilter), false) THEN
        candidates := ARRAY[false, false, false, false, false, false];
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
    IF claimed IS NULL THEN
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
COMMENT ON FUNCTION ops_private.tg_error_events__prepare() IS
    'BEFORE INSERT per row on ops.error_events: validates (blank source/message OP001, unknown source OP002, internal '
    'source from an external producer OP006, bad event_key OP001, context deeper than 32 OP001), truncates and marks '
    'cut fields, redacts, honours or records a code hint, classifies, fingerprints, records an event of a promoted '
    'fingerprint (ops.error_aliases, reason promote) under the target group''s fingerprint and code, and skips '
    '(returns NULL) an event whose event_key was already stored. Without a code hint, classification and fingerprint come from '
    'ops_private.classification_cache when the same (source, phase, message, top frame) was seen under the current '
    'taxonomy version, and are stored there otherwise.';

DROP TRIGGER tg_error_events__15_alias ON ops.error_events;
-- Only the dropped trigger called it (a trigger function: no client calls it).
-- squawk-ignore ban-drop-function
DROP FUNCTION ops_private.tg_error_events__alias();

CREATE OR REPLACE FUNCTION ops_private.tg_error_events__aggregate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    fired jsonb;
BEGIN
    -- The common statement crosses nothing: it upserts the counts and stops. Only a statement with a
    -- crossing or regression plans and runs the escalation half (page budgets, escalations, FixBot runs),
    -- whose executor start-up (five INSERT ... ON CONFLICT) cost a single-row INSERT ~0.6 ms.
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
    )
    -- The upsert returns the new counts; this statement added b.n, so the old count is new - n.
    SELECT jsonb_agg(jsonb_build_object(
               'fingerprint', u.fingerprint, 'code', u.code, 'source', u.source, 'phase', u.phase, 'count', u.count,
               'window_count', u.window_count, 'window_started_at', u.window_started_at, 'status', u.status,
               'regression_count', u.regression_count, 'first_seen_at', u.first_seen_at,
               'last_seen_at', u.last_seen_at, 'sample_message', u.sample_message, 'top_frame', u.top_frame,
               'last_event_id', u.last_event_id, 'last_run_id', u.last_run_id, 'n', b.n, 'reason', r.reason,
               'dedupe_key', r.dedupe_key, 'escalate_destination', fm.escalate_destination, 'title', fm.title,
               'severity', fm.severity, 'category', fm.category, 'runbook', fm.runbook, 'retryable', fm.retryable,
               'remediate_kind', fm.remediate_kind))
    INTO fired
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
    WHERE r.fires;
    IF fired IS NULL THEN
        RETURN NULL;
    END IF;

    WITH crossings AS (
        SELECT * FROM jsonb_to_recordset(fired) AS x (
            fingerprint text, code text, source text, phase text, count bigint, window_count bigint,
            window_started_at timestamptz, status text, regression_count integer, first_seen_at timestamptz,
            last_seen_at timestamptz, sample_message text, top_frame text, last_event_id bigint, last_run_id text,
            n bigint, reason text, dedupe_key text, escalate_destination text, title text, severity text,
            category text, runbook text, retryable boolean, remediate_kind text)
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
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ops_private.tg_error_events__aggregate() IS
    'AFTER INSERT statement trigger on ops.error_events: upserts ops.agent_errors once per fingerprint, writes one '
    'escalation per threshold/window crossing or regression (unique dedupe key), queues FixBot runs, and holds '
    'back crossings past a destination''s page budget (config.digest) into that window''s digest '
    '(ops.page_windows, ops.page_window_items, one reason=digest escalation due at the window''s end). A statement '
    'that crosses nothing runs only the upsert; the escalation half runs when a crossing or regression fired.';

COMMENT ON FUNCTION ops.promote_error(text, text, boolean) IS
    'Triage: re-codes one error group without losing its history. The group moves to the fingerprint its text has '
    'under the new code (ops.error_fingerprint over the whole sample message, as for a producer-named code): its '
    'stored events are re-coded, its count, first/last seen, status and regressions carry over (added to the target '
    'group if one exists), escalations, FixBot runs and guardrail findings follow, and ops.error_aliases records '
    'old -> new (reason promote, from_code, target_code) so late events of the old fingerprint land in the new group '
    '(the ingest trigger tg_error_events__10_prepare). Writes no escalation. Returns (old_fingerprint, new_fingerprint, old_code, '
    'new_code, count, events_moved). Errors: OP004 no such fingerprint (or it was already moved: the hint says '
    'where); OP001 code unknown, UNKNOWN.*, or the error''s own code; OPD04 the error is classified by a pattern '
    '(not UNKNOWN, code still in the taxonomy) and force is false.';
