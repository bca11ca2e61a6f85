-- The improvement loop's records (issue 10): trained v2 classifier models and dataset export snapshots.
-- Owner only: no role is granted anything (row level security is turned on in 12_privileges.sql).

CREATE TABLE ops.classifier_models (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sha256           text NOT NULL CONSTRAINT classifier_models_sha256_hex CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    path             text NOT NULL,
    format           text NOT NULL CONSTRAINT classifier_models_format_known CHECK (format IN ('skops')),
    trained_at       timestamptz NOT NULL DEFAULT now(),
    threshold        real NOT NULL CONSTRAINT classifier_models_threshold_probability CHECK (threshold BETWEEN 0 AND 1),
    target_precision real NOT NULL
                     CONSTRAINT classifier_models_target_precision_probability CHECK (target_precision > 0 AND target_precision <= 1),
    classes          text[] NOT NULL,
    training_rows    integer NOT NULL CONSTRAINT classifier_models_training_rows_positive CHECK (training_rows > 0),
    metrics          jsonb NOT NULL DEFAULT '{}'::jsonb,
    library_versions jsonb NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT classifier_models_sha256_key UNIQUE (sha256)
);
COMMENT ON TABLE ops.classifier_models IS
    'Trained v2 classifier artifacts (`ops classifier train`, worker/learn/classifier.py): one row per distinct model '
    'file, keyed by the SHA-256 of its bytes. The newest row (highest id) is the model `ops classifier suggest` uses; a '
    'file whose bytes no longer hash to sha256 is refused on load. v1 (ops.classify_error) stays the classifier of record.';
COMMENT ON COLUMN ops.classifier_models.sha256 IS 'Lowercase hex SHA-256 of the model file''s bytes, checked on every load.';
COMMENT ON COLUMN ops.classifier_models.path IS 'Where the model file was written (absolute path on the machine that trained it).';
COMMENT ON COLUMN ops.classifier_models.format IS 'skops: the skops.io format, loaded with an explicit list of trusted types (no pickle).';
COMMENT ON COLUMN ops.classifier_models.threshold IS
    'Calibrated probability below which the model abstains (suggests UNKNOWN.<SOURCE>); chosen on a held-out split as '
    'the lowest threshold whose precision reaches target_precision.';
COMMENT ON COLUMN ops.classifier_models.target_precision IS 'The precision (0..1] the threshold was chosen for.';
COMMENT ON COLUMN ops.classifier_models.classes IS 'The codes the model can suggest, in the model''s class order.';
COMMENT ON COLUMN ops.classifier_models.training_rows IS 'Labelled messages the final model was fitted on.';
COMMENT ON COLUMN ops.classifier_models.metrics IS
    'Evaluation at training time: {realworld: {n, macro_f1, coverage, precision_covered, accuracy, v1_accuracy, '
    'agreement_with_v1, confusion_vs_v1: [{v1, v2, n}]}, by_time: {...same keys, cutoff}, held_out: {...}, sources: {...}}.';
COMMENT ON COLUMN ops.classifier_models.library_versions IS 'scikit-learn, skops and numpy versions that wrote the file.';

CREATE TABLE ops.dataset_exports (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    snapshot_id text NOT NULL CONSTRAINT dataset_exports_snapshot_id_hex CHECK (snapshot_id ~ '^[0-9a-f]{64}$'),
    kind        text NOT NULL CONSTRAINT dataset_exports_kind_known CHECK (kind IN ('sft', 'preferences', 'kto')),
    since       timestamptz,
    destination text NOT NULL,
    files       jsonb NOT NULL CONSTRAINT dataset_exports_files_object CHECK (jsonb_typeof(files) = 'object'),
    rows        integer NOT NULL CONSTRAINT dataset_exports_rows_non_negative CHECK (rows >= 0),
    exported_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ops.dataset_exports IS
    'Training-data exports (`ops export sft|preferences|kto`, worker/learn/export.py), one row per export written. '
    'snapshot_id is the content hash of the data files, so the same database exported twice gives the same id.';
COMMENT ON COLUMN ops.dataset_exports.snapshot_id IS
    'Lowercase hex SHA-256 over the sorted lines "<sha256 of file>  <relative path>" of the data files (the dataset '
    'card, which names the snapshot, is not part of it).';
COMMENT ON COLUMN ops.dataset_exports.kind IS 'sft | preferences | kto: the TRL dataset type written.';
COMMENT ON COLUMN ops.dataset_exports.since IS 'Only runs created at or after this time were exported; NULL: all.';
COMMENT ON COLUMN ops.dataset_exports.destination IS 'The directory or s3://bucket/prefix written to.';
COMMENT ON COLUMN ops.dataset_exports.files IS '{relative path: {sha256, bytes}} of every file written, the card included.';
COMMENT ON COLUMN ops.dataset_exports.rows IS 'Examples written (all splits).';
CREATE INDEX dataset_exports_snapshot_idx ON ops.dataset_exports (snapshot_id);

-- What `ops triage list` (an analyst login) reads to load the newest model.
CREATE VIEW ops.classifier_model_files AS
SELECT m.id, m.sha256, m.path, m.format, m.trained_at, m.threshold, m.target_precision, m.classes, m.training_rows,
       m.metrics
FROM ops.classifier_models m;
COMMENT ON VIEW ops.classifier_model_files IS
    'The v2 classifier models `ops classifier train` recorded (ops.classifier_models without library versions): what '
    'a loader needs to find the newest file and check its SHA-256 before it parses it.';
COMMENT ON COLUMN ops.classifier_model_files.id IS 'Model id; the highest trained_at, then id, is the newest.';
COMMENT ON COLUMN ops.classifier_model_files.sha256 IS 'Lowercase hex SHA-256 of the model file, checked on every load.';
COMMENT ON COLUMN ops.classifier_model_files.path IS 'Where the model file was written.';
COMMENT ON COLUMN ops.classifier_model_files.format IS 'skops (loaded with an explicit list of trusted types).';
COMMENT ON COLUMN ops.classifier_model_files.trained_at IS 'When it was trained.';
COMMENT ON COLUMN ops.classifier_model_files.threshold IS 'Probability below which v2 abstains (UNKNOWN.<SOURCE>).';
COMMENT ON COLUMN ops.classifier_model_files.target_precision IS 'The precision the threshold was chosen for.';
COMMENT ON COLUMN ops.classifier_model_files.classes IS 'Codes the model can suggest.';
COMMENT ON COLUMN ops.classifier_model_files.training_rows IS 'Labelled messages it was trained on.';
COMMENT ON COLUMN ops.classifier_model_files.metrics IS 'Evaluation figures recorded at training (macro-F1, coverage, ...).';
