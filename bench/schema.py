"""Benchmark JSON Schema validation of units: the library we use (jsonschema-rs, compiled) against
jsonschema (the reference, which gives the messages), on the pathfinder fixtures repeated to N documents.

    .venv/bin/python bench/schema.py             # 1,000 units
    .venv/bin/python bench/schema.py --units 10000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import jsonschema  # noqa: E402
import jsonschema_rs  # noqa: E402

from worker import ROOT  # noqa: E402
from worker.units import load, yaml12  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "units" / "pathfinder"


def best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--units", type=int, default=1_000)
    args = ap.parse_args()
    schema = json.loads((ROOT / "ssot/schemas/unit.schema.json").read_text())
    docs = [yaml12.load(p.read_bytes()).data for p in sorted(FIXTURES.glob("*.yaml")) if p.stem != "council"]
    docs = (docs * (args.units // len(docs) + 1))[:args.units]
    ours = load.fast_validator("unit")
    reference = jsonschema.Draft202012Validator(schema)
    start = time.perf_counter()
    jsonschema_rs.Draft202012Validator(schema, validate_formats=False)
    compile_ms = (time.perf_counter() - start) * 1000
    rows = [("jsonschema-rs (load.fast_validator)", best(lambda: [ours(d) for d in docs])),
            ("jsonschema is_valid", best(lambda: [reference.is_valid(d) for d in docs]))]
    print(f"{args.units} units; jsonschema-rs compiles the unit schema in {compile_ms:.0f} ms (once per process)")
    for name, seconds in rows:
        print(f"  {name:<40} {seconds * 1000:8.1f} ms  {seconds / args.units * 1e6:8.1f} µs/unit")


if __name__ == "__main__":
    main()
