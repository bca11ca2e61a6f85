"""Escalation latency benchmark (issue 12): commit → delivery, p50/p95/p99, at 10, 100 and 1,000
escalations per second, ours against Procrastinate and PgQueuer (psycopg driver) doing the same no-op
job, in one run on one server, each in its own scratch database.

    .venv/bin/python bench/latency.py [--size smoke|full|N] [--json] [--no-peers]

One consumer process per system (ours: `ops worker` with the webhook delivery replaced by a no-op that
records the time, see bench/drain.py; 16 at a time everywhere) waits on an empty queue; one producer
enqueues one job per transaction at the rate (open loop, one connection; the achieved rate is in the
detail) and records the wall-clock time each commit returned. Latency = the time the no-op ran − the
commit time. Goal: ours p99 ≤ 1.5× Procrastinate's at each rate (ratio = ours / theirs, lower is
better). Checked every time: every committed job ran exactly once.
``--size N``: N seconds at each rate.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402

from bench import drain  # noqa: E402

RATES = (10, 100, 1000)
SECONDS = {"smoke": {10: 1.0, 100: 1.0, 1000: 0.5}, "full": {10: 10.0, 100: 10.0, 1000: 5.0}}


def seconds_at(size: str) -> dict[int, float]:
    if size in SECONDS:
        return SECONDS[size]
    try:
        value = float(size)
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(f"--size {size!r}: use smoke, full or a positive number of seconds per rate")
    return {r: value for r in RATES}


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n q / 100), at least 1
    return ordered[int(rank) - 1]


def paced(enqueue, rate: float, seconds: float) -> list[list]:
    """One enqueue per call at ``rate`` per second (open loop); [[id, commit unix time], ...]."""
    out, start = [], time.monotonic()
    for i in range(int(rate * seconds)):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        job_id = enqueue(i)
        out.append([job_id, time.time()])
    return out


def latencies(committed: list[list], executed: list[list], who: str) -> dict:
    ran = {}
    for job_id, at in executed:
        assert job_id not in ran, f"{who}: job {job_id} ran twice"
        ran[job_id] = at
    assert set(ran) == {j for j, _ in committed}, f"{who}: {len(ran)} jobs ran, {len(committed)} were committed"
    ms = [(ran[j] - at) * 1000 for j, at in committed]
    span = committed[-1][1] - committed[0][1] if len(committed) > 1 else 0
    return {"p50": percentile(ms, 50), "p95": percentile(ms, 95), "p99": percentile(ms, 99), "jobs": len(ms),
            "achieved_rate": round((len(committed) - 1) / span, 1) if span else None}


def ours(database_url: str | None, rate: int, seconds: float) -> dict:
    logdir = drain.HERE / "results" / "logs"
    logdir.mkdir(parents=True, exist_ok=True)
    with drain.ours_database(database_url, "bench_latency") as url:
        procs = drain.start_workers(url, "noop", 1, {"BENCH_WEBHOOK_SECRET": drain.SECRET}, logdir)
        try:
            drain.wait_listening(url, 1, "ops-worker-listen")
            with psycopg.connect(url, autocommit=True) as conn:
                committed = paced(lambda i: conn.execute(
                    """INSERT INTO ops.escalations (dedupe_key, fingerprint, code, reason, destination, count_at, payload)
                       VALUES (%s, md5(%s), 'DB.DEADLOCK', 'manual', 'ops_webhook', 1,
                               '{"title": "Deadlock detected", "source": "bench"}') RETURNING id""",
                    (f"l{i}", f"l{i}")).fetchone()[0], rate, seconds)
                drain.wait_done(lambda: conn.execute(
                    "SELECT count(*) FROM ops.escalations WHERE state = 'delivered'").fetchone()[0], len(committed), 60)
        finally:
            outs = drain.stop(procs)
    return latencies(committed, outs[0]["executed"], "ours")


def peer(database_url: str | None, name: str, rate: int, seconds: float) -> dict:
    with drain.scratch_database(database_url, f"bench_latency_{name}") as url:
        drain.peer(name, "setup", url)
        procs = drain.start_peer_consumers(name, url, 1)
        try:
            time.sleep(2.5)
            committed = drain.peer(name, "produce", url, str(rate), str(seconds))["committed"]
            with psycopg.connect(url, autocommit=True) as conn:  # a peer slower than the rate works off its backlog
                drain.wait_done(lambda: conn.execute(f"SELECT count(*) FROM {drain.DONE_TABLE[name]}").fetchone()[0],
                                len(committed), 300)
        finally:
            outs = drain.stop(procs)
    return latencies(committed, outs[0]["executed"], name)


def run(size: str, database_url: str | None, with_peers: bool | None = None) -> list[dict]:
    """Rows in the bench convention, with the peers unless ``with_peers`` is False or BENCH_PEERS=0;
    raises AssertionError when a job was lost or ran twice."""
    with_peers = os.environ.get("BENCH_PEERS", "1") != "0" if with_peers is None else with_peers
    rows = []
    for rate, seconds in seconds_at(size).items():
        mine = ours(database_url, rate, seconds)
        theirs = {name: peer(database_url, name, rate, seconds) for name in ("procrastinate", "pgqueuer")} \
            if with_peers else {}
        proc, pgq = theirs.get("procrastinate"), theirs.get("pgqueuer")
        detail = {"rate_per_s": rate, "seconds": seconds, "ours": mine, "procrastinate": proc, "pgqueuer": pgq}
        for q in ("p50", "p95", "p99"):
            goal = "≤ 1.5× Procrastinate (lower is better)" if q == "p99" else None
            ratio = mine[q] / proc[q] if proc else None
            rows.append({"benchmark": "latency", "case": f"commit→delivery {q} @ {rate}/s vs Procrastinate",
                         "ours": round(mine[q], 2), "baseline": round(proc[q], 2) if proc else None, "unit": "ms",
                         "ratio": None if ratio is None else round(ratio, 3), "goal": goal,
                         "met": None if goal is None or ratio is None else ratio <= 1.5, "detail": detail})
        if pgq:
            rows.append({"benchmark": "latency", "case": f"commit→delivery p99 @ {rate}/s vs PgQueuer",
                         "ours": round(mine["p99"], 2), "baseline": round(pgq["p99"], 2), "unit": "ms",
                         "ratio": round(mine["p99"] / pgq["p99"], 3), "goal": None, "met": None, "detail": detail})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="full")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-peers", action="store_true", help="ours only (no peer venvs)")
    args = ap.parse_args(argv)
    from bench import run as harness
    rows = run(args.size, os.environ.get("DATABASE_URL"), with_peers=not args.no_peers)
    print(json.dumps(rows, indent=1) if args.json else harness.table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
