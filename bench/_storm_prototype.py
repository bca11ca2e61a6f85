"""Prototype, not the product (issue 12, storm): storm vs spread with the aggregate trigger as it is and with
a deferred-fold variant, measured in one run on a scratch database.

    .venv/bin/python bench/_storm_prototype.py [--events 600]

The variant (built here from the trigger in ``supabase/schemas/04_ingest.sql`` by adding CTEs in front of
it) locks the statement's existing groups with ``FOR UPDATE SKIP LOCKED``. Events of a group whose row
another writer holds are appended to a delta table (``ops_private.agent_error_deltas``, one row per event;
no wait). For the groups it did lock, it deletes the committed deltas and feeds them, with its own events,
to the unchanged upsert and crossing logic, so a crossing is decided once, by whoever folds it. A final
fold (the same logic over the deltas alone, waiting for the locks) runs before the exact-count check of
``bench/ingest.py``. Readers of ``ops.agent_errors`` would have to add the unfolded deltas; the prototype
only checks after the final fold. See bench/README.md ("Storm") for the design and what is left.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import psycopg  # noqa: E402

import ingest as bench  # noqa: E402

COLUMNS = ("id, fingerprint, fingerprint_version, code, source, phase, received_at, confidence, matched_pattern, "
           "message, top_frame, run_id, correlation_id")


def current_trigger() -> str:
    src = (ROOT / "supabase" / "schemas" / "04_ingest.sql").read_text()
    start = src.index("CREATE FUNCTION ops_private.tg_error_events__aggregate()")
    end = src.index("COMMENT ON FUNCTION ops_private.tg_error_events__aggregate()", start)
    return src[start:end].replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def deferred_trigger(current: str) -> str:
    head = "    WITH totals AS (\n        SELECT e.fingerprint,"
    assert current.count(head) == 1 and current.count("FROM inserted e") == 1 and current.count("JOIN inserted e") == 1
    returned = ", ".join("d." + c for c in COLUMNS.split(", "))
    body = current.replace(head, f"""    WITH locked AS (
        SELECT a.fingerprint FROM ops.agent_errors a
        WHERE a.fingerprint IN (SELECT DISTINCT i.fingerprint FROM inserted i)
        ORDER BY a.fingerprint FOR UPDATE SKIP LOCKED
    ), busy AS (
        SELECT a.fingerprint FROM ops.agent_errors a
        WHERE a.fingerprint IN (SELECT DISTINCT i.fingerprint FROM inserted i)
          AND a.fingerprint NOT IN (SELECT l.fingerprint FROM locked l)
    ), parked AS (
        INSERT INTO ops_private.agent_error_deltas ({COLUMNS})
        SELECT {COLUMNS} FROM inserted i WHERE i.fingerprint IN (SELECT b.fingerprint FROM busy b)
    ), pending AS (
        DELETE FROM ops_private.agent_error_deltas d WHERE d.fingerprint IN (SELECT l.fingerprint FROM locked l)
        RETURNING {returned}
    ), events AS (
        SELECT {COLUMNS} FROM inserted i WHERE i.fingerprint NOT IN (SELECT b.fingerprint FROM busy b)
        UNION ALL
        SELECT {COLUMNS} FROM pending
    ), totals AS (
        SELECT e.fingerprint,""")
    return body.replace("FROM inserted e", "FROM events e").replace("JOIN inserted e", "JOIN events e")


def fold_function(deferred: str) -> str:
    f = deferred.replace("CREATE OR REPLACE FUNCTION ops_private.tg_error_events__aggregate() RETURNS trigger",
                         "CREATE FUNCTION ops_private.fold_error_deltas() RETURNS void")
    f = f.replace("WHERE a.fingerprint IN (SELECT DISTINCT i.fingerprint FROM inserted i)\n"
                  "        ORDER BY a.fingerprint FOR UPDATE SKIP LOCKED",
                  "WHERE a.fingerprint IN (SELECT DISTINCT d.fingerprint FROM ops_private.agent_error_deltas d)\n"
                  "        ORDER BY a.fingerprint FOR UPDATE")
    f = f.replace("FROM inserted i", "FROM (SELECT * FROM ops.error_events WHERE false) i").replace("RETURN NULL;", "RETURN;")
    assert "FROM inserted" not in f
    return f


def storm_vs_spread(url: str, conn: psycopg.Connection, sizes: dict) -> tuple[float, float, int]:
    storm_rows = [bench.event(i, "storm") for i in range(sizes["storm"])]
    spread_rows = [bench.event(i, "spread", sizes["spread_fps"]) for i in range(sizes["storm"])]
    bench.reset(conn)
    conn.execute("TRUNCATE ops_private.agent_error_deltas")
    bench.warm(conn, [bench.event(i, "spread", sizes["spread_fps"]) for i in range(sizes["spread_fps"])]
               + storm_rows[:1])
    base = sizes["spread_fps"] + 1
    statement = bench.insert_sql("ops.error_events")
    storm = len(storm_rows) / bench.run_clients(url, storm_rows, bench.CLIENTS, statement)
    parked = conn.execute("SELECT count(*) FROM ops_private.agent_error_deltas").fetchone()[0]
    spread = len(spread_rows) / bench.run_clients(url, spread_rows, bench.CLIENTS, statement)
    conn.execute("SELECT ops_private.fold_error_deltas()")
    bench.check_counts(conn, base + 2 * len(storm_rows), base)
    return storm, spread, parked


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=600, help="storm events (8 clients) and spread fingerprints")
    sizes = bench.size_of(str(ap.parse_args(argv).events))
    current = current_trigger()
    deferred = deferred_trigger(current)
    with bench.scratch_database(None) as url:
        bench.prepare(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"CREATE TABLE ops_private.agent_error_deltas AS SELECT {COLUMNS} FROM ops.error_events "
                         "WITH NO DATA")
            conn.execute("CREATE INDEX ON ops_private.agent_error_deltas (fingerprint)")
            conn.execute(fold_function(deferred))
            results: dict[str, list[tuple[float, float, int]]] = {"as is": [], "deferred fold": []}
            for _ in range(3):
                for label, body in (("as is", current), ("deferred fold", deferred)):
                    conn.execute(body)
                    results[label].append(storm_vs_spread(url, conn, sizes))
            for label, xs in results.items():
                storm = statistics.median(x[0] for x in xs)
                spread = statistics.median(x[1] for x in xs)
                print(f"{label:14} storm {storm:7.1f}/s  spread {spread:7.1f}/s  ratio {storm / spread:5.2f}  "
                      f"deltas left after the storm {[x[2] for x in xs]}; counts exact after the final fold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
