-- Issue 12, ninth ingest pass: ops.grouping_text in PL/pgSQL, its expression unchanged.
--
-- A text new to the classification cache (every text that carries a request id or a timestamp, as real producers
-- print them) calls ops.grouping_text. As LANGUAGE sql with a SET clause and sublinks it is never inlined, and
-- PostgreSQL 15 keeps a SQL function's parsed and planned body only for the transaction that built it: each
-- autocommit INSERT of a new text read its 74 kB stored parse tree back and planned it again (~6.5 ms of ~9 ms of
-- server CPU). PL/pgSQL keeps its plan for the session. Outputs are identical (compared on 8,418 texts: every message
-- under tests/fixtures and 900 bench texts; code, pattern, grouping text and fingerprint byte-equal), so neither the
-- fingerprint version nor the taxonomy version changes. bench/README.md, "Real producers' text".

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
AS $fn$
BEGIN
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
    CROSS JOIN LATERAL (SELECT left(f.folded, greatest(s.start - 1, 0)) AS prefix) p
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
    'lies inside it. '
    '(message, code, matched_pattern) -> text. Reads the first 40000 characters. PL/pgSQL (plan kept for the session) '
    'since the ninth ingest pass; the same expression as the LANGUAGE sql body it replaced.';
