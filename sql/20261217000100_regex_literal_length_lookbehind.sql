-- Specificity of a regex pattern counts nothing a lookbehind names, as it already did for a lookahead. The SSOT check
-- takes a fixed-width lookbehind, (?<=...) or (?<!...), in a classification pattern since 2026-12-07 (PostgreSQL's ARE
-- and Python's re read it alike; worker/pgregex.py translates one for JavaScript); before this the walk read the `?` of
-- `(?<!` as a quantifier and `<`, `!` as literals. No stored pattern held a lookbehind before, so no specificity and no
-- ranking changes here, and the classification cache stays; the UPDATE below is for a database synced by hand.

CREATE OR REPLACE FUNCTION ops_private.regex_literal_length(pattern text) RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE STRICT
AS $$
-- A small walk over the regex: literal characters that every match must contain. Groups take the
-- shortest alternative; an atom followed by ?, * or {0,...} counts nothing; bracket expressions,
-- ".", and class escapes (\d \s \w ...) count nothing; ^ and $ outside brackets count 1 each.
-- A lookaround, (?=...), (?!...), (?<=...) or (?<!...), counts nothing: it consumes no text, and
-- what a negative one names is text the match must NOT have (a lookbehind's text comes before the
-- match and is not part of it).
DECLARE
    n integer := length(pattern);
    i integer := 1;
    c text;
    cur integer := 0;          -- running total of the current alternative
    last integer := 0;         -- what the last atom added (undone by an optional quantifier)
    best integer;              -- shortest finished alternative of the current group (NULL: none yet)
    s_cur integer[] := '{}'::integer[];   -- stacks of the enclosing groups' state
    s_best integer[] := '{}'::integer[];
    s_look boolean[] := '{}'::boolean[];  -- whether the enclosing group is a lookaround
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
            depth := depth + 1;
            s_look[depth] := substr(pattern, i + 1, 2) IN ('?=', '?!') OR substr(pattern, i + 1, 3) IN ('?<=', '?<!');
            IF substr(pattern, i + 1, 3) IN ('?<=', '?<!') THEN i := i + 3;
            ELSIF substr(pattern, i + 1, 2) IN ('?:', '?=', '?!') THEN i := i + 2; END IF;
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
            val := CASE WHEN s_look[depth] THEN 0 ELSE least(coalesce(best, cur), cur) END;
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
        cur := s_cur[depth] + CASE WHEN s_look[depth] THEN 0 ELSE least(coalesce(best, cur), cur) END;
        best := s_best[depth];
        depth := depth - 1;
    END LOOP;
    RETURN greatest(least(coalesce(best, cur), cur), 0);
END
$$;
COMMENT ON FUNCTION ops_private.regex_literal_length(text) IS
    'Specificity of a regex (text -> integer >= 0): the number of literal characters every match must contain '
    '(shortest alternative of each group; optional atoms, lookarounds (?=...), (?!...), (?<=...) and (?<!...), '
    'bracket expressions, "." and class escapes count 0; ^ and $ count 1). Immutable; used by the trigger that fills '
    'ops.failure_mode_patterns.specificity.';

UPDATE ops.failure_mode_patterns
SET specificity = ops_private.regex_literal_length(pattern)
WHERE kind = 'regex' AND specificity IS DISTINCT FROM ops_private.regex_literal_length(pattern);
