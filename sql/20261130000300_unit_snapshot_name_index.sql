-- Unit CI at scale (issue 12): look up other versions of a name in the run's snapshot by index, as the registry
-- already does (FM-07's and FM-01's "reference this version instead" lookups scanned the whole snapshot per row).
CREATE INDEX unit_snapshot_name_version_idx ON ops.unit_snapshot (run_id, name, major DESC, minor DESC, patch DESC);
