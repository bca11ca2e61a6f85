-- The recorded v2 classifier models as a view analysts may read: `ops triage list` (an ops_analyst or ops_triage
-- login) loads the newest model to suggest codes, and the table itself stays private (analysts read views only).
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
GRANT SELECT ON ops.classifier_model_files TO ops_analyst;
