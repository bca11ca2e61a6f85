-- Grouping version 4 (issue 9, tuned on dev, dev-holdout1 and dev-blind2; docs/grouping.md):
--  * per-code fingerprint rules in the SSOT, as server-side fingerprint rules: `grouping: code` on a failure mode
--    (ops.failure_modes.grouping, synced by ops.sync_ssot, read through ops.grouping_rule) groups its events by
--    source, phase and code alone, for failures whose fix never depends on the variable part (a rate limit, a
--    connection-slot limit, a cache reserve conflict, a broken tool-call transcript, a discontinued runtime);
--  * normalization drops a line-ending reference link after " - " or in parentheses and a JSON string's quotes;
--  * fingerprints carry version 4 ('fp4|' is hashed in); the classification cache key includes the version, so no
--    entry of version 3 is read again, and a sync that changes a grouping rule raises the taxonomy version too.
-- Rows written under version 3 stay as they are and stay readable; `ops errors regroup` (ops.regroup_errors)
-- moves them, and also the groups whose code's grouping rule changed since they were made
-- (ops_private.regroup_stale).

ALTER TABLE ops.failure_modes ADD COLUMN grouping text NOT NULL DEFAULT 'message' CONSTRAINT failure_modes_grouping_known
    CHECK (grouping IN ('message', 'code'));
COMMENT ON COLUMN ops.failure_modes.grouping IS
    'The fingerprint rule of the code (ssot `grouping:`, docs/grouping.md): message (default) groups by source, phase, code and '
    'the normalized grouping text; code by source, phase and code only, for failures whose fix never depends on the '
    'variable part (a rate limit, a connection-slot limit). A change moves nothing by itself: `ops errors regroup` moves '
    'the groups whose fingerprint the rule changed.';

