-- The failure-mode taxonomy: a synced copy of ssot/errors/*.yaml (`ops ssot sync` writes these
-- tables; nothing else should). Lookup tables, not enums, because the SSOT changes.

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
    aliases              text[] NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE ops.failure_modes IS
    'One row per taxonomy code, synced from ssot/errors/failure_modes.yaml. `position` is the YAML order (a tie-breaker in classification).';
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
    CONSTRAINT failure_mode_patterns_code_position_key UNIQUE (code, position)
);
COMMENT ON TABLE ops.failure_mode_patterns IS
    'Detection patterns per code. Matching is case-insensitive; regexes use the syntax PostgreSQL ARE and Python re share.';
COMMENT ON COLUMN ops.failure_mode_patterns.required_literals IS
    'For a regex: lower-case literals of which every match contains one (computed by the sync from the regex). The '
    'regex runs only when the message contains one of them: PostgreSQL caches only 32 compiled regexes per session.';

CREATE TABLE ops.redaction_rules (
    name        text PRIMARY KEY,
    position    integer NOT NULL,
    pattern     text NOT NULL,
    replacement text NOT NULL,
    flags       text NOT NULL DEFAULT 'g' CONSTRAINT redaction_rules_flags_known CHECK (flags IN ('g', 'gi')),
    prefilter   text[]
);
COMMENT ON COLUMN ops.redaction_rules.prefilter IS
    'Lower-case substrings of which any text the rule can match contains one; the rule''s regex runs only then.';
COMMENT ON TABLE ops.redaction_rules IS
    'Secret-redaction rules (ssot/errors/redaction.yaml), applied in position order by ops.redact() before anything is stored or hashed.';

CREATE TABLE ops.ssot_state (
    name      text PRIMARY KEY,
    sha256    text NOT NULL,
    path      text NOT NULL,
    synced_at timestamptz NOT NULL DEFAULT now(),
    detail    jsonb NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE ops.ssot_state IS 'SHA-256 of each SSOT file as last synced; `ops ssot diff` compares against it.';
