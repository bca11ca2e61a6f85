"""Where the ingest path's time goes, per event, on a repeated error (issue 12; not a benchmark row).

    .venv/bin/python bench/_ingest_profile.py [--events 5000]

In a scratch database (as ``bench/ingest.py``: ``DATABASE_URL`` or the embedded cluster), prints:

* ``path``: µs/event of 500-row INSERTs and of COPY into the bare table, into ``ops.error_events`` with no
  trigger, with the prepare (row) trigger only, and with every trigger (median of 3);
* ``fn``: ``pg_stat_xact_user_functions`` of one 500-row INSERT with ``track_functions = all`` (µs per event:
  total and self time of each function called);
* ``cut``: the prepare trigger returning early at successive points (the aggregate trigger off), so the
  difference between two lines is the cost of the step between them;
* ``single``: µs per single-row INSERT statement inside one transaction (no commit flush), bare / no
  trigger / every trigger.

Absolute µs move with the machine's load; compare lines of one run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import psycopg  # noqa: E402

import ingest as bench  # noqa: E402

TRIGGERS = ["tg_error_events__10_prepare", "tg_error_events__90_aggregate"]
# Early return: fill the NOT NULL columns the skipped part would have set, then RETURN NEW.
FILL = ("NEW.fingerprint := coalesce(NEW.fingerprint, 'x'); NEW.code := coalesce(NEW.code, 'X'); "
        "NEW.fingerprint_version := 2; NEW.message_length := coalesce(NEW.message_length, 0); "
        "NEW.truncated := coalesce(NEW.truncated, false); NEW.truncated_fields := coalesce(NEW.truncated_fields, '{}'); "
        "NEW.context := coalesce(NEW.context, '{}'); NEW.occurred_at := coalesce(NEW.occurred_at, NEW.received_at); "
        "RETURN NEW;\n")
CUTS = {
    "return at once": "BEGIN\n    -- Per row,",
    "+ source check and taxonomy row": "    IF NEW.source = ANY (ops.internal_sources()) THEN",
    "+ blank checks, context depth": "    original_length := length(NEW.message);",
    "+ redaction prefilter": "    IF original_length > max_length THEN\n        NEW.message := ops_private.redact_head(",
    "+ trims, redact where a literal is": "    IF length(context_text) > max_context THEN",
    "+ context redaction, hint": "    IF seen THEN\n        NEW.code := taxonomy.code;",
    "+ cache key and lookup (+ alias)": "        IF FOUND THEN\n            NEW.code := cached.code;",
    "+ copy the cached values": "    -- A fingerprint that triage promoted",
    "+ alias (already known)": "    IF NEW.event_key IS NOT NULL THEN\n        -- Waits",
}


def prepare_function() -> str:
    src = (ROOT / "supabase" / "schemas" / "04_ingest.sql").read_text()
    start = src.index("CREATE FUNCTION ops_private.tg_error_events__prepare()")
    end = src.index("COMMENT ON FUNCTION ops_private.tg_error_events__prepare()", start)
    return src[start:end].replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def enable(conn: psycopg.Connection, triggers: list[str]) -> None:
    conn.execute("ALTER TABLE ops.error_events DISABLE TRIGGER USER")
    for t in triggers:
        conn.execute(f"ALTER TABLE ops.error_events ENABLE TRIGGER {t}")


def per_event(conn: psycopg.Connection, rows: list[tuple], table: str, kind: str) -> float:
    bench.reset(conn)
    bench.warm(conn, list(dict.fromkeys(rows)))
    run = bench.run_batches if kind == "batch" else bench.run_copy
    return run(conn, rows, table) / len(rows) * 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=5000, help="events per measurement (default 5000)")
    n = ap.parse_args(argv).events
    rows = [bench.event(i, "repeat") for i in range(n)]
    with bench.scratch_database(None) as url:
        bench.prepare(url)
        with psycopg.connect(url, autocommit=True) as conn:
            for kind in ("batch", "copy"):
                for label, triggers in (("bare table", None), ("no trigger", []), ("prepare only", TRIGGERS[:1]),
                                        ("all triggers", TRIGGERS)):
                    xs = []
                    for _ in range(3):
                        if triggers is None:
                            xs.append(per_event(conn, rows, "public.bare_events", kind))
                        else:
                            enable(conn, triggers)
                            xs.append(per_event(conn, rows, "ops.error_events", kind))
                    enable(conn, TRIGGERS)
                    print(f"path   {kind:6} {label:34} {statistics.median(xs):7.1f} µs/event", flush=True)

            bench.reset(conn)
            bench.warm(conn, list(dict.fromkeys(rows)))
            conn.execute("SET track_functions = 'all'")
            with conn.transaction():
                bench.run_batches(conn, rows[:500], "ops.error_events")
                for name, calls, total, self_ in conn.execute(
                        "SELECT schemaname || '.' || funcname, calls, total_time * 1000 / 500, self_time * 1000 / 500 "
                        "FROM pg_stat_xact_user_functions ORDER BY total_time DESC"):
                    print(f"fn     {name:50} calls {calls:4}  total {total:6.1f}  self {self_:6.1f} µs/event")
            conn.execute("RESET track_functions")

            original = prepare_function()
            variants = []
            for label, marker in CUTS.items():
                assert original.count(marker) == 1, f"cut point not found once: {label}"
                if marker.startswith("BEGIN\n"):
                    variants.append((label, original.replace(marker, "BEGIN\n" + FILL + marker[len("BEGIN\n"):])))
                else:
                    variants.append((label, original.replace(marker, FILL + marker)))
            variants.append(("whole trigger", original))
            enable(conn, TRIGGERS[:1])
            times: dict[str, list[float]] = {}
            try:
                for _ in range(3):
                    for label, body in variants:
                        conn.execute(body)
                        times.setdefault(label, []).append(per_event(conn, rows, "ops.error_events", "batch"))
            finally:
                conn.execute(original)
                enable(conn, TRIGGERS)
            for label, _ in variants:
                print(f"cut    {label:42} {statistics.median(times[label]):7.1f} µs/event (500-row INSERT)")

            single = rows[:2000]
            for label, triggers in (("bare table", None), ("no trigger", []), ("all triggers", TRIGGERS)):
                xs = []
                for _ in range(3):
                    bench.reset(conn)
                    bench.warm(conn, list(dict.fromkeys(single)))
                    table = "public.bare_events" if triggers is None else "ops.error_events"
                    if triggers is not None:
                        enable(conn, triggers)
                    statement = bench.insert_sql(table)
                    with conn.transaction():
                        start = time.perf_counter()
                        for r in single:
                            conn.execute(statement, r, prepare=True)
                        xs.append((time.perf_counter() - start) / len(single) * 1e6)
                    enable(conn, TRIGGERS)
                print(f"single {label:42} {statistics.median(xs):7.1f} µs/statement (in one transaction)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
