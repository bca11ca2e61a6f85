-- Named queries of unit CI (`stratt`). The checks themselves are SQL functions in
-- sql/20261122001000_unit_ci.sql; these are the one-line calls and the reads around them.

-- name: begin_unit_ci
-- Start a run and load its snapshot (units, councils, baselines, invalid files) in one round trip.
SELECT ops.begin_unit_ci(kind => %(kind)s, scope => %(scope)s, council => %(council)s, paths => %(paths)s,
                         units => %(units)s::jsonb, councils => %(councils)s::jsonb,
                         baselines => %(baselines)s::jsonb, problems => %(problems)s::jsonb,
                         parse_ms => %(parse_ms)s);

-- name: run_unit_checks
-- Run FM-01..FM-07 and FM-09 in order, record and converge everything; returns the run's events.
SELECT event_id, kind, check_alias, code, outcome, severity, unit_address, file, line, message, fix, runbook,
       finding_fingerprint, details
FROM ops.run_unit_checks(%(run_id)s, %(waivers)s::jsonb);

-- name: abort_unit_run
-- A run that could not judge anything (no units, unknown council) ends as an error.
SELECT ops.abort_unit_run(%(run_id)s, %(exit_code)s, %(reason)s);

-- name: maintenance_run
-- The run row the report is built from.
SELECT id, scope, council, status, exit_code, units_count, councils_count, findings_count, critical_count,
       blocking_count, warning_count, duration_ms, parse_ms
FROM ops.maintenance_runs
WHERE id = %(run_id)s;

-- name: published_unit_conflicts
-- Addresses in a batch already published with another fingerprint (immutability).
SELECT address, published_fingerprint, new_fingerprint FROM ops.published_unit_conflicts(%(units)s::jsonb);

-- name: record_publish
-- Record a fully written batch as published, in one transaction.
SELECT ops.record_publish(%(paths)s, %(store)s, %(units)s::jsonb);

-- name: record_publish_failure
-- FM-08: a publish that failed; nothing was recorded as published.
SELECT ops.record_publish_failure(%(paths)s, %(store)s, %(message)s, %(details)s::jsonb);

-- name: published_unit
-- One registry row, for verify.
SELECT address, fingerprint, status, store, object_key
FROM ops.published_units
WHERE address = %(address)s;

-- name: blast_radius
-- Dependents of a unit (any version of its name) in the registry.
SELECT address, depth, direct, gate_bearing, protected FROM ops.unit_blast_radius(NULL, %(address)s);

-- name: deprecate_unit
-- Mark a published unit deprecated.
SELECT ops.deprecate_unit(%(address)s, %(reason)s, %(successor)s);
