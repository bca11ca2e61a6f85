"""Batched completion under failure, with real worker processes, a real receiver and real PostgreSQL:
a worker that hangs mid-batch loses its claims to another worker, and when it wakes its batch
completion is fenced (the rescuer's delivery stands, nothing is marked twice)."""

from __future__ import annotations

import signal
import time

import psycopg

from tests.dispatch_kit import FAST, WorkerProcess, insert_escalations, states, wait_until
from tests.receiver import Receiver

SECRET = "test-secret"


def test_a_hung_workers_batch_completion_is_fenced(db_url, tmp_path):
    ids = insert_escalations(db_url, 4)
    with Receiver(delay=2.5) as rx:
        env = {"OPS_WEBHOOK_URL": rx.url("/hook"), "OPS_WEBHOOK_SECRET": SECRET}
        with WorkerProcess(db_url, tmp_path / "a.log", *FAST, "--concurrency", "4", "--name", "a", env=env) as a:
            wait_until(lambda: len(rx.hits("/hook")) == 4, 30, 0.05, "worker a's four POSTs in flight")
            a.proc.send_signal(signal.SIGSTOP)  # hung: no heartbeat, its leases run out
            try:
                with WorkerProcess(db_url, tmp_path / "b.log", *FAST, "--concurrency", "4", "--name", "b",
                                   env=env) as b:
                    wait_until(lambda: states(db_url, ids).get("delivered") == 4, 60, 0.05, "worker b's rescue")
                    assert b.stop() == 0
            finally:
                a.proc.send_signal(signal.SIGCONT)
            wait_until(lambda: sum(1 for e in a.events() if e.get("event") == "delivery") == 4, 30, 0.1,
                       "worker a to finish its batch")
            assert a.stop() == 0
            outcomes = [e["outcome"] for e in a.events() if e.get("event") == "delivery"]
    assert outcomes == ["fenced"] * 4, "a's completions lost to b's newer claims"
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT claims, claimed_by, attempts, state FROM ops.escalations WHERE id = ANY(%s)",
                            (ids,)).fetchall()
    assert rows == [(2, "b", 1, "delivered")] * 4, "b's claim (token 2) completed each once; a changed nothing"
    assert all(n == 2 for n in rx.successes("/hook").values()), "each was POSTed by a and again by b"
