-- One pattern grouped by itself (issue 9; docs/grouping.md, "One pattern grouped by itself"): under a code whose
-- grouping rule is `message`, a pattern may carry `grouping: pattern` in the SSOT; every event it reads is then grouped
-- by the pattern (or the first pattern of its group name), as a code grouped by pattern is, while the code's other
-- patterns still group by message. For one product's sentence whose variable part is never what to fix (a repr's
-- quotes, a dump's table and row), where the code as a whole must keep its detail (an endpoint, a name).
--  * ops.failure_mode_patterns.grouping, written by ops.sync_ssot from ops_private.ssot_patterns (a new column of its
--    result, so the function is dropped and created again);
--  * ops.grouping_rule(code, pattern): the pattern's own rule under a code grouped by message, else the code's;
--  * ops.grouping_text and ops.error_fingerprint read it (the fingerprint is ops.pattern_group_fingerprint's, so moving
--    the whole code to `grouping: pattern` later moves nothing), ops_private.regroup_stale reads it for the pattern a
--    group records, so `ops errors regroup` moves the groups of a pattern that takes or drops the switch, and
--    ops.regroup_errors gives each group it makes the sample of the latest stored event that moved there (message,
--    pattern, top frame, last event, run and correlation ids): a split group showed its other part's sample and
--    recorded that part's pattern, which ops_private.regroup_stale reads (ops_private.regroup_plan returns that event).
-- No fingerprint version: no pattern says it yet, so no fingerprint changes until the SSOT does.

ALTER TABLE ops.failure_mode_patterns ADD COLUMN grouping text
    CONSTRAINT failure_mode_patterns_grouping_known CHECK (grouping = 'pattern');
-- The patterns that group by themselves, for ops.grouping_rule(code, pattern), which ops.error_fingerprint asks on
-- every new text: a probe of the few such rows, not a walk over a large code's patterns.
CREATE INDEX failure_mode_patterns_own_grouping_idx ON ops.failure_mode_patterns (code, pattern)
    WHERE grouping = 'pattern';
COMMENT ON COLUMN ops.failure_mode_patterns.grouping IS
    'ssot `grouping: pattern` on a pattern (docs/grouping.md, "One pattern grouped by itself"): under a code whose '
    'grouping rule is ''message'', every event this pattern reads is grouped by the pattern (or the first pattern of its '
    'group name), as a code grouped by pattern is (ops.grouping_rule(code, pattern)); the code''s other patterns still '
    'group by message. For one product''s sentence whose variable part is never what to fix. NULL: the code''s rule. '
    '`ops ssot check` refuses it under a code grouped by code or by pattern, and where patterns that share a group name '
    'or a text disagree.';
COMMENT ON COLUMN ops.failure_modes.grouping IS
    'The fingerprint rule of the code (ssot `grouping:`, docs/grouping.md): message (default) groups by source, phase, code and '
    'the normalized grouping text; code by source, phase and code only, for failures whose fix never depends on the '
    'variable part; pattern by source, phase, code and the pattern that read the text (ops.classify_error''s '
    'matched_pattern), for a code whose patterns are each one product''s or pool''s own words (a connection-slot limit: '
    'which pool is full is what to fix, the numbers in its sentence are not). A change moves nothing by itself: `ops '
    'errors regroup` moves the groups whose fingerprint the rule changed. Under ''message'' one pattern may still group by '
    'itself (ops.failure_mode_patterns.grouping).';

-- Its result gains a column, which CREATE OR REPLACE cannot do; only ops.sync_ssot calls it, replaced below.
-- squawk-ignore ban-drop-function
DROP FUNCTION ops_private.ssot_patterns(jsonb);
CREATE FUNCTION ops_private.ssot_patterns(doc jsonb)
RETURNS TABLE (code text, "position" integer, kind text, pattern text, sources text[], phases text[], priority integer,
               required_literals text[], group_name text, not_sources text[], "grouping" text)
LANGUAGE sql IMMUTABLE
AS $$
    SELECT fm ->> 'code', p.position, p.kind, p.pattern, p.sources, p.phases, p.priority, p.required_literals, p."group",
           p.not_sources, p.grouping
    FROM jsonb_array_elements(doc -> 'failure_modes') fm
    CROSS JOIN LATERAL jsonb_to_recordset(fm -> 'patterns') AS p (
        position integer, kind text, pattern text, sources text[], phases text[], priority integer,
        required_literals text[], "group" text, not_sources text[], grouping text)