CREATE OR REPLACE FUNCTION ops.sync_ssot(doc jsonb) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, ops
AS $$
DECLARE
    changed jsonb := '{}'::jsonb;
    n integer;
    orphans text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('ops ssot sync'));

    -- History is never orphaned: refuse to delete what recorded errors, escalations and runs reference.
    SELECT string_agg(format('failure mode %s (%s error groups, %s escalations, %s agent runs)', f.code, g.n, e.n, r.n),
                      '; ' ORDER BY f.code)
    INTO orphans
    FROM ops.failure_modes f
    CROSS JOIN LATERAL (SELECT count(*) AS n FROM ops.agent_errors a WHERE a.code = f.code) g
    CROSS JOIN LATERAL (SELECT count(*) AS n FROM ops.escalations x WHERE x.code = f.code) e
    CROSS JOIN LATERAL (SELECT count(*) AS n FROM ops.agent_runs y WHERE y.code = f.code) r
    WHERE NOT EXISTS (SELECT FROM jsonb_array_elements(doc -> 'failure_modes') w WHERE w ->> 'code' = f.code)
      AND g.n + e.n + r.n > 0;
    IF orphans IS NOT NULL THEN
        RAISE EXCEPTION 'ssot sync refused: it would delete %, whose history references them', orphans
            USING ERRCODE = 'OPD03',
                  HINT = 'Keep the code in ssot/errors/failure_modes.yaml (remove its patterns to stop new matches): '
                         'recorded errors keep their code, title and runbook.';
    END IF;
    SELECT string_agg(format('source %s (%s error groups)', s.source, g.n), '; ' ORDER BY s.source)
    INTO orphans
    FROM ops.sources s
    CROSS JOIN LATERAL (SELECT count(*) AS n FROM ops.agent_errors a WHERE a.source = s.source) g
    WHERE NOT (doc -> 'sources') ? s.source AND g.n > 0;
    IF orphans IS NOT NULL THEN
        RAISE EXCEPTION 'ssot sync refused: it would delete %, whose history references them', orphans
            USING ERRCODE = 'OPD03', HINT = 'Keep the source in ssot/errors/failure_modes.yaml.';
    END IF;
    SELECT string_agg(format('destination %s (%s undelivered escalations)', d.name, u.n), '; ' ORDER BY d.name)
    INTO orphans
    FROM ops.destinations d
    CROSS JOIN LATERAL (SELECT count(*) AS n FROM ops.escalations x
                        WHERE x.destination = d.name AND x.state IN ('pending', 'claimed')) u
    WHERE NOT EXISTS (SELECT FROM jsonb_array_elements(doc -> 'destinations') w WHERE w ->> 'name' = d.name)
      AND u.n > 0;
    IF orphans IS NOT NULL THEN
        RAISE EXCEPTION 'ssot sync refused: it would delete %, which the worker could then never deliver', orphans
            USING ERRCODE = 'OPD03',
                  HINT = 'Keep the destination until its queue is drained (`ops dispatch list --state pending`).';
    END IF;

    -- Destinations first (failure modes reference them); removals last.
    WITH want AS (
        SELECT * FROM jsonb_to_recordset(doc -> 'destinations') AS x (name text, kind text, config jsonb)
    ), upserted AS (
        INSERT INTO ops.destinations AS d (name, kind, config)
        SELECT w.name, w.kind, coalesce(w.config, '{}') FROM want w
        ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, config = excluded.config
        WHERE (d.kind, d.config) IS DISTINCT FROM (excluded.kind, excluded.config)
        RETURNING 1
    )
    SELECT count(*) INTO n FROM upserted;
    changed := changed || jsonb_build_object('destinations_upserted', n);

    WITH want AS (
        SELECT value AS source, ordinality::integer AS position
        FROM jsonb_array_elements_text(doc -> 'sources') WITH ORDINALITY
    ), upserted AS (
        INSERT INTO ops.sources AS s (source, position) SELECT w.source, w.position FROM want w
        ON CONFLICT (source) DO UPDATE SET position = excluded.position
        WHERE s.position IS DISTINCT FROM excluded.position
        RETURNING 1
    )
    SELECT count(*) INTO n FROM upserted;
    changed := changed || jsonb_build_object('sources_upserted', n);
    DELETE FROM ops.sources s WHERE NOT (doc -> 'sources') ? s.source;
    GET DIAGNOSTICS n = ROW_COUNT;
    changed := changed || jsonb_build_object('sources_deleted', n);

    WITH want AS (
        SELECT * FROM jsonb_to_recordset(doc -> 'failure_modes') AS x (
            code text, position integer, title text, category text, severity text, retryable boolean,
            http_status integer, ci_behavior text, description text, sources text[], phases text[],
            runbook text, remediate_kind text, escalate_after_count integer, escalate_within interval,
            escalate_destination text, aliases text[], grouping text)
    ), upserted AS (
        INSERT INTO ops.failure_modes AS f (
            code, position, title, category, severity, retryable, http_status, ci_behavior, description,
            sources, phases, runbook, remediate_kind, escalate_after_count, escalate_within,
            escalate_destination, aliases, grouping)
        SELECT w.code, w.position, w.title, w.category, w.severity, w.retryable, w.http_status, w.ci_behavior,
               coalesce(w.description, ''), coalesce(w.sources, '{}'), w.phases, w.runbook, w.remediate_kind,
               w.escalate_after_count, w.escalate_within, w.escalate_destination, coalesce(w.aliases, '{}'),
               coalesce(w.grouping, 'message')
        FROM want w
        ON CONFLICT (code) DO UPDATE SET
            position = excluded.position, title = excluded.title, category = excluded.category,
            severity = excluded.severity, retryable = excluded.retryable, http_status = excluded.http_status,
            ci_behavior = excluded.ci_behavior, description = excluded.description, sources = excluded.sources,
            phases = excluded.phases, runbook = excluded.runbook, remediate_kind = excluded.remediate_kind,
            escalate_after_count = excluded.escalate_after_count, escalate_within = excluded.escalate_within,
            escalate_destination = excluded.escalate_destination, aliases = excluded.aliases,
            grouping = excluded.grouping
        WHERE (f.position, f.title, f.category, f.severity, f.retryable, f.http_status, f.ci_behavior,
               f.description, f.sources, f.phases, f.runbook, f.remediate_kind, f.escalate_after_count,
               f.escalate_within, f.escalate_destination, f.aliases, f.grouping)
              IS DISTINCT FROM
              (excluded.position, excluded.title, excluded.category, excluded.severity, excluded.retryable,
               excluded.http_status, excluded.ci_behavior, excluded.description, excluded.sources,
               excluded.phases, excluded.runbook, excluded.remediate_kind, excluded.escalate_after_count,
               excluded.escalate_within, excluded.escalate_destination, excluded.aliases, excluded.grouping)
        RETURNING 1
    )
    SELECT count(*) INTO n FROM upserted;
    changed := changed || jsonb_build_object('failure_modes_upserted', n);
    DELETE FROM ops.failure_modes f
    WHERE NOT EXISTS (SELECT FROM jsonb_array_elements(doc -> 'failure_modes') e WHERE e ->> 'code' = f.code);
    GET DIAGNOSTICS n = ROW_COUNT;
    changed := changed || jsonb_build_object('failure_modes_deleted', n);

    -- Patterns have no identity of their own: remove what differs, insert what is missing.
    DELETE FROM ops.failure_mode_patterns p
    WHERE NOT EXISTS (
        SELECT FROM ops_private.ssot_patterns(doc) w
        WHERE (w.code, w.position, w.kind, w.pattern, w.priority) = (p.code, p.position, p.kind, p.pattern, p.priority)
          AND w.sources IS NOT DISTINCT FROM p.sources AND w.phases IS NOT DISTINCT FROM p.phases
          AND w.required_literals IS NOT DISTINCT FROM p.required_literals);
    GET DIAGNOSTICS n = ROW_COUNT;
    changed := changed || jsonb_build_object('patterns_deleted', n);
    INSERT INTO ops.failure_mode_patterns (code, position, kind, pattern, sources, phases, priority, required_literals)
    SELECT w.code, w.position, w.kind, w.pattern, w.sources, w.phases, w.priority, w.required_literals
    FROM ops_private.ssot_patterns(doc) w
    WHERE NOT EXISTS (SELECT FROM ops.failure_mode_patterns p WHERE (p.code, p.position) = (w.code, w.position));
    GET DIAGNOSTICS n = ROW_COUNT;
    changed := changed || jsonb_build_object('patterns_inserted', n);

    DELETE FROM ops.destinations d
    WHERE NOT EXISTS (SELECT FROM jsonb_array_elements(doc -> 'destinations') e WHERE e ->> 'name' = d.name);
    GET DIAGNOSTICS n = ROW_COUNT;
    changed := changed || jsonb_build_object('destinations_deleted', n);

    WITH want AS (
        SELECT * FROM jsonb_to_recordset(doc -> 'redaction_rules')
            AS x (name text, position integer, pattern text, replacement text, flags text, prefilter text[])
    ), upserted AS (
        INSERT INTO ops.redaction_rules AS r (name, position, pattern, replacement, flags, prefilter)
        SELECT w.name, w.position, w.pattern, w.replacement, w.flags, w.prefilter FROM want w
        ON CONFLICT (name) DO UPDATE SET position = excluded.position, pattern = excluded.pattern,
            replacement = excluded.replacement, flags = excluded.flags, prefilter = excluded.prefilter
        WHERE (r.position, r.pattern, r.replacement, r.flags, r.prefilter)
              IS DISTINCT FROM (excluded.position, excluded.pattern, excluded.replacement, excluded.flags, excluded.prefilter)
        RETURNING 1
    )
    SELECT count(*) INTO n FROM upserted;
    changed := changed || jsonb_build_object('redaction_rules_upserted', n);
    DELETE FROM ops.redaction_rules r
    WHERE NOT EXISTS (SELECT FROM jsonb_array_elements(doc -> 'redaction_rules') e WHERE e ->> 'name' = r.name);
    GET DIAGNOSTICS n = ROW_COUNT;
    changed := changed || jsonb_build_object('redaction_rules_deleted', n);

    WITH want AS (
        SELECT * FROM jsonb_to_recordset(doc -> 'files') AS x (name text, path text, sha256 text, detail jsonb)
    ), upserted AS (
        INSERT INTO ops.ssot_state AS s (name, path, sha256, detail, synced_at)
        SELECT w.name, w.path, w.sha256, coalesce(w.detail, '{}'), now() FROM want w
        ON CONFLICT (name) DO UPDATE SET path = excluded.path, sha256 = excluded.sha256,
            detail = excluded.detail, synced_at = excluded.synced_at
        WHERE (s.path, s.sha256, s.detail) IS DISTINCT FROM (excluded.path, excluded.sha256, excluded.detail)
        RETURNING 1
    )
    SELECT count(*) INTO n FROM upserted;
    changed := changed || jsonb_build_object('files_changed', n);
    RETURN changed;
