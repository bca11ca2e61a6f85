-- Unit CI (`stratt ci`, `stratt publish`): run records, findings, the snapshot the checks read and the
-- registry of published units. Python parses and fingerprints; everything relational happens here.
--
-- A run: ops.begin_unit_ci() stores the parsed snapshot in one statement and returns the run id;
-- ops.run_unit_checks() runs FM-01..FM-07 and FM-09 in order, records one event per check and per
-- finding, upserts ops.convergence_findings, feeds blocking/critical findings to ops.record_errors(),
-- sets the exit code and drops the snapshot. Each check is also callable on its own (pgTAP does).

-- ---------------------------------------------------------------------------------------- run records

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

-- ---------------------------------------------------------------------------------------- snapshot

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
    'The units a run parsed (one row each, the document as jsonb, line numbers in `lines`). Written by '
    'ops.begin_unit_ci(), read by the checks, deleted when the run finishes. Unlogged: a snapshot is transient and '
    'rebuilt by rerunning the scan, so it does not pay for WAL (a crash empties it, which only fails running scans).';

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

-- ---------------------------------------------------------------------------------------- registry

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

-- ---------------------------------------------------------------------------------------- helpers

CREATE FUNCTION ops_private.unit_name(address text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN split_part(address, '@', 1);
COMMENT ON FUNCTION ops_private.unit_name(text) IS 'strat://d/t/slug@1.2.3 -> strat://d/t/slug.';

CREATE FUNCTION ops_private.unit_universe(p_run bigint)
RETURNS TABLE (address text, name text, type text, major integer, minor integer, patch integer, status text,
               doc jsonb, origin text)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT s.address, s.name, s.type, s.major, s.minor, s.patch, s.status, s.doc, 'paths'
    FROM ops.unit_snapshot s WHERE s.run_id = p_run
    UNION ALL
    SELECT p.address, p.name, p.type, p.major, p.minor, p.patch, p.status, p.document, 'registry'
    FROM ops.published_units p
    WHERE NOT EXISTS (SELECT FROM ops.unit_snapshot s WHERE s.run_id = p_run AND s.address = p.address);
END;
COMMENT ON FUNCTION ops_private.unit_universe(bigint) IS
    'Every unit a reference can resolve to in a run: the snapshot, then the registry for addresses not in it.';

CREATE FUNCTION ops_private.unit_graph(p_run bigint)
RETURNS TABLE (from_address text, to_address text, kind text, step_id text, line integer)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT e.from_address, e.to_address, e.kind, e.step_id, e.line FROM ops.unit_snapshot_edges e WHERE e.run_id = p_run
    UNION ALL
    SELECT e.from_address, e.to_address, e.kind, e.step_id, NULL::integer FROM ops.published_unit_edges e
    WHERE p_run IS NULL
       OR NOT EXISTS (SELECT FROM ops.unit_snapshot s WHERE s.run_id = p_run AND s.address = e.from_address);
END;
COMMENT ON FUNCTION ops_private.unit_graph(bigint) IS
    'Every reference in a run (snapshot edges plus registry edges of units not in the snapshot); the registry '
    'alone when p_run is NULL.';

CREATE FUNCTION ops_private.bump_kind(from_major integer, from_minor integer, from_patch integer,
                                      to_major integer, to_minor integer, to_patch integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
    WHEN to_major > from_major THEN 'major'
    WHEN to_major = from_major AND from_major = 0 AND to_minor > from_minor THEN 'major'
    WHEN to_major = from_major AND to_minor > from_minor THEN 'minor'
    WHEN to_major = from_major AND to_minor = from_minor AND to_patch > from_patch THEN 'patch'
    ELSE 'none' END;
COMMENT ON FUNCTION ops_private.bump_kind(integer, integer, integer, integer, integer, integer) IS
    'The bump from one version to another: major | minor | patch | none. At 0.x a minor bump counts as major.';

CREATE FUNCTION ops_private.next_version(major integer, minor integer, patch integer, bump text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
    WHEN bump = 'major' AND major = 0 THEN format('0.%s.0', minor + 1)
    WHEN bump = 'major' THEN format('%s.0.0', major + 1)
    WHEN bump = 'minor' THEN format('%s.%s.0', major, minor + 1)
    ELSE format('%s.%s.%s', major, minor, patch + 1) END;
COMMENT ON FUNCTION ops_private.next_version(integer, integer, integer, text) IS
    'The smallest version after major.minor.patch that makes a bump of the given kind (0.x: 0.(minor+1).0 is major).';

CREATE FUNCTION ops_private.unit_baseline(p_run bigint)
RETURNS TABLE (address text, base_address text, base_version text, base_major integer, base_minor integer,
               base_patch integer, base_doc jsonb, origin text)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT s.address, b.address, b.version, b.major, b.minor, b.patch, b.doc, b.origin
    FROM ops.unit_snapshot s
    CROSS JOIN LATERAL (
        SELECT x.address, x.version, x.major, x.minor, x.patch, x.doc, x.origin FROM (
            SELECT a.address, a.version, a.major, a.minor, a.patch, a.doc, 'against' AS origin
            FROM ops.unit_baselines a
            WHERE a.run_id = p_run AND a.name = s.name AND (a.major, a.minor, a.patch) <= (s.major, s.minor, s.patch)
            UNION ALL
            SELECT p.address, p.version, p.major, p.minor, p.patch, p.document, 'registry'
            FROM ops.published_units p
            WHERE NOT EXISTS (SELECT FROM ops.unit_baselines a WHERE a.run_id = p_run)
              AND p.name = s.name AND (p.major, p.minor, p.patch) < (s.major, s.minor, s.patch)
        ) x
        ORDER BY x.major DESC, x.minor DESC, x.patch DESC
        LIMIT 1
    ) b
    WHERE s.run_id = p_run;
END;
COMMENT ON FUNCTION ops_private.unit_baseline(bigint) IS
    'The version each snapshot unit is compared with by FM-05/FM-06: the highest --against unit at or below it, '
    'or else the highest published version strictly below it.';

CREATE FUNCTION ops_private.step_capabilities(step jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ARRAY(
    SELECT jsonb_array_elements_text(CASE jsonb_typeof(step -> 'requires')
        WHEN 'array' THEN step -> 'requires'
        WHEN 'object' THEN coalesce(step -> 'requires' -> 'capabilities', '[]')
        ELSE '[]' END));
COMMENT ON FUNCTION ops_private.step_capabilities(jsonb) IS
    'Capabilities a chain step requires itself: `requires: [..]` or `requires: {capabilities: [..]}`.';

-- ---------------------------------------------------------------------------------------- the run

CREATE FUNCTION ops.begin_unit_ci(kind text, scope text, council text, paths text[], units jsonb, councils jsonb,
                                  baselines jsonb DEFAULT '[]', problems jsonb DEFAULT '[]', parse_ms integer DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, ops
AS $$
DECLARE
    run bigint;
BEGIN
    INSERT INTO ops.maintenance_runs AS r (kind, scope, council, paths, units_count, councils_count, parse_ms, started_at)
    VALUES (begin_unit_ci.kind, begin_unit_ci.scope, begin_unit_ci.council, coalesce(begin_unit_ci.paths, '{}'),
            jsonb_array_length(units), jsonb_array_length(councils), begin_unit_ci.parse_ms,
            clock_timestamp() - make_interval(secs => coalesce(begin_unit_ci.parse_ms, 0) / 1000.0))
    RETURNING r.id INTO run;

    INSERT INTO ops.unit_snapshot (run_id, address, name, domain, type, slug, version, major, minor, patch, prerelease,
                                   status, fingerprint, computed_fingerprint, council, file, line, doc, lines)
    SELECT run, u.address, u.name, u.domain, u.type, u.slug, u.version, u.major, u.minor, u.patch, u.prerelease,
           u.status, u.fingerprint, u.computed, u.council, u.file, u.line, u.doc, coalesce(u.lines, '{}')
    FROM jsonb_to_recordset(units) AS u (address text, name text, domain text, type text, slug text, version text,
        major integer, minor integer, patch integer, prerelease text, status text, fingerprint text, computed text,
        council text, file text, line integer, doc jsonb, lines jsonb);

    INSERT INTO ops.unit_snapshot_edges (run_id, from_address, to_address, kind, step_id, ord, line)
    SELECT run, s.address, i.target, 'import', NULL, i.ord::integer, (s.lines -> 'imports' ->> (i.ord::integer - 1))::integer
    FROM ops.unit_snapshot s
    CROSS JOIN LATERAL jsonb_array_elements_text(coalesce(s.doc -> 'imports', '[]')) WITH ORDINALITY AS i (target, ord)
    WHERE s.run_id = run
    UNION ALL
    SELECT run, s.address, st.step ->> 'unit', 'step', st.step ->> 'id', st.ord::integer,
           (s.lines -> 'steps' ->> (st.ord::integer - 1))::integer
    FROM ops.unit_snapshot s
    CROSS JOIN LATERAL jsonb_array_elements(coalesce(s.doc -> 'composition' -> 'steps', '[]')) WITH ORDINALITY AS st (step, ord)
    WHERE s.run_id = run AND st.step ->> 'unit' IS NOT NULL;

    INSERT INTO ops.council_snapshot (run_id, council_id, domain, version, file, line, doc)
    SELECT run, c.id, c.domain, c.version, c.file, c.line, c.doc
    FROM jsonb_to_recordset(councils) AS c (id text, domain text, version text, file text, line integer, doc jsonb);

    INSERT INTO ops.unit_baselines (run_id, address, name, version, major, minor, patch, doc)
    SELECT run, b.address, b.name, b.version, b.major, b.minor, b.patch, b.doc
    FROM jsonb_to_recordset(coalesce(baselines, '[]')) AS b (address text, name text, version text, major integer,
        minor integer, patch integer, doc jsonb);

    INSERT INTO ops.maintenance_run_events (run_id, kind, check_alias, code, outcome, severity, unit_address, file,
                                            line, message, fix, runbook, finding_fingerprint, details)
    SELECT run, 'finding', 'SCHEMA', 'UNIT.SCHEMA_INVALID', 'fail', 'blocking', p.address, p.file, p.line, p.message,
           'make the file valid against ssot/schemas/unit.schema.json (or council.schema.json); `stratt validate PATH`',
           'docs/unit-ci.md#schema',
           encode(sha256(convert_to('UNIT.SCHEMA_INVALID|' || p.file || '|' || p.message, 'UTF8')), 'hex'), '{}'
    FROM jsonb_to_recordset(coalesce(problems, '[]')) AS p (file text, line integer, message text, address text)
    ORDER BY p.file, p.line;
    RETURN run;
END
$$;
COMMENT ON FUNCTION ops.begin_unit_ci(text, text, text, text[], jsonb, jsonb, jsonb, jsonb, integer) IS
    'Start a scanner run and store its snapshot in one call: units and councils as JSON arrays (as stratt builds '
    'them), optional --against baselines and the files that failed parsing or validation (recorded as SCHEMA '
    'findings). Returns the run id for ops.run_unit_checks().';

-- ---------------------------------------------------------------------------------------- the checks
-- Every check returns the same columns, ops.unit_finding; `key` says what the finding is about, stably across runs.

CREATE TYPE ops.unit_finding AS (alias text, code text, severity text, unit_address text, file text,
                                         line integer, message text, fix text, key text, details jsonb);
COMMENT ON TYPE ops.unit_finding IS 'One finding as every check returns it: the result type of every ops.check_* function.';

CREATE FUNCTION ops.check_fingerprints(p_run bigint)
RETURNS SETOF ops.unit_finding
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT 'FM-01', 'UNIT.FINGERPRINT_TAMPER', 'critical', s.address, s.file, (s.lines ->> 'fingerprint')::integer,
           format('%s declares %s but its content hashes to %s', s.address, s.fingerprint, s.computed_fingerprint),
           format('if the edit is intended, bump to %s and run `stratt fingerprint --update %s`; otherwise restore the content',
                  ops_private.next_version(s.major, s.minor, s.patch, 'patch'), s.file),
           s.name || '|mismatch',
           jsonb_build_object('declared', s.fingerprint, 'computed', s.computed_fingerprint)
    FROM ops.unit_snapshot s
    WHERE s.run_id = p_run AND s.fingerprint IS NOT NULL AND s.fingerprint <> s.computed_fingerprint
    UNION ALL
    SELECT 'FM-01', 'UNIT.FINGERPRINT_TAMPER', 'critical', s.address, s.file, (s.lines ->> 'status')::integer,
           format('%s has status %s but no fingerprint', s.address, s.status),
           format('run `stratt fingerprint --update %s` (or set status: draft)', s.file),
           s.name || '|missing',
           jsonb_build_object('status', s.status, 'computed', s.computed_fingerprint)
    FROM ops.unit_snapshot s
    WHERE s.run_id = p_run AND s.fingerprint IS NULL AND s.status IN ('review', 'stable', 'deprecated')
    UNION ALL
    SELECT 'FM-01', 'UNIT.FINGERPRINT_TAMPER', 'critical', s.address, s.file, e.line,
           format('%s %s %s, whose status is tampered', s.address,
                  CASE e.kind WHEN 'import' THEN 'imports' ELSE 'runs (' || e.step_id || ')' END, e.to_address),
           format('import a verified version of %s (`stratt verify`) or republish it as %s', u.name,
                  ops_private.next_version(u.major, u.minor, u.patch, 'patch')),
           s.name || '|imports-tampered|' || e.to_address,
           jsonb_build_object('target', e.to_address, 'target_origin', u.origin)
    FROM ops.unit_snapshot s
    JOIN ops.unit_snapshot_edges e ON e.run_id = s.run_id AND e.from_address = s.address
    JOIN ops_private.unit_universe(p_run) u ON u.address = e.to_address
    WHERE s.run_id = p_run AND u.status = 'tampered';
END;
COMMENT ON FUNCTION ops.check_fingerprints(bigint) IS
    'FM-01 (critical): a declared fingerprint that differs from the computed one, a review/stable/deprecated unit '
    'without a fingerprint, and any reference to a unit whose status is tampered.';

CREATE FUNCTION ops.check_broken_imports(p_run bigint)
RETURNS SETOF ops.unit_finding
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT 'FM-02', 'UNIT.BROKEN_IMPORT', 'critical', s.address, s.file, e.line,
           CASE WHEN u.address IS NULL
                THEN format('%s %s %s, which resolves to no unit in the paths or the registry', s.address,
                            CASE e.kind WHEN 'import' THEN 'imports' ELSE 'runs (' || e.step_id || ')' END, e.to_address)
                ELSE format('%s %s %s, which is tombstoned', s.address,
                            CASE e.kind WHEN 'import' THEN 'imports' ELSE 'runs (' || e.step_id || ')' END, e.to_address)
           END,
           CASE WHEN avail.versions IS NULL
                THEN format('publish %s or remove the reference', e.to_address)
                ELSE format('reference an existing version of %s (%s) or publish %s',
                            ops_private.unit_name(e.to_address), array_to_string(avail.versions, ', '), e.to_address)
           END,
           s.name || '|' || e.kind || '|' || e.to_address,
           jsonb_build_object('target', e.to_address, 'kind', e.kind, 'step', e.step_id,
                              'tombstoned', u.address IS NOT NULL, 'available', to_jsonb(avail.versions))
    FROM ops.unit_snapshot s
    JOIN ops.unit_snapshot_edges e ON e.run_id = s.run_id AND e.from_address = s.address
    LEFT JOIN ops_private.unit_universe(p_run) u ON u.address = e.to_address
    LEFT JOIN LATERAL (
        SELECT array_agg(split_part(v.address, '@', 2) ORDER BY v.major, v.minor, v.patch) AS versions
        FROM ops_private.unit_universe(p_run) v
        WHERE v.name = ops_private.unit_name(e.to_address) AND v.status <> 'tombstoned'
    ) avail ON u.address IS NULL OR u.status = 'tombstoned'
    WHERE s.run_id = p_run AND (u.address IS NULL OR u.status = 'tombstoned');
END;
COMMENT ON FUNCTION ops.check_broken_imports(bigint) IS
    'FM-02 (critical): an import or a step unit that resolves (exact version) to no unit in the paths or the '
    'registry, or to a tombstoned one. The finding lists the versions that do exist.';

CREATE FUNCTION ops.check_dag_cycles(p_run bigint)
RETURNS SETOF ops.unit_finding
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, ops
AS $$
-- Kahn's algorithm orders the graph; whatever it cannot order is in a cycle or behind one. Tarjan's
-- algorithm (iterative) splits that leftover into strongly connected components; each cyclic one is
-- reported as a closed walk from its smallest address through every member and back, reached with
-- breadth-first searches that visit neighbours in address order, so the report is deterministic.
DECLARE
    finding ops.unit_finding;
    names text[];
    src integer[];
    dst integer[];
    n integer;
    m integer;
    off integer[];
    indeg integer[];
    queue integer[];
    head integer := 1;
    tail integer := 0;
    v integer;
    w integer;
    ordered integer := 0;
    -- Tarjan
    idx integer[];
    low integer[];
    onstack boolean[];
    stack integer[];
    sp integer := 0;
    frames integer[];
    fptr integer[];
    fp integer := 0;
    counter integer := 0;
    comp integer[];
    comp_of integer[];
    ncomp integer := 0;
    cyclic boolean;
    blocked text[] := ARRAY[]::text[];
    walk integer[];
    members integer[];
    cur integer;
    target integer;
    path integer[];
    prev integer[];
    bq integer[];
    bh integer;
    bt integer;
    reached boolean;
    closed text[];
    first_edge record;
    hop integer;
    in_cycle boolean[];
    leftover integer := 0;
BEGIN
    WITH e AS (
        SELECT DISTINCT g.from_address AS a, g.to_address AS b FROM ops_private.unit_graph(p_run) g
    ), nodes AS (
        SELECT x.a, row_number() OVER (ORDER BY x.a COLLATE "C")::integer AS i
        FROM (SELECT e.a FROM e UNION SELECT e.b FROM e) x
    )
    SELECT (SELECT array_agg(nodes.a ORDER BY nodes.i) FROM nodes)::text[],
           array_agg(na.i ORDER BY na.i, nb.i)::integer[], array_agg(nb.i ORDER BY na.i, nb.i)::integer[]
    INTO names, src, dst
    FROM e JOIN nodes na ON na.a = e.a JOIN nodes nb ON nb.a = e.b;
    n := coalesce(array_length(names, 1), 0);
    m := coalesce(array_length(src, 1), 0);
    IF m = 0 THEN
        RETURN;
    END IF;
    -- Compressed adjacency: the targets of v are dst[off[v] .. off[v+1]-1], in address order.
    off := array_fill(0, ARRAY[n + 1]);
    indeg := array_fill(0, ARRAY[n]);
    FOR i IN 1..m LOOP
        off[src[i] + 1] := off[src[i] + 1] + 1;
        indeg[dst[i]] := indeg[dst[i]] + 1;
    END LOOP;
    off[1] := 1;
    FOR i IN 2..n + 1 LOOP
        off[i] := off[i] + off[i - 1];
    END LOOP;

    -- Kahn
    queue := array_fill(0, ARRAY[n]);
    FOR v IN 1..n LOOP
        IF indeg[v] = 0 THEN
            tail := tail + 1;
            queue[tail] := v;
        END IF;
    END LOOP;
    WHILE head <= tail LOOP
        v := queue[head];
        head := head + 1;
        ordered := ordered + 1;
        FOR j IN off[v]..off[v + 1] - 1 LOOP
            w := dst[j];
            indeg[w] := indeg[w] - 1;
            IF indeg[w] = 0 THEN
                tail := tail + 1;
                queue[tail] := w;
            END IF;
        END LOOP;
    END LOOP;
    IF ordered = n THEN
        RETURN;
    END IF;

    -- Tarjan over the leftover (nodes Kahn could not order: indeg > 0).
    idx := array_fill(NULL::integer, ARRAY[n]);
    low := array_fill(NULL::integer, ARRAY[n]);
    onstack := array_fill(false, ARRAY[n]);
    comp_of := array_fill(0, ARRAY[n]);
    in_cycle := array_fill(false, ARRAY[n]);
    stack := array_fill(0, ARRAY[n]);
    frames := array_fill(0, ARRAY[n]);
    fptr := array_fill(0, ARRAY[n]);
    FOR v IN 1..n LOOP
        CONTINUE WHEN indeg[v] = 0 OR idx[v] IS NOT NULL;
        counter := counter + 1;
        idx[v] := counter; low[v] := counter;
        sp := sp + 1; stack[sp] := v; onstack[v] := true;
        fp := 1; frames[1] := v; fptr[1] := off[v];
        WHILE fp > 0 LOOP
            cur := frames[fp];
            IF fptr[fp] < off[cur + 1] THEN
                w := dst[fptr[fp]];
                fptr[fp] := fptr[fp] + 1;
                CONTINUE WHEN indeg[w] = 0;
                IF idx[w] IS NULL THEN
                    counter := counter + 1;
                    idx[w] := counter; low[w] := counter;
                    sp := sp + 1; stack[sp] := w; onstack[w] := true;
                    fp := fp + 1; frames[fp] := w; fptr[fp] := off[w];
                ELSIF onstack[w] THEN
                    low[cur] := least(low[cur], idx[w]);
                END IF;
            ELSE
                fp := fp - 1;
                IF low[cur] = idx[cur] THEN
                    ncomp := ncomp + 1;
                    comp := '{}';
                    LOOP
                        w := stack[sp]; sp := sp - 1; onstack[w] := false;
                        comp_of[w] := ncomp;
                        comp := comp || w;
                        EXIT WHEN w = cur;
                    END LOOP;
                    cyclic := array_length(comp, 1) > 1;
                    IF NOT cyclic THEN
                        FOR j IN off[cur]..off[cur + 1] - 1 LOOP
                            IF dst[j] = cur THEN cyclic := true; END IF;
                        END LOOP;
                    END IF;
                    IF cyclic THEN
                        FOREACH w IN ARRAY comp LOOP in_cycle[w] := true; END LOOP;
                    END IF;
                END IF;
                IF fp > 0 THEN
                    low[frames[fp]] := least(low[frames[fp]], low[cur]);
                END IF;
            END IF;
        END LOOP;
    END LOOP;

    FOR v IN 1..n LOOP
        IF indeg[v] > 0 THEN
            leftover := leftover + 1;
            IF NOT in_cycle[v] THEN blocked := blocked || names[v]; END IF;
        END IF;
    END LOOP;

    -- One finding per cyclic component, in order of its smallest member.
    FOR i IN 1..ncomp LOOP
        members := ARRAY(SELECT x FROM generate_series(1, n) x WHERE comp_of[x] = i AND in_cycle[x] ORDER BY x);
        CONTINUE WHEN coalesce(array_length(members, 1), 0) = 0;
        walk := ARRAY[members[1]];
        cur := members[1];
        -- Visit every member in order, then return to the start: shortest paths inside the component.
        FOR j IN 2..array_length(members, 1) + 1 LOOP
            IF j <= array_length(members, 1) THEN
                target := members[j];
                CONTINUE WHEN target = ANY (walk);
            ELSE
                target := members[1];
            END IF;
            prev := array_fill(0, ARRAY[n]);
            bq := array_fill(0, ARRAY[n]);
            bh := 1; bt := 1; bq[1] := cur; prev[cur] := -1;
            reached := false;
            WHILE bh <= bt AND NOT reached LOOP
                v := bq[bh]; bh := bh + 1;
                FOR k IN off[v]..off[v + 1] - 1 LOOP
                    w := dst[k];
                    CONTINUE WHEN comp_of[w] <> i;
                    IF w = target THEN
                        path := ARRAY[w];
                        hop := v;
                        WHILE hop <> cur LOOP path := hop || path; hop := prev[hop]; END LOOP;
                        walk := walk || path;
                        reached := true;
                        EXIT;
                    END IF;
                    IF prev[w] = 0 THEN
                        prev[w] := v; bt := bt + 1; bq[bt] := w;
                    END IF;
                END LOOP;
            END LOOP;
            cur := target;
        END LOOP;
        closed := ARRAY(SELECT names[x] FROM unnest(walk) x);
        SELECT g.line, s.file INTO first_edge
        FROM ops_private.unit_graph(p_run) g JOIN ops.unit_snapshot s ON s.run_id = p_run AND s.address = g.from_address
        WHERE g.from_address = closed[1] AND g.to_address = closed[2]
        ORDER BY g.line NULLS LAST LIMIT 1;
        finding := ROW('FM-03', 'UNIT.DAG_CYCLE', 'critical', closed[1], first_edge.file, first_edge.line,
            CASE WHEN array_length(closed, 1) = 2
                 THEN format('%s references itself', closed[1])
                 ELSE 'reference cycle: ' || array_to_string(closed, ' → ') END,
            format('remove one reference of the cycle (e.g. %s → %s) and release the unit that changed with a minor bump',
                   closed[1], closed[2]),
            array_to_string(ARRAY(SELECT names[x] FROM unnest(members) x), ','),
            jsonb_build_object('cycle', to_jsonb(closed),
                               'members', to_jsonb(ARRAY(SELECT names[x] FROM unnest(members) x)),
                               'unordered', leftover, 'ordered', ordered, 'blocked', to_jsonb(blocked)));
        -- Only cycles that touch the paths are ours to report; the registry alone is immutable.
        CONTINUE WHEN NOT EXISTS (SELECT FROM ops.unit_snapshot s WHERE s.run_id = p_run
                                  AND s.address = ANY (ARRAY(SELECT names[x] FROM unnest(members) x)));
        RETURN NEXT finding;
    END LOOP;
END
$$;
COMMENT ON FUNCTION ops.check_dag_cycles(bigint) IS
    'FM-03 (critical): cycles among imports and step references, self-references included. Kahn''s algorithm '
    'orders the graph; every strongly connected component of what is left is reported as a closed walk (first = '
    'last), with the units blocked behind cycles listed in details.blocked.';

CREATE FUNCTION ops.check_protected_agents(p_run bigint, p_council text DEFAULT NULL)
RETURNS SETOF ops.unit_finding
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT 'FM-04', 'UNIT.PROTECTED_AGENT_MISSING',
           CASE WHEN ov.ok THEN 'warning' ELSE 'blocking' END,
           s.address, s.file, (s.lines ->> 'composition')::integer,
           CASE WHEN ov.ok
                THEN format('%s has no step owned by protected agent %s (%s); override approved by %s: %s',
                            s.address, d.designation, c.council_id, ov.approved_by, ov.reason)
                WHEN ov.approved_by IS NOT NULL
                THEN format('%s has no step owned by protected agent %s (%s); the override names %s, who has no gate authority',
                            s.address, d.designation, c.council_id, ov.approved_by)
                ELSE format('%s has no step owned by protected agent %s (%s, domain %s)',
                            s.address, d.designation, c.council_id, s.domain)
           END,
           format('add a step owned by %s back to the composition, or record an override {check: FM-04, agent: %s} approved by a gate-authority agent',
                  d.designation, d.designation),
           s.name || '|' || d.designation,
           jsonb_build_object('agent', d.designation, 'council', c.council_id, 'domain', s.domain,
                              'override', ov.ok, 'approved_by', ov.approved_by)
    FROM ops.unit_snapshot s
    JOIN ops.council_snapshot c ON c.run_id = s.run_id AND c.council_id = s.council
    CROSS JOIN LATERAL jsonb_array_elements_text(coalesce(c.doc -> 'protectedAgents' -> s.domain, '[]')) AS d (designation)
    LEFT JOIN LATERAL (
        SELECT o ->> 'approved_by' AS approved_by, o ->> 'reason' AS reason,
               EXISTS (SELECT FROM jsonb_array_elements(c.doc -> 'agents') a
                       WHERE a ->> 'designation' = o ->> 'approved_by' AND (a ->> 'gate_authority')::boolean) AS ok
        FROM jsonb_array_elements(coalesce(s.doc -> 'overrides', '[]')) o
        WHERE o ->> 'check' = 'FM-04' AND o ->> 'agent' = d.designation
        ORDER BY 3 DESC
        LIMIT 1
    ) ov ON true
    WHERE s.run_id = p_run AND s.type = 'chain' AND (p_council IS NULL OR s.council = p_council)
      AND NOT EXISTS (SELECT FROM jsonb_array_elements(coalesce(s.doc -> 'composition' -> 'steps', '[]')) st
                      WHERE st ->> 'agent' = d.designation);
END;
COMMENT ON FUNCTION ops.check_protected_agents(bigint, text) IS
    'FM-04 (blocking): a chain of domain D (of the given council, or any) with no step owned by one of '
    'protectedAgents[D], whatever the steps'' status. An override approved by a gate-authority agent makes it a warning.';

CREATE FUNCTION ops.check_gates(p_run bigint)
RETURNS SETOF ops.unit_finding
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT 'FM-05', 'UNIT.GATE_REMOVED', 'blocking', s.address, s.file, (s.lines ->> 'composition')::integer,
           format('gate step %s (%s, %s) of %s %s in %s without a major bump (%s → %s)',
                  bs ->> 'id', bs ->> 'agent', bs ->> 'unit', b.base_address,
                  CASE WHEN cs.step IS NULL THEN 'is gone' ELSE 'is no longer a gate' END,
                  s.version, b.base_version, s.version),
           format('restore the gate on %s, or release as %s', bs ->> 'id',
                  ops_private.next_version(b.base_major, b.base_minor, b.base_patch, 'major')),
           s.name || '|' || (bs ->> 'id'),
           jsonb_build_object('baseline', b.base_address, 'baseline_origin', b.origin, 'step', bs,
                              'removed', cs.step IS NULL,
                              'required_version', ops_private.next_version(b.base_major, b.base_minor, b.base_patch, 'major'))
    FROM ops.unit_snapshot s
    JOIN ops_private.unit_baseline(p_run) b ON b.address = s.address
    CROSS JOIN LATERAL jsonb_array_elements(coalesce(b.base_doc -> 'composition' -> 'steps', '[]')) bs
    LEFT JOIN LATERAL (
        SELECT st AS step FROM jsonb_array_elements(coalesce(s.doc -> 'composition' -> 'steps', '[]')) st
        WHERE st ->> 'id' = bs ->> 'id'
        LIMIT 1
    ) cs ON true
    WHERE s.run_id = p_run AND s.type = 'chain'
      AND coalesce((bs ->> 'gate')::boolean, false)
      AND ops_private.bump_kind(b.base_major, b.base_minor, b.base_patch, s.major, s.minor, s.patch) <> 'major'
      -- Kept: the same step id is still a gate, or a gate with the same unit (any version) and agent remains.
      AND NOT coalesce((cs.step ->> 'gate')::boolean, false)
      AND NOT EXISTS (SELECT FROM jsonb_array_elements(coalesce(s.doc -> 'composition' -> 'steps', '[]')) st
                      WHERE coalesce((st ->> 'gate')::boolean, false) AND st ->> 'agent' = bs ->> 'agent'
                        AND ops_private.unit_name(st ->> 'unit') = ops_private.unit_name(bs ->> 'unit'));
END;
COMMENT ON FUNCTION ops.check_gates(bigint) IS
    'FM-05 (blocking): against the baseline version (--against, else the highest published version below), a step '
    'that had gate: true is gone or no longer a gate and the major version did not increase (0.x: minor counts as major).';

CREATE FUNCTION ops_private.contract_changes(base jsonb, cur jsonb)
RETURNS TABLE (bump text, change text)
LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
    WITH bi AS (SELECT x ->> 'name' AS name, x ->> 'type' AS type, coalesce((x ->> 'required')::boolean, false) AS req,
                       x ? 'default' AS has_default
                FROM jsonb_array_elements(coalesce(base -> 'inputs', '[]')) x),
         ci AS (SELECT x ->> 'name' AS name, x ->> 'type' AS type, coalesce((x ->> 'required')::boolean, false) AS req,
                       x ? 'default' AS has_default
                FROM jsonb_array_elements(coalesce(cur -> 'inputs', '[]')) x),
         bo AS (SELECT x ->> 'name' AS name, x ->> 'type' AS type FROM jsonb_array_elements(coalesce(base -> 'outputs', '[]')) x),
         co AS (SELECT x ->> 'name' AS name, x ->> 'type' AS type FROM jsonb_array_elements(coalesce(cur -> 'outputs', '[]')) x)
    SELECT 'major', format('input %s removed', bi.name) FROM bi WHERE NOT EXISTS (SELECT FROM ci WHERE ci.name = bi.name)
    UNION ALL
    SELECT 'major', format('input %s made required', ci.name) FROM bi JOIN ci USING (name)
    WHERE NOT bi.req AND ci.req AND NOT ci.has_default
    UNION ALL
    SELECT 'major', format('input %s type %s → %s', ci.name, bi.type, ci.type) FROM bi JOIN ci USING (name)
    WHERE bi.type IS DISTINCT FROM ci.type
    UNION ALL
    SELECT CASE WHEN ci.req AND NOT ci.has_default THEN 'major' ELSE 'minor' END,
           format('new %s input %s', CASE WHEN ci.req AND NOT ci.has_default THEN 'required' ELSE 'optional' END, ci.name)
    FROM ci WHERE NOT EXISTS (SELECT FROM bi WHERE bi.name = ci.name)
    UNION ALL
    SELECT 'major', format('output %s removed', bo.name) FROM bo WHERE NOT EXISTS (SELECT FROM co WHERE co.name = bo.name)
    UNION ALL
    SELECT 'major', format('output %s type %s → %s', co.name, bo.type, co.type) FROM bo JOIN co USING (name)
    WHERE bo.type IS DISTINCT FROM co.type
    UNION ALL
    SELECT 'minor', format('new output %s', co.name) FROM co WHERE NOT EXISTS (SELECT FROM bo WHERE bo.name = co.name)
    UNION ALL
    SELECT 'minor', format('new failure mode %s', f ->> 'condition')
    FROM jsonb_array_elements(coalesce(cur -> 'failure_modes', '[]')) f
    WHERE NOT EXISTS (SELECT FROM jsonb_array_elements(coalesce(base -> 'failure_modes', '[]')) g
                      WHERE g ->> 'condition' = f ->> 'condition');
END;
COMMENT ON FUNCTION ops_private.contract_changes(jsonb, jsonb) IS
    'Classify the difference between two contracts: one row per change with the bump it needs (major or minor).';

CREATE FUNCTION ops.unit_blast_radius(p_run bigint, p_name text)
RETURNS TABLE (address text, depth integer, direct boolean, gate_bearing boolean, protected boolean)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, ops
AS $$
-- Reverse breadth-first search over imports and step references, by unit name (every version of a
-- dependency counts). A dependent is gate-bearing when it is a chain with a gate step, protected when
-- one of its steps is owned by an agent its council protects (councils are known only in a run).
DECLARE
    frontier text[] := ARRAY[ops_private.unit_name(p_name)];
    seen text[] := ARRAY[ops_private.unit_name(p_name)];
    level integer := 0;
    found text[];
    r record;
BEGIN
    LOOP
        level := level + 1;
        SELECT array_agg(DISTINCT g.from_address) INTO found
        FROM ops_private.unit_graph(p_run) g
        WHERE ops_private.unit_name(g.to_address) = ANY (frontier)
          AND NOT ops_private.unit_name(g.from_address) = ANY (seen);
        EXIT WHEN found IS NULL;
        FOR r IN
            SELECT u.address, u.type, u.doc, c.doc AS council_doc, ops_private.unit_name(u.address) AS domain_name,
                   split_part(split_part(u.address, '://', 2), '/', 1) AS domain
            FROM ops_private.unit_universe(p_run) u
            LEFT JOIN ops.council_snapshot c ON c.run_id = p_run AND c.council_id = u.doc ->> 'council'
            WHERE u.address = ANY (found)
            ORDER BY u.address
        LOOP
            address := r.address;
            depth := level;
            direct := level = 1;
            gate_bearing := r.type = 'chain' AND EXISTS (
                SELECT FROM jsonb_array_elements(coalesce(r.doc -> 'composition' -> 'steps', '[]')) st
                WHERE coalesce((st ->> 'gate')::boolean, false));
            protected := r.type = 'chain' AND EXISTS (
                SELECT FROM jsonb_array_elements(coalesce(r.doc -> 'composition' -> 'steps', '[]')) st
                WHERE st ->> 'agent' IN (
                    SELECT jsonb_array_elements_text(coalesce(r.council_doc -> 'protectedAgents' -> r.domain, '[]'))
                    UNION
                    SELECT a ->> 'designation' FROM jsonb_array_elements(coalesce(r.council_doc -> 'agents', '[]')) a
                    WHERE coalesce((a ->> 'protected')::boolean, false)));
            RETURN NEXT;
        END LOOP;
        -- Addresses that resolve to nothing still propagate by name.
        frontier := ARRAY(SELECT DISTINCT ops_private.unit_name(x) FROM unnest(found) x);
        seen := seen || frontier;
    END LOOP;
END
$$;
COMMENT ON FUNCTION ops.unit_blast_radius(bigint, text) IS
    'Everything that depends on a unit (any version of its name), transitively: address, depth (1 = direct), '
    'whether it is a chain with a gate step and whether it involves a protected agent. p_run NULL: the registry only.';

CREATE FUNCTION ops.check_contracts(p_run bigint)
RETURNS SETOF ops.unit_finding
LANGUAGE sql STABLE
BEGIN ATOMIC
    WITH diff AS (
        SELECT s.address, s.name, s.file, (s.lines ->> 'contract')::integer AS line, s.version, b.base_address,
               b.base_version, b.base_major, b.base_minor, b.base_patch, b.origin,
               ops_private.bump_kind(b.base_major, b.base_minor, b.base_patch, s.major, s.minor, s.patch) AS made,
               ch.changes, ch.needed
        FROM ops.unit_snapshot s
        JOIN ops_private.unit_baseline(p_run) b ON b.address = s.address
        CROSS JOIN LATERAL (
            SELECT array_agg(c.change ORDER BY c.bump, c.change) AS changes,
                   CASE WHEN bool_or(c.bump = 'major') THEN 'major' WHEN bool_or(c.bump = 'minor') THEN 'minor' END AS needed
            FROM ops_private.contract_changes(b.base_doc -> 'contract', s.doc -> 'contract') c
        ) ch
        WHERE s.run_id = p_run AND s.doc ? 'contract' AND ch.needed IS NOT NULL
    ), judged AS (
        SELECT d.*, ops_private.next_version(d.base_major, d.base_minor, d.base_patch, d.needed) AS required
        FROM diff d
        WHERE (CASE d.needed WHEN 'major' THEN 3 ELSE 2 END)
            > (CASE d.made WHEN 'major' THEN 3 WHEN 'minor' THEN 2 WHEN 'patch' THEN 1 ELSE 0 END)
    )
    SELECT 'FM-06', 'UNIT.CONTRACT_BREAKING', 'blocking', j.address, j.file, j.line,
           format('contract change needs a %s bump from %s (%s) but %s → %s is %s; blast radius: %s direct, %s transitive, %s gate-bearing, %s protected',
                  j.needed, j.base_version, array_to_string(j.changes, '; '), j.base_version, j.version,
                  CASE j.made WHEN 'none' THEN 'no bump' ELSE 'a ' || j.made || ' bump' END,
                  br.direct, br.total, br.gates, br.protected),
           format('release as %s (or undo: %s)', j.required, array_to_string(j.changes, '; ')),
           j.name || '|contract',
           jsonb_build_object('baseline', j.base_address, 'baseline_origin', j.origin, 'changes', to_jsonb(j.changes),
                              'needed', j.needed, 'made', j.made, 'required_version', j.required,
                              'blast_radius', jsonb_build_object('direct', br.direct, 'transitive', br.total,
                                  'gate_bearing', br.gates, 'protected', br.protected, 'dependents', br.dependents))
    FROM judged j
    CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE r.direct) AS direct, count(*) AS total,
               count(*) FILTER (WHERE r.gate_bearing) AS gates, count(*) FILTER (WHERE r.protected) AS protected,
               coalesce(jsonb_agg(r.address ORDER BY r.depth, r.address), '[]') AS dependents
        FROM ops.unit_blast_radius(p_run, j.name) r
    ) br;
END;
COMMENT ON FUNCTION ops.check_contracts(bigint) IS
    'FM-06 (blocking): a contract change that needs a bigger bump than was made (major: input removed, optional '
    'made required, new required input without default, a type changed, output removed; minor: new optional input, '
    'new output, new failure mode). Names the required version and the blast radius.';

CREATE FUNCTION ops.check_draft_isolation(p_run bigint)
RETURNS SETOF ops.unit_finding
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT 'FM-07', 'UNIT.DRAFT_ISOLATION', 'warning', s.address, s.file, e.line,
           CASE WHEN u.status = 'deprecated'
                THEN format('%s %s %s, which is deprecated%s', s.address,
                            CASE e.kind WHEN 'import' THEN 'imports' ELSE 'runs' END, e.to_address,
                            coalesce(' (successor ' || coalesce(u.doc -> 'deprecation' ->> 'successor',
                                (SELECT p.successor FROM ops.published_units p WHERE p.address = u.address)) || ')', ''))
                ELSE format('%s %s (%s) %s %s, which is %s', s.address, s.status, s.version,
                            CASE e.kind WHEN 'import' THEN 'imports' ELSE 'runs' END, e.to_address,
                            CASE WHEN u.status IN ('draft', 'review') THEN u.status ELSE 'pre-1.0' END)
           END,
           CASE WHEN u.status = 'deprecated'
                THEN format('move to the successor of %s', e.to_address)
                ELSE format('import a stable 1.0.0+ version of %s, or keep %s below 1.0.0 in draft', u.name, s.name)
           END,
           s.name || '|' || e.to_address,
           jsonb_build_object('target', e.to_address, 'target_status', u.status, 'target_version',
                              split_part(e.to_address, '@', 2), 'deprecated', u.status = 'deprecated')
    FROM ops.unit_snapshot s
    JOIN ops.unit_snapshot_edges e ON e.run_id = s.run_id AND e.from_address = s.address
    JOIN ops_private.unit_universe(p_run) u ON u.address = e.to_address
    WHERE s.run_id = p_run
      AND ((u.status = 'deprecated' AND s.status NOT IN ('deprecated', 'tombstoned'))
           OR ((s.status = 'stable' OR (s.major >= 1 AND s.status NOT IN ('draft', 'tombstoned', 'deprecated')))
               AND (u.major = 0 OR u.status IN ('draft', 'review')) AND u.status NOT IN ('tombstoned', 'tampered')));
END;
COMMENT ON FUNCTION ops.check_draft_isolation(bigint) IS
    'FM-07 (warning): a stable unit (or any non-draft unit at 1.0.0 or later) references a 0.x or draft/review '
    'unit; referencing a deprecated unit is reported by the same check with its own message.';

CREATE FUNCTION ops.check_capabilities(p_run bigint, p_council text DEFAULT NULL)
RETURNS SETOF ops.unit_finding
LANGUAGE sql STABLE
BEGIN ATOMIC
    WITH chains AS (
        SELECT s.* FROM ops.unit_snapshot s
        WHERE s.run_id = p_run AND s.type = 'chain' AND (p_council IS NULL OR s.council = p_council)
    ), steps AS (
        SELECT ch.address, ch.name, ch.file, ch.council, c.doc AS council_doc, st.step, st.ord,
               (ch.lines -> 'steps' ->> (st.ord::integer - 1))::integer AS line,
               ARRAY(SELECT DISTINCT x FROM unnest(
                   ops_private.step_capabilities(st.step)
                   || ARRAY(SELECT jsonb_array_elements_text(coalesce(u.doc -> 'requires' -> 'capabilities', '[]'))
                            FROM ops_private.unit_universe(p_run) u WHERE u.address = st.step ->> 'unit')) x
                   ORDER BY x) AS required,
               (SELECT a FROM jsonb_array_elements(c.doc -> 'agents') a WHERE a ->> 'designation' = st.step ->> 'agent'
                LIMIT 1) AS agent
        FROM chains ch
        JOIN ops.council_snapshot c ON c.run_id = p_run AND c.council_id = ch.council
        CROSS JOIN LATERAL jsonb_array_elements(coalesce(ch.doc -> 'composition' -> 'steps', '[]')) WITH ORDINALITY AS st (step, ord)
    ), judged AS (
        SELECT s.*, ARRAY(SELECT x FROM unnest(s.required) x
                          WHERE NOT coalesce(s.agent -> 'capabilities', '[]') ? x ORDER BY x) AS missing
        FROM steps s
    )
    SELECT 'FM-09', 'UNIT.CAPABILITY_MISSING', 'blocking', ch.address, ch.file, (ch.lines ->> 'council')::integer,
           format('%s names %s, which is not in the paths', ch.address, ch.council),
           format('add %s to the paths (or pass the directory that holds it)', ch.council),
           ch.name || '|council|' || ch.council,
           jsonb_build_object('council', ch.council)
    FROM chains ch
    WHERE NOT EXISTS (SELECT FROM ops.council_snapshot c WHERE c.run_id = p_run AND c.council_id = ch.council)
    UNION ALL
    SELECT 'FM-09', 'UNIT.CAPABILITY_MISSING', 'blocking', j.address, j.file, j.line,
           CASE WHEN j.agent IS NULL
                THEN format('%s step %s: agent %s is not in %s', j.address, j.step ->> 'id', j.step ->> 'agent', j.council)
                ELSE format('%s step %s: agent %s lacks %s', j.address, j.step ->> 'id', j.step ->> 'agent',
                            array_to_string(j.missing, ', '))
           END,
           CASE WHEN cand.agents IS NULL
                THEN format('grant %s to %s in %s, or assign the step to an agent that has it',
                            coalesce(array_to_string(j.missing, ', '), 'the step''s capabilities'), j.step ->> 'agent', j.council)
                ELSE format('assign %s to one of %s, or grant the capabilities to %s in %s', j.step ->> 'id',
                            array_to_string(cand.agents, ', '), j.step ->> 'agent', j.council)
           END,
           j.name || '|' || (j.step ->> 'id') || '|' || (j.step ->> 'agent'),
           jsonb_build_object('step', j.step ->> 'id', 'agent', j.step ->> 'agent', 'council', j.council,
                              'required', to_jsonb(j.required), 'missing', to_jsonb(j.missing),
                              'in_council', j.agent IS NOT NULL, 'candidates', to_jsonb(cand.agents))
    FROM judged j
    LEFT JOIN LATERAL (
        SELECT array_agg(a ->> 'designation' ORDER BY a ->> 'designation') AS agents
        FROM jsonb_array_elements(j.council_doc -> 'agents') a
        WHERE coalesce(a -> 'capabilities', '[]') ?& j.required
    ) cand ON true
    WHERE j.agent IS NULL OR cardinality(j.missing) > 0;
END;
COMMENT ON FUNCTION ops.check_capabilities(bigint, text) IS
    'FM-09 (blocking): a chain step whose agent is not in the chain''s council, or lacks a capability the step '
    'requires (the referenced task''s requires.capabilities plus the step''s own requires); also a chain whose '
    'council is not among the paths.';

CREATE FUNCTION ops_private.run_check(p_alias text, p_run bigint, p_council text)
RETURNS SETOF ops.unit_finding
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT * FROM ops.check_fingerprints(p_run) WHERE p_alias = 'FM-01'
    UNION ALL SELECT * FROM ops.check_broken_imports(p_run) WHERE p_alias = 'FM-02'
    UNION ALL SELECT * FROM ops.check_dag_cycles(p_run) WHERE p_alias = 'FM-03'
    UNION ALL SELECT * FROM ops.check_protected_agents(p_run, p_council) WHERE p_alias = 'FM-04'
    UNION ALL SELECT * FROM ops.check_gates(p_run) WHERE p_alias = 'FM-05'
    UNION ALL SELECT * FROM ops.check_contracts(p_run) WHERE p_alias = 'FM-06'
    UNION ALL SELECT * FROM ops.check_draft_isolation(p_run) WHERE p_alias = 'FM-07'
    UNION ALL SELECT * FROM ops.check_capabilities(p_run, p_council) WHERE p_alias = 'FM-09';
END;
COMMENT ON FUNCTION ops_private.run_check(text, bigint, text) IS 'Dispatch one check by its alias (FM-01..FM-07, FM-09).';

CREATE FUNCTION ops.run_unit_checks(p_run bigint, waivers jsonb DEFAULT '[]')
RETURNS TABLE (event_id bigint, kind text, check_alias text, code text, outcome text, severity text,
               unit_address text, file text, line integer, message text, fix text, runbook text,
               finding_fingerprint text, details jsonb)
LANGUAGE plpgsql
SET search_path = pg_catalog, ops
AS $$
#variable_conflict use_column
DECLARE
    run ops.maintenance_runs%ROWTYPE;
    chk record;
    hits jsonb;
    n_found integer;
    n_schema integer;
    ran text[] := ARRAY[]::text[];
    outcome_text text;
    reason text;
    exit_status integer;
BEGIN
    SELECT * INTO run FROM ops.maintenance_runs r WHERE r.id = p_run FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no maintenance run %', p_run USING ERRCODE = 'OP004';
    END IF;
    IF run.status <> 'running' THEN
        RAISE EXCEPTION 'run % has already finished (%)', p_run, run.status USING ERRCODE = 'OP001';
    END IF;
    SELECT count(*)::integer INTO n_schema FROM ops.maintenance_run_events e WHERE e.run_id = p_run AND e.check_alias = 'SCHEMA';
    IF n_schema > 0 THEN
        INSERT INTO ops.maintenance_run_events (run_id, kind, check_alias, outcome, severity, message)
        VALUES (p_run, 'check', 'SCHEMA', 'fail', 'blocking', format('%s file(s) failed parsing or validation', n_schema));
    END IF;

    FOR chk IN
        SELECT x.alias, x.code, x.what FROM (VALUES
            (1, 'FM-01', 'UNIT.FINGERPRINT_TAMPER', 'fingerprints recomputed'),
            (2, 'FM-02', 'UNIT.BROKEN_IMPORT', 'every import and step resolves'),
            (3, 'FM-03', 'UNIT.DAG_CYCLE', 'no cycle'),
            (4, 'FM-04', 'UNIT.PROTECTED_AGENT_MISSING', 'protected agents present in every chain'),
            (5, 'FM-05', 'UNIT.GATE_REMOVED', 'no gate removed without a major bump'),
            (6, 'FM-06', 'UNIT.CONTRACT_BREAKING', 'contract changes match their version bumps'),
            (7, 'FM-07', 'UNIT.DRAFT_ISOLATION', 'no stable unit depends on draft, 0.x or deprecated units'),
            (8, 'FM-09', 'UNIT.CAPABILITY_MISSING', 'every step''s agent has its capabilities')
        ) AS x (pos, alias, code, what) ORDER BY x.pos
    LOOP
        IF n_schema > 0 THEN
            INSERT INTO ops.maintenance_run_events (run_id, kind, check_alias, code, outcome, message)
            VALUES (p_run, 'check', chk.alias, chk.code, 'skipped',
                    format('skipped: %s file(s) failed schema validation', n_schema));
            CONTINUE;
        END IF;
        SELECT coalesce(jsonb_agg(to_jsonb(f) ORDER BY f.file, f.line, f.key), '[]'), count(*)::integer
        INTO hits, n_found
        FROM ops_private.run_check(chk.alias, p_run, run.council) f;
        ran := ran || chk.alias;
        IF n_found = 0 THEN
            outcome_text := 'pass';
            reason := chk.what;
        ELSIF NOT EXISTS (SELECT FROM jsonb_array_elements(hits) f WHERE f ->> 'severity' <> 'warning') THEN
            outcome_text := 'warn';
            reason := format('%s warning(s)', n_found);
        ELSE
            outcome_text := 'fail';
            reason := format('%s finding(s)', n_found);
        END IF;
        INSERT INTO ops.maintenance_run_events (run_id, kind, check_alias, code, outcome, severity, message, details)
        VALUES (p_run, 'check', chk.alias, chk.code, outcome_text,
                CASE outcome_text WHEN 'pass' THEN NULL ELSE (hits -> 0 ->> 'severity') END, reason,
                jsonb_build_object('findings', n_found));
        INSERT INTO ops.maintenance_run_events (run_id, kind, check_alias, code, outcome, severity, unit_address, file,
                                                line, message, fix, runbook, finding_fingerprint, details)
        SELECT p_run, 'finding', f.alias, f.code,
               CASE WHEN w.fingerprint IS NOT NULL AND f.alias NOT IN ('FM-01', 'FM-02', 'FM-03')
                         AND coalesce(w.expires, 'infinity') >= current_date THEN 'waived'
                    WHEN f.severity = 'warning' THEN 'warn' ELSE 'fail' END,
               f.severity, f.unit_address, f.file, f.line, f.message, f.fix,
               coalesce(fm.runbook, 'docs/runbooks/failures/' || f.code || '.md'),
               encode(sha256(convert_to(f.code || '|' || f.key, 'UTF8')), 'hex'),
               coalesce(f.details, '{}') || CASE WHEN w.fingerprint IS NULL THEN '{}'::jsonb
                   ELSE jsonb_build_object('waiver', jsonb_build_object('reason', w.reason, 'owner', w.owner,
                                                                       'expires', w.expires)) END
        FROM jsonb_array_elements(hits) WITH ORDINALITY AS j (doc, ord)
        CROSS JOIN LATERAL jsonb_populate_record(NULL::ops.unit_finding, j.doc) AS f
        LEFT JOIN ops.failure_modes fm ON fm.code = f.code
        LEFT JOIN LATERAL (
            SELECT x.fingerprint, x.reason, x.owner, x.expires
            FROM jsonb_to_recordset(coalesce(waivers, '[]')) AS x (fingerprint text, reason text, owner text, expires date)
            WHERE x.fingerprint = encode(sha256(convert_to(f.code || '|' || f.key, 'UTF8')), 'hex')
            LIMIT 1
        ) w ON true
        ORDER BY j.ord;
    END LOOP;

    -- Waivers: every one must match a waivable finding and be in date, or the run fails.
    IF n_schema = 0 THEN
        INSERT INTO ops.maintenance_run_events (run_id, kind, check_alias, code, outcome, severity, message, fix,
                                                runbook, finding_fingerprint, details)
        SELECT p_run, 'finding', 'WAIVERS', 'UNIT.WAIVER_INVALID', 'fail', 'blocking',
               CASE WHEN x.expires < current_date THEN format('waiver %s (owner %s) expired on %s', x.fingerprint, x.owner, x.expires)
                    WHEN e.id IS NULL THEN format('waiver %s (owner %s) matches no finding', x.fingerprint, x.owner)
                    ELSE format('waiver %s (owner %s) targets %s, which cannot be waived', x.fingerprint, x.owner, e.check_alias)
               END,
               'remove the waiver, renew it, or fix the finding it covered', 'docs/unit-ci.md#waivers',
               x.fingerprint, jsonb_build_object('reason', x.reason, 'owner', x.owner, 'expires', x.expires)
        FROM jsonb_to_recordset(coalesce(waivers, '[]')) AS x (fingerprint text, reason text, owner text, expires date)
        LEFT JOIN LATERAL (
            SELECT ev.id, ev.check_alias FROM ops.maintenance_run_events ev
            WHERE ev.run_id = p_run AND ev.kind = 'finding' AND ev.finding_fingerprint = x.fingerprint LIMIT 1
        ) e ON true
        WHERE x.expires < current_date OR e.id IS NULL OR e.check_alias IN ('FM-01', 'FM-02', 'FM-03');
        IF FOUND THEN
            INSERT INTO ops.maintenance_run_events (run_id, kind, check_alias, code, outcome, severity, message)
            SELECT p_run, 'check', 'WAIVERS', 'UNIT.WAIVER_INVALID', 'fail', 'blocking',
                   format('%s waiver(s) expired, unmatched or not waivable', count(*))
            FROM ops.maintenance_run_events ev WHERE ev.run_id = p_run AND ev.check_alias = 'WAIVERS';
        END IF;
    END IF;

    -- Convergence: upsert what is reported now, resolve what the checks that ran no longer report.
    INSERT INTO ops.convergence_findings AS c (scope, fingerprint, code, alias, severity, unit_address, file, line,
                                               message, details, status, first_run_id, last_run_id)
    SELECT DISTINCT ON (e.finding_fingerprint) run.scope, e.finding_fingerprint, e.code, e.check_alias, e.severity,
           e.unit_address, e.file, e.line, e.message, e.details,
           CASE e.outcome WHEN 'waived' THEN 'waived' ELSE 'open' END, p_run, p_run
    FROM ops.maintenance_run_events e
    WHERE e.run_id = p_run AND e.kind = 'finding' AND e.severity IN ('critical', 'blocking') AND e.outcome IN ('fail', 'waived')
    ORDER BY e.finding_fingerprint, e.id
    ON CONFLICT (scope, fingerprint) DO UPDATE SET
        severity = excluded.severity, unit_address = excluded.unit_address, file = excluded.file,
        line = excluded.line, message = excluded.message, details = excluded.details, status = excluded.status,
        last_run_id = excluded.last_run_id, last_seen_at = now(), occurrences = c.occurrences + 1,
        reopen_count = c.reopen_count + CASE WHEN c.status = 'resolved' THEN 1 ELSE 0 END,
        resolved_at = NULL, resolved_run_id = NULL;
    UPDATE ops.convergence_findings c
    SET status = 'resolved', resolved_at = now(), resolved_run_id = p_run
    WHERE c.scope = run.scope AND c.status <> 'resolved' AND c.alias = ANY (ran || ARRAY['SCHEMA', 'WAIVERS'])
      AND c.last_run_id <> p_run;

    -- The error pipeline counts and escalates unit failures like any other error.
    PERFORM ops.record_errors(coalesce(jsonb_agg(jsonb_build_object(
                'source', 'stratt', 'phase', 'ci', 'code_hint', e.code, 'run_id', 'stratt-ci-' || p_run,
                'message', format('%s %s %s: %s', e.check_alias, e.code, coalesce(e.file || ':' || e.line, e.unit_address), e.message),
                'context', jsonb_build_object('unit', e.unit_address, 'finding_fingerprint', e.finding_fingerprint))
                ORDER BY e.id), '[]'))
    FROM ops.maintenance_run_events e
    WHERE e.run_id = p_run AND e.kind = 'finding' AND e.outcome = 'fail' AND e.severity IN ('critical', 'blocking')
      AND e.code LIKE 'UNIT.%' AND EXISTS (SELECT FROM ops.failure_modes fm WHERE fm.code = e.code);

    SELECT CASE
               WHEN bool_or(e.check_alias = 'FM-01') THEN 2
               WHEN bool_or(e.check_alias = 'FM-02') THEN 3
               WHEN count(*) > 0 THEN 1
               ELSE 0 END
    INTO exit_status
    FROM ops.maintenance_run_events e
    WHERE e.run_id = p_run AND e.kind = 'finding' AND e.outcome = 'fail';

    UPDATE ops.maintenance_runs r SET
        exit_code = exit_status,
        status = CASE WHEN exit_status <> 0 THEN 'failed'
                      WHEN c.warnings > 0 THEN 'warned' ELSE 'passed' END,
        findings_count = c.findings, critical_count = c.critical, blocking_count = c.blocking, warning_count = c.warnings,
        finished_at = clock_timestamp(),
        duration_ms = (extract(epoch FROM clock_timestamp() - r.started_at) * 1000)::integer
    FROM (SELECT count(*) AS findings,
                 count(*) FILTER (WHERE e.severity = 'critical' AND e.outcome = 'fail') AS critical,
                 count(*) FILTER (WHERE e.severity = 'blocking' AND e.outcome = 'fail') AS blocking,
                 count(*) FILTER (WHERE e.outcome = 'warn') AS warnings
          FROM ops.maintenance_run_events e WHERE e.run_id = p_run AND e.kind = 'finding') c
    WHERE r.id = p_run;

    DELETE FROM ops.unit_snapshot_edges s WHERE s.run_id = p_run;
    DELETE FROM ops.unit_snapshot s WHERE s.run_id = p_run;
    DELETE FROM ops.council_snapshot s WHERE s.run_id = p_run;
    DELETE FROM ops.unit_baselines s WHERE s.run_id = p_run;

    RETURN QUERY
    SELECT e.id, e.kind, e.check_alias, e.code, e.outcome, e.severity, e.unit_address, e.file, e.line, e.message,
           e.fix, e.runbook, e.finding_fingerprint, e.details
    FROM ops.maintenance_run_events e WHERE e.run_id = p_run ORDER BY e.id;
END
$$;
COMMENT ON FUNCTION ops.run_unit_checks(bigint, jsonb) IS
    'Run FM-01..FM-07 and FM-09 in order on a run''s snapshot (all skipped when files failed validation), apply '
    'waivers [{fingerprint, reason, owner, expires}], record events, converge ops.convergence_findings for the run''s '
    'scope, record blocking/critical findings through ops.record_errors(), set the exit code (2 FM-01 > 3 FM-02 > 1 '
    'any other failure > 0) and drop the snapshot. Returns the run''s events in order.';

CREATE FUNCTION ops.abort_unit_run(p_run bigint, exit_code integer, reason text)
RETURNS void
LANGUAGE sql
BEGIN ATOMIC
    INSERT INTO ops.maintenance_run_events (run_id, kind, check_alias, outcome, message)
    VALUES (p_run, 'check', 'RUN', 'skipped', reason);
    UPDATE ops.maintenance_runs r SET status = 'error', exit_code = abort_unit_run.exit_code,
        finished_at = clock_timestamp(), duration_ms = (extract(epoch FROM clock_timestamp() - r.started_at) * 1000)::integer,
        summary = r.summary || jsonb_build_object('error', reason)
    WHERE r.id = p_run;
    DELETE FROM ops.unit_snapshot_edges s WHERE s.run_id = p_run;
    DELETE FROM ops.unit_snapshot s WHERE s.run_id = p_run;
    DELETE FROM ops.council_snapshot s WHERE s.run_id = p_run;
    DELETE FROM ops.unit_baselines s WHERE s.run_id = p_run;
END;
COMMENT ON FUNCTION ops.abort_unit_run(bigint, integer, text) IS
    'End a run that could not judge anything (no units, unknown council): status error, the given exit code, the reason.';

-- ---------------------------------------------------------------------------------------- publishing

CREATE FUNCTION ops.published_unit_conflicts(units jsonb)
RETURNS TABLE (address text, published_fingerprint text, new_fingerprint text)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT p.address, p.fingerprint, u.fingerprint
    FROM jsonb_to_recordset(units) AS u (address text, fingerprint text)
    JOIN ops.published_units p ON p.address = u.address
    WHERE p.fingerprint <> u.fingerprint
    ORDER BY p.address;
END;
COMMENT ON FUNCTION ops.published_unit_conflicts(jsonb) IS
    'Which of [{address, fingerprint}] are already published with another fingerprint (published versions are immutable).';

CREATE FUNCTION ops.record_publish(paths text[], store text, units jsonb)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, ops
AS $$
DECLARE
    run bigint;
    conflict text;
BEGIN
    SELECT string_agg(c.address, ', ') INTO conflict FROM ops.published_unit_conflicts(units) c;
    IF conflict IS NOT NULL THEN
        RAISE EXCEPTION 'already published with another fingerprint (published versions are immutable): %', conflict
            USING ERRCODE = 'OP001';
    END IF;
    INSERT INTO ops.maintenance_runs AS r (kind, scope, paths, status, exit_code, units_count, finished_at, duration_ms)
    VALUES ('publish', 'publish|' || store, coalesce(paths, '{}'), 'passed', 0, jsonb_array_length(units),
            clock_timestamp(), 0)
    RETURNING r.id INTO run;
    INSERT INTO ops.published_units (address, name, domain, type, slug, version, major, minor, patch, prerelease,
                                     fingerprint, status, council, store, object_key, document, publish_run_id)
    SELECT u.address, u.name, u.domain, u.type, u.slug, u.version, u.major, u.minor, u.patch, u.prerelease,
           u.computed, u.status, u.council, store, u.object_key, u.doc, run
    FROM jsonb_to_recordset(units) AS u (address text, name text, domain text, type text, slug text, version text,
        major integer, minor integer, patch integer, prerelease text, status text, computed text, council text,
        object_key text, doc jsonb)
    ON CONFLICT (address) DO NOTHING;
    INSERT INTO ops.published_unit_edges (from_address, to_address, kind, step_id, ord)
    SELECT u.address, i.target, 'import', NULL, i.ord::integer
    FROM jsonb_to_recordset(units) AS u (address text, doc jsonb)
    CROSS JOIN LATERAL jsonb_array_elements_text(coalesce(u.doc -> 'imports', '[]')) WITH ORDINALITY AS i (target, ord)
    UNION ALL
    SELECT u.address, st.step ->> 'unit', 'step', st.step ->> 'id', st.ord::integer
    FROM jsonb_to_recordset(units) AS u (address text, doc jsonb)
    CROSS JOIN LATERAL jsonb_array_elements(coalesce(u.doc -> 'composition' -> 'steps', '[]')) WITH ORDINALITY AS st (step, ord)
    WHERE st.step ->> 'unit' IS NOT NULL
    ON CONFLICT DO NOTHING;
    INSERT INTO ops.maintenance_run_events (run_id, kind, check_alias, code, outcome, message, details)
    VALUES (run, 'check', 'FM-08', 'INFRA.R2.PUBLISH_FAILED', 'pass',
            format('%s unit(s) written to %s and recorded', jsonb_array_length(units), store),
            jsonb_build_object('store', store));
    RETURN run;
END
$$;
COMMENT ON FUNCTION ops.record_publish(text[], text, jsonb) IS
    'Record a published batch in one transaction (after every object was written): the registry rows, their '
    'references and a publish run. Refuses (OP001) an address already published with another fingerprint.';

CREATE FUNCTION ops.record_publish_failure(paths text[], store text, message text, details jsonb DEFAULT '{}')
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, ops
AS $$
DECLARE
    run bigint;
BEGIN
    INSERT INTO ops.maintenance_runs AS r (kind, scope, paths, status, exit_code, finished_at, duration_ms, summary)
    VALUES ('publish', 'publish|' || store, coalesce(paths, '{}'), 'error', 4, clock_timestamp(), 0,
            jsonb_build_object('error', message))
    RETURNING r.id INTO run;
    INSERT INTO ops.maintenance_run_events (run_id, kind, check_alias, code, outcome, severity, message, fix, runbook, details)
    SELECT run, 'finding', 'FM-08', 'INFRA.R2.PUBLISH_FAILED', 'fail', 'infrastructure', record_publish_failure.message,
           'retry `stratt publish` once the object store is reachable; nothing of this batch was published',
           coalesce((SELECT fm.runbook FROM ops.failure_modes fm WHERE fm.code = 'INFRA.R2.PUBLISH_FAILED'),
                    'docs/runbooks/failures/INFRA.R2.PUBLISH_FAILED.md'),
           coalesce(details, '{}') || jsonb_build_object('store', store, 'retryable', true);
    PERFORM ops.record_error(source => 'stratt', phase => 'publish', message => record_publish_failure.message,
                             code_hint => 'INFRA.R2.PUBLISH_FAILED', run_id => 'stratt-publish-' || run,
                             context => jsonb_build_object('store', store));
    RETURN run;
END
$$;
COMMENT ON FUNCTION ops.record_publish_failure(text[], text, text, jsonb) IS
    'Record a publish that failed (FM-08, INFRA.R2.PUBLISH_FAILED, retryable): a publish run with exit code 4, its '
    'FM-08 event and the error through ops.record_error(). Nothing is added to the registry.';

CREATE FUNCTION ops.deprecate_unit(p_address text, reason text, successor text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, ops
AS $$
BEGIN
    IF successor IS NOT NULL AND NOT EXISTS (SELECT FROM ops.published_units p WHERE p.address = deprecate_unit.successor) THEN
        RAISE EXCEPTION 'successor % is not published', successor USING ERRCODE = 'OP004';
    END IF;
    UPDATE ops.published_units p
    SET status = 'deprecated', deprecation_reason = deprecate_unit.reason, successor = deprecate_unit.successor,
        deprecated_at = now()
    WHERE p.address = p_address AND p.status <> 'tombstoned';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unit % is not published (or is tombstoned)', p_address USING ERRCODE = 'OP004';
    END IF;
END
$$;
COMMENT ON FUNCTION ops.deprecate_unit(text, text, text) IS
    'Mark a published unit deprecated with a reason and an optional (published) successor; FM-07 then warns its importers.';

-- ---------------------------------------------------------------------------------------- privileges

REVOKE ALL ON ops.maintenance_runs, ops.maintenance_run_events, ops.convergence_findings, ops.unit_snapshot,
              ops.unit_snapshot_edges, ops.council_snapshot, ops.unit_baselines, ops.published_units,
              ops.published_unit_edges FROM PUBLIC, anon, authenticated;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ops FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ops_private FROM PUBLIC;
ALTER TABLE ops.maintenance_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE ops.maintenance_run_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE ops.convergence_findings ENABLE ROW LEVEL SECURITY;
ALTER TABLE ops.unit_snapshot ENABLE ROW LEVEL SECURITY;
ALTER TABLE ops.unit_snapshot_edges ENABLE ROW LEVEL SECURITY;
ALTER TABLE ops.council_snapshot ENABLE ROW LEVEL SECURITY;
ALTER TABLE ops.unit_baselines ENABLE ROW LEVEL SECURITY;
ALTER TABLE ops.published_units ENABLE ROW LEVEL SECURITY;
ALTER TABLE ops.published_unit_edges ENABLE ROW LEVEL SECURITY;
