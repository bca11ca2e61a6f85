-- Training-data export snapshots (issue 10): what `ops export` wrote and the content hash of it. Owner only.
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
ALTER TABLE ops.dataset_exports ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON ops.dataset_exports FROM PUBLIC;
