-- Every event of a grouped error updates its ops.agent_errors row; none of those updates was HOT (heap-only),
-- because agent_errors_code_last_seen_idx keys on last_seen_at, which every update moves, and the table's pages
-- were filled to 100 %. Each update therefore wrote a new index entry into both indexes and left the old ones for
-- VACUUM: measured on 8 groups after 20,000 single-row events without VACUUM, 770 kB of heap and 1.7 MB of index
-- (8 kB and 32 kB with HOT updates), and 1,419 WAL bytes per event against 1,176 (bench/README.md, "Heap-only
-- updates of the hot rows"). The index now keys on code alone: its one reader ranks a code's groups by
-- last_seen_at (ops.triage_queue, an analyst's command), which sorts that code's rows instead; and fillfactor 70
-- leaves each page room for its rows' next versions, as ops.escalations does.
-- Migrations run in one transaction, where DROP INDEX CONCURRENTLY cannot; ops.agent_errors holds one row per
-- group (tens of thousands at most), so the brief ACCESS EXCLUSIVE lock is the price of a plain drop.
-- squawk-ignore require-concurrent-index-deletion
DROP INDEX ops.agent_errors_code_last_seen_idx;
CREATE INDEX agent_errors_code_idx ON ops.agent_errors (code);
ALTER TABLE ops.agent_errors SET (fillfactor = 70);
