"""An insert that read its group before a promotion committed follows the promotion (issue 12, eighth pass).

A classification cache entry holds the group its text goes to (after a promotion), so a text seen before reads no
alias. An insert whose probe (or whose alias lookup, on a miss) ran before ops.promote_error committed still
fingerprints the old group; its upsert waits for the promotion's row lock and then finds the old row gone. The
aggregate trigger moves such a new group to the promotion's target, so the old group is never recreated and no cache
entry keeps sending the text there.
"""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

MESSAGE = "zorblax frobnication failed near the quux gateway"
INSERT = "INSERT INTO ops.error_events (source, message) VALUES ('github_actions', %s)"


def wait_for_lock(conn, pid: int) -> None:
    for _ in range(200):
        if conn.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()[0] == "Lock":
            return
        time.sleep(0.05)
    raise AssertionError("the insert never waited for the promotion")


@pytest.mark.parametrize("cached", [True, False], ids=["entry-read-before", "alias-read-before"])
def test_an_insert_that_waited_for_a_promotion_follows_it(db_url, cached):
    with psycopg.connect(db_url, autocommit=True) as watch, psycopg.connect(db_url) as promoter, \
            psycopg.connect(db_url, autocommit=True) as inserter:
        watch.execute(INSERT, (MESSAGE,))
        watch.execute(INSERT, (MESSAGE,))
        old, code = watch.execute("SELECT fingerprint, code FROM ops.agent_errors").fetchone()
        assert code.startswith("UNKNOWN.")
        if not cached:
            watch.execute("TRUNCATE ops_private.classification_cache")
        target = promoter.execute("SELECT new_fingerprint FROM ops.promote_error(%s, 'DB.DEADLOCK')",
                                  (old,)).fetchone()[0]
        # The promotion holds the old group's row and has not committed: the insert reads the old fingerprint
        # (the entry, or no alias yet), then waits at the upsert.
        failure = []

        def insert():
            try:
                inserter.execute(INSERT, (MESSAGE,))
            except Exception as exc:  # noqa: BLE001 - reported below
                failure.append(exc)

        worker = threading.Thread(target=insert)
        worker.start()
        wait_for_lock(watch, inserter.info.backend_pid)
        promoter.commit()
        worker.join(30)
        assert not worker.is_alive() and failure == []

        groups = watch.execute("SELECT fingerprint, code, count FROM ops.agent_errors ORDER BY 1").fetchall()
        assert groups == [(target, "DB.DEADLOCK", 3)], "the old group was recreated"
        events = watch.execute("SELECT fingerprint, code, count(*) FROM ops.error_events GROUP BY 1, 2").fetchall()
        assert events == [(target, "DB.DEADLOCK", 3)]
        assert watch.execute("SELECT count(*) FROM ops_private.classification_cache WHERE fingerprint = %s",
                             (old,)).fetchone()[0] == 0, "an entry still sends the text to the old group"
        # Later events of the text go to the target, from the cache or a fresh classification alike.
        watch.execute(INSERT, (MESSAGE,))
        watch.execute(INSERT, (MESSAGE,))
        assert watch.execute("SELECT fingerprint, count FROM ops.agent_errors").fetchall() == [(target, 5)]
        entries = watch.execute("SELECT DISTINCT fingerprint, code FROM ops_private.classification_cache").fetchall()
        assert entries == [(target, "DB.DEADLOCK")]


def test_a_promotion_deletes_the_entries_of_the_group_it_moves(conn):
    conn.execute(INSERT, (MESSAGE,))
    conn.execute(INSERT, (MESSAGE,))
    old = conn.execute("SELECT fingerprint FROM ops.agent_errors").fetchone()[0]
    assert conn.execute("SELECT count(*) FROM ops_private.classification_cache WHERE fingerprint = %s",
                        (old,)).fetchone()[0] == 1
    target = conn.execute("SELECT new_fingerprint FROM ops.promote_error(%s, 'DB.DEADLOCK')", (old,)).fetchone()[0]
    assert conn.execute("SELECT count(*) FROM ops_private.classification_cache WHERE fingerprint = %s",
                        (old,)).fetchone()[0] == 0
    conn.execute(INSERT, (MESSAGE,))
    assert conn.execute("SELECT fingerprint, code FROM ops_private.classification_cache").fetchall() == \
        [(target, "DB.DEADLOCK")]
    conn.execute(INSERT, (MESSAGE,))  # a hit: the entry names the target
    assert conn.execute("SELECT fingerprint, count FROM ops.agent_errors").fetchall() == [(target, 4)]
