-- name: ensure_partitions_ahead
-- `ops db maintain`: daily error_events partitions for the next days_ahead days; returns how many were created.
SELECT ops.ensure_error_event_partitions(%(days_ahead)s) AS created;

-- name: drop_partitions_older_than
-- `ops db maintain --retention-days`: drop error_events partitions older than retention_days; returns how many.
SELECT ops.drop_error_event_partitions(make_interval(days => %(retention_days)s)) AS dropped;
