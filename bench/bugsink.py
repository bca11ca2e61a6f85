"""Benchmark ingest and grouping against Bugsink (PyPI `bugsink`), fed the same events through the Sentry SDK.

    .venv/bin/python bench/bugsink.py                  # 10,000 events
    .venv/bin/python bench/bugsink.py --size smoke     # 200 events
    .venv/bin/python bench/bugsink.py --size 2000 --json

The events are the demo feed's (worker/demo.py, seeded): producer, phase and a message with ids and numbers.

  ours     each event through ops.record_error (one client, one transaction per event, as an Edge Function
           calls it): when the call returns the event is stored, grouped into ops.agent_errors and counted.
  bugsink  Bugsink run as its single-server template sets it up (bugsink-create-conf --template=singleserver:
           SQLite, gunicorn, the snappea background workers that digest, i.e. group, what was ingested) on
           127.0.0.1, in a virtualenv of its own (.bench-venvs/bugsink, with sentry-sdk), its event quotas
           raised (the defaults, 1,000 per 5 minutes, reject this feed); the events sent by sentry_sdk
           (capture_event, level error, the producer and phase as tags) from one process, as an app would.
           The clock stops when Bugsink's project has digested every event.

Rows: events/s until every event is stored and grouped (ratio = ours / Bugsink, higher is better), and the
number of groups each made (ours: ops.agent_errors rows; Bugsink: issues). Verdicts come only from ratios of
the same run. Bugsink's venv is created on first use (about a minute, from PyPI); later runs reuse it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402

from bench.peers import ensure_venv  # noqa: E402
from worker import db, ingest, migrations, ssot  # noqa: E402
from worker.demo import events  # noqa: E402

NAME = "bugsink"
SIZES = {"smoke": 200, "full": 10_000}
REQUIREMENTS = ["bugsink==2.6.2", "sentry-sdk==2.75.0"]
QUOTA = 1_000_000_000  # per 5 minutes / hour / month, per project and in total
DIGEST_TIMEOUT = 1800.0  # seconds; Bugsink digests roughly 50 events/s on small hardware (its documentation)

# Appended to the generated single-server configuration: plain HTTP on 127.0.0.1 (no reverse proxy), no
# outbound calls, and quotas that let the whole feed in.
OVERRIDES = """
SECURE_PROXY_SSL_HEADER = None
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
USE_X_REAL_IP = False
BUGSINK["BASE_URL"] = "http://127.0.0.1:{port}"
BUGSINK["PHONEHOME"] = False
BUGSINK["INGEST_STORE_BASE_DIR"] = "{base}/ingestion"
for _key in ("MAX_EVENTS_PER_PROJECT_PER_5_MINUTES", "MAX_EVENTS_PER_PROJECT_PER_HOUR",
             "MAX_EVENTS_PER_PROJECT_PER_MONTH", "MAX_EVENTS_PER_5_MINUTES", "MAX_EVENTS_PER_HOUR",
             "MAX_EVENTS_PER_MONTH"):
    BUGSINK[_key] = {quota}
"""

# Runs in Bugsink's venv: the Sentry SDK sends every event of the feed, then flushes its queue.
FEEDER = """
import json, sys, sentry_sdk
dsn, path = sys.argv[1], sys.argv[2]
feed = json.loads(open(path).read())
sentry_sdk.init(dsn=dsn, transport_queue_size=len(feed) + 100, default_integrations=False, max_breadcrumbs=0)
for ev in feed:
    sentry_sdk.capture_event({"message": ev["message"], "level": "error",
                              "tags": {"source": ev["source"], "phase": ev["phase"] or ""}})
