"""NOTIFY only from the outbox, payload-free; partitions created ahead, retention by dropping them."""

from __future__ import annotations

import psycopg


def drain(listener) -> list:
    return list(listener.notifies(timeout=0.5))


def test_only_outbox_inserts_notify_and_without_payload(db_url):
    with psycopg.connect(db_url, autocommit=True) as listener, psycopg.connect(db_url, autocommit=True) as conn:
        listener.execute("LISTEN ops_outbox")
        # Twenty events below their threshold (UNKNOWN.OPS escalates at 25): no notification at all.
        (quiet,) = conn.execute("SELECT escalate_after_count FROM ops.failure_modes WHERE code = 'UNKNOWN.OPS'").fetchone()
        assert quiet > 20
        conn.execute("INSERT INTO ops.error_events (source, message) SELECT 'ops', 'quiet unknown thing' FROM generate_series(1, 10)")
        for _ in range(10):
            conn.execute("SELECT ops.record_error(source => 'ops', message => 'quiet unknown thing')")
        assert drain(listener) == []
        # DB.DEADLOCK escalates after its threshold: exactly one wake-up, empty payload.
        (after,) = conn.execute("SELECT escalate_after_count FROM ops.failure_modes WHERE code = 'DB.DEADLOCK'").fetchone()
        for _ in range(after + 5):
            conn.execute("SELECT ops.record_error(source => 'github_actions', message => 'ERROR: deadlock detected')")
        notes = drain(listener)
        assert [(n.channel, n.payload) for n in notes] == [("ops_outbox", "")]


def test_partitions_ahead_default_rows_moved_and_retention(conn):
    days = conn.execute("""SELECT count(*) FROM pg_inherits WHERE inhparent = 'ops.error_events'::regclass""").fetchone()[0]
    assert days == 1 + 9, "default + yesterday .. a week ahead"
    # A row far in the future lands in the default partition, never refused ...
    conn.execute("INSERT INTO ops.error_events (source, message, received_at) VALUES ('ops', 'future', now() + interval '20 days')")
    assert conn.execute("SELECT count(*) FROM ops_private.error_events_default").fetchone()[0] == 1
    # ... and moves into its own partition when maintenance reaches that day.
    assert conn.execute("SELECT ops.ensure_error_event_partitions(21)").fetchone()[0] == 14
    assert conn.execute("SELECT count(*) FROM ops_private.error_events_default").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM ops.error_events WHERE message = 'future'").fetchone()[0] == 1
    assert conn.execute("SELECT ops.ensure_error_event_partitions(21)").fetchone()[0] == 0, "idempotent"
    # Retention drops whole partitions: yesterday's goes with a 0-day retention, today's stays.
    conn.execute("INSERT INTO ops.error_events (source, message, received_at) VALUES ('ops', 'old', now() - interval '1 day')")
    assert conn.execute("SELECT count(*) FROM ops.drop_error_event_partitions(interval '0 days', confirm_zero => true)"
                        ).fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM ops.error_events WHERE message = 'old'").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM ops.error_events WHERE message = 'future'").fetchone()[0] == 1