$$;
REVOKE ALL ON FUNCTION ops_private.ssot_patterns(jsonb) FROM PUBLIC;

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
          AND w.required_literals IS NOT DISTINCT FROM p.required_literals
          AND w.group_name IS NOT DISTINCT FROM p.group_name AND w.not_sources IS NOT DISTINCT FROM p.not_sources
          AND w.grouping IS NOT DISTINCT FROM p.grouping);
    GET DIAGNOSTICS n = ROW_COUNT;
    changed := changed || jsonb_build_object('patterns_deleted', n);
    INSERT INTO ops.failure_mode_patterns (code, position, kind, pattern, sources, phases, priority, required_literals,
                                           group_name, not_sources, grouping)
    SELECT w.code, w.position, w.kind, w.pattern, w.sources, w.phases, w.priority, w.required_literals, w.group_name,
           w.not_sources, w.grouping
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
    'grouping rules, the code''s and a pattern''s own, '
    'redaction_rules, files with their SHA-256). Idempotent; deletes what the document no longer has, except history: '
    'a failure mode or source that error groups, escalations or agent runs reference, or a destination with pending '
    'or claimed escalations, is never deleted; the whole sync is refused with SQLSTATE OPD03 naming each. Returns the '
    'number of rows changed per kind. Owner only: run by `ops ssot sync`.';

CREATE FUNCTION ops.grouping_rule(code text, pattern text) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, ops
-- A pattern of a code grouped by message that says `grouping: pattern` (ops.failure_mode_patterns.grouping) groups by
-- itself; a pattern's own rule is looked up only for a code grouped by message (the sync allows it nowhere else).
-- PL/pgSQL, not LANGUAGE sql: ops.error_fingerprint and ops.grouping_text ask it for every new text, and a SQL function
-- that is not inlined (SECURITY DEFINER, SET) is planned again in every statement; PL/pgSQL keeps its plan for the
-- session (bench/README.md, "Ingest run (2026-12-06 …)": +8 % CPU per first-seen single-row event as a SQL function).
-- For the same reason it reads the code's rule itself rather than calling the one-argument form (a SQL function).
AS $fn$
BEGIN
    RETURN (SELECT CASE WHEN r.rule = 'message'
                             AND EXISTS (SELECT FROM ops.failure_mode_patterns p
                                         WHERE p.code = grouping_rule.code AND p.pattern = grouping_rule.pattern
                                           AND p.grouping = 'pattern')
                        THEN 'pattern' ELSE r.rule END
            FROM (SELECT coalesce((SELECT f.grouping FROM ops.failure_modes f WHERE f.code = grouping_rule.code),
                                  'message') AS rule) r);
END
$fn$;
COMMENT ON FUNCTION ops.grouping_rule(text, text) IS
    'The fingerprint rule of an event read by `pattern` under `code`: ''pattern'' when the code groups by message and '
    'that pattern of the code says `grouping: pattern` (ops.failure_mode_patterns.grouping; docs/grouping.md, "One '
    'pattern grouped by itself"), else the code''s rule (ops.grouping_rule(code)). ops.grouping_text passes the '
    'matched pattern; ops.error_fingerprint the grouping text, which for such a pattern is the pattern (or the first of '
    'its group name), so both read the same rule. SECURITY DEFINER as the one-argument form. (code, pattern) -> text.';
