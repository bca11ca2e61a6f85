-- Grouping, version 3 (issue 9): the grouping text starts where the winning pattern's match starts on the
-- cause line (a client's wrapper before it no longer splits one failure), and normalization also folds a
-- number's thousands separators, lists of record ids, a web URL's scheme, a trailing "Learn more: <link>", and
-- the quoted function name of a platform's size or invocation error. Fingerprints carry version 3 ('fp3|' is hashed in); the
-- classification cache key includes the version, so no entry of version 2 is read again. Rows written under
-- version 2 stay as they are and stay readable; `ops errors regroup` (ops.regroup_errors) moves them, and now
-- carries the resolution record (resolved_by, resolution_sha256, ignored_until) of the group whose status it carries.

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
    -- A number with thousands separators is one number (10,000 and 1,000,000 tokens per minute).
    m := regexp_replace(m, '(?<![0-9,' || keep || '])[0-9]{1,3}(,[0-9]{3})+(?![0-9])', '<n>', 'g');
    m := regexp_replace(m, '(?<![0-9' || keep || '])[0-9]+', '<n>', 'g');
    -- A list of record ids is one placeholder: res.partner(15, 27, 31) and res.partner(11, 9) are one recordset kind.
    m := regexp_replace(m, '([(\[])<n>(,[[:blank:]]*<n>)+,?([])])', '\1<n>\3', 'g');
    m := replace(m, keep, '');
    -- Version 3. A web URL's scheme is dropped (the host is kept): status.example.com and
    -- https://status.example.com are one link. A trailing "Learn more: <link>" (or SQLAlchemy's
    -- "(Background on this error at: <link>)") is dropped.
    m := regexp_replace(m, '(^|[^a-z0-9+.-])(https?|wss?)://', '\1', 'g');
    m := regexp_replace(m, '[[:blank:]]*(learn more|read more|more info(rmation)?|\(background on this error at)[[:blank:]]*:?[[:blank:]]*[a-z0-9-]+(\.[a-z0-9-]+)+(:[0-9]+)?(/<path>)?\)?[[:blank:]]*$',
                        '', 'gn');
    -- The quoted function name a platform prints in a size or invocation error varies between occurrences of
    -- one failure (one bundle too large for the plan); a role name does not (each role is its own credential).
    m := regexp_replace(m, '((^|[^a-z])function[[:blank:]]+)(["''])[^"''[:space:]]{1,200}\3', '\1\3<name>\3', 'g');
    -- Log decorations at the start of each line (timestamps, [bracketed] tags, ##[error], box-drawing
    -- and bullet characters, a bare severity word) differ between two pastes of one failure.
    m := regexp_replace(m, '^[[:blank:]]*((<ts>|<time>|\[[^]' || chr(10) || ']{0,40}\]|##\[[a-z]+\]|[│╷╵⎿├└|>*•·-]+|(error|err|fatal|warn|warning|info|debug|notice|panic|critical)[[:blank:]]*[:!])[[:blank:]]*)+',
                        '', 'gn');
    RETURN btrim(regexp_replace(m, '[[:space:]]+', ' ', 'g'));
END
$$;
COMMENT ON FUNCTION ops.normalize_message(text) IS
    'Normalization version 3 (docs/grouping.md has the full table): folds the text (ops.fold_text), then replaces volatile '
    'parts with placeholders - URL path and query (<path>; host and port kept, an http(s)/ws(s) scheme dropped), <email>, <uuid>, <ts>, <time>, '
    'prefixed and region-scoped ids (req_<id>, <id>), <ip>, colon-hex groups and 0x literals (<hex>), hex ids of 7+ '
    'characters with a digit (<hex>), long letter/digit tokens (<id>), absolute paths (<path>), durations (<dur>) and other '
    'numbers (<n>; 10,000 is one number; a list of ids "(<n>, <n>)" one <n>), the quoted name after '
    '"function" (<name>) - keeping exit codes, signal numbers and HTTP statuses; drops a trailing "Learn more: <link>" and log decorations at the start of each line '
    '(timestamps, [tags], ##[error], box-drawing characters, a bare severity word); lower-cases and collapses white space. '
    'Reads at most the first 40000 characters. text -> text; NULL for NULL.';

CREATE OR REPLACE FUNCTION ops.error_fingerprint(source text, phase text, code text, message text, top_frame text)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
-- STABLE, as honest as its body (convert_to is STABLE), so the planner inlines it; each normalized
-- field is computed once and passed to ops.fingerprint_field.
RETURN encode(sha256(convert_to(
    'fp3|' || ops.fingerprint_field(source)
    || '|' || ops.fingerprint_field(phase)
    || '|' || ops.fingerprint_field(code)
    || '|' || ops.fingerprint_field(ops.normalize_message(message))
    || '|' || ops.fingerprint_field(ops.normalize_message(top_frame)),
    'UTF8')), 'hex');
