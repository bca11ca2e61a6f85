-- Outcomes of agent runs in, scorecards out (worker/learn/fixbot_report.py, worker/learn/scorecard.py).

-- name: record_outcome
-- Store one outcome of an agent run (ops.record_run_outcome matches, deduplicates, redacts and rescores).
SELECT * FROM ops.record_run_outcome(kind => %(kind)s, state => %(state)s, run_id => %(run_id)s,
                                     check_name => %(check_name)s, target_fixed => %(target_fixed)s,
                                     regressions => %(regressions)s, detail => %(detail)s::jsonb,
                                     delivery_id => NULL, occurred_at => NULL);

-- name: set_artifacts
-- Store a run's patch and transcript (redacted by the function); NULL leaves a field as it is.
SELECT id, patch IS NOT NULL AS has_patch, transcript IS NOT NULL AS has_transcript
FROM ops.set_agent_run_artifacts(%(id)s, %(patch)s, %(transcript)s::jsonb);

-- name: scorecard
-- The scorecard per agent type and variant (NULL agent_type: every type).
SELECT * FROM ops.agent_scorecard
WHERE %(agent_type)s::text IS NULL OR agent_type = %(agent_type)s::text
ORDER BY agent_type, variant_id;

-- name: failure_modes_hit
-- The failure modes runs hit, most frequent first, per agent type and variant.
SELECT agent_type, variant_id, code, runs, share FROM ops.agent_failure_modes_hit
WHERE %(agent_type)s::text IS NULL OR agent_type = %(agent_type)s::text
ORDER BY agent_type, variant_id, runs DESC, code;

-- name: benchmark_sha256
-- The synced benchmark's SHA-256 (no row: never synced).
SELECT sha256 FROM ops.ssot_state WHERE name = 'benchmark';

-- name: rescore_all
-- Score every agent run again with the synced benchmark; returns rows written.
SELECT ops.score_agent_runs() AS scored;

-- name: known_agent_types
-- The agent types of the synced variants and of scored runs (a filter's typo is refused with them).
SELECT agent_type FROM ops.variant_lineage UNION SELECT agent_type FROM ops.agent_scorecard ORDER BY 1;
