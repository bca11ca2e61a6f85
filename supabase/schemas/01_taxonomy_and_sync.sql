-- Taxonomy and SSOT sync: the tables `ops ssot sync` fills from ssot/ (sources, destinations,
-- failure modes and their patterns, redaction rules, file hashes) and the one function that makes
-- them equal to an SSOT document in one transaction.

CREATE TABLE ops.sources (
    source   text PRIMARY KEY CONSTRAINT sources_name_format CHECK (source ~ '^[a-z][a-z0-9_]*$'),
    position integer NOT NULL
);
COMMENT ON TABLE ops.sources IS 'Producers that may record errors (SSOT `sources:`). An event from any other source is refused.';

CREATE TABLE ops.destinations (
    name   text PRIMARY KEY,
    kind   text NOT NULL CONSTRAINT destinations_kind_known
           CHECK (kind IN ('webhook', 'slack', 'work_item', 'github_issue', 'fixbot')),
    config jsonb NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE ops.destinations IS
    'Escalation destinations (ssot/destinations.yaml). config names environment variables; it never holds a secret.';

CREATE TABLE ops.failure_modes (
    code                 text PRIMARY KEY
                         CONSTRAINT failure_modes_code_format CHECK (code ~ '^[A-Z][A-Z0-9_]*(\.[A-Z0-9_]+)+$'),
    position             integer NOT NULL,
    title                text NOT NULL,
    category             text NOT NULL,
    severity             text NOT NULL CONSTRAINT failure_modes_severity_known
                         CHECK (severity IN ('critical', 'high', 'medium', 'low')),
    retryable            boolean NOT NULL,
    http_status          integer CONSTRAINT failure_modes_http_status_range CHECK (http_status BETWEEN 400 AND 599),
    ci_behavior          text CONSTRAINT failure_modes_ci_behavior_known
                         CHECK (ci_behavior IN ('blocking', 'non_blocking', 'non_blocking_until_fixed')),
    description          text NOT NULL DEFAULT '',
    sources              text[] NOT NULL DEFAULT '{}',
    phases               text[],
    runbook              text NOT NULL,
    remediate_kind       text NOT NULL CONSTRAINT failure_modes_remediate_kind_known
                         CHECK (remediate_kind IN ('checklist', 'fixbot', 'guardrail')),
    escalate_after_count integer NOT NULL CONSTRAINT failure_modes_escalate_after_positive CHECK (escalate_after_count > 0),
    escalate_within      interval,
    escalate_destination text NOT NULL REFERENCES ops.destinations (name),
    aliases              text[] NOT NULL DEFAULT '{}',
    grouping             text NOT NULL DEFAULT 'message' CONSTRAINT failure_modes_grouping_known
                         CHECK (grouping IN ('message', 'code', 'pattern')),
    CONSTRAINT failure_modes_guardrail_ci_behavior
        CHECK (remediate_kind <> 'guardrail' OR ci_behavior IS DISTINCT FROM 'non_blocking_until_fixed')
);
COMMENT ON TABLE ops.failure_modes IS
    'One row per taxonomy code, synced from ssot/errors/failure_modes.yaml. `position` is the YAML order (a tie-breaker in classification).';
COMMENT ON COLUMN ops.failure_modes.ci_behavior IS
    'Whether a finding of this code blocks a merge (ssot `ci_behavior:`): blocking, non_blocking (the merge gate lists '
    'it, ops.gate_findings.blocking false, and does not block), non_blocking_until_fixed; NULL counts as blocking.';
COMMENT ON CONSTRAINT failure_modes_guardrail_ci_behavior ON ops.failure_modes IS
    'A guardrail code is blocking or non_blocking for the merge gate (ops.gate_findings.blocking); '
    'non_blocking_until_fixed is refused for it.';
COMMENT ON COLUMN ops.failure_modes.grouping IS
    'The fingerprint rule of the code (ssot `grouping:`, docs/grouping.md): message (default) groups by source, phase, code and '
    'the normalized grouping text; code by source, phase and code only, for failures whose fix never depends on the '
    'variable part; pattern by source, phase, code and the pattern that read the text (ops.classify_error''s '
    'matched_pattern), for a code whose patterns are each one product''s or pool''s own words (a connection-slot limit: '
    'which pool is full is what to fix, the numbers in its sentence are not). A change moves nothing by itself: `ops '
    'errors regroup` moves the groups whose fingerprint the rule changed. Under ''message'' one pattern may still group by '
    'itself (ops.failure_mode_patterns.grouping).';
COMMENT ON COLUMN ops.failure_modes.phases IS
    'When set, every pattern of this code matches only events whose phase is in this list.';
COMMENT ON COLUMN ops.failure_modes.escalate_within IS
    'NULL: escalate once when the lifetime count reaches escalate_after_count. Set: escalate when that many events '
    'arrive within one window (a tumbling window that opens at the first event after the previous one closed).';

CREATE TABLE ops.failure_mode_patterns (
    id       integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code     text NOT NULL REFERENCES ops.failure_modes (code) ON DELETE CASCADE,
    position integer NOT NULL,
    kind     text NOT NULL CONSTRAINT failure_mode_patterns_kind_known CHECK (kind IN ('substring', 'regex')),
    pattern  text NOT NULL CONSTRAINT failure_mode_patterns_pattern_not_empty CHECK (pattern <> ''),
    pattern_lower text GENERATED ALWAYS AS (lower(pattern)) STORED,
    sources  text[],
    phases   text[],
    priority integer NOT NULL DEFAULT 0,
    required_literals text[],
    pattern_canonical text,
    specificity integer,
    group_name text CONSTRAINT failure_mode_patterns_group_name_format CHECK (group_name ~ '^[a-z0-9][a-z0-9_.-]*$'),
    not_sources text[],
    grouping text CONSTRAINT failure_mode_patterns_grouping_known CHECK (grouping = 'pattern'),
    CONSTRAINT failure_mode_patterns_code_position_key UNIQUE (code, position)
);
COMMENT ON TABLE ops.failure_mode_patterns IS
    'Detection patterns per code. Matching is case-insensitive; regexes use the syntax PostgreSQL ARE and Python re share.';
COMMENT ON COLUMN ops.failure_mode_patterns.required_literals IS
    'For a regex: lower-case literals of which every match contains one (computed by the sync from the regex). The '
    'regex runs only when the message contains one of them: PostgreSQL caches only 32 compiled regexes per session.';
COMMENT ON COLUMN ops.failure_mode_patterns.pattern_canonical IS
    'A substring pattern in ops.canonical_text() form (what the message''s canonical form is searched for); NULL for a regex. '
    'Set by trigger failure_mode_patterns_facts.';
COMMENT ON COLUMN ops.failure_mode_patterns.group_name IS
    'ssot `group:` (docs/grouping.md, "Grouping by pattern"): under a code''s grouping rule ''pattern'', the patterns of '
    'the code that share a name are one group, keyed by the first of them (ops.pattern_group_key): one product''s '
    'several wordings of one failure. NULL: the pattern is a group of its own. Lower-case letters, digits, ".", "_", "-".';
COMMENT ON COLUMN ops.failure_mode_patterns.not_sources IS
    'ssot `not_sources:`: the pattern is no candidate for an event from these sources (docs/classification.md). Unlike '
    '`sources`, it is no restriction (precedence step 3 does not count it): it takes one product''s own words away from '
    'a broad pattern without making the pattern outrank its equals elsewhere. NULL: no source is excluded.';
COMMENT ON COLUMN ops.failure_mode_patterns.grouping IS
    'ssot `grouping: pattern` on a pattern (docs/grouping.md, "One pattern grouped by itself"): under a code whose '
    'grouping rule is ''message'', every event this pattern reads is grouped by the pattern (or the first pattern of its '
    'group name), as a code grouped by pattern is (ops.grouping_rule(code, pattern)); the code''s other patterns still '
    'group by message. For one product''s sentence whose variable part is never what to fix. NULL: the code''s rule. '
    '`ops ssot check` refuses it under a code grouped by code or by pattern, and where patterns that share a group name '
    'or a text disagree.';
COMMENT ON COLUMN ops.failure_mode_patterns.specificity IS
    'Literal characters every match contains (substring: canonical length; regex: ops_private.regex_literal_length). '
    'Step 5 of the classification rule. Set by trigger failure_mode_patterns_facts.';

-- The patterns that group by themselves, for ops.grouping_rule(code, pattern), which ops.error_fingerprint asks on
-- every new text: a probe of the few such rows, not a walk over a large code's patterns.
CREATE INDEX failure_mode_patterns_own_grouping_idx ON ops.failure_mode_patterns (code, pattern)
    WHERE grouping = 'pattern';

CREATE TABLE ops.redaction_rules (
    name        text PRIMARY KEY,
    position    integer NOT NULL,
    pattern     text NOT NULL,
    replacement text NOT NULL,
    flags       text NOT NULL DEFAULT 'g' CONSTRAINT redaction_rules_flags_known CHECK (flags IN ('g', 'gi')),
    prefilter   text[]
);
COMMENT ON TABLE ops.redaction_rules IS
    'Secret-redaction rules (ssot/errors/redaction.yaml), applied in position order by ops.redact() before anything is stored or hashed.';
COMMENT ON COLUMN ops.redaction_rules.prefilter IS
    'Lower-case substrings of which any text the rule can match contains one; the rule''s regex runs only then.';

CREATE TABLE ops.ssot_state (
    name      text PRIMARY KEY,
    sha256    text NOT NULL,
    path      text NOT NULL,
    synced_at timestamptz NOT NULL DEFAULT now(),
    detail    jsonb NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE ops.ssot_state IS 'SHA-256 of each SSOT file as last synced; `ops ssot diff` compares against it.';

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

CREATE FUNCTION ops.sync_ssot(doc jsonb) RETURNS jsonb
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
