"""`make bench`: run every benchmark module, print ONE table of ratios, record the machine.

    .venv/bin/python bench/run.py [--size smoke|full|N] [--only NAME ...] [--json]

A benchmark module is any ``bench/<name>.py`` (not starting with ``_``, not this harness nor peers.py)
that defines ``run(size: str, database_url: str | None) -> list[dict]``; each row has the keys of
:data:`ROW_KEYS` (bench/README.md). Each module's rows, with the machine facts, go to
``bench/results/<name>.json``; a module that raises is reported as one row with ``error`` in its detail
(the others still run) and makes the exit status 1. Verdicts come only from ratios measured in the
same run; absolute numbers are printed for the record.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
NOT_BENCHMARKS = {"run", "peers"}
ROW_KEYS = ("benchmark", "case", "ours", "baseline", "unit", "ratio", "goal", "met", "detail")
SETTINGS = ("server_version", "synchronous_commit", "fsync", "full_page_writes", "shared_buffers", "work_mem",
            "max_connections", "wal_level", "max_wal_size", "checkpoint_timeout", "jit")


def discover(only: list[str] | None = None) -> dict[str, object]:
    """{name: module} of every benchmark module under bench/ (sorted by name); ``only`` restricts by name and
    raises ValueError naming a name that is not a benchmark module."""
    found = {}
    for path in sorted(BENCH.glob("*.py")):
        name = path.stem
        if name.startswith("_") or name in NOT_BENCHMARKS or (only and name not in only):
            continue
        spec = importlib.util.spec_from_file_location(f"bench.{name}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        if callable(getattr(module, "run", None)):
            found[name] = module
    missing = sorted(set(only or ()) - set(found))
    if missing:
        raise ValueError(f"not a benchmark module (bench/<name>.py with run(size, database_url)): {', '.join(missing)}")
    return found


def machine(database_url: str) -> dict:
    """The facts a reader needs to compare runs: CPUs, Python, the server's settings, pool sizes."""
    facts = {"cpu_count": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
             "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    try:
        facts["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    try:
        with psycopg.connect(database_url, autocommit=True, connect_timeout=10) as conn:
            facts["server"] = {name: conn.execute(f"SHOW {name}").fetchone()[0] for name in SETTINGS}
    except psycopg.OperationalError as exc:  # every module will fail too; say why once
        facts["server"] = {name: None for name in SETTINGS} | {"error": str(exc).strip().splitlines()[0]}
    from worker.dispatch import http
    from worker.dispatch.worker import Settings
    facts["pools"] = {"worker_db_pool_max": f"concurrency + 3 (default {Settings().concurrency + 3})",
                      "http_max_connections_per_destination": http.MAX_CONNECTIONS}
    return facts


def check_row(row: dict) -> None:
    """Raise ValueError naming the key that breaks the row convention."""
    missing = [k for k in ROW_KEYS if k not in row]
    if missing:
        raise ValueError(f"row {row.get('case')!r} lacks {', '.join(missing)}")
    for key in ("ours", "baseline", "ratio"):
        if row[key] is not None and not isinstance(row[key], (int, float)):
            raise ValueError(f"row {row['case']!r}: {key} must be a number or null, not {row[key]!r}")
    if row["met"] is not None and not isinstance(row["met"], bool):
        raise ValueError(f"row {row['case']!r}: met must be true, false or null")


def fmt(value, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}" if isinstance(value, float) else str(value)


def table(rows: list[dict]) -> str:
    """The Markdown table of rows: benchmark, case, ours, baseline, unit, ratio, goal, met."""
    head = "| benchmark | case | ours | baseline | unit | ratio | goal | met |\n|---|---|---:|---:|---|---:|---|---|"
    lines = [head]
    for r in rows:
        met = {True: "yes", False: "**no**", None: "—"}[r["met"]]
        if r["detail"].get("error"):
            met = "**error**"
        lines.append(f"| {r['benchmark']} | {r['case']} | {fmt(r['ours'])} | {fmt(r['baseline'])} | {r['unit']} | "
                     f"{fmt(r['ratio'], 3)} | {r['goal'] or '—'} | {met} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="full", help="smoke, full or a number the modules take as their size")
    ap.add_argument("--only", nargs="*", help="run only these benchmark modules (by name)")
    ap.add_argument("--json", action="store_true", help="print the rows and machine as JSON instead of the table")
    ap.add_argument("--results", type=Path, default=RESULTS, help="where <name>.json go (default bench/results)")
    ap.add_argument("--no-peers", action="store_true", help="skip the peer queues (sets BENCH_PEERS=0)")
    args = ap.parse_args(argv)
    if args.no_peers:
        os.environ["BENCH_PEERS"] = "0"
    from worker import db
    database_url = os.environ.get("DATABASE_URL") or db.database_url()
    modules = discover(args.only)
    facts = machine(database_url)
    args.results.mkdir(parents=True, exist_ok=True)
    all_rows, failed = [], False
    for name, module in modules.items():
        start = time.perf_counter()
        print(f"bench: {name} ({args.size}) …", file=sys.stderr, flush=True)
        try:
            rows = module.run(args.size, database_url)
            for r in rows:
                check_row(r)
        except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the others
            failed = True
            rows = [{"benchmark": name, "case": "failed", "ours": None, "baseline": None, "unit": "", "ratio": None,
                     "goal": None, "met": None,
                     "detail": {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc(limit=8)}}]
            print(rows[0]["detail"]["trace"], file=sys.stderr)
        seconds = time.perf_counter() - start
        (args.results / f"{name}.json").write_text(json.dumps(
            {"benchmark": name, "size": args.size, "seconds": round(seconds, 1), "machine": facts, "rows": rows},
            indent=1, default=str) + "\n")
        all_rows += rows
    if args.json:
        print(json.dumps({"machine": facts, "rows": all_rows}, indent=1, default=str))
    else:
        server = facts["server"]
        print(f"machine: {facts['cpu_count']} CPUs, Python {facts['python']}, PostgreSQL {server['server_version']}, "
              f"synchronous_commit={server['synchronous_commit']}, fsync={server['fsync']}, "
              f"shared_buffers={server['shared_buffers']}, pools {facts['pools']}")
        print(table(all_rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
