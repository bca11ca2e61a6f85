-- Queries of `ops db maintain`: partitions ahead of time, and retention.

-- name: ensure_partitions
-- Create the daily partitions of ops.error_events from yesterday to days_ahead days from now.
SELECT ops.ensure_error_event_partitions(%(days_ahead)s) AS created;

-- name: drop_partitions
-- Retention: validated in SQL (OPD01 negative, OPD02 under a day without confirm_zero); today and later never go.
SELECT partition_name, day, row_count, dropped
FROM ops.drop_error_event_partitions(make_interval(days => %(retention_days)s), confirm_zero => %(confirm_zero)s,
                                     dry_run => %(dry_run)s);

-- name: prune_classification_cache
-- Retention of the ingest classification cache: entries written more than a week ago.
SELECT ops.prune_classification_cache() AS pruned;

-- name: prune_event_keys
-- Idempotency keys older than the oldest daily partition (their events are gone): the dedupe horizon is retention's.
SELECT ops.prune_event_keys() AS pruned;
