-- The v2 classifier's artifacts (issue 10): one row per trained model file with the SHA-256 its loader checks.
-- Owner only (like ops ssot sync): no role is granted anything; RLS is on like every ops table.
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
ALTER TABLE ops.classifier_models ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON ops.classifier_models FROM PUBLIC;
