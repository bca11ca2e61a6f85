-- Issue 12, fourth pass: stratt sends of each unit's document only the keys the checks read
-- (worker.units.load.SNAPSHOT_KEYS; tests/test_units_checks.py holds the list against every `doc -> 'key'` of the
-- unit-CI functions). The comments say so; no object changes shape.
COMMENT ON TABLE ops.unit_snapshot IS
    'The units a run parsed (one row each, the parts of the document the checks read as jsonb, line numbers in '
    '`lines`). Written by ops.begin_unit_ci(), read by the checks, deleted when the run finishes. Unlogged: a '
    'snapshot is transient and rebuilt by rerunning the scan, so it does not pay for WAL (a crash empties it, which '
    'only fails running scans).';
COMMENT ON COLUMN ops.unit_snapshot.doc IS
    'The unit''s document as the checks read it: stratt sends its imports, composition, council, overrides, contract, '
    'requires and deprecation (worker.units.load.SNAPSHOT_KEYS); address, version, status and fingerprint are '
    'columns of the row. Any subset of the document is accepted.';
