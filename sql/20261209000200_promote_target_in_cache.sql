-- Issue 12, eighth pass: a text seen before reads no promote alias. A classification cache entry now holds the group
-- its text goes to, the fingerprint and code after a promotion (ops.error_aliases, reason promote), so the ingest
-- trigger's probe reads the entry alone (the alias join cost ~2 us of ~23 per event of a 500-row INSERT: bench/
-- README.md, "(issue 12, eighth pass)"). What keeps that exact:
--  * a miss applies the alias before it stores the entry;
--  * ops.promote_error deletes the entries of the group it moves (ops_private.move_group, the move it made before,
--    now one function);
--  * the aggregate trigger moves a group that its statement created under a promoted fingerprint: an insert that
--    read an entry or an alias before a promotion committed (its upsert waited for the promotion's row lock) used
--    to recreate the old group for good; now its events follow the promotion, and the entries that sent them are
--    deleted, so a stale entry costs one move, once.
-- The migration holds ops.agent_errors (EXCLUSIVE: ingest and promotions wait, reads do not) while it moves the groups
-- that race left behind and deletes the entries of promoted fingerprints, so no old-code promotion or insert runs
-- between the two.

LOCK TABLE ops.agent_errors IN EXCLUSIVE MODE;

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
-- Migrations run without the schema files' default privileges: only the definer's functions call it.
REVOKE ALL ON FUNCTION ops_private.move_group(text, text, text) FROM PUBLIC;

-- Groups a promotion left behind (an insert that raced it recreated the old fingerprint) follow it now, as new ones
-- will; entries stored before this migration hold fingerprints before aliases.
SELECT ops_private.move_group(al.fingerprint, al.target_fingerprint, al.target_code)
FROM ops.error_aliases al
JOIN ops.agent_errors a ON a.fingerprint = al.fingerprint
WHERE al.reason = 'promote'
ORDER BY al.fingerprint;
DELETE FROM ops_private.classification_cache c
USING ops.error_aliases al
WHERE al.fingerprint = c.fingerprint AND al.reason = 'promote';

COMMENT ON TABLE ops_private.classification_cache IS
    'What the ingest trigger computed for a redacted event without a code hint: key = SHA-256 over the fingerprint '
    'version, source, phase, redacted message and redacted top frame (each length-prefixed, '
    'ops_private.classification_key); confidence and matched_pattern from ops.classify_error; code and fingerprint '
    'of the group the text goes to: ops.classify_error''s code and ops.error_fingerprint''s fingerprint, or, when '
    'triage promoted that fingerprint (ops.error_aliases, reason promote), the target''s fingerprint and code. Valid '
    'while taxonomy_version is ops_private.taxonomy_version''s; ops_private.move_group deletes the entries of a group '
    'it moves. A repeated event reads one row instead of classifying, normalizing and following aliases again. '
    'Unlogged: a crash empties it (it is only a cache). Entries of older versions are deleted when the taxonomy changes.';

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

CREATE OR REPLACE FUNCTION ops_private.tg_error_events__aggregate() RETURNS trigger
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
BEGIN
    -- A single-row statement (every autocommit INSERT and ops.record_error call, a storm's events) upserts its one
    -- group by a plain INSERT ... VALUES of the row's values, its crossings decided here; the general upsert below
    -- (hash aggregate, join back for the sample, sort, unique, ModifyTable) started ~19 % of such a statement's CPU
    -- in plan nodes one row does not need. Whether the statement has one row is read from at most two rows of the
    -- transition table (an init plan), so a 500-row statement pays nothing per row for the test. Both upserts follow
    -- the same rules (tests/test_ingest_aggregate_paths.py: equal rows and escalations on the same events).
    SELECT e.fingerprint, e.fingerprint_version, e.code, e.source, e.phase, e.received_at, e.id, e.confidence,
           e.matched_pattern, e.message, e.top_frame, e.run_id, e.correlation_id,
           (SELECT count(*) FROM (SELECT FROM inserted x LIMIT 2) x) AS rows
    INTO ev
    FROM inserted e
    LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF ev.rows = 1 THEN
        SELECT f.escalate_destination, f.title, f.severity, f.category, f.runbook, f.retryable, f.remediate_kind,
               f.escalate_within, f.escalate_after_count
        INTO fmode
        FROM ops.failure_modes f WHERE f.code = ev.code LIMIT 1;
        known := FOUND;
        INSERT INTO ops.agent_errors AS a (
            fingerprint, fingerprint_version, code, source, phase, count, first_seen_at, last_seen_at,
            confidence, matched_pattern, sample_message, top_frame, last_event_id, last_run_id,
            last_correlation_id, window_started_at, window_count)
        VALUES (ev.fingerprint, ev.fingerprint_version, ev.code, ev.source, ev.phase, 1, ev.received_at,
                ev.received_at, ev.confidence, ev.matched_pattern, ev.message, ev.top_frame, ev.id, ev.run_id,
                ev.correlation_id, CASE WHEN fmode.escalate_within IS NOT NULL THEN ev.received_at END,
                CASE WHEN fmode.escalate_within IS NOT NULL THEN 1 END)
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
        INTO got;
        IF got.count = 1 THEN
            created := ARRAY[got.fingerprint];  -- a new group (an update adds to a count of at least one)
        END IF;
        -- The crossings, decided as the general path decides them (its inner join on the code: a code not in the
        -- taxonomy fires none); the fired jsonb is built only when one fired.
        IF got.code IS DISTINCT FROM ev.code THEN
            -- The group kept the code it was created with (the upsert never changes it): its rules decide.
            SELECT f.escalate_destination, f.title, f.severity, f.category, f.runbook, f.retryable,
                   f.remediate_kind, f.escalate_within, f.escalate_after_count
            INTO fmode
            FROM ops.failure_modes f WHERE f.code = got.code LIMIT 1;
            known := FOUND;
        END IF;
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
    'statement of one row upserts by INSERT ... VALUES and decides its crossings in PL/pgSQL (no aggregate, sort or '
    'join to start); a statement of more rows by one upsert over the transition table. Same rows and escalations '
    'either way.';

CREATE OR REPLACE FUNCTION ops.promote_error(fingerprint text, code text, force boolean DEFAULT false)
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
