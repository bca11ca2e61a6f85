-- Patterns that exclude sources (issue 9; docs/classification.md, "Sources a pattern never reads"): a pattern may
-- carry `not_sources: [<source>, ...]` in the SSOT, and it is then no candidate for those sources' events. Unlike
-- `sources:` it is no restriction: precedence step 3 does not count it, so taking one product's words away from a
-- broad pattern does not make the pattern outrank its equals for every other source. Written for Odoo's own
-- `500: Internal Server Error` page, which the broad `internal server error` of NET.UPSTREAM_ERROR read as an
-- upstream's answer (labelling decision 35).
--  * ops.failure_mode_patterns.not_sources, written by ops.sync_ssot from ops_private.ssot_patterns (a new column of
--    its result, so the function is dropped and created again);
--  * ops.classify_candidates skips a pattern whose not_sources names the event's source.
-- Classification changes only where the SSOT names such sources; no fingerprint changes.

ALTER TABLE ops.failure_mode_patterns ADD COLUMN not_sources text[];

COMMENT ON COLUMN ops.failure_mode_patterns.not_sources IS
    'ssot `not_sources:`: the pattern is no candidate for an event from these sources (docs/classification.md). Unlike '
    '`sources`, it is no restriction (precedence step 3 does not count it): it takes one product''s own words away from '
    'a broad pattern without making the pattern outrank its equals elsewhere. NULL: no source is excluded.';

-- Its result gains a column, which CREATE OR REPLACE cannot do; only ops.sync_ssot calls it, replaced below.
-- squawk-ignore ban-drop-function
DROP FUNCTION ops_private.ssot_patterns(jsonb);
CREATE FUNCTION ops_private.ssot_patterns(doc jsonb)
RETURNS TABLE (code text, "position" integer, kind text, pattern text, sources text[], phases text[], priority integer,
               required_literals text[], group_name text, not_sources text[])
LANGUAGE sql IMMUTABLE
AS $$
    SELECT fm ->> 'code', p.position, p.kind, p.pattern, p.sources, p.phases, p.priority, p.required_literals, p."group",
           p.not_sources
    FROM jsonb_array_elements(doc -> 'failure_modes') fm
    CROSS JOIN LATERAL jsonb_to_recordset(fm -> 'patterns') AS p (
        position integer, kind text, pattern text, sources text[], phases text[], priority integer,
        required_literals text[], "group" text, not_sources text[])
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
          AND w.group_name IS NOT DISTINCT FROM p.group_name AND w.not_sources IS NOT DISTINCT FROM p.not_sources);
    GET DIAGNOSTICS n = ROW_COUNT;
    changed := changed || jsonb_build_object('patterns_deleted', n);
    INSERT INTO ops.failure_mode_patterns (code, position, kind, pattern, sources, phases, priority, required_literals,
                                           group_name, not_sources)
    SELECT w.code, w.position, w.kind, w.pattern, w.sources, w.phases, w.priority, w.required_literals, w.group_name,
           w.not_sources
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
          -- not_sources excludes without restricting: it does not count on step 3.
          AND (p.not_sources IS NULL OR NOT classify_candidates.source = ANY (p.not_sources))
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
    'one source other than the event''s is no candidate, nor a pattern whose not_sources names the event''s source): '
    'rows (rank 1 = the winner, code, '
    'kind, pattern, line_number/line = first single line it matches (1-based, NULL if it spans lines), on_cause, '
    'restriction (2 phase + 1 source), scope (2 source-scoped code, 1 cross-source family, 0 code does not list the source), '
    'specificity (literal characters), priority, code_position, pattern_position, decided_by = the rule step that '
    'puts the winner ahead of this row). with_lines false skips finding the line (line_number/line NULL; the ranking '
    'is the same). Reads the first and last 16 KiB of message only. ops.classify_error takes its answer from rank 1 '
    '(without lines); no rows means UNKNOWN.<SOURCE>.';
