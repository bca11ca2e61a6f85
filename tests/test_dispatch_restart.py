"""PostgreSQL restarts under a running worker: it reconnects and resumes without being restarted.

Uses its own throwaway cluster (a restart would disturb every other test on the shared one)."""

from __future__ import annotations

import shutil
import tempfile
import time

import psycopg
import pytest

from tests.dispatch_kit import FAST, WorkerProcess, insert_escalations, states, wait_until
from tests.receiver import Receiver
from worker import ROOT, migrations, ssot
from worker.cluster import Cluster


@pytest.fixture
def own_cluster():
    (ROOT / ".ops").mkdir(exist_ok=True)
    home = tempfile.mkdtemp(prefix="restart-", dir=ROOT / ".ops")
    cluster = Cluster(__import__("pathlib").Path(home))
    cluster.init(fast=True)
    cluster.start()
    with psycopg.connect(cluster.url()) as conn:
        migrations.migrate(conn)
        ssot.sync(conn)
    yield cluster
    cluster.destroy()
    shutil.rmtree(home, ignore_errors=True)


def test_worker_survives_a_database_restart(own_cluster, tmp_path):
    url = own_cluster.url()
    before = insert_escalations(url, 10, tag="before")
    with Receiver() as rx, WorkerProcess(url, tmp_path / "w.log", *FAST,
                                         env={"OPS_WEBHOOK_URL": rx.url(), "OPS_WEBHOOK_SECRET": "test-secret"}) as w:
        wait_until(lambda: states(url, before).get("delivered") == 10, 20, 0.05, "deliveries before the restart")
        own_cluster.stop("fast")
        time.sleep(1.0)
        own_cluster.start()
        after = insert_escalations(url, 10, tag="after")
        wait_until(lambda: states(url, after).get("delivered") == 10, 30, 0.1, "deliveries after the restart")
        assert w.proc.poll() is None, "the same worker process, never restarted"
        assert w.stop() == 0
        events = [e["event"] for e in w.events()]
        assert "database_unavailable" in events and events.count("listening") >= 2
        lines = w.log_path.read_text().splitlines()
        assert len(w.events()) == len(lines), "every log line is JSON, the pool's warnings included"
        assert len(rx.successes()) == 20
