-- Issue 12: the regex cache. PostgreSQL keeps 32 compiled regexes per session (MAX_CACHED_RES in
-- src/backend/utils/adt/regexp.c) and evicts the least recently used. ops.normalize_message ran 33 regexes
-- and ops.fold_text one more on every call, so in a session that normalizes text after text every regex was
-- compiled again on every call (about 3.3 ms for a 70-character message; 0.1 ms once two were dropped).
-- An event whose text the classification cache had not seen (a first-seen error, or a repeated one whose
-- request id or timestamp differs) paid it on every row.
--
-- * ops.fold_text deletes the zero-width and bidi characters with translate() instead of a regex, and returns
--   ASCII text as it is (NFKC and the character maps change no ASCII character).
-- * ops.normalize_message runs a step only when a literal it needs is in the text (a "-- guard": a necessary
--   condition of the step's regexes matching, so the output is unchanged; tests/test_normalize_guards.py
--   compares it with the same function with every guard true).
-- * ops.classify_candidates tests a regex's single required literal without a subquery, plans its query
--   once (plan_cache_mode = force_generic_plan: a custom plan per call spent about 40 % of the call planning),
--   and blanks wrapper text with only the wrappers that can match the text (ops_private.wrapper_regex(canon),
--   which replaces wrapper_regex()): the alternation of all 26 SSOT wrappers took about 2 ms to compile again
--   each time the cache had dropped it. The sync records each wrapper's literals (worker.ssot.wrapper_literals);
--   a wrapper whose literals are not recorded is always kept.
-- * (Python, worker.ssot.required_literals) the sync prefers a pattern's rarer literals: the status-code patterns
--   were filtered by "error"/"code"/"status" and ran on nearly every message; now by "429", "504", ...
-- * ops.score_agent_runs: jit off (below).
-- No output changes: no fingerprint version bump.