REVOKE ALL ON FUNCTION ops.grouping_rule(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ops.grouping_rule(text, text) TO ops_ingest, ops_worker, ops_analyst;

CREATE OR REPLACE FUNCTION ops.error_fingerprint(source text, phase text, code text, message text, top_frame text)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
-- STABLE, as honest as its body (convert_to is STABLE); each normalized field is computed once and passed to
-- ops.fingerprint_field. Version 4: a code whose grouping rule is `code` (ops.grouping_rule) is grouped by source,
-- phase and code alone; "=" stands for the two text fields (no field starts with "=", so nothing collides).
-- Versions 5 and 7: each text field in the form ops.fingerprint_text gives it (its ends trimmed, "-" as "_", a text
-- normalization empties kept apart by its own text). Version 6: ops.normalize_message reads a Markdown link as its
-- text, an IPv6 address with "::" as <ip> and drops an HTTP status starting a quoted message; ops.grouping_text passes
-- over a source line that raises the error. Version 8: ops.normalize_message reads a masked address as <ip> and
-- drops an "Available versions:" list, JavaScript stack frame lines, the edge runtime's leading "worker boot error", a
-- ", error=…" continuation, a closing "' }" and a line-ending reference link after its sentence. Version 9: it drops
-- a JSON log's field name leading a line and a log record's level and logger name between " = " or " | " separators.
-- Version 10: it reads a shell's missing-command report in one form; ops.grouping_text starts the text after a compact
-- JSON key's '":"' as after ": ". Version 11: ops.normalize_message drops a whole chain of exception classes leading
-- a line. Version 12: it drops Terraform's "When applying changes to <address>, " before "provider". Version 13:
-- ops.grouping_text reads a regex that matches only across lines as its match, not the whole message. Version 14:
-- ops.grouping_text ends a text that starts after a JSON key's '":"' where that string value ends. Version 15:
-- ops.normalize_message drops npm's log prefix, reads Node's getaddrinfo forms and curl's old resolve wording in one
-- form, and drops the closing quotes and parentheses of Python exception objects at a line end, Ruby's exception class
-- in parentheses ending a line and Node's "Require stack:" on its message's line. Version 16: it drops a GitHub
-- Actions workflow command with what precedes it on its line, OpenUpgrade's "<module>: error in migration script
-- <path>: " and a bare severity word with its colon ending a line after the text. Version 17: it keeps the numbers of
-- the toolchain version a setup action was asked for and drops the mirror (and the URL before it) of apt's "Temporary
-- failure resolving '<mirror>'". Version 18: it drops Terraform's location of a diagnostic in a resource, data source
-- or module (with the block's header line), a correlation id after an error code in parentheses, LangChain's trailing
-- "For troubleshooting, visit: <link>" and LangGraph's "During task with name '<node>' and id '<id>'" line. Version
-- 19: it drops the attribute after Terraform's "produced an unexpected new value: " (or "invalid new value for ") and
-- keeps Next.js's route after "failed to collect page data for " as it is, not as <path>. Version 20: it reads
-- botocore's "An error occurred (<Code>) when calling the <Operation> operation: " as "<Code>: " and drops Odoo's
-- "Uncaught Promise > " (or "UncaughtPromiseError > "), Terraform's "vertex "<address>" error: ", a pictograph leading
-- a line, Codex's retry note and "url: …, cf-ray: …" tail, and backticks inside a line; ops.grouping_text
-- ends the wrapper at a ": " whose blank the pattern's match starts with. Version 21: ops.grouping_text keeps the name
-- CoreDNS's errors plugin was asked for ("[ERROR] plugin/errors: <rcode> <qname> <qtype>: <error>" reads "<error> for
-- <qname>") and ops.normalize_message drops esbuild's "Build failed with <n> error(s):" summary line. Version 22:
-- ops.normalize_message reads Odoo's worker process id in parentheses as "(<n>)" and a line carrying RabbitMQ's
-- "delivery acknowledgement on channel <n> timed out" as that alone. Version 23: ops.normalize_message reads the name
-- under an ACME challenge's "_acme-challenge." as "<name>" and drops a GitHub Actions step heading "Run
-- <owner>/<action>@<ref>" alone on its line and redis-client's "(redis://<host>:<port>)" address.
-- The version tag "fp<n>|" is built from ops.current_fingerprint_version() (an IMMUTABLE constant, folded at plan
-- time), and a code grouped by code gets ops.code_group_fingerprint, so a new version edits only that function and
-- normalization; versions from 24 on are described in ops.normalize_message's comment and docs/grouping.md.
-- A code grouped by pattern gets ops.pattern_group_fingerprint over the pattern ops.grouping_text passes as its text,
-- or, when no pattern read it (a code the producer named), the code's one group. So does an event of a code grouped
-- by message whose pattern says `grouping: pattern` (ops.grouping_rule(code, pattern)): ops.grouping_text passes that
-- pattern (or the first of its group name) as the text, and the two-argument rule recognizes it.
RETURN CASE ops.grouping_rule(code, message)
            WHEN 'code' THEN ops.code_group_fingerprint(source, phase, code)
            WHEN 'pattern' THEN CASE WHEN message IS NULL THEN ops.code_group_fingerprint(source, phase, code)
                                     ELSE ops.pattern_group_fingerprint(source, phase, code, message) END
            ELSE encode(sha256(convert_to(
                'fp' || ops.current_fingerprint_version()::text || '|' || ops.fingerprint_field(source)
                || '|' || ops.fingerprint_field(phase)
                || '|' || ops.fingerprint_field(code)
                || '|' || ops.fingerprint_field(ops.fingerprint_text(message))
                || '|' || ops.fingerprint_field(ops.fingerprint_text(top_frame)),
                'UTF8')), 'hex') END;
COMMENT ON FUNCTION ops.error_fingerprint(text, text, text, text, text) IS
    'Lowercase hex SHA-256 over the version tag fp<n> (n = ops.current_fingerprint_version()), source, phase, code and '
    'the normalized message and normalized top frame, each length-prefixed, each text field in the form '
    'ops.fingerprint_text gives it; a code whose grouping rule is ''code'' (ops.grouping_rule) gets its one group''s '
    'fingerprint instead (ops.code_group_fingerprint); a code whose rule is ''pattern'' gets the group of the pattern '
    'that read it (ops.pattern_group_fingerprint over `message`, which ops.grouping_text makes that pattern; the code''s '
    'one group when it is NULL), and so does an event of a code grouped by message whose `message` is one of the code''s '
    'patterns that say `grouping: pattern` (ops.grouping_rule(code, pattern)). Pass the redacted grouping text '
    '(ops.grouping_text).';

CREATE OR REPLACE FUNCTION ops.grouping_text(message text, code text, matched_pattern text) RETURNS text
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

CREATE OR REPLACE FUNCTION ops_private.regroup_stale(a ops.agent_errors) RETURNS boolean
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

-- Its result gains a column (the latest stored event that moves), which CREATE OR REPLACE cannot do; only
-- ops.regroup_errors calls it, replaced below.
-- squawk-ignore ban-drop-function
DROP FUNCTION ops_private.regroup_plan();
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
REVOKE ALL ON FUNCTION ops_private.regroup_plan() FROM PUBLIC;

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
