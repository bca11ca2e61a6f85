-- Grouping version 21 (issue 9, the blind29-blind31 round, tuned on dev, dev-holdout1 and dev-blind2 ... dev-blind31;
-- docs/grouping.md): one change to ops.grouping_text, behind its literal guard (tests/test_normalize_guards.py), for a
-- kind of variable part the tuning data reads one way, checked on all thirty-two tuning splits:
--  * CoreDNS's errors plugin prints a failed upstream query as "[ERROR] plugin/errors: <rcode> <qname> <qtype>: <error>"
--    (or "[ERROR] <rcode> <qname> <qtype>: <error>"); the text started after "<qtype>: ", so two names behind one
--    timing-out upstream were one group (dns-b12pair-04, dns-b29pair-09, "different"). The line now reads
--    "[ERROR] plugin/errors: <error> for <qname>": the name asked for is kept, the rcode and the record type are not
--    (one name's A and AAAA queries timing out stay one failure: dns-b12pair-02).
-- No per-code grouping rule changes; ops.normalize_message and ops.fingerprint_text are unchanged. Fingerprints carry
-- version 21 ('fp21|' is hashed in); the classification cache key includes the version, and the taxonomy version is
-- raised as well, so no entry of version 20 is read again. Rows written under version 20 stay as they are and stay
-- readable; `ops errors regroup` (ops.regroup_errors) moves them (ops_private.regroup_stale compares the version and,
-- for a code grouped by code, the version-21 fingerprint of the code's one group).

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
    'is kept and the rcode and record type are not. '
    '(message, code, matched_pattern) -> text. Reads the first 40000 characters. PL/pgSQL (plan kept for the session) '
    'since the ninth ingest pass; the same expression as the LANGUAGE sql body it replaced.';

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
-- <qname>").
RETURN encode(sha256(convert_to(
    'fp21|' || ops.fingerprint_field(source)
    || '|' || ops.fingerprint_field(phase)
    || '|' || ops.fingerprint_field(code)
    || '|' || CASE WHEN ops.grouping_rule(code) = 'code' THEN '='
                   ELSE ops.fingerprint_field(ops.fingerprint_text(message))
                        || '|' || ops.fingerprint_field(ops.fingerprint_text(top_frame)) END,
    'UTF8')), 'hex');
COMMENT ON FUNCTION ops.error_fingerprint(text, text, text, text, text) IS
    'Lowercase hex SHA-256 over the version tag fp21, source, phase, code and, unless the code''s grouping rule is '
    '''code'' (ops.grouping_rule), the normalized message and normalized top frame, each length-prefixed (fingerprint '
    'version 21; ops.current_fingerprint_version()), each text field in the form ops.fingerprint_text gives it. Pass the '
    'redacted grouping text (ops.grouping_text).';

CREATE OR REPLACE FUNCTION ops.current_fingerprint_version() RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN 21;
COMMENT ON FUNCTION ops.current_fingerprint_version() IS
    'The fingerprint version ops.error_fingerprint() computes today (21). Rows with a lower version were grouped by an '
    'older normalization; ops.regroup_errors() moves them (and the groups a changed grouping rule moved).';

CREATE OR REPLACE FUNCTION ops_private.regroup_stale(a ops.agent_errors) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, ops
-- A group moves when an older fingerprint version made it, or when its code's grouping rule changed in the SSOT since
-- the group was made: the rule is `code` and the group is not the code's one group (`message` -> `code` merges the
-- code's groups), or the rule is `message` and the group is that one group (`code` -> `message` splits it by text).
-- The code's one group has the fingerprint ops.error_fingerprint gives under `code`: its text fields are "=".
RETURN a.fingerprint_version < ops.current_fingerprint_version()
    OR (ops.grouping_rule(a.code) = 'code') IS DISTINCT FROM (a.fingerprint = encode(sha256(convert_to(
           'fp21|' || ops.fingerprint_field(a.source) || '|' || ops.fingerprint_field(a.phase)
           || '|' || ops.fingerprint_field(a.code) || '|=', 'UTF8')), 'hex'));
COMMENT ON FUNCTION ops_private.regroup_stale(ops.agent_errors) IS
    'For ops.regroup_errors: true when the group was fingerprinted by an older version, or when its code''s grouping rule '
    '(ops.grouping_rule) changed since it was made (rule code and the group is not the code''s one group, or rule message '
    'and it is). agent_errors row -> boolean.';

UPDATE ops_private.taxonomy_version SET version = version + 1, changed_by = pg_current_xact_id();