CREATE OR REPLACE FUNCTION ops.fold_text(message text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
-- ASCII text (as many bytes as characters in a UTF8 database) is its own fold: NFKC keeps every ASCII character
-- and the characters deleted or mapped below are all non-ASCII. Most messages are ASCII; NFKC costs tens of µs.
RETURN CASE WHEN octet_length(message) = length(message) AND length(message) <= 65536 THEN message ELSE translate(
    -- zero-width space/joiners, word joiner, BOM, soft hyphen; bidi embeddings, overrides, isolates: deleted by
    -- translate (no regex: PostgreSQL caches only 32 compiled regexes per session).
    translate(normalize(left(message, 65536), NFKC),
              U&'\200B\200C\200D\2060\FEFF\00AD\202A\202B\202C\202D\202E\2066\2067\2068\2069\200E\200F', ''),
    -- Cyrillic and Greek letters that render like Latin ones (Unicode confusables, the common subset).
    U&'\0410\0412\0415\041A\041C\041D\041E\0420\0421\0422\0425\0423\0430\0435\043E\0440\0441\0443\0445\0456\0458\0455\0501\051B\051D\0406\0408\0405\04CF'
    || U&'\0391\0392\0395\0396\0397\0399\039A\039C\039D\039F\03A1\03A4\03A5\03A7\03BF',
    'ABEKMHOPCTXYaeopcyxijsdqwIJSl'
    || 'ABEZHIKMNOPTYXo')
    || CASE WHEN length(message) > 65536
            THEN format(E'\n[… %s characters cut before folding …]', length(message) - 65536) ELSE '' END END;

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
    -- No step below adds a digit, so a text without one at the start never has one.
    has_digit constant boolean := translate(m, '0123456789', '') <> m;
BEGIN
    -- PostgreSQL keeps only 32 compiled regexes per session (MAX_CACHED_RES in src/backend/utils/adt/regexp.c)
    -- and evicts the least recently used: run every time, the 30-odd regexes below (with classification's and
    -- redaction's) recompile on every call. Each step that cannot change the text runs only when a literal it
    -- needs is present; every "IF ... THEN  -- guard" is a necessary condition of its regexes matching, so the
    -- result is the same as running them all (tests/test_normalize_guards.py runs both and compares).
    -- URLs keep scheme, host and port; user info is dropped and any path, query or fragment becomes /<path>.
    IF strpos(m, '://') > 0 THEN  -- guard
        m := regexp_replace(m, '([a-z][a-z0-9+.-]*)://([^/[:space:]''"<>()@]*@)?([^/[:space:]''"<>():?#]*)(:[0-9]+)?[/?#][^[:space:]''"<>()]+',
                            '\1://\3\4/<path>', 'gi');
        m := regexp_replace(m, '([a-z][a-z0-9+.-]*)://[^/[:space:]''"<>()@]*@', '\1://', 'gi');
    END IF;
    IF strpos(m, '@') > 0 THEN  -- guard
        m := regexp_replace(m, '[a-z0-9._%+-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}', '<email>', 'gi');
    END IF;
    IF strpos(m, '-') > 0 THEN  -- guard
        m := regexp_replace(m, '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'gi');
        m := regexp_replace(m, '[0-9]{4}-[0-9]{2}-[0-9]{2}([t ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?(z|[+-][0-9]{2}:?[0-9]{2})?)?',
                            '<ts>', 'gi');
    END IF;
    -- Colon-separated hex groups (4 or more: key fingerprints, MACs, IPv6) before times of day (3 groups).
    IF strpos(m, ':') > 0 THEN  -- guard
        m := regexp_replace(m, '(^|[^0-9a-f:])[0-9a-f]{1,4}(:[0-9a-f]{1,4}){3,}(?![0-9a-f:])', '\1<hex>', 'gi');
        m := regexp_replace(m, '[0-9]{1,2}:[0-9]{2}:[0-9]{2}([.,][0-9]+)?', '<time>', 'g');
    END IF;
    -- Opaque ids, case-sensitive (before lower-casing): well-known API prefixes with any tail ...
    IF strpos(m, '_') > 0 OR strpos(m, '-') > 0 THEN  -- guard
        m := regexp_replace(m, '(^|[^A-Za-z0-9])(req|toolu|srvtoolu|msg|msgbatch|call|chatcmpl|resp|asst|thread|dpl|prj|evt|cus|sub|txn|pi|ch|cs)([_-])[A-Za-z0-9]{8,}(?![A-Za-z0-9])',
                            '\1\2\3<id>', 'g');
    END IF;
    -- ... any other word_<tail> whose tail of 8+ characters has a digit (a snake_case word never does) ...
    IF strpos(m, '_') > 0 THEN  -- guard
        m := regexp_replace(m, '(^|[^A-Za-z0-9])([A-Za-z][A-Za-z0-9]{0,15})_(?=[A-Za-z0-9]*[0-9])[A-Za-z0-9]{8,}(?![A-Za-z0-9])',
                            '\1\2_<id>', 'g');
    END IF;
    -- ... region-scoped ids (Vercel's iad1::abcde-1700000000000-0123456789ab).
    IF strpos(m, '::') > 0 THEN  -- guard
        m := regexp_replace(m, '(^|[^A-Za-z0-9:])(?=[A-Za-z0-9:-]*[0-9])[A-Za-z0-9]+::[A-Za-z0-9:-]+', '\1<id>', 'g');
    END IF;
    IF strpos(m, '.') > 0 THEN  -- guard
        m := regexp_replace(m, '[0-9]{1,3}(\.[0-9]{1,3}){3}(:[0-9]{1,5})?', '<ip>', 'g');
    END IF;
    IF strpos(m, '0x') > 0 OR strpos(m, '0X') > 0 THEN  -- guard
        m := regexp_replace(m, '0x[0-9a-f]+', '<hex>', 'gi');
    END IF;
    -- Hex ids of 7+ characters with at least one digit, letters or not: a digits-only id and its
    -- lettered siblings get the same placeholder.
    IF has_digit THEN  -- guard
        m := regexp_replace(m, '(^|[^A-Za-z0-9_])(?=[A-Fa-f]*[0-9])[0-9A-Fa-f]{7,}(?![A-Za-z0-9_])', '\1<hex>', 'g');
    END IF;
    -- Long tokens mixing letters and digits (base62/base64 ids, hashes).
    IF has_digit THEN  -- guard
        m := regexp_replace(m, '(^|[^A-Za-z0-9])(?=[A-Za-z]*[0-9])(?=[0-9]*[A-Za-z])[A-Za-z0-9]{16,}(?![A-Za-z0-9])', '\1<id>', 'g');
    END IF;

    -- An exception class leading a line (FetchError:, psycopg2.OperationalError:, (botocore.errorfactory.NoSuchBucket))
    -- is how one runtime wraps the failure, not the failure.
    IF strpos(m, 'Error') > 0 OR strpos(m, 'Exception') > 0 OR strpos(m, 'Fault') > 0 OR strpos(m, '.') > 0 THEN  -- guard
        m := regexp_replace(m, '^[[:blank:]]*\(?(([a-z_][a-z0-9_]*\.)*[A-Z][A-Za-z0-9]*(Error|Exception|Fault)|([a-z_][a-z0-9_]*\.)+[A-Z][a-z0-9]+[A-Z][A-Za-z0-9]*)\)?:?[[:blank:]]+',
                            '', 'gn');
    END IF;
    m := lower(m);
    IF strpos(m, '/') > 0 THEN  -- guard
        m := regexp_replace(m, '(^|[[:space:]''"(=:])(/[^[:space:]/''"():]+){2,}/?', '\1<path>', 'g');
    END IF;
    IF strpos(m, ':\') > 0 THEN  -- guard
        m := regexp_replace(m, '(^|[^a-z])[a-z]:\\[^[:space:]''"]+', '\1<path>', 'g');
    END IF;

    -- Numbers that carry meaning are kept: exit codes, signals, HTTP statuses.
    IF strpos(m, 'exit') > 0 THEN  -- guard
        m := regexp_replace(m, '(exit(ed)?[[:space:]_-]*(code|status|with([[:space:]]+exit)?([[:space:]]+(code|status))?)?[[:space:]:=]*)([0-9]{1,3})(?![0-9])',
                            '\1' || keep || '\7', 'g');
    END IF;
    IF strpos(m, 'signal') > 0 THEN  -- guard
        m := regexp_replace(m, '(signal[[:space:]:]*)([0-9]{1,2})(?![0-9])', '\1' || keep || '\2', 'g');
    END IF;
    IF has_digit THEN  -- guard
        m := regexp_replace(m, '((status|status[[:space:]_-]?code|http|responded with|response code|returned|code|error)[[:space:]:=]*\(?)([1-5][0-9]{2})(?![0-9])',
                            '\1' || keep || '\3', 'g');
        m := regexp_replace(m, '\(([1-5][0-9]{2})\)', '(' || keep || '\1)', 'g');
        m := regexp_replace(m, '(^|[^0-9.])([1-5][0-9]{2})([[:space:]]+(ok|created|accepted|no content|moved|found|not modified|bad request|unauthorized|payment required|forbidden|not found|method not allowed|not acceptable|request timeout|conflict|gone|payload too large|request entity too large|unprocessable|too many requests|internal server error|not implemented|bad gateway|service unavailable|gateway timeout|overloaded))',
                            '\1' || keep || '\2\3', 'g');
    END IF;

    IF has_digit THEN  -- guard
        m := regexp_replace(m, '(?<![0-9' || keep || '])[0-9]+(\.[0-9]+)?[[:space:]]?(ms|us|ns|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?)(?=[^a-z]|$)',
                            '<dur>', 'g');
    END IF;
    -- A number with thousands separators is one number (10,000 and 1,000,000 tokens per minute).
    IF strpos(m, ',') > 0 THEN  -- guard
        m := regexp_replace(m, '(?<![0-9,' || keep || '])[0-9]{1,3}(,[0-9]{3})+(?![0-9])', '<n>', 'g');
    END IF;
    IF has_digit THEN  -- guard
        m := regexp_replace(m, '(?<![0-9' || keep || '])[0-9]+', '<n>', 'g');
    END IF;
    -- A list of record ids is one placeholder: res.partner(15, 27, 31) and res.partner(11, 9) are one recordset kind.
    IF strpos(m, '<n>,') > 0 THEN  -- guard
        m := regexp_replace(m, '([(\[])<n>(,[[:blank:]]*<n>)+,?([])])', '\1<n>\3', 'g');
    END IF;
    m := replace(m, keep, '');
    -- Version 3. A web URL's scheme is dropped (the host is kept): status.example.com and
    -- https://status.example.com are one link. A trailing "Learn more: <link>" (or SQLAlchemy's
    -- "(Background on this error at: <link>)") is dropped.
    IF strpos(m, '://') > 0 THEN  -- guard
        m := regexp_replace(m, '(^|[^a-z0-9+.-])(https?|wss?)://', '\1', 'g');
    END IF;
    IF strpos(m, 'more') > 0 OR strpos(m, '(background on this error at') > 0 THEN  -- guard
        m := regexp_replace(m, '[[:blank:]]*(learn more|read more|more info(rmation)?|\(background on this error at)[[:blank:]]*:?[[:blank:]]*[a-z0-9-]+(\.[a-z0-9-]+)+(:[0-9]+)?(/<path>)?\)?[[:blank:]]*$',
                            '', 'gn');
    END IF;
    -- The quoted function name a platform prints in a size or invocation error varies between occurrences of
    -- one failure (one bundle too large for the plan); a role name does not (each role is its own credential).
    IF strpos(m, 'function') > 0 THEN  -- guard
        m := regexp_replace(m, '((^|[^a-z])function[[:blank:]]+)(["''])[^"''[:space:]]{1,200}\3', '\1\3<name>\3', 'g');
    END IF;
    -- Log decorations at the start of each line (timestamps, [bracketed] tags, ##[error], box-drawing
    -- and bullet characters, a bare severity word) differ between two pastes of one failure.
    m := regexp_replace(m, '^[[:blank:]]*((<ts>|<time>|\[[^]' || chr(10) || ']{0,40}\]|##\[[a-z]+\]|[│╷╵⎿├└|>*•·-]+|(error|err|fatal|warn|warning|info|debug|notice|panic|critical)[[:blank:]]*[:!])[[:blank:]]*)+',
                        '', 'gn');
    -- Version 4. A reference link that ends a line after a dash or in parentheses (an RFC section, the API
    -- endpoint a client names) is dropped: one client prints it, another does not. A JSON string's quotes and
    -- the comma or brace after it, and JSON escapes of quotes, are not part of the text: "<text>", and <text>
    -- are one line.
    IF strpos(m, '/<path>') > 0 THEN  -- guard
        m := regexp_replace(m, '[[:blank:]]+(-[[:blank:]]+|\()[a-z0-9-]+(\.[a-z0-9-]+)+(:[0-9]+)?/<path>\)?[[:blank:].]*$', '', 'gn');
    END IF;
    IF strpos(m, '"') > 0 THEN  -- guard
        m := replace(m, '\"', '"');
        m := regexp_replace(m, '^[[:blank:]]*"|"[[:blank:]]*[,}\]]*[[:blank:]]*$', '', 'gn');
    END IF;
    RETURN btrim(regexp_replace(m, '[[:space:]]+', ' ', 'g'));
END
$$;

-- ops_private.wrapper_regex() had one caller, ops.classify_candidates, replaced below to call wrapper_regex(canon).
-- squawk-ignore ban-drop-function
DROP FUNCTION ops_private.wrapper_regex();

CREATE FUNCTION ops_private.wrapper_regex(canon text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, ops
-- The SSOT's `wrappers:` (regexes over canonical lines) travel with the taxonomy file's sync record, each with the
-- literals one of which every match contains (`wrapper_literals`, worker.ssot.wrapper_literals; absent from a record
-- synced before they existed, and null for a wrapper without any: then the wrapper is always kept). A wrapper none of
-- whose literals is in the text cannot match in it, so leaving it out of the alternation changes no match.
RETURN (SELECT string_agg('(' || x.w || ')', '|' ORDER BY x.n)
        FROM ops.ssot_state s
        CROSS JOIN LATERAL jsonb_array_elements_text(s.detail -> 'wrappers') WITH ORDINALITY AS x (w, n)
        WHERE s.name = 'failure_modes'
          AND (jsonb_typeof(s.detail -> 'wrapper_literals' -> (x.n::integer - 1)) IS DISTINCT FROM 'array'
               OR EXISTS (SELECT FROM jsonb_array_elements_text(s.detail -> 'wrapper_literals' -> (x.n::integer - 1)) l
                          WHERE strpos(canon, l) > 0)));
COMMENT ON FUNCTION ops_private.wrapper_regex(text) IS
    'The SSOT wrapper regexes (failure_modes.yaml `wrappers:`, synced into ops.ssot_state.detail) that can match the '
    'canonical text canon, as one alternation in YAML order, to be used newline-sensitively over canon; NULL when none '
    'can (or none are synced). A wrapper is left out when the sync recorded its literals and canon holds none of them: '
    'PostgreSQL caches only 32 compiled regexes per session, and the alternation of every wrapper cost about 2 ms to '
    'compile again each time the cache had dropped it.';

REVOKE ALL ON FUNCTION ops_private.wrapper_regex(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION ops.classify_candidates(source text, phase text, message text, with_lines boolean DEFAULT true)
RETURNS TABLE (rank integer, code text, kind text, pattern text, line_number integer, line text,
               on_cause boolean, restriction integer, scope integer, specificity integer, priority integer,
               code_position integer, pattern_position integer, decided_by text)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, ops
-- One generic plan for the query below: a custom plan per call (PL/pgSQL's default while the generic one does not
-- look cheaper) spent about 40 % of each call planning.
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    capped text;
    canon text;
    cause text;
    wrapped text;
    wrappers text;
    family_above integer;
BEGIN
    IF message IS NULL THEN
        RETURN;
    END IF;
    -- Read at most the first and the last 16 KiB: a 10 MB argument costs what 32 KiB does.
    capped := CASE WHEN length(message) > 32768
                   THEN left(message, 16384) || E'\n' || right(message, 16384) ELSE message END;
    canon := ops.canonical_text(capped);            -- once per call, not once per pattern
    wrappers := ops_private.wrapper_regex(canon);  -- only the wrappers that can match canon
    -- The cause text: the canonical text with wrapper text blanked (line numbers unchanged); the
    -- wrapped text: what the wrappers matched, one piece per line.
    IF wrappers IS NULL THEN
        cause := canon;
    ELSE
        cause := regexp_replace(canon, wrappers, '', 'gn');
        IF cause IS DISTINCT FROM canon THEN
            SELECT string_agg(w[1], E'\n') INTO wrapped FROM regexp_matches(canon, '(' || wrappers || ')', 'gn') AS w;
        END IF;
    END IF;
    SELECT count(*) / 2 INTO family_above FROM ops.sources;

    RETURN QUERY
    WITH matches AS (
        SELECT p.code, p.kind, p.pattern, p.pattern_canonical, p.priority, p.specificity,
               m.position AS code_position, p.position AS pattern_position,
               (coalesce(p.phases, m.phases) IS NOT NULL)::int * 2 + (p.sources IS NOT NULL)::int AS restriction,
               CASE WHEN NOT classify_candidates.source = ANY (m.sources) THEN 0
                    WHEN cardinality(m.sources) > family_above THEN 1
                    ELSE 2 END AS scope
        FROM ops.failure_mode_patterns p
        JOIN ops.failure_modes m ON m.code = p.code
        WHERE (p.sources IS NULL OR classify_candidates.source = ANY (p.sources))
          AND (coalesce(p.phases, m.phases) IS NULL OR classify_candidates.phase = ANY (coalesce(p.phases, m.phases)))
          AND CASE
                  WHEN p.kind = 'substring' THEN strpos(canon, p.pattern_canonical) > 0
                  -- CASE fixes the order: the cheap literal test guards the regex. Most regexes have one
                  -- literal, tested without a subquery.
                  WHEN cardinality(p.required_literals) = 1
                  THEN CASE WHEN strpos(canon, p.required_literals[1]) > 0 THEN canon ~* p.pattern ELSE false END
                  WHEN p.required_literals IS NOT NULL
                       AND NOT EXISTS (SELECT FROM unnest(p.required_literals) l WHERE strpos(canon, l) > 0)
                  THEN false
                  ELSE canon ~* p.pattern
              END
    ), facts AS (
        SELECT x.*,
               -- Only a pattern that matches the wrapped text can be wrapper-only; it still counts as
               -- a cause match when it also matches the text outside the wrappers.
               wrapped IS NULL
               OR NOT CASE WHEN x.kind = 'substring' THEN strpos(wrapped, x.pattern_canonical) > 0 ELSE wrapped ~* x.pattern END
               OR CASE WHEN x.kind = 'substring' THEN strpos(cause, x.pattern_canonical) > 0 ELSE cause ~* x.pattern END
               AS on_cause
        FROM matches x
    ), ranked AS (
        SELECT f.*,
               row_number() OVER w AS rank,
               first_value(f.on_cause) OVER w AS w_cause, first_value(f.restriction) OVER w AS w_restriction,
               first_value(f.scope) OVER w AS w_scope, first_value(f.specificity) OVER w AS w_specificity,
               first_value(f.priority) OVER w AS w_priority, first_value(f.code) OVER w AS w_code
        FROM facts f
        WINDOW w AS (ORDER BY f.scope > 0 DESC, f.on_cause DESC, f.restriction DESC, f.scope DESC, f.specificity DESC,
                              f.priority DESC, f.code_position, f.pattern_position)
    )
    SELECT r.rank::integer, r.code, r.kind, r.pattern, l.n::integer, l.original, r.on_cause, r.restriction, r.scope,
           r.specificity, r.priority, r.code_position, r.pattern_position,
           CASE WHEN r.rank = 1 THEN 'winner'
                WHEN (r.scope > 0) <> (r.w_scope > 0) THEN '1 source: the winner''s code lists the event''s source, this code does not'
                WHEN r.on_cause IS DISTINCT FROM r.w_cause THEN '2 cause: the winner matched outside wrapper text, this only inside it'
                WHEN r.restriction <> r.w_restriction THEN '3 restricted: the winner''s pattern is restricted by phase/source more'
                WHEN r.scope <> r.w_scope THEN '4 scope: the winner''s code is scoped to the source, this one is a cross-source family'
                WHEN r.specificity <> r.w_specificity THEN '5 specificity: the winner''s pattern has more literal text'
                WHEN r.priority <> r.w_priority THEN '6 priority: the winner''s pattern has a higher priority'
                WHEN r.code = r.w_code THEN '7 order: an earlier pattern of the same code matched'
                ELSE '7 order: the winner''s code comes first in YAML order' END
    FROM ranked r
    -- The first single line the pattern matches (NULL when it matches only across lines).
    LEFT JOIN LATERAL (
        SELECT t.n, split_part(capped, E'\n', t.n::integer) AS original
        FROM regexp_split_to_table(canon, E'\n') WITH ORDINALITY AS t (l, n)
        WHERE classify_candidates.with_lines
          AND CASE WHEN r.kind = 'substring' THEN strpos(t.l, r.pattern_canonical) > 0 ELSE t.l ~* r.pattern END
        ORDER BY (r.on_cause AND t.l <> split_part(cause, E'\n', t.n::integer)), t.n
        LIMIT 1
    ) l ON true
    ORDER BY r.rank;
END
$$;

-- ops.score_agent_runs runs in the statement trigger of ops.agent_runs, so an ingest statement whose escalations
-- dispatch FixBot runs scores them. Its plan's estimate (a subquery per run and metric, jsonb_array_elements
-- guessed at 100 rows) passed jit_above_cost, and LLVM spent 2.1 s compiling it for 505 runs that took 70 ms to
-- score (auto_explain, a 2,000-row INSERT of the footprint benchmark).
ALTER FUNCTION ops.score_agent_runs(bigint[]) SET jit = off;
