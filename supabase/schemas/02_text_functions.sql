-- Text functions: redaction, normalization, fingerprint and classification. Pure functions of their
-- inputs and the synced taxonomy. The ingest trigger calls them; analysts and tests may call them directly.

CREATE FUNCTION ops.redact(message text) RETURNS text
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

CREATE FUNCTION ops.normalize_message(message text) RETURNS text
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

CREATE FUNCTION ops.error_fingerprint(source text, phase text, code text, message text, top_frame text)
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

CREATE FUNCTION ops.current_fingerprint_version() RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN 2;
COMMENT ON FUNCTION ops.current_fingerprint_version() IS
    'The fingerprint version ops.error_fingerprint() computes today (2). Rows with a lower version were grouped by an '
    'older normalization; ops.regroup_errors() moves them.';


CREATE FUNCTION ops.classify_error(source text, phase text, message text)
RETURNS TABLE (code text, confidence real, matched_pattern text)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
#variable_conflict use_column
BEGIN
    -- PL/pgSQL rather than SQL: its plan is cached per session, which matters when the ingest
    -- trigger calls this once per row.
    RETURN QUERY
    WITH input AS (
        SELECT lower(classify_error.message) AS lowered
    ), matches AS (
        SELECT p.code, p.kind, p.pattern, p.priority, m.position AS code_position, p.position AS pattern_position,
               coalesce(p.phases, m.phases) IS NOT NULL AS by_phase,
               p.sources IS NOT NULL AS by_source
        FROM ops.failure_mode_patterns p
        JOIN ops.failure_modes m ON m.code = p.code
        CROSS JOIN input
        WHERE (p.sources IS NULL OR classify_error.source = ANY (p.sources))
          AND (coalesce(p.phases, m.phases) IS NULL OR classify_error.phase = ANY (coalesce(p.phases, m.phases)))
          AND CASE
                  WHEN p.kind = 'substring' THEN strpos(input.lowered, p.pattern_lower) > 0
                  -- CASE fixes the order: the cheap literal test guards the regex.
                  WHEN p.required_literals IS NOT NULL
                       AND NOT EXISTS (SELECT FROM unnest(p.required_literals) l WHERE strpos(input.lowered, l) > 0)
                  THEN false
                  ELSE classify_error.message ~* p.pattern
              END
    ), best AS (
        SELECT matches.*, (SELECT count(DISTINCT m2.code) FROM matches m2) AS codes_matched
        FROM matches
        ORDER BY (matches.by_phase::int * 2 + matches.by_source::int) DESC,
                 matches.priority DESC, matches.code_position, matches.pattern_position
        LIMIT 1
    )
    SELECT best.code,
           least(1.0,
                 CASE best.kind WHEN 'regex' THEN 0.9 ELSE 0.8 END
                 + 0.05 * best.by_phase::int + 0.05 * best.by_source::int
                 - CASE WHEN best.codes_matched > 1 THEN 0.1 ELSE 0 END)::real,
           best.pattern
    FROM best
    UNION ALL
    SELECT 'UNKNOWN.' || upper(classify_error.source), 0::real, NULL::text
    WHERE NOT EXISTS (SELECT FROM best);
END
$$;
COMMENT ON FUNCTION ops.classify_error(text, text, text) IS
    'Classifies one message: exactly one row (code, confidence, matched_pattern). Precedence: patterns restricted by '
    'phase and/or source first (phase weighs more), then higher priority, then YAML order. Confidence: 0.9 for a regex '
    'match, 0.8 for a substring, +0.05 per phase or source restriction that matched, -0.1 when other codes matched too; '
    'no match gives UNKNOWN.<SOURCE> with confidence 0 and a NULL pattern.';
