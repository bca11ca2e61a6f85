-- name: normalize_batch
-- The classifier's text feature: each message redacted then normalized (ops.normalize_message), in input order.
SELECT ops.normalize_message(ops.redact(x.message)) AS normalized
FROM jsonb_array_elements_text(%(messages)s::jsonb) WITH ORDINALITY AS x (message, n)
ORDER BY x.n;

-- name: classify_batch_v1
-- v1's code for each (source, phase, message) document, in input order (the comparison v2 is reported against).
SELECT c.code FROM jsonb_array_elements(%(events)s::jsonb) WITH ORDINALITY AS x (doc, n)
CROSS JOIN LATERAL ops.classify_error(x.doc ->> 'source', x.doc ->> 'phase', ops.redact(x.doc ->> 'message')) c
ORDER BY x.n;

-- name: labelled_errors
-- Training labels from the database: v1 codes at or above a confidence bar (never UNKNOWN), and triage promotions
-- (ops.error_aliases reason 'promote': the group's code today is the label), oldest first.
SELECT DISTINCT ON (fingerprint) fingerprint, source, phase, sample_message, code, seen_at, origin
FROM (
    SELECT t.fingerprint, t.source, t.phase, t.sample_message, t.code, al.created_at AS seen_at, 'promote' AS origin, 0 AS rank
    FROM ops.error_aliases al JOIN ops.agent_errors t ON t.fingerprint = al.target_fingerprint
    WHERE al.reason = 'promote'
    UNION ALL
    SELECT a.fingerprint, a.source, a.phase, a.sample_message, a.code, a.first_seen_at, 'v1', 1
    FROM ops.agent_errors a
    WHERE a.confidence >= %(confidence_bar)s AND a.code NOT LIKE 'UNKNOWN.%%'
) labelled
ORDER BY fingerprint, rank;

-- name: errors_by_fingerprint
-- The text suggest classifies for each fingerprint asked about (unknown fingerprints are simply absent).
SELECT fingerprint, source, phase, sample_message, code
FROM ops.error_groups
WHERE fingerprint = ANY(%(fingerprints)s::text[]);

-- name: record_classifier_model
-- One trained model (a retrained identical file keeps its row: path, time and metrics are refreshed).
INSERT INTO ops.classifier_models AS m (sha256, path, format, threshold, target_precision, classes, training_rows,
                                       metrics, library_versions)
VALUES (%(sha256)s, %(path)s, 'skops', %(threshold)s, %(target_precision)s, %(classes)s::text[], %(training_rows)s,
        %(metrics)s::jsonb, %(library_versions)s::jsonb)
ON CONFLICT ON CONSTRAINT classifier_models_sha256_key DO UPDATE
    SET path = excluded.path, trained_at = now(), metrics = excluded.metrics, threshold = excluded.threshold,
        target_precision = excluded.target_precision, training_rows = excluded.training_rows
RETURNING id, sha256, path, trained_at, threshold;

-- name: classifier_model
-- One model row: the given id, or the most recently trained when id is NULL.
SELECT id, sha256, path, format, trained_at, threshold, target_precision, classes, training_rows, metrics
FROM ops.classifier_model_files
WHERE %(id)s::bigint IS NULL OR id = %(id)s::bigint
ORDER BY trained_at DESC, id DESC
LIMIT 1;

-- name: export_runs
-- Scored agent runs with what they produced, for `ops export` (oldest task first; everything redacted again on the
-- way out, though stored text already is). accepted: a merged pull request or an approving review.
SELECT r.id AS run_id, b.task_id, r.agent_type, b.variant_id, r.code, e.source, e.phase,
       ops.redact(e.sample_message) AS message, ops.redact(r.patch) AS patch,
       ops_private.redact_transcript(r.transcript) AS transcript,
       b.resolved, b.score, b.tier, b.outcome,
       EXISTS (SELECT FROM ops.agent_run_outcomes o
               WHERE o.run_id = r.id AND ((o.kind = 'pull_request' AND o.state = 'merged')
                                          OR (o.kind = 'review' AND o.state = 'approved'))) AS accepted
FROM ops.agent_runs r
JOIN ops.agent_benchmark_results b ON b.run_id = r.id
LEFT JOIN ops.agent_errors e ON e.fingerprint = r.fingerprint
WHERE (%(since)s::timestamptz IS NULL OR r.created_at >= %(since)s::timestamptz)
  AND (r.patch IS NOT NULL OR r.transcript IS NOT NULL)
ORDER BY b.task_id, r.id;

-- name: record_dataset_export
-- One export written (the same database gives the same snapshot id: the content hash of its data files).
INSERT INTO ops.dataset_exports (snapshot_id, kind, since, destination, files, rows)
VALUES (%(snapshot_id)s, %(kind)s, %(since)s::timestamptz, %(destination)s, %(files)s::jsonb, %(rows)s)
RETURNING id, snapshot_id, exported_at;
-- name: variant_arms
-- The dispatchable variants of an agent type with their record on one failure mode (Beta posterior counts),
-- and the exploration share synced from ssot/agents/variants.yaml.
SELECT p.variant_id, p.status, p.resolved, p.failed,
       (SELECT (s.detail ->> 'exploration_share')::numeric FROM ops.ssot_state s WHERE s.name = 'variants') AS exploration_share
FROM ops.variant_posteriors(%(code)s, %(agent_type)s) p;

-- name: record_variant_choice
-- Record the chosen variant and how it was chosen on the run (the first choice stands).
SELECT ops.record_variant_choice(%(run_id)s, %(variant_id)s, %(choice)s::jsonb) AS metadata;

-- name: variant_lineage
-- Every synced variant with its root and the knobs changed from the root (nearest first).
SELECT id, agent_type, parent, status, knobs_from_root, root FROM ops.variant_lineage ORDER BY id;

-- name: variant_pairs
-- The paired sample of a comparison: one row per task both variants ran.
SELECT * FROM ops.variant_pairs(%(baseline)s, %(variant)s);

-- name: variant_record
-- A variant's decided runs, resolved count, mean score and the tier of that mean.
SELECT * FROM ops.variant_record(%(variant)s);

-- name: promotion_rules
-- benchmark.yaml's promotion rules as last synced ({min_tier, min_runs, metric}).
SELECT s.detail -> 'promotion' AS rules FROM ops.ssot_state s WHERE s.name = 'benchmark';