END
$$;
COMMENT ON FUNCTION ops.sync_ssot(jsonb) IS
    'Makes the taxonomy tables equal to the SSOT document (sources, destinations, failure_modes with patterns and '
    'grouping rule, '
    'redaction_rules, files with their SHA-256). Idempotent; deletes what the document no longer has, except history: '
    'a failure mode or source that error groups, escalations or agent runs reference, or a destination with pending '
    'or claimed escalations, is never deleted; the whole sync is refused with SQLSTATE OPD03 naming each. Returns the '
    'number of rows changed per kind. Owner only: run by `ops ssot sync`.';


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
    -- Version 4. A reference link that ends a line after a dash or in parentheses (an RFC section, the API
    -- endpoint a client names) is dropped: one client prints it, another does not. A JSON string's quotes and
    -- the comma or brace after it, and JSON escapes of quotes, are not part of the text: "<text>", and <text>
    -- are one line.
    m := regexp_replace(m, '[[:blank:]]+(-[[:blank:]]+|\()[a-z0-9-]+(\.[a-z0-9-]+)+(:[0-9]+)?/<path>\)?[[:blank:].]*$', '', 'gn');
    m := replace(m, '\"', '"');
    m := regexp_replace(m, '^[[:blank:]]*"|"[[:blank:]]*[,}\]]*[[:blank:]]*$', '', 'gn');
    RETURN btrim(regexp_replace(m, '[[:space:]]+', ' ', 'g'));