sentry_sdk.flush(timeout=3600)
"""


def feed_of(n: int) -> list[dict]:
    stream = events(random.Random(1))
    return [next(stream) for _ in range(n)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def scratch_database(database_url: str | None):
    url = database_url or db.database_url()
    base = url.rsplit("/", 1)[0]
    name = f"bench_bugsink_{random.randrange(10**8)}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with psycopg.connect(f"{base}/{name}") as conn:
            migrations.migrate(conn)
            ssot.sync(conn)
            conn.commit()
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def ours(feed: list[dict], database_url: str | None) -> dict:
    with scratch_database(database_url) as url, psycopg.connect(url) as conn:
        start = time.perf_counter()
        for ev in feed:
            ingest.record_one(conn, ev)
        seconds = time.perf_counter() - start
        stored, groups, counted = conn.execute(
            "SELECT (SELECT count(*) FROM ops.error_events), (SELECT count(*) FROM ops.agent_errors),"
            " (SELECT coalesce(sum(count), 0) FROM ops.agent_errors)").fetchone()
    return {"seconds": seconds, "stored": stored, "groups": groups, "counted": int(counted)}


class Bugsink:
    """A Bugsink server (gunicorn + snappea) in a directory of its own; stopped and removed on exit."""

    def __init__(self, venv: Path, base: Path) -> None:
        self.venv, self.base, self.port = venv, base, free_port()
        self.procs: list[subprocess.Popen] = []
        self.env = dict(os.environ, DJANGO_SETTINGS_MODULE="bugsink_conf", PYTHONPATH=str(base))
        self.env.pop("DATABASE_URL", None)

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def manage(self, *args: str) -> str:
        done = subprocess.run([self.bin("bugsink-manage"), *args], cwd=self.base, env=self.env, check=True,
                              capture_output=True, text=True)
        return done.stdout

    def setup(self) -> str:
        """Configure, migrate and create one project; returns its DSN."""
        conf = self.base / "bugsink_conf.py"
        subprocess.run([self.bin("bugsink-create-conf"), "--template=singleserver", "--host=127.0.0.1",
                        f"--port={self.port}", f"--base-dir={self.base}", f"--output-file={conf}"],
                       cwd=self.base, env=self.env, check=True, capture_output=True)
        with conf.open("a") as f:
            f.write(OVERRIDES.format(port=self.port, base=self.base, quota=QUOTA))
        (self.base / "snappea" / "wakeup").mkdir(parents=True, exist_ok=True)
        self.manage("migrate", "--no-input")
        self.manage("migrate", "--database=snappea", "--no-input")
        out = self.manage("shell", "-c", "from projects.models import Project; "
                          "print(Project.objects.create(name='bench', slug='bench').dsn)")
        return out.strip().splitlines()[-1]

    def start(self) -> None:
        logs = (self.base / "server.log").open("w")
        self.procs.append(subprocess.Popen(
            [self.bin("gunicorn"), f"--bind=127.0.0.1:{self.port}", "--workers=2", "bugsink.wsgi"],
            cwd=self.base, env=self.env, stdout=logs, stderr=subprocess.STDOUT))
        self.procs.append(subprocess.Popen([self.bin("bugsink-runsnappea")], cwd=self.base, env=self.env,
                                           stdout=logs, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return
            if any(p.poll() is not None for p in self.procs):
                break
            time.sleep(0.2)
        raise RuntimeError(f"Bugsink did not start; see {self.base / 'server.log'}")

    def counts(self) -> tuple[int, int, int]:
        """(events digested, events stored, issues) from Bugsink's SQLite database."""
        with contextlib.closing(sqlite3.connect(f"file:{self.base / 'db.sqlite3'}?mode=ro", uri=True, timeout=30)) as c:
            digested, stored = c.execute("SELECT digested_event_count, stored_event_count FROM projects_project").fetchone()
            issues = c.execute("SELECT count(*) FROM issues_issue").fetchone()[0]
        return digested, stored, issues

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def bugsink(feed: list[dict]) -> dict:
    venv = ensure_venv(NAME, REQUIREMENTS)
    with tempfile.TemporaryDirectory(prefix="bench-bugsink-") as tmp:
        server = Bugsink(venv, Path(tmp))
        dsn = server.setup()
        events_file = Path(tmp) / "feed.json"
        events_file.write_text(json.dumps(feed))
        server.start()
        try:
            start = time.perf_counter()
            feeder = subprocess.run([server.bin("python"), "-c", FEEDER, dsn, str(events_file)], env=server.env,
                                    capture_output=True, text=True, timeout=DIGEST_TIMEOUT)
            sent = time.perf_counter() - start
            if feeder.returncode:
                raise RuntimeError(f"the Sentry SDK feeder failed: {feeder.stderr.strip()[-500:]}")
            deadline = time.monotonic() + DIGEST_TIMEOUT
            digested = stored = issues = 0
            while time.monotonic() < deadline:
                digested, stored, issues = server.counts()
                if digested >= len(feed):
                    break
                time.sleep(0.1)
            seconds = time.perf_counter() - start
        finally:
            server.stop()
    return {"seconds": seconds, "sent_seconds": sent, "digested": digested, "stored": stored, "groups": issues}


def size_of(size: str) -> int:
    if size in SIZES:
        return SIZES[size]
    try:
        n = int(size)
    except ValueError:
        raise ValueError(f"--size must be smoke, full or a number of events, not {size!r}") from None
    if n < 1:
        raise ValueError(f"--size {n}: at least one event")
    return n


def run(size: str, database_url: str | None) -> list[dict]:
    """Rows of the bench convention: throughput until stored and grouped, and the groups each made."""
    n = size_of(size)
    feed = feed_of(n)
    o = ours(feed, database_url)
    b = bugsink(feed)
    ours_rate, their_rate = n / o["seconds"], b["digested"] / b["seconds"]
    ratio = ours_rate / their_rate
    return [
        {"benchmark": NAME, "case": f"stored and grouped, {n} events", "ours": round(ours_rate, 1),
         "baseline": round(their_rate, 1), "unit": "events/s", "ratio": round(ratio, 2),
         "goal": "≥ 1.0× Bugsink (higher is better)", "met": ratio >= 1.0,
         "detail": {"events": n, "ours_seconds": round(o["seconds"], 2), "ours_stored": o["stored"],
                    "ours_counted": o["counted"], "bugsink_seconds": round(b["seconds"], 2),
                    "bugsink_sdk_flushed_seconds": round(b["sent_seconds"], 2), "bugsink_digested": b["digested"],
                    "bugsink_stored": b["stored"]}},
        {"benchmark": NAME, "case": f"groups made, {n} events", "ours": o["groups"], "baseline": b["groups"],
         "unit": "groups (information, not a verdict)", "ratio": round(o["groups"] / b["groups"], 3) if b["groups"] else None,
         "goal": None, "met": None,
         "detail": {"ours": "ops.agent_errors rows (fingerprint of the normalized message)",
                    "bugsink": "issues_issue rows"}},
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="full", help="smoke, full or a number of events")
    ap.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = ap.parse_args()
    try:
        size_of(args.size)
    except ValueError as exc:
        ap.error(str(exc))
    rows = run(args.size, None)
    if args.json:
        print(json.dumps(rows, indent=1, ensure_ascii=False))
        return
    for r in rows:
        verdict = "" if r["met"] is None else (" met" if r["met"] else " NOT met")
        print(f"{r['case']:<34} ours {r['ours']:>9} Bugsink {r['baseline']:>9} {r['unit']:<36} ratio {r['ratio']}"
              f"  {r['goal'] or ''}{verdict}")
        print(f"    {json.dumps(r['detail'])}")


if __name__ == "__main__":
    main()
