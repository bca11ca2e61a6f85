"""Worker drain benchmark (issue 12): how fast a backlog of N jobs is worked off, ours against PgQueuer
(psycopg driver) and Procrastinate doing the same no-op job, and a bare SKIP LOCKED loop, in one run on
one server, each in its own scratch database.

    .venv/bin/python bench/drain.py [--size smoke|full|N] [--json] [--no-peers]

Per case the consumers start first (W worker processes, each 16 at a time), then N jobs are committed
in one transaction; the drain time runs from that commit to the moment a 10 ms poll sees all N done.
Cases (W = 1 and 4 processes):
  noop   ours: `ops worker` with the webhook destination's delivery replaced by a no-op (claim, lease,
         fenced completion all real); baseline PgQueuer's no-op rate. Goal ≥ 1.0× PgQueuer.
  http   ours: real signed webhook POSTs to a receiver on 127.0.0.1; baseline PgQueuer's no-op rate.
         Goal ≥ 0.5× PgQueuer.
  procrastinate, bare: their no-op rates, printed (ours / theirs) without a goal.
  rss    the largest worker process's peak RSS (VmHWM) after the http drain, MiB.
Correctness checked every time (raises AssertionError): every job done exactly once — ours, no-op: all
N rows delivered on their first claim (claims = 1); ours, http: all N delivered and N requests with N
distinct delivery ids and valid signatures at the receiver (a retry after a refused connection is
allowed, a repeated delivery is not); peers: N distinct job ids executed.

``python bench/drain.py --serve noop|http`` is the worker launcher the benchmark runs, ``--receive`` the
receiver process (tests/receiver.py on 127.0.0.1, its own interpreter) of the http case (internal).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402

from bench import peers  # noqa: E402

HERE = Path(__file__).resolve().parent
PEER_SCRIPT = HERE / "_peer_queue.py"
SIZES = {"smoke": {"n": 200, "repeat": 1, "workers": (1,)}, "full": {"n": 5000, "repeat": 3, "workers": (1, 4)}}
CONCURRENCY = 16
SECRET = "bench-secret"


def sizes(size: str) -> dict:
    if size in SIZES:
        return SIZES[size]
    if size.isdigit() and int(size) > 0:
        return {"n": int(size), "repeat": 1, "workers": (1, 4)}
    raise ValueError(f"--size {size!r}: use smoke, full or a positive number of jobs")


# -- databases --------------------------------------------------------------------------------------
@contextlib.contextmanager
def scratch_database(database_url: str | None, prefix: str = "bench_drain"):
    """A new empty database on the server of ``database_url`` (or the embedded cluster); dropped after."""
    from worker import db
    url = database_url or db.database_url()
    base = url.rsplit("/", 1)[0]
    name = f"{prefix}_{os.getpid()}_{random.randrange(10**6)}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@contextlib.contextmanager
def ours_database(database_url: str | None, prefix: str = "bench_drain"):
    from worker import migrations, ssot
    with scratch_database(database_url, prefix) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            migrations.migrate(conn)
            ssot.sync(conn)
        yield url


def insert_jobs(url: str, n: int, tag: str = "d") -> float:
    """N pending escalations to ops_webhook in one transaction; returns the wall-clock time of the commit."""
    with psycopg.connect(url) as conn:
        conn.execute(
            """INSERT INTO ops.escalations (dedupe_key, fingerprint, code, reason, destination, count_at, payload)
               SELECT %s || i, md5(%s || i), 'DB.DEADLOCK', 'manual', 'ops_webhook', i,
                      jsonb_build_object('title', 'Deadlock detected', 'severity', 'high',
                                         'sample_message', 'ERROR: deadlock detected', 'source', 'bench')
               FROM generate_series(1, %s) i""", (tag, tag, n))
        conn.commit()
        return time.time()


def wait_done(count, n: int, timeout: float) -> float:
    """Poll ``count()`` every 10 ms until it reaches n; returns the wall-clock time it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if count() >= n:
            return time.time()
        time.sleep(0.01)
    raise AssertionError(f"only {count()} of {n} jobs done after {timeout:.0f} s")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# -- ours -------------------------------------------------------------------------------------------
