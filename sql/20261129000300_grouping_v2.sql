-- Grouping, version 2: normalization that keeps what tells failures apart (exit codes, HTTP statuses,
-- signal numbers, a URL's host) and replaces the opaque ids real producers print (prefixed ids such as
-- req_<base62>, toolu_<base62>, dpl_<hex>; region-scoped ids such as iad1::<id>-<epoch>-<hex>; hex ids
-- whether or not they happen to contain a letter; colon-separated hex groups; long mixed tokens).
-- Text is folded first (NFKC, zero-width and bidi controls removed, look-alike Cyrillic and Greek
-- letters mapped to Latin), so a confusable character neither splits a group nor evades a pattern.
--
-- Fingerprints computed with this normalization carry version 2 ('fp2|' is hashed in). Rows written
-- under version 1 stay as they are and stay readable; `ops errors regroup` (ops.regroup_errors) moves
-- them under version 2, keeping their counts and history, and records an alias from each old
-- fingerprint to its new one in ops.error_aliases.

CREATE FUNCTION ops.fold_text(message text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
RETURN translate(
    regexp_replace(normalize(message, NFKC),
                   -- zero-width space/joiners, word joiner, BOM, soft hyphen; bidi embeddings, overrides, isolates
                   U&'[\200B-\200D\2060\FEFF\00AD\202A-\202E\2066-\2069\200E\200F]', '', 'g'),
    -- Cyrillic and Greek letters that render like Latin ones (Unicode confusables, the common subset).
    U&'\0410\0412\0415\041A\041C\041D\041E\0420\0421\0422\0425\0423\0430\0435\043E\0440\0441\0443\0445\0456\0458\0455\0501\051B\051D\0406\0408\0405\04CF'
    || U&'\0391\0392\0395\0396\0397\0399\039A\039C\039D\039F\03A1\03A4\03A5\03A7\03BF',
    'ABEKMHOPCTXYaeopcyxijsdqwIJSl'
    || 'ABEZHIKMNOPTYXo');
COMMENT ON FUNCTION ops.fold_text(text) IS
    'Folds text before classification and normalization: Unicode NFKC (full-width and compatibility forms), removes '
    'zero-width characters, soft hyphens and bidi controls, and maps the Cyrillic and Greek letters that look like '
    'Latin ones to Latin (a subset of Unicode TR39 confusables). Case is kept. text -> text; NULL for NULL.';

CREATE OR REPLACE FUNCTION ops.normalize_message(message text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE STRICT
SET search_path = pg_catalog, ops
AS $$
DECLARE
    -- Marks a number that is kept (exit code, HTTP status, signal) so the number rule skips it.
    keep constant text := U&'\E000';
    -- A stored message is at most 32768 characters plus a truncation marker; a longer direct argument is
    -- cut here so that a 10 MB call costs what a stored message does.
    m text := ops.fold_text(left(message, 40000));
BEGIN
    -- URLs keep scheme, host and port; user info is dropped and any path, query or fragment becomes /<path>.
    m := regexp_replace(m, '([a-z][a-z0-9+.-]*)://([^/[:space:]''"<>()@]*@)?([^/[:space:]''"<>():?#]*)(:[0-9]+)?[/?#][^[:space:]''"<>()]+',
                        '\1://\3\4/<path>', 'gi');
    m := regexp_replace(m, '([a-z][a-z0-9+.-]*)://[^/[:space:]''"<>()@]*@', '\1://', 'gi');
    m := regexp_replace(m, '[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}', '<email>', 'gi');
    m := regexp_replace(m, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'gi');
    m := regexp_replace(m, '[0-9]{4}-[0-9]{2}-[0-9]{2}([t ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?(z|[+-][0-9]{2}:?[0-9]{2})?)?',
                        '<ts>', 'gi');
    -- Colon-separated hex groups (4 or more: key fingerprints, MACs, IPv6) before times of day (3 groups).
    m := regexp_replace(m, '(^|[^0-9a-f:])[0-9a-f]{1,4}(:[0-9a-f]{1,4}){3,}(?![0-9a-f:])', '\1<hex>', 'gi');
    m := regexp_replace(m, '[0-9]{1,2}:[0-9]{2}:[0-9]{2}([.,][0-9]+)?', '<time>', 'g');
    -- Opaque ids, case-sensitive (before lower-casing): well-known API prefixes with any tail ...
    m := regexp_replace(m, '(^|[^A-Za-z0-9])(req|toolu|srvtoolu|msg|msgbatch|call|chatcmpl|resp|asst|thread|dpl|prj|evt|cus|sub|txn|pi|ch|cs)([_-])[A-Za-z0-9]{8,}(?![A-Za-z0-9])',
                        '\1\2\3<id>', 'g');
    -- ... any other word_<tail> whose tail of 8+ characters has a digit (a snake_case word never does) ...
    m := regexp_replace(m, '(^|[^A-Za-z0-9])([A-Za-z][A-Za-z0-9]{0,15})_(?=[A-Za-z0-9]*[0-9])[A-Za-z0-9]{8,}(?![A-Za-z0-9])',
                        '\1\2_<id>', 'g');
    -- ... region-scoped ids (Vercel's iad1::abcde-1700000000000-0123456789ab).
    m := regexp_replace(m, '(^|[^A-Za-z0-9:])(?=[A-Za-z0-9:-]*[0-9])[A-Za-z0-9]+::[A-Za-z0-9:-]+', '\1<id>', 'g');
    m := regexp_replace(m, '[0-9]{1,3}(\.[0-9]{1,3}){3}(:[0-9]{1,5})?', '<ip>', 'g');
    m := regexp_replace(m, '0x[0-9a-f]+', '<hex>', 'gi');
    -- Hex ids of 7+ characters with at least one digit, letters or not: a digits-only id and its
    -- lettered siblings get the same placeholder.
    m := regexp_replace(m, '(^|[^A-Za-z0-9_])(?=[A-Fa-f]*[0-9])[0-9A-Fa-f]{7,}(?![A-Za-z0-9_])', '\1<hex>', 'g');
    -- Long tokens mixing letters and digits (base62/base64 ids, hashes).
    m := regexp_replace(m, '(^|[^A-Za-z0-9])(?=[A-Za-z]*[0-9])(?=[0-9]*[A-Za-z])[A-Za-z0-9]{16,}(?![A-Za-z0-9])', '\1<id>', 'g');

    -- An exception class leading a line (FetchError:, psycopg2.OperationalError:, (botocore.errorfactory.NoSuchBucket))
    -- is how one runtime wraps the failure, not the failure.
    m := regexp_replace(m, '^[[:blank:]]*\(?(([a-z_][a-z0-9_]*\.)*[A-Z][A-Za-z0-9]*(Error|Exception|Fault)|([a-z_][a-z0-9_]*\.)+[A-Z][a-z0-9]+[A-Z][A-Za-z0-9]*)\)?:?[[:blank:]]+',
                        '', 'gn');
    m := lower(m);
    m := regexp_replace(m, '(^|[[:space:]''"(=:])(/[^[:space:]/''"():]+){2,}/?', '\1<path>', 'g');
    m := regexp_replace(m, '(^|[^a-z])[a-z]:\\[^[:space:]''"]+', '\1<path>', 'g');

    -- Numbers that carry meaning are kept: exit codes, signals, HTTP statuses.
    m := regexp_replace(m, '(exit(ed)?[[:space:]_-]*(code|status|with([[:space:]]+exit)?([[:space:]]+(code|status))?)?[[:space:]:=]*)([0-9]{1,3})(?![0-9])',
                        '\1' || keep || '\7', 'g');
    m := regexp_replace(m, '(signal[[:space:]:]*)([0-9]{1,2})(?![0-9])', '\1' || keep || '\2', 'g');
    m := regexp_replace(m, '((status|status[[:space:]_-]?code|http|responded with|response code|returned|code|error)[[:space:]:=]*\(?)([1-5][0-9]{2})(?![0-9])',
                        '\1' || keep || '\3', 'g');
    m := regexp_replace(m, '\(([1-5][0-9]{2})\)', '(' || keep || '\1)', 'g');
    m := regexp_replace(m, '(^|[^0-9.])([1-5][0-9]{2})([[:space:]]+(ok|created|accepted|no content|moved|found|not modified|bad request|unauthorized|payment required|forbidden|not found|method not allowed|not acceptable|request timeout|conflict|gone|payload too large|request entity too large|unprocessable|too many requests|internal server error|not implemented|bad gateway|service unavailable|gateway timeout|overloaded))',
                        '\1' || keep || '\2\3', 'g');

    m := regexp_replace(m, '(?<![0-9' || keep || '])[0-9]+(\.[0-9]+)?[[:space:]]?(ms|us|ns|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?)(?=[^a-z]|$)',
                        '<dur>', 'g');
    m := regexp_replace(m, '(?<![0-9' || keep || '])[0-9]+', '<n>', 'g');
    m := replace(m, keep, '');
    -- Log decorations at the start of each line (timestamps, [bracketed] tags, ##[error], box-drawing
    -- and bullet characters, a bare severity word) differ between two pastes of one failure.
    m := regexp_replace(m, '^[[:blank:]]*((<ts>|<time>|\[[^]' || chr(10) || ']{0,40}\]|##\[[a-z]+\]|[│╷╵⎿├└|>*•·-]+|(error|err|fatal|warn|warning|info|debug|notice|panic|critical)[[:blank:]]*[:!])[[:blank:]]*)+',
                        '', 'gn');
    RETURN btrim(regexp_replace(m, '[[:space:]]+', ' ', 'g'));
END
$$;
COMMENT ON FUNCTION ops.normalize_message(text) IS
    'Normalization version 2 (docs/grouping.md has the full table): folds the text (ops.fold_text), then replaces volatile '
    'parts with placeholders - URL path and query (<path>; scheme, host and port kept), <email>, <uuid>, <ts>, <time>, '
    'prefixed and region-scoped ids (req_<id>, <id>), <ip>, colon-hex groups and 0x literals (<hex>), hex ids of 7+ '
    'characters with a digit (<hex>), long letter/digit tokens (<id>), absolute paths (<path>), durations (<dur>) and other '
    'numbers (<n>) - keeping exit codes, signal numbers and HTTP statuses; drops log decorations at the start of each line '
    '(timestamps, [tags], ##[error], box-drawing characters, a bare severity word); lower-cases and collapses white space. '
    'Reads at most the first 40000 characters. text -> text; NULL for NULL.';

CREATE OR REPLACE FUNCTION ops.error_fingerprint(source text, phase text, code text, message text, top_frame text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN encode(sha256(convert_to(
    -- Each field is length-prefixed (NULL is "~"), so no choice of field values can collide.
    'fp2|' || concat_ws('|',
        coalesce(length(source) || ':' || source, '~'),
        coalesce(length(phase) || ':' || phase, '~'),
        coalesce(length(code) || ':' || code, '~'),
        coalesce(length(ops.normalize_message(message)) || ':' || ops.normalize_message(message), '~'),
        coalesce(length(ops.normalize_message(top_frame)) || ':' || ops.normalize_message(top_frame), '~')),
    'UTF8')), 'hex');
COMMENT ON FUNCTION ops.error_fingerprint(text, text, text, text, text) IS
    'Lowercase hex SHA-256 over the version tag fp2, source, phase, code, normalized message and normalized top frame, '
    'each length-prefixed (fingerprint version 2; ops.current_fingerprint_version()). Pass the redacted message.';

CREATE FUNCTION ops.grouping_text(message text, code text, matched_pattern text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, ops
-- The first line (CR LF, CR and LF all end a line) whose canonical form the matched pattern matches,
-- as ops.classify_candidates matches it; the whole message when no pattern matched (UNKNOWN, or a
-- code the producer named) or when the pattern only matches across lines.
RETURN coalesce((
    SELECT (regexp_split_to_array(message, E'\r\n|\r|\n'))[t.n]
    FROM regexp_split_to_table(ops.canonical_text(left(message, 40000)), E'\n') WITH ORDINALITY AS t (l, n)
    JOIN LATERAL (SELECT p.kind, p.pattern, p.pattern_canonical FROM ops.failure_mode_patterns p
                  WHERE p.code = grouping_text.code AND p.pattern = grouping_text.matched_pattern LIMIT 1) p ON true
    WHERE CASE WHEN p.kind = 'substring' THEN strpos(t.l, p.pattern_canonical) > 0 ELSE t.l ~* p.pattern END
    ORDER BY t.n
    LIMIT 1), message);
COMMENT ON FUNCTION ops.grouping_text(text, text, text) IS
    'The text an event is grouped by (fingerprint version 2): the first line of the message that the matched pattern '
    'of its code matches (the cause line), or the whole message when there is no matched pattern or it spans lines. '
    '(message, code, matched_pattern) -> text. Reads the first 40000 characters.';

CREATE FUNCTION ops.current_fingerprint_version() RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN 2;
COMMENT ON FUNCTION ops.current_fingerprint_version() IS
    'The fingerprint version ops.error_fingerprint() computes today (2). Rows with a lower version were grouped by an '
    'older normalization; ops.regroup_errors() moves them.';

-- The ingest trigger stamps the version it computed.
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

    -- A classified event groups by the line its pattern matched (the cause line), so two pastes of one
    -- failure with different context lines around it are one group; an unclassified one by its whole text.
    NEW.fingerprint := ops.error_fingerprint(NEW.source, NEW.phase, NEW.code,
                                             ops.grouping_text(NEW.message, NEW.code, NEW.matched_pattern), NEW.top_frame);
    NEW.fingerprint_version := ops.current_fingerprint_version();
    RETURN NEW;
END
$$;

-- Maintenance may now UPDATE events (ops.regroup_errors re-fingerprints them); before, the trigger
-- returned OLD for an UPDATE too, which silently kept the old values.
CREATE OR REPLACE FUNCTION ops_private.tg_error_events__append_only() RETURNS trigger
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

CREATE TABLE ops.error_aliases (
    fingerprint        text PRIMARY KEY,
    target_fingerprint text NOT NULL,
    reason             text NOT NULL CONSTRAINT error_aliases_reason_known CHECK (reason IN ('regroup', 'promote')),
    from_version       smallint,
    created_at         timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ops.error_aliases IS
    'Old fingerprints and the group that took them over: `regroup` when a newer normalization moved a group '
    '(ops.regroup_errors), `promote` when triage re-coded it. Look an old fingerprint up here to find its group today.';
COMMENT ON COLUMN ops.error_aliases.from_version IS 'Fingerprint version of the old fingerprint.';
CREATE INDEX error_aliases_target_idx ON ops.error_aliases (target_fingerprint);
ALTER TABLE ops.error_aliases ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON ops.error_aliases FROM PUBLIC;  -- read through ops functions and the CLI, like ops.agent_errors

CREATE FUNCTION ops_private.regroup_plan()
RETURNS TABLE (old_fp text, new_fp text, events bigint, n bigint, is_main boolean)
LANGUAGE sql STABLE
SET search_path = pg_catalog, ops
BEGIN ATOMIC
    WITH old AS (
        SELECT a.fingerprint, a.source, a.phase, a.code, a.sample_message, a.top_frame, a.count, a.matched_pattern
        FROM ops.agent_errors a
        WHERE a.fingerprint_version < ops.current_fingerprint_version()
    ), per_event AS (
        SELECT o.fingerprint AS old_fp,
               ops.error_fingerprint(e.source, e.phase, e.code, ops.grouping_text(e.message, e.code, e.matched_pattern), e.top_frame) AS new_fp,
               count(*) AS n
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
    SELECT x.old_fp, x.new_fp, sum(x.events)::bigint, sum(x.n)::bigint, bool_or(x.is_main)
    FROM (SELECT p.old_fp, p.new_fp, p.n AS events, p.n, false AS is_main FROM per_event p
          UNION ALL
          SELECT m.old_fp, m.new_fp, 0, m.n, true FROM main m) x
    GROUP BY x.old_fp, x.new_fp
    HAVING sum(x.n) > 0 OR bool_or(x.is_main);
END;
COMMENT ON FUNCTION ops_private.regroup_plan() IS
    'For ops.regroup_errors: every (old fingerprint, new fingerprint) pair of the groups older than the current '
    'version, with the stored events and the count that move (is_main marks the pair of the old sample message).';

CREATE FUNCTION ops.regroup_errors(dry_run boolean DEFAULT true)
RETURNS TABLE (old_fingerprint text, new_fingerprint text, code text, events bigint, count_moved bigint)
LANGUAGE plpgsql
SET search_path = pg_catalog, ops
AS $$
BEGIN
    -- One regroup at a time; the groups it moves are locked against concurrent ingest until commit.
    PERFORM pg_advisory_xact_lock(hashtext('ops.regroup_errors'));
    PERFORM FROM ops.agent_errors a WHERE a.fingerprint_version < ops.current_fingerprint_version() FOR UPDATE;
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
        -- Each new group: the counts it receives, the earliest first and latest last seen; the rest of
        -- the row (status, sample, window) from its most recently seen old group.
        INSERT INTO ops.agent_errors AS a (
            fingerprint, fingerprint_version, code, source, phase, count, first_seen_at, last_seen_at, status,
            confidence, matched_pattern, sample_message, top_frame, last_event_id, last_run_id,
            last_correlation_id, window_started_at, window_count, regression_count, resolved_at, resolution_ref)
        SELECT DISTINCT ON (p.new_fp)
               p.new_fp, ops.current_fingerprint_version(), o.code, o.source, o.phase,
               sum(p.n) OVER w, min(o.first_seen_at) OVER w, max(o.last_seen_at) OVER w, o.status,
               o.confidence, o.matched_pattern, o.sample_message, o.top_frame, o.last_event_id, o.last_run_id,
               o.last_correlation_id, o.window_started_at, o.window_count, o.regression_count, o.resolved_at,
               o.resolution_ref
        FROM plan p JOIN ops.agent_errors o ON o.fingerprint = p.old_fp
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
    'Moves every group whose fingerprint_version is older than ops.current_fingerprint_version() under the current '
    'normalization. Each stored event is re-fingerprinted; a new group receives the events that map to it, plus the '
    'old count that retention already dropped (credited to the group of the old sample message); first/last seen are '
    'the earliest and latest; status and window come from the most recently seen old group. An alias old -> new is '
    'recorded in ops.error_aliases; escalations and agent runs follow their group. No escalation fires. With dry_run '
    '(the default) nothing changes. Returns one row per (old, new) pair: code, stored events and count moved.';
REVOKE ALL ON FUNCTION ops.regroup_errors(boolean), ops_private.regroup_plan() FROM PUBLIC;
REVOKE ALL ON FUNCTION ops.fold_text(text), ops.current_fingerprint_version(), ops.grouping_text(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ops.fold_text(text), ops.current_fingerprint_version(), ops.grouping_text(text, text, text) TO ops_ingest, ops_worker, ops_analyst;

-- ops.redact reads at most 65536 characters: the ingest trigger never passes more (it slices long
-- messages first), and a direct 10 MB call must not cost seconds. A longer argument is cut and marked.
CREATE OR REPLACE FUNCTION ops.redact(message text) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
DECLARE
    max_length constant integer := 65536;
    rule record;
    result text := left(message, max_length);
    lowered text := lower(result);
BEGIN
    IF result IS NULL THEN
        RETURN NULL;
    END IF;
    FOR rule IN SELECT r.pattern, r.replacement, r.flags, r.prefilter FROM ops.redaction_rules r ORDER BY r.position LOOP
        -- The prefilter spares the regex (and a slot in the 32-entry regex cache) on most messages.
        IF rule.prefilter IS NULL OR EXISTS (SELECT FROM unnest(rule.prefilter) f WHERE strpos(lowered, f) > 0) THEN
            result := regexp_replace(result, rule.pattern, rule.replacement, rule.flags);
        END IF;
    END LOOP;
    IF length(message) > max_length THEN
        result := result || format(E'\n[… %s characters cut before redaction …]', length(message) - max_length);
    END IF;
    RETURN result;
END
$$;
COMMENT ON FUNCTION ops.redact(text) IS
    'Replaces secrets (tokens, keys, JWTs, passwords, credentials in URLs, PEM private keys, webhook URLs) with '
    '[REDACTED:<rule>] markers, using ops.redaction_rules in order. Applied to every message, top frame and context '
    'before storage or hashing. Reads at most 65536 characters; a longer argument is cut there and ends with a '
    '"[… N characters cut before redaction …]" marker (the ingest trigger slices long messages before calling it).';
