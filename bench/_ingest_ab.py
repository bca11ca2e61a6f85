"""Two definitions of the ingest triggers against each other, interleaved in one sitting (issue 12; not a row).

    .venv/bin/python bench/_ingest_ab.py --old OLD.sql --new NEW.sql [--rounds 5] [--events 5000]
                                         [--single 2000] [--threads 2000] [--record 0] [--auto 0] [--kind repeat]
                                         [--perf]

``OLD.sql`` and ``NEW.sql`` each hold ``CREATE OR REPLACE FUNCTION`` statements (e.g. the trigger functions as main
has them, and as a branch has them). In one scratch database (``bench/ingest.py``'s: ``DATABASE_URL`` or the
embedded cluster), each round loads OLD, measures, loads NEW, measures (the order alternates between rounds), and
measures the bare table as well:

* ``batch``: 500-row INSERTs of the bench's repeated errors: backend CPU per event (``perf stat -e task-clock`` on the
  connection's server process with ``--perf``, else ``/proc`` ticks) and wall µs per event;
* ``single``: single-row INSERT statements in one transaction (no commit flush): CPU and wall µs per statement;
* ``auto``: single-row INSERT statements, each its own transaction (autocommit, as a real producer sends them):
  CPU and wall µs per statement. Unlike ``single``, this sees what PostgreSQL redoes once per transaction (a
  LANGUAGE sql function that is not inlined is parsed and planned again in every transaction that calls it);
* ``threads``: 8 connections of autocommit single-row INSERTs (durable commits): events/s, and the ratio to the
  bare table measured in the same round, with the server CPU per event of the 8 connections (``/proc`` ticks);
* ``record``: the same with one ``ops.record_error()`` call per event (``bench/ingest.py``'s ``RECORD``), its ratio
  to the bare table's 8-thread INSERTs of the same round, as the bench's row computes it.

``--kind varied`` measures the bench's varying-id texts (``bench/ingest.py`` ``kind == "varied"``: a timestamp and a
request UUID in each text, so every event misses the classification cache) instead of its exact repeats; the groups
are warmed with the first text of each message, as ``bench/ingest.py`` does.

Every measurement of ours checks the counts (``bench/ingest.py`` ``check_counts``). Prints each round and the
medians, with the load average at the start and the end. Absolute µs move with the machine's load; compare
within a round.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from contextlib import nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import psycopg  # noqa: E402

import ingest as bench  # noqa: E402


class CpuClock:
    """CPU seconds of one server process over a block: ``perf stat -e task-clock`` (ns) or ``/proc`` ticks."""

    def __init__(self, pid: int, use_perf: bool):
        self.pid, self.use_perf = pid, use_perf

    def __enter__(self):
        if self.use_perf:
            self.proc = subprocess.Popen(["perf", "stat", "-x,", "-e", "task-clock", "-p", str(self.pid)],
                                         stderr=subprocess.PIPE, text=True)
            time.sleep(0.2)
        else:
            self.start = bench.backend_cpu([self.pid])
        return self

    def __exit__(self, *exc):
        if self.use_perf:
            self.proc.send_signal(signal.SIGINT)
            err = self.proc.communicate()[1]
            m = re.search(r"^([0-9.]+),msec,task-clock", err, re.M)
            self.seconds = float(m.group(1)) / 1000 if m else float("nan")
        else:
            self.seconds = bench.backend_cpu([self.pid]) - self.start


def load(conn: psycopg.Connection, path: str) -> None:
    conn.execute(Path(path).read_text())


WARM: list[tuple] | None = None  # --kind varied: the texts the groups are warmed with (else each distinct row)


def warm(conn, rows) -> int:
    """Reset, then ingest the warm-up texts; returns how many events that stored."""
    bench.reset(conn)
    seen = WARM if WARM is not None else list(dict.fromkeys(rows))
    bench.warm(conn, seen)
    return len(seen)


def batch(conn, rows, table, use_perf):
    warmed = warm(conn, rows)
    with CpuClock(conn.info.backend_pid, use_perf) as clock:
        wall = bench.run_batches(conn, rows, table)
    if table == "ops.error_events":
        bench.check_counts(conn, len(rows) + warmed)
    return clock.seconds / len(rows) * 1e6, wall / len(rows) * 1e6


def single(conn, rows, table, use_perf, autocommit=False):
    warmed = warm(conn, rows)
    statement = bench.insert_sql(table)
    # The connection is autocommit: without a transaction block each statement commits on its own.
    with CpuClock(conn.info.backend_pid, use_perf) as clock, (nullcontext() if autocommit else conn.transaction()):
        start = time.perf_counter()
        for r in rows:
            conn.execute(statement, r, prepare=True)
        wall = time.perf_counter() - start
    if table == "ops.error_events":
        bench.check_counts(conn, len(rows) + warmed)
    return clock.seconds / len(rows) * 1e6, wall / len(rows) * 1e6


def threads(url, conn, rows, table, statement=None):
    """events/s and server CPU µs per event of 8 autocommit connections (``statement``: default the INSERT)."""
    warmed = warm(conn, rows)
    cpu: list = []
    rate = len(rows) / bench.run_clients(url, rows, bench.CLIENTS, statement or bench.insert_sql(table), cpu)
    if table == "ops.error_events":
        bench.check_counts(conn, len(rows) + warmed)
    return rate, (cpu[0] / len(rows) * 1e6 if cpu and cpu[0] is not None else float("nan"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", required=True, help="SQL file: the definitions before")
    ap.add_argument("--new", required=True, help="SQL file: the definitions after")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--events", type=int, default=5000, help="events per 500-row measurement")
    ap.add_argument("--single", type=int, default=2000, help="statements per single-row measurement (0: skip)")
    ap.add_argument("--threads", type=int, default=2000, help="events per 8-thread measurement (0: skip)")
    ap.add_argument("--record", type=int, default=0,
                    help="events per 8-client ops.record_error measurement (0: skip)")
    ap.add_argument("--auto", type=int, default=0,
                    help="statements per autocommit single-row measurement (0: skip)")
    ap.add_argument("--kind", choices=("repeat", "varied"), default="repeat",
                    help="the bench's exact repeats, or its varying-id texts (every event a cache miss)")
    ap.add_argument("--perf", action="store_true", help="CPU by perf stat task-clock instead of /proc ticks")
    a = ap.parse_args(argv)
    global WARM
    if a.kind == "varied":
        WARM = [bench.event(i, "varied") for i in range(len(bench.MESSAGES))]
        rows = [bench.event(i + len(bench.MESSAGES), "varied") for i in range(a.events)]
    else:
        rows = [bench.event(i, "repeat") for i in range(a.events)]
    print(f"load average at start: {os.getloadavg()}", flush=True)
    res: dict[str, list] = {}
    with bench.scratch_database(None) as url:
        bench.prepare(url)
        with psycopg.connect(url, autocommit=True) as conn:
            for r in range(a.rounds):
                order = ("old", "new") if r % 2 == 0 else ("new", "old")
                line = [f"round {r + 1}"]
                cpu, wall = batch(conn, rows, "public.bare_events", a.perf)
                res.setdefault("batch bare", []).append((cpu, wall))
                line.append(f"batch bare {cpu:.1f}/{wall:.1f}")
                for label in order:
                    load(conn, a.old if label == "old" else a.new)
                    cpu, wall = batch(conn, rows, "ops.error_events", a.perf)
                    res.setdefault(f"batch {label}", []).append((cpu, wall))
                    line.append(f"batch {label} {cpu:.1f}/{wall:.1f}")
                if a.single:
                    srows = rows[:a.single]
                    cpu, wall = single(conn, srows, "public.bare_events", a.perf)
                    res.setdefault("single bare", []).append((cpu, wall))
                    for label in order:
                        load(conn, a.old if label == "old" else a.new)
                        cpu, wall = single(conn, srows, "ops.error_events", a.perf)
                        res.setdefault(f"single {label}", []).append((cpu, wall))
                        line.append(f"single {label} {cpu:.0f}/{wall:.0f}")
                if a.auto:
                    arows = rows[:a.auto]
                    cpu, wall = single(conn, arows, "public.bare_events", a.perf, autocommit=True)
                    res.setdefault("auto bare", []).append((cpu, wall))
                    for label in order:
                        load(conn, a.old if label == "old" else a.new)
                        cpu, wall = single(conn, arows, "ops.error_events", a.perf, autocommit=True)
                        res.setdefault(f"auto {label}", []).append((cpu, wall))
                        line.append(f"auto {label} {cpu:.0f}/{wall:.0f}")
                if a.threads or a.record:
                    trows = rows[:max(a.threads, a.record)]
                    bare, bare_cpu = threads(url, conn, trows, "public.bare_events")
                    line.append(f"8thr bare {bare:.0f}/s {bare_cpu:.0f}us")
                    for label in order:
                        load(conn, a.old if label == "old" else a.new)
                        if a.threads:
                            rate, cpu = threads(url, conn, rows[:a.threads], "ops.error_events")
                            res.setdefault(f"threads {label}", []).append((rate, rate / bare, cpu))
                            line.append(f"8thr {label} {rate:.0f}/s ({rate / bare:.2f}x) {cpu:.0f}us")
                        if a.record:
                            rate, cpu = threads(url, conn, rows[:a.record], "ops.error_events", bench.RECORD)
                            res.setdefault(f"record {label}", []).append((rate, rate / bare, cpu))
                            line.append(f"record {label} {rate:.0f}/s ({rate / bare:.2f}x) {cpu:.0f}us")
                    res.setdefault("threads bare", []).append((bare, 1.0, bare_cpu))
                print("  ".join(line), flush=True)
    print(f"load average at end: {os.getloadavg()}")
    for key, xs in res.items():
        a0 = statistics.median(x[0] for x in xs)
        a1 = statistics.median(x[1] for x in xs)
        if key.startswith(("threads", "record")):
            a2 = statistics.median(x[2] for x in xs)
            print(f"median {key:14} {a0:9.1f} {a1:9.2f} {a2:7.0f}   (events/s, ratio to bare, server cpu µs per event)")
        else:
            print(f"median {key:14} {a0:9.1f} {a1:9.2f}   (cpu µs, wall µs per event)")
    for kind in ("threads", "record"):
        if f"{kind} old" in res:
            print(f"{kind}: events/s new/old per round: "
                  + ", ".join(f"{y[0] / x[0]:.2f}" for x, y in zip(res[f"{kind} old"], res[f"{kind} new"])))
    for kind in ("batch", "single", "auto"):
        if f"{kind} old" in res:
            o = [x[0] for x in res[f"{kind} old"]]
            n = [x[0] for x in res[f"{kind} new"]]
            print(f"{kind}: cpu new/old per round: " + ", ".join(f"{y / x:.2f}" if x else "n/a (no CPU tick)" for x, y in zip(o, n)))
            ob = [x[1] for x in res[f"{kind} old"]]
            nb = [x[1] for x in res[f"{kind} new"]]
            bw = [x[1] for x in res[f"{kind} bare"]]
            print(f"{kind}: wall ratio to bare old / new per round: "
                  + ", ".join(f"{b / x:.3f}/{b / y:.3f}" for x, y, b in zip(ob, nb, bw)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
