"""Benchmark `stratt ci` on generated unit trees: full run vs merely parsing the same files.

    .venv/bin/python bench/units.py            # 1,000 and 10,000 units
    .venv/bin/python bench/units.py --large    # also 50,000

Each size gets a fresh database (cloned from the test template) and a generated tree: one council,
tasks in layers that import the layer above, chains of 3 steps over them, roles and fragments. The
tree is clean (every check passes), so every check does its full work. Printed: parse-only time
(YAML 1.2 load of every file), full `ci` wall time, their ratio, and time per unit, whose flatness
across sizes shows the cost grows linearly.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402
import yaml  # noqa: E402

from tests.dbkit import databases  # noqa: E402
from worker.units import canonical, checks, load, yaml12  # noqa: E402

COUNCIL = {"id": "council/bench", "domain": "dev", "version": "1.0.0", "meta": {"title": "bench"},
           "agents": [{"designation": d, "role": d.lower(), "capabilities": ["plan", "code", "review"],
                       "protected": d == "REV-01", "gate_authority": True} for d in ("LEAD-01", "REV-01", "DEV-01")],
           "protectedAgents": {"dev": ["REV-01"]}}


def _unit(kind: str, slug: str, status: str = "stable", **fields) -> dict:
    doc = {"id": f"strat://dev/{kind}/{slug}@1.0.0", "type": kind, "domain": "dev", "slug": slug, "version": "1.0.0",
           "status": status, "meta": {"title": slug, "description": f"generated {kind}", "tags": ["bench"],
                                      "author": "bench", "created": "2025-01-01", "modified": "2025-01-01"},
           "imports": []}
    doc.update(fields)
    return doc


def generate(root: Path, n: int) -> None:
    root.mkdir(parents=True)
    (root / "council.yaml").write_text(yaml.safe_dump(COUNCIL, sort_keys=False))
    contract = {"inputs": [{"name": "repo", "type": "string", "required": True}],
                "outputs": [{"name": "report", "type": "string"}], "failure_modes": []}
    tasks, per_layer = [], 200
    for i in range(n):
        kind = ("task", "task", "task", "chain", "role", "fragment")[i % 6]
        slug = f"{kind}-{i:06d}"
        if kind == "task":
            layer_prev = tasks[-per_layer:-per_layer + 3] if len(tasks) >= per_layer else []
            doc = _unit(kind, slug, imports=[f"strat://dev/task/{t}@1.0.0" for t in layer_prev[:2]],
                        council="council/bench", contract=contract, prompt_body=f"do {slug}",
                        requires={"capabilities": ["code"]})
            tasks.append(slug)
        elif kind == "chain":
            steps = [{"id": f"step-{j + 1:02d}", "unit": f"strat://dev/task/{t}@1.0.0",
                      "agent": ("LEAD-01", "DEV-01", "REV-01")[j], "gate": j == 2,
                      "depends_on": [f"step-{j:02d}"] if j else []} for j, t in enumerate(tasks[-3:])]
            doc = _unit(kind, slug, council="council/bench", contract=contract, composition={"steps": steps})
        elif kind == "role":
            doc = _unit(kind, slug, persona="a generated persona")
        else:
            doc = _unit(kind, slug, imports=[f"strat://dev/task/{tasks[-1]}@1.0.0"])
        doc["fingerprint"] = canonical.fingerprint_of(doc)
        sub = root / kind
        sub.mkdir(exist_ok=True)
        (sub / f"{slug}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


def parse_only(root: Path) -> float:
    start = time.perf_counter()
    for path in load.find_files([root]):
        yaml12.load(path.read_bytes())
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--large", action="store_true", help="also run 50,000 units")
    ap.add_argument("--sizes", type=int, nargs="*")
    args = ap.parse_args()
    sizes = args.sizes or ([1_000, 10_000, 50_000] if args.large else [1_000, 10_000])
    dbs = databases()
    print(f"{'units':>7} {'parse s':>8} {'ci s':>7} {'ci/parse':>9} {'ci ms/unit':>11} {'exit':>5}")
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp, dbs.clone("bench") as url:
            root = Path(tmp) / "units"
            generate(root, n)
            parse = min(parse_only(root) for _ in range(2))
            with psycopg.connect(url) as conn:
                start = time.perf_counter()
                report = checks.run_ci(conn, [str(root)], council="council/bench")
                full = time.perf_counter() - start
            print(f"{n:>7} {parse:>8.2f} {full:>7.2f} {full / parse:>9.2f} {1000 * full / n:>11.3f} {report.exit_code:>5}")
            if report.exit_code != 0:
                print("  unexpected findings:", [f["message"] for f in report.findings[:3]])


if __name__ == "__main__":
    main()