def start_workers(url: str, mode: str, workers: int, env: dict, logdir: Path) -> list[subprocess.Popen]:
    procs = []
    for i in range(workers):
        log = open(logdir / f"worker-{mode}-{i}.log", "wb")
        procs.append(subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve", mode],
            env={**os.environ, **env, "DATABASE_URL": url}, stdout=subprocess.PIPE, stderr=log))
    return procs


def stop(procs: list[subprocess.Popen], timeout: float = 20) -> list[dict]:
    """SIGTERM each, wait, and parse the JSON of its last stdout line (None when it printed none)."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    out = []
    for p in procs:
        try:
            stdout, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            stdout, _ = p.communicate()
        lines = [x for x in (stdout or b"").decode().splitlines() if x.strip()]
        out.append(json.loads(lines[-1]) if lines else None)
    return out


def wait_listening(url: str, workers: int, application_name: str, timeout: float = 30) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        wait_done(lambda: conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                       "AND application_name = %s", (application_name,)).fetchone()[0],
                  workers, timeout)
    time.sleep(0.3)


@contextlib.contextmanager
def receiver_process():
    """A real HTTP receiver on 127.0.0.1 (tests/receiver.py: verifies signatures, records delivery ids) in its
    own process, so the worker under test does not share an interpreter with it. Yields (url, finish)
    where finish() stops it and returns {"deliveries": [delivery id per request], "bad_signatures": n}."""
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--receive"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = proc.stdout.readline().strip()
    got: dict = {}

    def finish() -> dict:
        if not got:
            proc.send_signal(signal.SIGTERM)
            got.update(json.loads(proc.communicate(timeout=30)[0].strip().splitlines()[-1]))
        return got
    try:
        yield url, finish
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def receive() -> None:
    from tests.receiver import Receiver
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with Receiver(secret=SECRET.encode()) as rx:
        rx.server.socket.listen(256)  # the default backlog (5) resets a burst of new connections
        # http.server writes the headers and the body in two sends; with Nagle on, each answer then
        # waits for the client's delayed ACK (~40 ms), which would cap any client at ~25 requests/s per
        # connection. Real receivers (any production HTTP server) set TCP_NODELAY; so does this one.
        rx.server.RequestHandlerClass.disable_nagle_algorithm = True
        print(rx.url(), flush=True)
        stop.wait()
        with rx.lock:
            out = {"deliveries": [r["delivery"] for r in rx.requests], "bad_signatures": rx.bad_signatures}
    print(json.dumps(out), flush=True)


def drain_ours(database_url: str | None, mode: str, n: int, workers: int) -> dict:
    """Drain n escalations with ``workers`` processes; returns rate, drain seconds, peak RSS and checks."""
    logdir = HERE / "results" / "logs"  # the workers' JSON logs of the latest run (git-ignored)
    logdir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        url_rx, finish = stack.enter_context(receiver_process()) if mode == "http" else (None, None)
        env = {"BENCH_WEBHOOK_SECRET": SECRET, "BENCH_WEBHOOK_URL": url_rx or ""}
        url = stack.enter_context(ours_database(database_url))
        procs = start_workers(url, mode, workers, env, logdir)
        try:
            wait_listening(url, workers, "ops-worker-listen")
            committed = insert_jobs(url, n)
            with psycopg.connect(url, autocommit=True) as conn:
                done = wait_done(lambda: conn.execute(
                    "SELECT count(*) FROM ops.escalations WHERE state = 'delivered'").fetchone()[0], n, 300)
                rss = max(peak_rss_mib(p.pid) for p in procs)
                claims = dict(conn.execute("SELECT claims, count(*) FROM ops.escalations GROUP BY 1").fetchall())
        finally:
            stop(procs)
        received = finish() if finish else None
    if received is None:
        assert claims == {1: n}, f"ours/noop: every escalation delivered on its first claim, got claims {claims}"
    else:
        ids = received["deliveries"]
        assert len(ids) == n and len(set(ids)) == n, f"ours/http: {len(ids)} POSTs, {len(set(ids))} distinct, want {n}"
        assert received["bad_signatures"] == 0
    return {"rate": n / (done - committed), "seconds": done - committed, "rss_mib": rss}


def serve(mode: str) -> None:
    """The benchmark's worker process: `ops worker` as the CLI builds it; in ``noop`` mode the webhook
    destination's delivery records (id, time) and returns, so claim, lease and completion stay real.
    On SIGTERM prints ``{"executed": [[id, unix_seconds], ...]}`` (noop) and exits."""
    from worker.dispatch import worker as w
    os.environ["OPS_WEBHOOK_URL"] = os.environ.get("BENCH_WEBHOOK_URL") or "http://127.0.0.1:9/unused"
    os.environ["OPS_WEBHOOK_SECRET"] = os.environ["BENCH_WEBHOOK_SECRET"]
    executed: list[list] = []
    lock = threading.Lock()

    def noop(job, dest, ctx) -> dict:
        with lock:
            executed.append([job["id"], time.time()])
        return {}

    settings = w.Settings(concurrency=CONCURRENCY, batch=CONCURRENCY, lease=30, poll=1, shutdown_timeout=5)
    worker = w.Worker(os.environ["DATABASE_URL"], settings)
    if mode == "noop":
        worker.handlers = {**worker.handlers, "webhook": noop}
    worker.run()
    print(json.dumps({"executed": executed}), flush=True)


# -- peers and the bare loop ------------------------------------------------------------------------
def peer(name: str, *args: str, timeout: float = 600) -> dict:
    reqs = {"pgqueuer": peers.PGQUEUER, "procrastinate": peers.PROCRASTINATE}[name]
    return peers.run_in(name, reqs, PEER_SCRIPT, name, *args, timeout=timeout)


def peer_python(name: str) -> str:
    reqs = {"pgqueuer": peers.PGQUEUER, "procrastinate": peers.PROCRASTINATE}[name]
    return str(peers.ensure_venv(name, reqs) / "bin" / "python")


def start_peer_consumers(name: str, url: str, workers: int) -> list[subprocess.Popen]:
    python = peer_python(name)
    return [subprocess.Popen([python, str(PEER_SCRIPT), name, "consume", url, str(CONCURRENCY)],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) for _ in range(workers)]


DONE_TABLE = {"pgqueuer": "pgqueuer_log WHERE status = 'successful'",  # the jobs each peer has finished
              "procrastinate": "procrastinate_jobs WHERE status = 'succeeded'"}


def drain_peer(database_url: str | None, name: str, n: int, workers: int) -> dict:
    with scratch_database(database_url, f"bench_{name}") as url:
        peer(name, "setup", url)
        procs = start_peer_consumers(name, url, workers)
        try:
            time.sleep(2.5)  # the consumers import, connect and LISTEN
            got = peer(name, "enqueue", url, str(n))
            with psycopg.connect(url, autocommit=True) as conn:
                done = wait_done(lambda: conn.execute(f"SELECT count(*) FROM {DONE_TABLE[name]}").fetchone()[0], n, 300)
            rss = max(peak_rss_mib(p.pid) for p in procs)
        finally:
            outs = stop(procs)
    executed = [job for o in outs if o for job in o["executed"]]
    ids = [j for j, _ in executed]
    assert len(ids) == n and set(ids) == set(got["ids"]), f"{name}: {len(ids)} executed, {len(set(ids))} distinct, want {n}"
    return {"rate": n / (done - got["committed_at"]), "seconds": done - got["committed_at"], "rss_mib": rss}


def drain_bare(database_url: str | None, n: int, workers: int) -> dict:
    """The floor of a SKIP LOCKED queue: threads that each claim-and-finish a batch in one statement."""
    with scratch_database(database_url, "bench_bare") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE jobs (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
                         "state text NOT NULL DEFAULT 'pending', done_at timestamptz)")
            conn.execute("CREATE INDEX ON jobs (id) WHERE state = 'pending'")
            conn.execute("INSERT INTO jobs (state) SELECT 'pending' FROM generate_series(1, %s)", (n,))
            committed = time.time()

        def loop():
            with psycopg.connect(url, autocommit=True) as c:
                while c.execute("UPDATE jobs SET state = 'done', done_at = now() WHERE id IN (SELECT id FROM jobs "
                                "WHERE state = 'pending' ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)",
                                (CONCURRENCY,)).rowcount:
                    pass
        threads = [threading.Thread(target=loop) for _ in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        done = time.time()
        with psycopg.connect(url, autocommit=True) as conn:
            left = conn.execute("SELECT count(*) FROM jobs WHERE state <> 'done'").fetchone()[0]
    assert left == 0
    return {"rate": n / (done - committed), "seconds": done - committed}


# -- the benchmark ----------------------------------------------------------------------------------
def median_of(fn, repeat: int) -> dict:
    runs = [fn() for _ in range(repeat)]
    rate = statistics.median(r["rate"] for r in runs)
    return {"rate": rate, "runs": [round(r["rate"], 1) for r in runs],
            "rss_mib": max(r.get("rss_mib", 0) for r in runs)}


def row(case: str, ours: float, baseline: float | None, unit: str, goal: str | None, need: float | None,
        detail: dict) -> dict:
    ratio = ours / baseline if baseline else None
    return {"benchmark": "drain", "case": case, "ours": round(ours, 2),
            "baseline": None if baseline is None else round(baseline, 2), "unit": unit,
            "ratio": None if ratio is None else round(ratio, 3), "goal": goal,
            "met": None if need is None or ratio is None else ratio >= need, "detail": detail}


def run(size: str, database_url: str | None, with_peers: bool | None = None) -> list[dict]:
    """Rows in the bench convention (bench/README.md), with the peers unless ``with_peers`` is False or
    BENCH_PEERS=0; raises AssertionError when a drain lost or repeated a job."""
    with_peers = os.environ.get("BENCH_PEERS", "1") != "0" if with_peers is None else with_peers
    cfg = sizes(size)
    n, repeat = cfg["n"], cfg["repeat"]
    rows = []
    for workers in cfg["workers"]:
        noop = median_of(lambda: drain_ours(database_url, "noop", n, workers), repeat)
        http = median_of(lambda: drain_ours(database_url, "http", n, workers), repeat)
        bare = median_of(lambda: drain_bare(database_url, n, workers), repeat)
        pgq = median_of(lambda: drain_peer(database_url, "pgqueuer", n, workers), repeat) if with_peers else None
        proc = median_of(lambda: drain_peer(database_url, "procrastinate", n, workers), repeat) if with_peers else None
        base = {"jobs": n, "workers": workers, "concurrency": CONCURRENCY, "repeat": repeat}
        if pgq:
            rows.append(row(f"noop, {workers} worker(s) vs PgQueuer", noop["rate"], pgq["rate"], "jobs/s",
                            "≥ 1.0× PgQueuer", 1.0, {**base, "ours_runs": noop["runs"], "pgqueuer_runs": pgq["runs"]}))
            rows.append(row(f"http, {workers} worker(s) vs PgQueuer no-op", http["rate"], pgq["rate"], "jobs/s",
                            "≥ 0.5× PgQueuer", 0.5, {**base, "ours_runs": http["runs"], "pgqueuer_runs": pgq["runs"]}))
            rows.append(row(f"noop, {workers} worker(s) vs Procrastinate", noop["rate"], proc["rate"], "jobs/s",
                            None, None, {**base, "procrastinate_runs": proc["runs"]}))
        rows.append(row(f"noop, {workers} worker(s) vs bare SKIP LOCKED", noop["rate"], bare["rate"], "jobs/s",
                        None, None, {**base, "ours_runs": noop["runs"], "bare_runs": bare["runs"]}))
        rows.append(row(f"http, {workers} worker(s) vs ours no-op", http["rate"], noop["rate"], "jobs/s",
                        None, None, {**base, "http_runs": http["runs"]}))
        rows.append(row(f"worker peak RSS, http, {workers} worker(s)", http["rss_mib"],
                        pgq["rss_mib"] if pgq else None, "MiB", None, None,
                        {**base, "baseline": "PgQueuer consumer peak RSS" if pgq else None}))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="full")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-peers", action="store_true", help="ours and the bare loop only (no peer venvs)")
    ap.add_argument("--serve", choices=("noop", "http"), help=argparse.SUPPRESS)
    ap.add_argument("--receive", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.receive:
        receive()
        return 0
    if args.serve:
        serve(args.serve)
        return 0
    from bench import run as harness
    rows = run(args.size, os.environ.get("DATABASE_URL"), with_peers=not args.no_peers)
    print(json.dumps(rows, indent=1) if args.json else harness.table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
