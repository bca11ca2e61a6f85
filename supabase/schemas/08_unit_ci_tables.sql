-- Unit CI tables (`stratt ci`, `stratt publish`): run records, findings over time, the snapshot the
-- checks read (unlogged: a run's scratch space), and the registry of published units.
-- Python parses and fingerprints; everything relational happens in SQL.
--
-- A run: ops.begin_unit_ci() stores the parsed snapshot in one statement and returns the run id;
-- ops.run_unit_checks() runs FM-01..FM-07 and FM-09 in order, records one event per check and per
-- finding, upserts ops.convergence_findings, feeds blocking/critical findings to ops.record_errors(),
-- sets the exit code and drops the snapshot. Each check is also callable on its own (pgTAP does).

CREATE TABLE ops.maintenance_runs (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind           text NOT NULL CONSTRAINT maintenance_runs_kind_known CHECK (kind IN ('unit_ci', 'publish')),
    scope          text NOT NULL,
    council        text,
    paths          text[] NOT NULL DEFAULT '{}',
    status         text NOT NULL DEFAULT 'running' CONSTRAINT maintenance_runs_status_known
                   CHECK (status IN ('running', 'passed', 'warned', 'failed', 'error')),
    exit_code      integer,
    units_count    integer NOT NULL DEFAULT 0,
    councils_count integer NOT NULL DEFAULT 0,
    findings_count integer NOT NULL DEFAULT 0,
    critical_count integer NOT NULL DEFAULT 0,
    blocking_count integer NOT NULL DEFAULT 0,
    warning_count  integer NOT NULL DEFAULT 0,
    parse_ms       integer,
    started_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at    timestamptz,
    duration_ms    integer,
    summary        jsonb NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE ops.maintenance_runs IS
    'One row per scanner run (`stratt ci` or `stratt publish`): what was scanned (scope = council + paths), the '
    'outcome, the exit code, counts and duration. Events are in ops.maintenance_run_events.';
COMMENT ON COLUMN ops.maintenance_runs.scope IS
    'What the run looked at, as a stable key: kind, council (or *) and the sorted paths. Findings resolve per scope.';
COMMENT ON COLUMN ops.maintenance_runs.status IS
    'running | passed (exit 0, nothing to say) | warned (exit 0 with warnings) | failed (a check failed) | error '
    '(the run could not judge: no units, unknown council, infrastructure).';
COMMENT ON COLUMN ops.maintenance_runs.exit_code IS
    '0 pass, 1 blocking, 2 tampered (FM-01), 3 broken import (FM-02), 4 infrastructure (publish), 64 usage, 70 internal.';
COMMENT ON COLUMN ops.maintenance_runs.duration_ms IS 'Wall time from parsing to the last event, in milliseconds.';
CREATE INDEX maintenance_runs_scope_started_idx ON ops.maintenance_runs (scope, started_at DESC);

CREATE TABLE ops.maintenance_run_events (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id              bigint NOT NULL REFERENCES ops.maintenance_runs (id) ON DELETE CASCADE,
    kind                text NOT NULL CONSTRAINT maintenance_run_events_kind_known CHECK (kind IN ('check', 'finding')),
    check_alias         text NOT NULL,
    code                text,
    outcome             text NOT NULL CONSTRAINT maintenance_run_events_outcome_known
                        CHECK (outcome IN ('pass', 'fail', 'warn', 'skipped', 'waived')),
    severity            text CONSTRAINT maintenance_run_events_severity_known
                        CHECK (severity IN ('critical', 'blocking', 'warning', 'infrastructure')),
    unit_address        text,
    file                text,
    line                integer,
    message             text NOT NULL,
    fix                 text,
    runbook             text,
    finding_fingerprint text,
    details             jsonb NOT NULL DEFAULT '{}',
    created_at          timestamptz NOT NULL DEFAULT clock_timestamp()
);
COMMENT ON TABLE ops.maintenance_run_events IS
    'What a run found, in order: one `check` event per check (pass, fail, warn, or skipped with the reason in '
    'message) followed by one `finding` event per problem (unit, file, line, code, severity, message, fix, details).';
COMMENT ON COLUMN ops.maintenance_run_events.check_alias IS 'FM-01..FM-09, SCHEMA (files that failed validation) or WAIVERS.';
COMMENT ON COLUMN ops.maintenance_run_events.finding_fingerprint IS
    'Stable identity of a finding across runs (sha256 of code and what it is about); waivers name it.';
CREATE INDEX maintenance_run_events_run_idx ON ops.maintenance_run_events (run_id, id);

CREATE TABLE ops.convergence_findings (
    scope           text NOT NULL,
    fingerprint     text NOT NULL,
    code            text NOT NULL,
    alias           text NOT NULL,
    severity        text NOT NULL,
    unit_address    text,
    file            text,
    line            integer,
    message         text NOT NULL,
    details         jsonb NOT NULL DEFAULT '{}',
    status          text NOT NULL DEFAULT 'open' CONSTRAINT convergence_findings_status_known
                    CHECK (status IN ('open', 'waived', 'resolved')),
    first_run_id    bigint NOT NULL,
    last_run_id     bigint NOT NULL,
    first_seen_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at    timestamptz NOT NULL DEFAULT now(),
    occurrences     integer NOT NULL DEFAULT 1,
    resolved_at     timestamptz,
    resolved_run_id bigint,
    reopen_count    integer NOT NULL DEFAULT 0,
    CONSTRAINT convergence_findings_pkey PRIMARY KEY (scope, fingerprint)
);
COMMENT ON TABLE ops.convergence_findings IS
    'Blocking and critical unit-CI findings over time, one row per (scope, finding fingerprint): open while runs '
    'report it, resolved when a later run on the same scope no longer does, reopened (reopen_count + 1) if it returns.';
COMMENT ON COLUMN ops.convergence_findings.status IS 'open | waived (reported but covered by a valid waiver) | resolved.';
CREATE INDEX convergence_findings_open_idx ON ops.convergence_findings (scope) WHERE status <> 'resolved';
CREATE INDEX convergence_findings_guardrail_fingerprint_idx ON ops.convergence_findings (fingerprint)
    WHERE scope LIKE 'guardrail|%';


CREATE UNLOGGED TABLE ops.unit_snapshot (
    run_id               bigint NOT NULL REFERENCES ops.maintenance_runs (id) ON DELETE CASCADE,
    address              text NOT NULL,
    name                 text NOT NULL,
    domain               text NOT NULL,
    type                 text NOT NULL,
    slug                 text NOT NULL,
    version              text NOT NULL,
    major                integer NOT NULL,
    minor                integer NOT NULL,
    patch                integer NOT NULL,
    prerelease           text,
    status               text NOT NULL,
    fingerprint          text,
    computed_fingerprint text NOT NULL,
    council              text,
    file                 text NOT NULL,
    line                 integer NOT NULL,
    doc                  jsonb NOT NULL,
    lines                jsonb NOT NULL DEFAULT '{}',
    CONSTRAINT unit_snapshot_pkey PRIMARY KEY (run_id, address)
);
COMMENT ON TABLE ops.unit_snapshot IS
    'The units a run parsed (one row each, the parts of the document the checks read as jsonb, line numbers in '
    '`lines`). Written by ops.begin_unit_ci(), read by the checks, deleted when the run finishes. Unlogged: a '
    'snapshot is transient and rebuilt by rerunning the scan, so it does not pay for WAL (a crash empties it, which '
    'only fails running scans).';
COMMENT ON COLUMN ops.unit_snapshot.doc IS
    'The unit''s document as the checks read it: stratt sends its imports, composition, council, overrides, contract, '
    'requires and deprecation (worker.units.load.SNAPSHOT_KEYS); address, version, status and fingerprint are '
    'columns of the row. Any subset of the document is accepted.';

-- FM-07 and FM-01 look up other versions of a name in the universe (the snapshot, then the registry): the
-- registry has published_units_name_version_idx; without its twin here every lookup scanned the snapshot.
CREATE INDEX unit_snapshot_name_version_idx ON ops.unit_snapshot (run_id, name, major DESC, minor DESC, patch DESC);

CREATE UNLOGGED TABLE ops.unit_snapshot_edges (
    run_id       bigint NOT NULL,
    from_address text NOT NULL,
    to_address   text NOT NULL,
    kind         text NOT NULL CONSTRAINT unit_snapshot_edges_kind_known CHECK (kind IN ('import', 'step')),
    step_id      text,
    ord          integer NOT NULL,
    line         integer,
    CONSTRAINT unit_snapshot_edges_pkey PRIMARY KEY (run_id, from_address, kind, ord)
);
COMMENT ON TABLE ops.unit_snapshot_edges IS
    'Every reference of a snapshot unit: its imports and, for chains, each step''s unit (kind = step). Derived from '
    'ops.unit_snapshot by ops.begin_unit_ci() and deleted with it (no foreign key: one statement each way, no per-row checks).';
CREATE INDEX unit_snapshot_edges_target_idx ON ops.unit_snapshot_edges (run_id, to_address);

CREATE UNLOGGED TABLE ops.council_snapshot (
    run_id     bigint NOT NULL REFERENCES ops.maintenance_runs (id) ON DELETE CASCADE,
    council_id text NOT NULL,
    domain     text,
    version    text,
    file       text NOT NULL,
    line       integer NOT NULL,
    doc        jsonb NOT NULL,
    CONSTRAINT council_snapshot_pkey PRIMARY KEY (run_id, council_id)
);
COMMENT ON TABLE ops.council_snapshot IS 'The councils a run parsed (agents, capabilities, protectedAgents) as jsonb.';

CREATE UNLOGGED TABLE ops.unit_baselines (
    run_id  bigint NOT NULL REFERENCES ops.maintenance_runs (id) ON DELETE CASCADE,
    address text NOT NULL,
    name    text NOT NULL,
    version text NOT NULL,
    major   integer NOT NULL,
    minor   integer NOT NULL,
    patch   integer NOT NULL,
    doc     jsonb NOT NULL,
    CONSTRAINT unit_baselines_pkey PRIMARY KEY (run_id, address)
);
COMMENT ON TABLE ops.unit_baselines IS
    'Units from `stratt ci --against DIR`: when a run has any, FM-05 and FM-06 compare with them instead of the registry.';
-- The --against baseline of each unit (ops_private.unit_baseline) is the highest version of its name in the run:
-- without this index every unit scanned every baseline (10,000 units: 33 s instead of 8 s).
CREATE INDEX unit_baselines_name_version_idx ON ops.unit_baselines (run_id, name, major DESC, minor DESC, patch DESC);

CREATE TABLE ops.published_units (
    address            text PRIMARY KEY,
    name               text NOT NULL,
    domain             text NOT NULL,
    type               text NOT NULL,
    slug               text NOT NULL,
    version            text NOT NULL,
    major              integer NOT NULL,
    minor              integer NOT NULL,
    patch              integer NOT NULL,
    prerelease         text,
    fingerprint        text NOT NULL CONSTRAINT published_units_fingerprint_format CHECK (fingerprint ~ '^blake3:[0-9a-f]{64}$'),
    status             text NOT NULL CONSTRAINT published_units_status_known
                       CHECK (status IN ('draft', 'review', 'stable', 'deprecated', 'tampered', 'tombstoned')),
    council            text,
    store              text NOT NULL,
    object_key         text NOT NULL,
    document           jsonb NOT NULL,
    publish_run_id     bigint REFERENCES ops.maintenance_runs (id),
    published_at       timestamptz NOT NULL DEFAULT now(),
    deprecation_reason text,
    successor          text,
    deprecated_at      timestamptz
);
COMMENT ON TABLE ops.published_units IS
    'The registry: one row per published unit version. Content is immutable (same address, same fingerprint); '
    'only the lifecycle columns (status, deprecation) change. The object itself lives in `store` under `object_key`.';
COMMENT ON COLUMN ops.published_units.name IS 'The address without its version (strat://domain/type/slug).';
CREATE INDEX published_units_name_version_idx ON ops.published_units (name, major DESC, minor DESC, patch DESC);

CREATE TABLE ops.published_unit_edges (
    from_address text NOT NULL REFERENCES ops.published_units (address) ON DELETE CASCADE,
    to_address   text NOT NULL,
    kind         text NOT NULL CONSTRAINT published_unit_edges_kind_known CHECK (kind IN ('import', 'step')),
    step_id      text,
    ord          integer NOT NULL,
    CONSTRAINT published_unit_edges_pkey PRIMARY KEY (from_address, kind, ord)
);
COMMENT ON TABLE ops.published_unit_edges IS 'References (imports, step units) of published units, for resolution and blast radius.';
CREATE INDEX published_unit_edges_target_idx ON ops.published_unit_edges (to_address);

CREATE FUNCTION ops_private.unit_name(address text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN split_part(address, '@', 1);
COMMENT ON FUNCTION ops_private.unit_name(text) IS 'strat://d/t/slug@1.2.3 -> strat://d/t/slug.';

-- Blast radius in time proportional to the radius, not to the registry: each BFS level looks up the
-- references to the frontier's names through an index on the target's name, instead of scanning every
-- edge of the run and the registry (10,000 units, 100 findings: 95 s of blast radius became about 3 s).
-- Not CONCURRENTLY (migrations run in one transaction): the snapshot tables are empty between runs and
-- the registry's edge table is small, so the write lock is held for moments.
CREATE INDEX unit_snapshot_edges_target_name_idx ON ops.unit_snapshot_edges (run_id, ops_private.unit_name(to_address));
CREATE INDEX published_unit_edges_target_name_idx ON ops.published_unit_edges (ops_private.unit_name(to_address));

-- The report's views over unit CI (`ops report`; the others are in 07_views.sql).

CREATE VIEW ops.report_unit_checks AS
SELECT m.id AS run_id,
       m.started_at,
       m.scope,
       m.council,
       ev.check_alias,
       ev.outcome
FROM ops.maintenance_run_events ev
JOIN ops.maintenance_runs m ON m.id = ev.run_id
WHERE ev.kind = 'check' AND m.kind = 'unit_ci';
COMMENT ON VIEW ops.report_unit_checks IS
    'Unit-CI checks (`stratt ci`), one row per check per run. Pass rate per check: (pass + warn) / (pass + warn + '
    'fail), skipped and waived left out (a warning does not fail a run: exit 0).';
COMMENT ON COLUMN ops.report_unit_checks.run_id IS 'The ops.maintenance_runs row.';
COMMENT ON COLUMN ops.report_unit_checks.started_at IS 'When the run started.';
COMMENT ON COLUMN ops.report_unit_checks.scope IS 'What the run looked at (kind, council, paths).';
COMMENT ON COLUMN ops.report_unit_checks.council IS 'The council checked.';
COMMENT ON COLUMN ops.report_unit_checks.check_alias IS 'FM-01..FM-09, SCHEMA or WAIVERS.';
COMMENT ON COLUMN ops.report_unit_checks.outcome IS 'pass, fail, warn, skipped or waived.';

CREATE VIEW ops.report_open_findings AS
SELECT f.scope,
       f.fingerprint,
       f.code,
       f.alias,
       f.severity,
       f.unit_address,
       f.file,
       f.line,
       f.message,
       f.first_seen_at,
       f.last_seen_at,
       f.occurrences
FROM ops.convergence_findings f
WHERE f.status = 'open';
COMMENT ON VIEW ops.report_open_findings IS 'Blocking and critical findings still open (not resolved, not waived), oldest first by first_seen_at.';
COMMENT ON COLUMN ops.report_open_findings.scope IS 'What the run that found it looked at.';
COMMENT ON COLUMN ops.report_open_findings.fingerprint IS 'Stable identity of the finding.';
COMMENT ON COLUMN ops.report_open_findings.code IS 'Failure-mode code.';
COMMENT ON COLUMN ops.report_open_findings.alias IS 'The check (FM-01..FM-09).';
COMMENT ON COLUMN ops.report_open_findings.severity IS 'critical or blocking.';
COMMENT ON COLUMN ops.report_open_findings.unit_address IS 'The unit it is about, if any.';
COMMENT ON COLUMN ops.report_open_findings.file IS 'File, if any.';
COMMENT ON COLUMN ops.report_open_findings.line IS 'Line, if any.';
COMMENT ON COLUMN ops.report_open_findings.message IS 'What is wrong.';
COMMENT ON COLUMN ops.report_open_findings.first_seen_at IS 'First run that reported it.';
COMMENT ON COLUMN ops.report_open_findings.last_seen_at IS 'Latest run that reported it.';
COMMENT ON COLUMN ops.report_open_findings.occurrences IS 'Runs that reported it.';
