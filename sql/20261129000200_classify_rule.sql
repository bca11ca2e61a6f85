-- Classification by rule (issue 9): one canonical form of the text, wrapper lines known by name,
-- per-pattern facts computed once when a pattern is stored, and every candidate listed by
-- ops.classify_candidates(), which ops.classify_error() takes its first row from, so that
-- `ops classify --explain` can never disagree with the decision.
--
-- The rule (also in ssot/errors/failure_modes.yaml, README and docs/classification.md): among the
-- patterns that match, the winner is the first by
--   1. source      a code whose detect.sources lists the event's source beats one that does not (a fallback);
--   2. cause       a match outside wrapper text beats one found only inside it ("Build error occurred",
--                  "Process completed with exit code 1", "supabase db push failed:", ...; the SSOT's `wrappers:`);
--   3. restricted  a pattern restricted by phase (2) and/or source (1) beats an unrestricted one (DESIGN);
--   4. scope       a code scoped to the source (it lists at most half of all sources) beats a cross-source
--                  family (it lists more than half);
--   5. specificity the pattern with more literal text that every match must contain (substring: its
--                  canonical length; regex: literal characters on every path, +1 per ^/$ anchor);
--   6. priority    the pattern's explicit `priority`;
--   7. YAML order of the code, then of the pattern.

-- ---------------------------------------------------------------------------------------------- text

CREATE FUNCTION ops.canonical_text(message text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
-- NFKC (full-width, ligatures, compatibility digits), lower case, Cyrillic/Greek letters that look
-- Latin, then `_`, `-` and horizontal white-space runs to one space. Line breaks are kept (as \n):
-- wrapper lines are told apart line by line.
RETURN regexp_replace(
    translate(lower(normalize(replace(replace(message, E'\r\n', E'\n'), E'\r', E'\n'), NFKC)),
              'авекмнорстхуіјѕԁԛԝѵһαβεζηικμνορτυχ',
              'abekmhopctxyijsdqwvhabezhikmnoptyx'),
    '[-_[:blank:]\u00a0\u2000-\u200b\u202f\u205f\u3000]+', ' ', 'g');
COMMENT ON FUNCTION ops.canonical_text(text) IS
    'The canonical form classification matches on: text -> text. NFKC, lower case, Cyrillic/Greek look-alikes of Latin '
    'letters folded to Latin, runs of "_", "-" and horizontal white space folded to one space; line breaks kept as \n '
    '(CR LF and CR become LF). NULL gives NULL. Substring patterns are compared in this form too.';

CREATE FUNCTION ops_private.regex_literal_length(pattern text) RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE STRICT
AS $$
-- A small walk over the regex: literal characters that every match must contain. Groups take the
-- shortest alternative; an atom followed by ?, * or {0,...} counts nothing; bracket expressions,
-- ".", and class escapes (\d \s \w ...) count nothing; ^ and $ outside brackets count 1 each.
DECLARE
    n integer := length(pattern);
    i integer := 1;
    c text;
    cur integer := 0;          -- running total of the current alternative
    last integer := 0;         -- what the last atom added (undone by an optional quantifier)
    best integer;              -- shortest finished alternative of the current group (NULL: none yet)
    s_cur integer[] := '{}'::integer[];   -- stacks of the enclosing groups' state
    s_best integer[] := '{}'::integer[];
    depth integer := 0;
    val integer;
BEGIN
    WHILE i <= n LOOP
        c := substr(pattern, i, 1);
        IF c = '\' THEN
            i := i + 1;
            last := CASE WHEN substr(pattern, i, 1) ~ '^[dDsSwWbBAZzmMyY0-9]$' THEN 0 ELSE 1 END;
            cur := cur + last;
        ELSIF c = '[' THEN
            i := i + 1;
            IF substr(pattern, i, 1) = '^' THEN i := i + 1; END IF;
            IF substr(pattern, i, 1) = ']' THEN i := i + 1; END IF;
            WHILE i <= n AND substr(pattern, i, 1) <> ']' LOOP
                IF substr(pattern, i, 1) = '\' THEN i := i + 1; END IF;
                i := i + 1;
            END LOOP;
            last := 0;
        ELSIF c = '(' THEN
            IF substr(pattern, i + 1, 2) = '?:' THEN i := i + 2; END IF;
            depth := depth + 1;
            s_cur[depth] := cur;
            s_best[depth] := best;
            cur := 0;
            best := NULL;
            last := 0;
        ELSIF c = '|' THEN
            best := least(coalesce(best, cur), cur);
            cur := 0;
            last := 0;
        ELSIF c = ')' AND depth > 0 THEN
            val := least(coalesce(best, cur), cur);
            cur := s_cur[depth] + val;
            best := s_best[depth];
            depth := depth - 1;
            last := val;
        ELSIF c IN ('?', '*') THEN
            cur := cur - last;
            last := 0;
            IF substr(pattern, i + 1, 1) = '?' THEN i := i + 1; END IF;   -- lazy quantifier
        ELSIF c = '+' THEN
            IF substr(pattern, i + 1, 1) = '?' THEN i := i + 1; END IF;
        ELSIF c = '{' AND substr(pattern, i) ~ '^\{[0-9]*(,[0-9]*)?\}' THEN
            IF substr(pattern, i) ~ '^\{0*(,|\})' THEN
                cur := cur - last;
                last := 0;
            END IF;
            i := i + length(substring(substr(pattern, i) FROM '^\{[0-9]*(?:,[0-9]*)?\}')) - 1;
        ELSIF c = '.' THEN
            last := 0;
        ELSIF c IN ('^', '$') THEN
            cur := cur + 1;
            last := 1;
        ELSE
            cur := cur + 1;
            last := 1;
        END IF;
        i := i + 1;
    END LOOP;
    WHILE depth > 0 LOOP   -- an unbalanced pattern never compiles; be total anyway
        cur := s_cur[depth] + least(coalesce(best, cur), cur);
        best := s_best[depth];
        depth := depth - 1;
    END LOOP;
    RETURN greatest(least(coalesce(best, cur), cur), 0);
END
$$;
COMMENT ON FUNCTION ops_private.regex_literal_length(text) IS
    'Specificity of a regex (text -> integer >= 0): the number of literal characters every match must contain '
    '(shortest alternative of each group; optional atoms, bracket expressions, "." and class escapes count 0; '
    '^ and $ count 1). Immutable; used by the trigger that fills ops.failure_mode_patterns.specificity.';

-- Per-pattern facts, computed when the sync stores a pattern (a trigger: ops.sync_ssot is unchanged).
ALTER TABLE ops.failure_mode_patterns
    ADD COLUMN pattern_canonical text,
    ADD COLUMN specificity integer;
COMMENT ON COLUMN ops.failure_mode_patterns.pattern_canonical IS
    'A substring pattern in ops.canonical_text() form (what the message''s canonical form is searched for); NULL for a regex. '
    'Set by trigger failure_mode_patterns_facts.';
COMMENT ON COLUMN ops.failure_mode_patterns.specificity IS
    'Literal characters every match contains (substring: canonical length; regex: ops_private.regex_literal_length). '
    'Step 5 of the classification rule. Set by trigger failure_mode_patterns_facts.';

CREATE FUNCTION ops_private.failure_mode_pattern_facts() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, ops
AS $$
BEGIN
    NEW.pattern_canonical := CASE WHEN NEW.kind = 'substring' THEN ops.canonical_text(NEW.pattern) END;
    NEW.specificity := CASE WHEN NEW.kind = 'substring' THEN length(ops.canonical_text(NEW.pattern))
                            ELSE ops_private.regex_literal_length(NEW.pattern) END;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION ops_private.failure_mode_pattern_facts() IS
    'BEFORE INSERT/UPDATE trigger of ops.failure_mode_patterns: derives pattern_canonical and specificity from kind and '
    'pattern, so the facts classification ranks by are computed once per pattern, at sync time.';
CREATE TRIGGER failure_mode_patterns_facts
    BEFORE INSERT OR UPDATE OF kind, pattern ON ops.failure_mode_patterns
    FOR EACH ROW EXECUTE FUNCTION ops_private.failure_mode_pattern_facts();
-- Rows synced before this migration (a few hundred): derive their facts once.
UPDATE ops.failure_mode_patterns SET pattern = pattern;

CREATE FUNCTION ops_private.wrapper_regex() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, ops
-- The SSOT's `wrappers:` (regexes over canonical lines) travel with the taxonomy file's sync record.
RETURN (SELECT string_agg('(' || w || ')', '|' ORDER BY n)
        FROM ops.ssot_state s
        CROSS JOIN LATERAL jsonb_array_elements_text(s.detail -> 'wrappers') WITH ORDINALITY AS x (w, n)
        WHERE s.name = 'failure_modes');
COMMENT ON FUNCTION ops_private.wrapper_regex() IS
    'The wrapper regexes of the SSOT (failure_modes.yaml `wrappers:`, synced into ops.ssot_state.detail) as one '
    'alternation, to be used newline-sensitively over canonical text; NULL when no wrappers are synced.';

-- ------------------------------------------------------------------------------------ candidates

CREATE FUNCTION ops.classify_candidates(source text, phase text, message text, with_lines boolean DEFAULT true)
RETURNS TABLE (rank integer, code text, kind text, pattern text, line_number integer, line text,
               on_cause boolean, restriction integer, scope integer, specificity integer, priority integer,
               code_position integer, pattern_position integer, decided_by text)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, ops
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
    wrappers := ops_private.wrapper_regex();
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
                  -- CASE fixes the order: the cheap literal test guards the regex.
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
COMMENT ON FUNCTION ops.classify_candidates(text, text, text, boolean) IS
    'Every taxonomy pattern that matches an event, ranked by the classification rule: rows (rank 1 = the winner, code, '
    'kind, pattern, line_number/line = first single line it matches (1-based, NULL if it spans lines), on_cause, '
    'restriction (2 phase + 1 source), scope (2 source-scoped code, 1 cross-source family, 0 code does not list the source), '
    'specificity (literal characters), priority, code_position, pattern_position, decided_by = the rule step that '
    'puts the winner ahead of this row). with_lines false skips finding the line (line_number/line NULL; the ranking '
    'is the same). Reads the first and last 16 KiB of message only. ops.classify_error takes its answer from rank 1 '
    '(without lines); no rows means UNKNOWN.<SOURCE>.';

CREATE OR REPLACE FUNCTION ops.classify_error(source text, phase text, message text)
RETURNS TABLE (code text, confidence real, matched_pattern text)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, ops
AS $$
#variable_conflict use_column
BEGIN
    -- PL/pgSQL rather than SQL: its plan is cached per session, which matters when the ingest
    -- trigger calls this once per row. The ranking is ops.classify_candidates' (one rule, one place).
    RETURN QUERY
    WITH candidates AS (
        SELECT * FROM ops.classify_candidates(classify_error.source, classify_error.phase, classify_error.message, false)
    ), best AS (
        SELECT c.*, (SELECT count(DISTINCT c2.code) FROM candidates c2) AS codes_matched
        FROM candidates c
        WHERE c.rank = 1
    )
    SELECT best.code,
           least(1.0,
                 CASE best.kind WHEN 'regex' THEN 0.9 ELSE 0.8 END
                 + 0.05 * (best.restriction >= 2)::int + 0.05 * (best.restriction % 2)
                 - CASE WHEN best.codes_matched > 1 THEN 0.1 ELSE 0 END)::real,
           best.pattern
    FROM best
    UNION ALL
    SELECT 'UNKNOWN.' || upper(classify_error.source), 0::real, NULL::text
    WHERE NOT EXISTS (SELECT FROM best);
END
$$;
COMMENT ON FUNCTION ops.classify_error(text, text, text) IS
    'Classifies one message: exactly one row (code, confidence, matched_pattern), the rank-1 row of '
    'ops.classify_candidates(). Precedence rule: (1) a code listing the event''s source beats one that does not, '
    '(2) a match outside wrapper text beats one only inside it, (3) phase/source-restricted patterns first (phase weighs '
    'more), (4) a code scoped to the source beats a cross-source family, (5) more literal text (specificity), (6) higher '
    'priority, (7) YAML order. Matching is on ops.canonical_text() of the first and last 16 KiB. Confidence: 0.9 for a '
    'regex match, 0.8 for a substring, +0.05 per phase or source restriction that matched, -0.1 when other codes '
    'matched too; no match gives UNKNOWN.<SOURCE> with confidence 0 and a NULL pattern.';

REVOKE ALL ON FUNCTION ops.classify_candidates(text, text, text, boolean), ops.canonical_text(text),
                       ops_private.regex_literal_length(text), ops_private.wrapper_regex(),
                       ops_private.failure_mode_pattern_facts() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ops.classify_candidates(text, text, text, boolean), ops.canonical_text(text)
      TO ops_ingest, ops_worker, ops_analyst;