END
$$;
COMMENT ON FUNCTION ops.normalize_message(text) IS
    'Normalization version 4 (docs/grouping.md has the full table): folds the text (ops.fold_text), then replaces volatile '
    'parts with placeholders - URL path and query (<path>; host and port kept, an http(s)/ws(s) scheme dropped), <email>, <uuid>, <ts>, <time>, '
    'prefixed and region-scoped ids (req_<id>, <id>), <ip>, colon-hex groups and 0x literals (<hex>), hex ids of 7+ '
    'characters with a digit (<hex>), long letter/digit tokens (<id>), absolute paths (<path>), durations (<dur>) and other '
    'numbers (<n>; 10,000 is one number; a list of ids "(<n>, <n>)" one <n>), the quoted name after '
    '"function" (<name>) - keeping exit codes, signal numbers and HTTP statuses; drops a trailing "Learn more: <link>", a line-ending reference link after " - " or in parentheses (v4), a JSON string''s quotes (v4) and log decorations at the start of each line '
    '(timestamps, [tags], ##[error], box-drawing characters, a bare severity word); lower-cases and collapses white space. '
    'Reads at most the first 40000 characters. text -> text; NULL for NULL.';


CREATE FUNCTION ops.grouping_rule(code text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, ops
RETURN coalesce((SELECT f.grouping FROM ops.failure_modes f WHERE f.code = grouping_rule.code), 'message');
COMMENT ON FUNCTION ops.grouping_rule(text) IS
    'The fingerprint rule of a taxonomy code (ops.failure_modes.grouping, ssot `grouping:`): ''code'' or ''message''; '
    '''message'' for NULL or a code the taxonomy does not have. SECURITY DEFINER so that a role allowed to compute a '
    'fingerprint need not read the taxonomy table. text -> text.';

CREATE OR REPLACE FUNCTION ops.error_fingerprint(source text, phase text, code text, message text, top_frame text)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
-- STABLE, as honest as its body (convert_to is STABLE); each normalized field is computed once and passed to
-- ops.fingerprint_field. Version 4: a code whose grouping rule is `code` (ops.grouping_rule) is grouped by source,
-- phase and code alone; "=" stands for the two text fields (no field starts with "=", so nothing collides).
RETURN encode(sha256(convert_to(
    'fp4|' || ops.fingerprint_field(source)
    || '|' || ops.fingerprint_field(phase)
    || '|' || ops.fingerprint_field(code)
    || '|' || CASE WHEN ops.grouping_rule(code) = 'code' THEN '='
                   ELSE ops.fingerprint_field(ops.normalize_message(message))
                        || '|' || ops.fingerprint_field(ops.normalize_message(top_frame)) END,
    'UTF8')), 'hex');
COMMENT ON FUNCTION ops.error_fingerprint(text, text, text, text, text) IS
    'Lowercase hex SHA-256 over the version tag fp4, source, phase, code and, unless the code''s grouping rule is '
    '''code'' (ops.grouping_rule), the normalized message and normalized top frame, each length-prefixed (fingerprint '
    'version 4; ops.current_fingerprint_version()). Pass the redacted grouping text (ops.grouping_text).';

CREATE OR REPLACE FUNCTION ops.current_fingerprint_version() RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN 4;
COMMENT ON FUNCTION ops.current_fingerprint_version() IS
    'The fingerprint version ops.error_fingerprint() computes today (4). Rows with a lower version were grouped by an '
    'older normalization; ops.regroup_errors() moves them (and the groups a changed grouping rule moved).';

CREATE FUNCTION ops_private.regroup_stale(a ops.agent_errors) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, ops
-- A group moves when an older fingerprint version made it, or when its code's grouping rule changed in the SSOT since
-- the group was made: the rule is `code` and the group is not the code's one group (`message` -> `code` merges the
-- code's groups), or the rule is `message` and the group is that one group (`code` -> `message` splits it by text).
-- The code's one group has the fingerprint ops.error_fingerprint gives under `code`: its text fields are "=".
RETURN a.fingerprint_version < ops.current_fingerprint_version()
    OR (ops.grouping_rule(a.code) = 'code') IS DISTINCT FROM (a.fingerprint = encode(sha256(convert_to(
           'fp4|' || ops.fingerprint_field(a.source) || '|' || ops.fingerprint_field(a.phase)
           || '|' || ops.fingerprint_field(a.code) || '|=', 'UTF8')), 'hex'));
COMMENT ON FUNCTION ops_private.regroup_stale(ops.agent_errors) IS
    'For ops.regroup_errors: true when the group was fingerprinted by an older version, or when its code''s grouping rule '
    '(ops.grouping_rule) changed since it was made (rule code and the group is not the code''s one group, or rule message '
    'and it is). agent_errors row -> boolean.';

CREATE OR REPLACE FUNCTION ops_private.regroup_plan()
RETURNS TABLE (old_fp text, new_fp text, events bigint, n bigint, is_main boolean)
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
    'For ops.regroup_errors: every (old fingerprint, new fingerprint) pair of the groups to move '
    '(ops_private.regroup_stale), with the stored events and the count that move (is_main marks the pair of the old '
    'sample message).';


CREATE OR REPLACE FUNCTION ops.regroup_errors(dry_run boolean DEFAULT true)
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
    'Moves every group whose fingerprint_version is older than ops.current_fingerprint_version(), or whose code''s '
    'grouping rule changed since (ops_private.regroup_stale), under the current normalization and rules. Each stored event is re-fingerprinted; a new group receives the events that map to it, plus the '
    'old count that retention already dropped (credited to the group of the old sample message); first/last seen are '
    'the earliest and latest; status, window and the resolution record (resolved_at, resolution_ref, resolved_by, '
    'resolution_sha256, ignored_until) come from the most recently seen old group. An alias old -> new is '
    'recorded in ops.error_aliases; escalations and agent runs follow their group. No escalation fires. With dry_run '
    '(the default) nothing changes. Returns one row per (old, new) pair: code, stored events and count moved.';


REVOKE ALL ON FUNCTION ops.grouping_rule(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION ops_private.regroup_stale(ops.agent_errors) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ops.grouping_rule(text) TO ops_ingest, ops_worker, ops_analyst;
