"""8 connections × 2,000 inserts over 300 fingerprints, thresholds crossed at the same moment."""

from __future__ import annotations

import random
import threading

import psycopg


def test_concurrent_ingest_counts_every_event_and_escalates_once_per_crossing(db_url):
    with psycopg.connect(db_url, autocommit=True) as admin:
        # 300 fingerprints: 100 per code; thresholds low enough that many cross while all 8 race.
        admin.execute("""
            INSERT INTO ops.failure_modes (code, position, title, category, severity, retryable, runbook,
                                           remediate_kind, escalate_after_count, escalate_destination)
            VALUES ('TEST.RACE_A', 9201, 'a', 'ops', 'high', false, 'x', 'checklist', 5, 'work_queue'),
                   ('TEST.RACE_B', 9202, 'b', 'ops', 'high', false, 'x', 'fixbot', 20, 'fixbot'),
                   ('TEST.RACE_C', 9203, 'c', 'ops', 'high', false, 'x', 'checklist', 10000, 'work_queue');
            INSERT INTO ops.failure_mode_patterns (code, position, kind, pattern)
            VALUES ('TEST.RACE_A', 1, 'substring', 'race-a'), ('TEST.RACE_B', 1, 'substring', 'race-b'),
                   ('TEST.RACE_C', 1, 'substring', 'race-c');
        """)
    # Phases keep the 300 fingerprints apart (numbers in the message would be normalized away).
    keys = [(code, f"p{i}") for code in ("a", "b", "c") for i in range(100)]
    per_worker, workers = 2000, 8
    errors: list[BaseException] = []
    barrier = threading.Barrier(workers)

    def work(seed: int) -> None:
        rng = random.Random(seed)
        try:
            with psycopg.connect(db_url, autocommit=True) as conn:
                barrier.wait()
                for n in range(per_worker):
                    code, phase = rng.choice(keys)
                    if n % 4 == 0:  # a quarter as plain multi-row-capable INSERTs, the rest via the API
                        conn.execute("INSERT INTO ops.error_events (source, phase, message) VALUES ('ops', %s, %s)",
                                     (phase, f"race-{code} after {n}ms"))
                    else:
                        conn.execute("SELECT ops.record_error(source => 'ops', phase => %s, message => %s)",
                                     (phase, f"race-{code} after {n}ms"))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [], errors  # no deadlock, no unique violation, nothing refused

    with psycopg.connect(db_url) as conn:
        total, rows = conn.execute("SELECT sum(count), count(*) FROM ops.agent_errors WHERE code LIKE 'TEST.RACE_%'").fetchone()
        assert total == workers * per_worker
        events = conn.execute("SELECT count(*) FROM ops.error_events WHERE code LIKE 'TEST.RACE_%'").fetchone()[0]
        assert events == workers * per_worker
        assert rows == 300
        crossed = conn.execute("""SELECT count(*) FILTER (WHERE code = 'TEST.RACE_A' AND count >= 5),
                                         count(*) FILTER (WHERE code = 'TEST.RACE_B' AND count >= 20)
                                  FROM ops.agent_errors""").fetchone()
        assert crossed[0] == 100 and crossed[1] > 0
        escalations = dict(conn.execute("""SELECT code, count(*) FROM ops.escalations
                                           WHERE code LIKE 'TEST.RACE_%' GROUP BY code""").fetchall())
        assert escalations == {"TEST.RACE_A": crossed[0], "TEST.RACE_B": crossed[1]}
        dupes = conn.execute("SELECT count(*) FROM (SELECT fingerprint FROM ops.escalations GROUP BY fingerprint "
                             "HAVING count(*) > 1) d").fetchone()[0]
        assert dupes == 0
        runs = conn.execute("SELECT count(*), count(DISTINCT fingerprint) FROM ops.agent_runs WHERE code = 'TEST.RACE_B'").fetchone()
        assert runs == (crossed[1], crossed[1])
        exact = conn.execute("""SELECT count(*) FROM ops.escalations e JOIN ops.failure_modes f USING (code)
                                WHERE e.code LIKE 'TEST.RACE_%' AND e.count_at <> f.escalate_after_count""").fetchone()[0]
        assert exact == 0, "single-row inserts cross exactly at the threshold"