COMMENT ON FUNCTION ops.error_fingerprint(text, text, text, text, text) IS
    'Lowercase hex SHA-256 over the version tag fp3, source, phase, code, normalized message and normalized top frame, '
    'each length-prefixed (fingerprint version 3; ops.current_fingerprint_version()). Pass the redacted message.';

CREATE OR REPLACE FUNCTION ops.current_fingerprint_version() RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN 3;
COMMENT ON FUNCTION ops.current_fingerprint_version() IS
    'The fingerprint version ops.error_fingerprint() computes today (3). Rows with a lower version were grouped by an '
    'older normalization; ops.regroup_errors() moves them.';

CREATE OR REPLACE FUNCTION ops.grouping_text(message text, code text, matched_pattern text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, ops
-- The cause line is the first line (CR LF, CR and LF all end a line) whose canonical form the matched
-- pattern matches, as ops.classify_candidates matches it. Version 3: the text starts after the last ": " that
-- precedes the pattern's match on that line (what precedes it is the client's wrapper chain:
-- "(psycopg2.OperationalError) FATAL:", "connection to server at … failed: FATAL:", "Error refreshing state:"), and
-- keeps the rest of the line; a line whose text before the match holds a ";" (a log record's fields,
-- "QNAME: …; QTYPE: …;") is kept whole. The match
-- is found again on the folded line with case, `_`, `-` and tabs mapped one to one (so positions agree);
-- when that does not find it (a run of blanks the canonical form collapsed), the whole line is kept. The
-- whole message when no pattern matched (UNKNOWN, or a code the producer named) or when the pattern only
-- matches across lines.
RETURN coalesce((
    SELECT CASE WHEN s.start > 0 AND strpos(w.prefix, ';') = 0
                THEN substr(f.folded, CASE WHEN w.k > 0 THEN length(w.prefix) - w.k + 2 ELSE 1 END)
                ELSE c.line END
    FROM (SELECT (regexp_split_to_array(message, E'\r\n|\r|\n'))[t.n] AS line, p.kind, p.pattern, p.pattern_canonical
          FROM regexp_split_to_table(ops.canonical_text(left(message, 40000)), E'\n') WITH ORDINALITY AS t (l, n)
          JOIN LATERAL (SELECT p.kind, p.pattern, p.pattern_canonical FROM ops.failure_mode_patterns p
                        WHERE p.code = grouping_text.code AND p.pattern = grouping_text.matched_pattern LIMIT 1) p ON true
          WHERE CASE WHEN p.kind = 'substring' THEN strpos(t.l, p.pattern_canonical) > 0 ELSE t.l ~* p.pattern END
          ORDER BY t.n
          LIMIT 1) c
    CROSS JOIN LATERAL (SELECT ops.fold_text(c.line) AS folded) f
    CROSS JOIN LATERAL (SELECT translate(lower(f.folded), E'_-\t', '   ') AS flat) l
    CROSS JOIN LATERAL (SELECT CASE WHEN c.kind = 'substring' THEN strpos(l.flat, c.pattern_canonical)
                                    ELSE regexp_instr(l.flat, c.pattern, 1, 1, 0, 'i') END AS start) s
    CROSS JOIN LATERAL (SELECT left(f.folded, greatest(s.start - 1, 0)) AS prefix) p
    CROSS JOIN LATERAL (SELECT p.prefix, strpos(reverse(p.prefix), ' :') AS k) w), message);
COMMENT ON FUNCTION ops.grouping_text(text, text, text) IS
    'The text an event is grouped by (fingerprint version 3): on the first line of the message that the matched pattern '
    'of its code matches (the cause line), the folded text after the last ": " before the match, to the line end (the '
    'whole line when the text before the match holds ";" or the match is not found at the same place); the whole message when there is no matched pattern or '
    'it spans lines. (message, code, matched_pattern) -> text. Reads the first 40000 characters.';

CREATE OR REPLACE FUNCTION ops.regroup_errors(dry_run boolean DEFAULT true)
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
            last_correlation_id, window_started_at, window_count, regression_count, resolved_at, resolution_ref,
            resolved_by, resolution_sha256, ignored_until)
        SELECT DISTINCT ON (p.new_fp)
               p.new_fp, ops.current_fingerprint_version(), o.code, o.source, o.phase,
               sum(p.n) OVER w, min(o.first_seen_at) OVER w, max(o.last_seen_at) OVER w, o.status,
               o.confidence, o.matched_pattern, o.sample_message, o.top_frame, o.last_event_id, o.last_run_id,
               o.last_correlation_id, o.window_started_at, o.window_count, o.regression_count, o.resolved_at,
               o.resolution_ref, o.resolved_by, o.resolution_sha256, o.ignored_until
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
    'the earliest and latest; status, window and the resolution record (resolved_at, resolution_ref, resolved_by, '
    'resolution_sha256, ignored_until) come from the most recently seen old group. An alias old -> new is '
    'recorded in ops.error_aliases; escalations and agent runs follow their group. No escalation fires. With dry_run '
    '(the default) nothing changes. Returns one row per (old, new) pair: code, stored events and count moved.';
