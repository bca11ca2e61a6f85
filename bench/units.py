"""Benchmark `stratt ci` on generated unit trees: full runs against merely parsing the same files.

    .venv/bin/python bench/units.py                  # 1,000 and 10,000 units
    .venv/bin/python bench/units.py --sizes 50000    # any sizes

Each size gets a fresh database (cloned from the test template) and two generated trees of N units:
one council; tasks in layers that import two tasks of the layer above; chains of 3 steps (the third a
REV-01 gate) over them; roles; fragments importing a task. Version 1.0.0 is published to the registry
(file store) first; the tree under test is 1.1.0 with, per 100 tasks, one input removed (FM-06 with its
blast radius) and, per 100 chains, one gate turned off and one REV-01 step dropped (FM-05, FM-04). So
the baseline lookup and the contract diff run for every unit and the blast radius for every finding.

Timed (best of two for parsing; one run each for ci, which records a run):
  parse      YAML 1.2 load of every file of the tree under test
  clean      `ci` of the 1.0.0 tree alone (no baseline anywhere: FM-05/06 find nothing to compare)
  registry   `ci` of the 1.1.0 tree, baselines from the registry (the highest published version below)
  against    `ci --against <the 1.0.0 tree>` of the 1.1.0 tree
and each ci time divided by the parse time and by the number of units; flat ms/unit across sizes means
the cost grows linearly.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402
import yaml  # noqa: E402

from tests.dbkit import databases  # noqa: E402
from worker.units import canonical, checks, load, publish, yaml12  # noqa: E402
from worker.units.store import open_store  # noqa: E402

COUNCIL = {"id": "council/bench", "domain": "dev", "version": "1.0.0", "meta": {"title": "bench"},
           "agents": [{"designation": d, "role": d.lower(), "capabilities": ["plan", "code", "review"],
                       "protected": d == "REV-01", "gate_authority": True} for d in ("LEAD-01", "REV-01", "DEV-01")],
           "protectedAgents": {"dev": ["REV-01"]}}
EVERY = 100  # one mutation per this many tasks / chains


def _unit(kind: str, slug: str, version: str, **fields) -> dict:
    doc = {"id": f"strat://dev/{kind}/{slug}@{version}", "type": kind, "domain": "dev", "slug": slug,
           "version": version, "status": "stable",
           "meta": {"title": slug, "description": f"generated {kind}", "tags": ["bench"], "author": "bench",
                    "created": "2025-01-01", "modified": "2025-01-01"},
           "imports": []}
    doc.update(fields)
    return doc


def generate(root: Path, n: int, version: str = "1.0.0", mutate: bool = False,
             plant: bool = False) -> collections.Counter:
    """Write n units (and the council) under root; returns how many mutations of each kind were made."""
    root.mkdir(parents=True)
    (root / "council.yaml").write_text(yaml.safe_dump(COUNCIL, sort_keys=False))
    made: collections.Counter = collections.Counter()
    tasks, per_layer, chains = [], 200, 0
    for i in range(n):
        kind = ("task", "task", "task", "chain", "role", "fragment")[i % 6]
        slug = f"{kind}-{i:06d}"
        if kind == "task":
            inputs = [{"name": "repo", "type": "string", "required": True},
                      {"name": "depth", "type": "integer", "required": False, "default": 1}]
            if mutate and len(tasks) % EVERY == EVERY // 2:
                inputs.pop()  # an input removed in a minor release: FM-06
                made["FM-06"] += 1
            layer_prev = tasks[-per_layer:-per_layer + 2] if len(tasks) >= per_layer else []
            doc = _unit(kind, slug, version, imports=[f"strat://dev/task/{t}@{version}" for t in layer_prev],
                        council="council/bench", prompt_body=f"do {slug}", requires={"capabilities": ["code"]},
                        contract={"inputs": inputs, "outputs": [{"name": "report", "type": "string"}],
                                  "failure_modes": []})
            tasks.append(slug)
        elif kind == "chain":
            steps = [{"id": f"step-{j + 1:02d}", "unit": f"strat://dev/task/{t}@{version}",
                      "agent": ("LEAD-01", "DEV-01", "REV-01")[j], "gate": j == 2,
                      "depends_on": [f"step-{j:02d}"] if j else []} for j, t in enumerate(tasks[-3:])]
            if mutate and chains % EVERY == 10:
                steps[2]["gate"] = False  # FM-05: no longer a gate
                made["FM-05"] += 1
            elif mutate and chains % EVERY == 60:
                steps.pop()  # FM-04 (REV-01 owns no step) and FM-05 (the gate is gone)
                made["FM-04"] += 1
                made["FM-05"] += 1
            chains += 1
            doc = _unit(kind, slug, version, council="council/bench", composition={"steps": steps},
                        contract={"inputs": [{"name": "repo", "type": "string", "required": True}],
                                  "outputs": [{"name": "report", "type": "string"}], "failure_modes": []})
        elif kind == "role":
            doc = _unit(kind, slug, version, persona="a generated persona")
        else:
            doc = _unit(kind, slug, version, imports=[f"strat://dev/task/{tasks[-1]}@{version}"])
        _write(root, doc)
    if plant:
        made.update(_plant(root, version, tasks[-1]))
    return made


def _write(root: Path, doc: dict, fingerprint: bool = True) -> None:
    if fingerprint:
        doc["fingerprint"] = canonical.fingerprint_of(doc)
    sub = root / doc["type"]
    sub.mkdir(exist_ok=True)
    (sub / f"{doc['slug']}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


def _plant(root: Path, version: str, task: str) -> collections.Counter:
    """One problem of each check that the layered tree cannot show: a tampered fingerprint (FM-01), an import of
    a unit that exists nowhere (FM-02), two fragments importing each other (FM-03), a stable unit importing a
    draft (FM-07) and a chain step whose agent lacks the capability its task requires (FM-09)."""
    at = f"@{version}"
    tampered = _unit("fragment", "plant-tampered", version, imports=[f"strat://dev/task/{task}{at}"])
    tampered["fingerprint"] = canonical.fingerprint_of({**tampered, "status": "draft"})
    _write(root, tampered, fingerprint=False)
    _write(root, _unit("fragment", "plant-broken", version, imports=[f"strat://dev/task/plant-nowhere{at}"]))
    _write(root, _unit("fragment", "plant-cycle-a", version, imports=[f"strat://dev/fragment/plant-cycle-b{at}"]))
    _write(root, _unit("fragment", "plant-cycle-b", version, imports=[f"strat://dev/fragment/plant-cycle-a{at}"]))
    draft = _unit("fragment", "plant-draft", version)
    draft["status"] = "draft"
    _write(root, draft)
    _write(root, _unit("fragment", "plant-uses-draft", version, imports=[f"strat://dev/fragment/plant-draft{at}"]))
    _write(root, _unit("task", "plant-deploy", version, council="council/bench", prompt_body="deploy",
                       requires={"capabilities": ["deploy"]},
                       contract={"inputs": [], "outputs": [], "failure_modes": []}))
    steps = [{"id": "step-01", "unit": f"strat://dev/task/plant-deploy{at}", "agent": "DEV-01", "gate": False,
              "depends_on": []},
             {"id": "step-02", "unit": f"strat://dev/task/{task}{at}", "agent": "REV-01", "gate": True,
              "depends_on": ["step-01"]}]
    _write(root, _unit("chain", "plant-capability", version, council="council/bench", composition={"steps": steps},
                       contract={"inputs": [], "outputs": [], "failure_modes": []}))
    return collections.Counter({"FM-01": 1, "FM-02": 1, "FM-03": 1, "FM-07": 1, "FM-09": 1})


def parse_only(root: Path) -> float:
    start = time.perf_counter()
    for path in load.find_files([root]):
        yaml12.load(path.read_bytes())
    return time.perf_counter() - start


def timed_ci(url: str, root: Path, against: Path | None = None) -> tuple[float, checks.Report]:
    with psycopg.connect(url) as conn:
        start = time.perf_counter()
        report = checks.run_ci(conn, [str(root)], council="council/bench", against=str(against) if against else None)
        return time.perf_counter() - start, report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[1_000, 10_000])
    args = ap.parse_args()
    dbs = databases()
    print(f"{'units':>7} {'parse s':>8} {'clean s':>8} {'registry s':>11} {'against s':>10} "
          f"{'clean/parse':>12} {'registry/parse':>15} {'against/parse':>14} {'ms/unit':>8}  findings")
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp, dbs.clone("bench") as url:
            base, head = Path(tmp) / "v1.0.0", Path(tmp) / "v1.1.0"
            generate(base, n)
            made = generate(head, n, "1.1.0", mutate=True)
            parse = min(parse_only(head) for _ in range(2))
            clean, report = timed_ci(url, base)
            assert report.exit_code == 0, [f["message"] for f in report.findings[:3]]
            with psycopg.connect(url) as conn:  # the registry: 1.0.0 of every unit
                res = publish.publish(conn, [str(base)], open_store(f"file://{tmp}/objects"))
            assert res.exit_code == 0, res.messages
            registry, r1 = timed_ci(url, head)
            against, r2 = timed_ci(url, head, against=base)
            for r in (r1, r2):
                found = collections.Counter(f["alias"] for f in r.findings)
                assert found == made and r.exit_code == 1, (found, made)
                radius = [f["details"]["blast_radius"]["transitive"] for f in r.findings if f["alias"] == "FM-06"]
            summary = ", ".join(f"{k} {v}" for k, v in sorted(found.items()))
            print(f"{n:>7} {parse:>8.2f} {clean:>8.2f} {registry:>11.2f} {against:>10.2f} {clean / parse:>12.2f} "
                  f"{registry / parse:>15.2f} {against / parse:>14.2f} {1000 * against / n:>8.3f}  {summary}; "
                  f"FM-06 blast radius {min(radius)}..{max(radius)} dependents")


if __name__ == "__main__":
    main()
