"""Footprint benchmark (issue 12): bytes on disk per stored event and per grouped error after N events
through the pipeline, against the same rows in a bare table (no triggers, no indexes), in one run.

    .venv/bin/python bench/footprint.py [--size smoke|full|N] [--json]

smoke: 2,000 events; full: 1,000,000 events (the issue's figure; at today's ingest rate this takes
many minutes, so it runs only in `make bench`). Events come from the demo feed (worker/demo.py) with
one of 2,000 module names appended, so they group into about 47,000 errors at 1,000,000 events (8,600 in the
first 10,000: the early events are mostly first-seen). Sizes are
pg_total_relation_size (heap, indexes, TOAST, free space maps) summed over every daily partition of
ops.error_events, of ops.agent_errors, and of the bare table, measured after VACUUM (ANALYZE).
Rows (lower is better; ratio = ours / baseline):
  bytes per stored event        ops.error_events partitions / N, against the bare table / N
  bytes per grouped error       ops.agent_errors / its row count (no baseline: nothing else groups)
Checked: every event stored (count(*) = N) and the groups' counts add up to N.
Growth: at each checkpoint (10,000, 100,000, 250,000, 500,000, 750,000 events when N is larger) one line
goes to stderr with the sizes so far (no VACUUM in between), so a run stopped early still shows how the
bytes per event and per group grew; the final rows carry them as ``detail.growth``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import string
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402

from bench import drain  # noqa: E402

SIZES = {"smoke": 2_000, "full": 1_000_000}
BATCH = 2_000
MODULES = 2_000
CHECKPOINTS = (10_000, 100_000, 250_000, 500_000, 750_000)

INSERT = """
INSERT INTO {table} (source, phase, message, run_id, origin, context)
SELECT x.source, x.phase, x.message, x.run_id, x.origin, x.context
FROM jsonb_to_recordset(%s::jsonb) AS x (source text, phase text, message text, run_id text, origin text, context jsonb)
"""


def events_for(size: str) -> int:
    if size in SIZES:
        return SIZES[size]
    if size.isdigit() and int(size) > 0:
        return int(size)
    raise ValueError(f"--size {size!r}: use smoke, full or a positive number of events")


def feed(n: int, seed: int = 12):
    """Batches of demo events, each naming one of MODULES lower-case module names."""
    from worker.demo import events
    rng = random.Random(seed)
    modules = ["".join(rng.choices(string.ascii_lowercase, k=8)) for _ in range(MODULES)]
    stream = events(rng)
    done = 0
    while done < n:
        batch = []
        for _ in range(min(BATCH, n - done)):
            e = next(stream)
            batch.append({"source": e["source"], "phase": e["phase"], "run_id": e["run_id"], "origin": e["origin"],
                          "context": e["context"], "message": f"{e['message']} in module {rng.choice(modules)}"})
        done += len(batch)
        yield json.dumps(batch)


def total_bytes(conn, table: str) -> int:
    """pg_total_relation_size of a table, summed over its partitions when it is partitioned."""
    return conn.execute("SELECT CASE WHEN c.relkind = 'p' THEN (SELECT coalesce(sum(pg_total_relation_size(t.relid)), 0) "
                        "FROM pg_partition_tree(c.oid) t) ELSE pg_total_relation_size(c.oid) END::bigint "
                        "FROM pg_class c WHERE c.oid = %s::regclass", (table,)).fetchone()[0]


def checkpoint(conn, done: int, seconds: float) -> dict:
    """Sizes after ``done`` events (before any VACUUM), printed to stderr as one JSON line and returned."""
    groups = conn.execute("SELECT count(*) FROM ops.agent_errors").fetchone()[0]
    point = {"events": done, "seconds": round(seconds, 1), "groups": groups,
             "bytes_per_event": round(total_bytes(conn, "ops.error_events") / done, 1),
             "bare_bytes_per_event": round(total_bytes(conn, "public.bare_events") / done, 1),
             "bytes_per_group": round(total_bytes(conn, "ops.agent_errors") / max(groups, 1), 1)}
    print(json.dumps({"footprint_checkpoint": point}), file=sys.stderr, flush=True)
    return point


def run(size: str, database_url: str | None) -> list[dict]:
    """Rows in the bench convention; raises AssertionError when an event went missing."""
    n = events_for(size)
    with drain.ours_database(database_url, "bench_footprint") as url, psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.bare_events (LIKE ops.error_events INCLUDING DEFAULTS)")
        growth, done, started = [], 0, time.monotonic()
        for doc in feed(n):
            conn.execute(INSERT.format(table="ops.error_events"), (doc,))
            conn.execute(INSERT.format(table="public.bare_events"), (doc,))
            done = min(done + BATCH, n)
            if done in CHECKPOINTS and done < n:
                growth.append(checkpoint(conn, done, time.monotonic() - started))
        conn.execute("VACUUM (ANALYZE) ops.error_events, ops.agent_errors, public.bare_events")
        stored = conn.execute("SELECT count(*) FROM ops.error_events").fetchone()[0]
        groups, counted = conn.execute("SELECT count(*), coalesce(sum(count), 0) FROM ops.agent_errors").fetchone()
        events_bytes, bare_bytes = total_bytes(conn, "ops.error_events"), total_bytes(conn, "public.bare_events")
        groups_bytes = total_bytes(conn, "ops.agent_errors")
    assert stored == n, f"footprint: {stored} of {n} events stored"
    assert counted == n, f"footprint: the groups count {counted} events, {n} were stored"
    detail = {"events": n, "groups": groups, "error_events_bytes": events_bytes, "bare_bytes": bare_bytes,
              "agent_errors_bytes": groups_bytes, "growth": growth}
    return [
        {"benchmark": "footprint", "case": f"bytes per stored event after {n:,} events vs bare row",
         "ours": round(events_bytes / n, 1), "baseline": round(bare_bytes / n, 1), "unit": "bytes",
         "ratio": round(events_bytes / bare_bytes, 3), "goal": None, "met": None, "detail": detail},
        {"benchmark": "footprint", "case": f"bytes per grouped error ({groups:,} groups)",
         "ours": round(groups_bytes / max(groups, 1), 1), "baseline": None, "unit": "bytes", "ratio": None,
         "goal": None, "met": None, "detail": detail},
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="full")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    from bench import run as harness
    rows = run(args.size, os.environ.get("DATABASE_URL"))
    print(json.dumps(rows, indent=1) if args.json else harness.table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
