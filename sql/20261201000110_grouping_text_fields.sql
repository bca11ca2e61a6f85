-- Grouping version 3, refined before it was released (the version stays 3: no row was written under the first
-- definition outside this branch): when the text between the last ": " before the winning pattern's match and the
-- match holds ", ", it is an SDK error's field list ("RequestID: <uuid>, api error ExpiredToken: …"), not a wrapper
-- phrase, and the grouping text starts at the match itself.

CREATE OR REPLACE FUNCTION ops.grouping_text(message text, code text, matched_pattern text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, ops
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
-- matches across lines.
RETURN coalesce((
    SELECT CASE WHEN s.start > 0 AND strpos(w.prefix, ';') = 0
                THEN substr(f.folded, CASE WHEN w.k > 0 AND strpos(right(w.prefix, w.k - 1), ', ') = 0
                                           THEN length(w.prefix) - w.k + 2
                                           WHEN w.k > 0 THEN s.start ELSE 1 END)
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
    'of its code matches (the cause line), the folded text after the last ": " before the match, to the line end (from '
    'the match itself when the text between holds ", "; the whole line when the text before the match holds ";" or '
    'the match is not found at the same place); the whole message when there is no matched pattern or '
    'it spans lines. (message, code, matched_pattern) -> text. Reads the first 40000 characters.';
