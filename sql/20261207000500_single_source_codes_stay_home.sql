-- Classification (issue 9, the blind14 measure): a code whose detect.sources names exactly one source is that source's
-- fact, so it is no candidate for another source's event. Before, such a code could still win as the fallback of rule 1
-- when nothing that lists the event's source matched: blind14's Odoo view error `Model not found: <model>` took
-- AGENT.MODEL_NOT_FOUND (its substring `model_not_found` matches the folded phrase), and three Odoo tracebacks took
-- SUPABASE.FN.RUNTIME_ERROR. On the tuning data no code naming one other source was ever right (0 of 4); codes listing
-- two or more sources stay fallbacks (right in 30 of 31 such answers). ops.classify_error takes rank 1, so it follows.
-- The classification cache is keyed by the taxonomy version, which is raised so that no answer of the old rule is read.

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
          -- A code that names one source is that source's fact: it is never a fallback for another source's event
          -- (an Odoo view's `Model not found: <model>` is not AGENT.MODEL_NOT_FOUND).
          AND (cardinality(m.sources) IS DISTINCT FROM 1 OR classify_candidates.source = ANY (m.sources))
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
COMMENT ON FUNCTION ops.classify_candidates(text, text, text, boolean) IS
    'Every taxonomy pattern that matches an event, ranked by the classification rule (a code whose detect.sources names '
    'one source other than the event''s is no candidate): rows (rank 1 = the winner, code, '
    'kind, pattern, line_number/line = first single line it matches (1-based, NULL if it spans lines), on_cause, '
    'restriction (2 phase + 1 source), scope (2 source-scoped code, 1 cross-source family, 0 code does not list the source), '
    'specificity (literal characters), priority, code_position, pattern_position, decided_by = the rule step that '
    'puts the winner ahead of this row). with_lines false skips finding the line (line_number/line NULL; the ranking '
    'is the same). Reads the first and last 16 KiB of message only. ops.classify_error takes its answer from rank 1 '
    '(without lines); no rows means UNKNOWN.<SOURCE>.';


COMMENT ON FUNCTION ops.classify_error(text, text, text) IS
    'Classifies one message: exactly one row (code, confidence, matched_pattern), the rank-1 row of '
    'ops.classify_candidates() (whose candidates exclude a code naming one source other than the event''s). Precedence rule: (1) a code listing the event''s source beats one that does not, '
    '(2) a match outside wrapper text beats one only inside it, (3) phase/source-restricted patterns first (phase weighs '
    'more), (4) a code scoped to the source beats a cross-source family, (5) more literal text (specificity), (6) higher '
    'priority, (7) YAML order. Matching is on ops.canonical_text() of the first and last 16 KiB. Confidence: 0.9 for a '
    'regex match, 0.8 for a substring, +0.05 per phase or source restriction that matched, -0.1 when other codes '
    'matched too; no match gives UNKNOWN.<SOURCE> with confidence 0 and a NULL pattern.';

UPDATE ops_private.taxonomy_version SET version = version + 1, changed_by = pg_current_xact_id();
