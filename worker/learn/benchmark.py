"""ssot/agents/benchmark.yaml: the checks beyond its JSON Schema, and the record `ops ssot sync` stores.

The benchmark is synced as one SSOT file record (``ops.ssot_state`` row ``benchmark``: the parsed
document in ``detail``, the file's SHA-256 in ``sha256``); ``ops.score_agent_runs()`` reads it from
there. worker/ssot.py loads the file (with line numbers) and reports what this module finds as
file:line diagnostics. Shape: ssot/schemas/benchmark.schema.json. The checks the schema cannot
express are here: exactly one primary metric and it is ``resolved``, the metrics the issue names are
present, each metric once, tiers A/B/C/F each once with strictly falling thresholds ending at 0, and
every code a task category names exists in the taxonomy.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from worker.queries import execute

BENCHMARK = Path("ssot/agents/benchmark.yaml")
BENCHMARK_SCHEMA = Path("ssot/schemas/benchmark.schema.json")
REQUIRED_METRICS = ("resolved", "evidence_compliance", "diff_minimality", "ci_pass_rate", "time_to_green_s")
TIER_ORDER = ("A", "B", "C", "F")

Problem = tuple[list, str]  # (JSON path into the document, message)


def synced_sha256(conn) -> str | None:
    """SHA-256 of the benchmark as last synced (None: never synced)."""
    row = execute(conn, "outcomes", "benchmark_sha256").fetchone()
    return row[0] if row else None


def rescore_if_changed(conn, before: str | None) -> int | None:
    """After a sync: when the benchmark's SHA-256 differs from ``before``, score every run again (each
    ops.agent_benchmark_results row then names the new file's SHA-256). Returns the rows written, or
    None when the benchmark did not change."""
    if synced_sha256(conn) == before:
        return None
    return execute(conn, "outcomes", "rescore_all").fetchone()[0]


def file_record(root: Path, doc: dict) -> dict:
    """The ``files`` entry of ops.sync_ssot()'s document: name, path, sha256 and the document as detail."""
    return {"name": "benchmark", "path": str(BENCHMARK),
            "sha256": hashlib.sha256((root / BENCHMARK).read_bytes()).hexdigest(),
            "detail": json.loads(json.dumps(doc))}


def problems(root: Path, doc, codes: set[str]) -> list[Problem]:
    """Every problem of the benchmark document; ``codes``: the taxonomy's codes."""
    import jsonschema  # lazily, as worker.ssot does (it is slow to import)

    found: list[Problem] = []
    schema = json.loads((root / BENCHMARK_SCHEMA).read_text())
    for err in sorted(jsonschema.Draft202012Validator(schema).iter_errors(doc), key=lambda e: list(e.path)):
        found.append((list(err.path), f"{'/'.join(map(str, err.path)) or '(root)'}: {err.message}"))
    if found:
        return found  # the checks below assume the shape is right

    ids = [m["id"] for m in doc["metrics"]]
    for i, metric_id in enumerate(ids):
        if metric_id in ids[:i]:
            found.append((["metrics", i, "id"], f"metric {metric_id!r} is listed twice"))
    for missing in (m for m in REQUIRED_METRICS if m not in ids):
        found.append((["metrics"], f"metric {missing!r} is missing (the benchmark needs {', '.join(REQUIRED_METRICS)})"))
    primary = [ids[i] for i, m in enumerate(doc["metrics"]) if m.get("primary")]
    if primary != ["resolved"]:
        found.append((["metrics"], "exactly one metric is primary, and it is 'resolved' (the SWE-bench outcome), "
                      f"not {primary or 'none'}"))

    tiers = doc["tiers"]
    if [t["tier"] for t in tiers] != list(TIER_ORDER):
        found.append((["tiers"], f"tiers are listed once each, best first: {', '.join(TIER_ORDER)}"))
    for i in range(1, len(tiers)):
        if tiers[i]["min_score"] >= tiers[i - 1]["min_score"]:
            found.append((["tiers", i, "min_score"], f"tier {tiers[i]['tier']}: min_score {tiers[i]['min_score']} "
                          f"must be below tier {tiers[i - 1]['tier']}'s {tiers[i - 1]['min_score']}"))
    if tiers and tiers[-1]["min_score"] != 0:
        found.append((["tiers", len(tiers) - 1, "min_score"], "the last tier (F) starts at 0, so every score has a tier"))

    seen: set[str] = set()
    for i, cat in enumerate(doc["task_categories"]):
        if cat["id"] in seen:
            found.append((["task_categories", i, "id"], f"task category {cat['id']!r} is listed twice"))
        seen.add(cat["id"])
        for j, code in enumerate(cat.get("codes") or []):
            if code not in codes:
                found.append((["task_categories", i, "codes", j],
                              f"task category {cat['id']!r}: unknown failure mode {code}"))
    return found
