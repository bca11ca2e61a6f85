"""Benchmark `stratt ci` on generated unit trees: a full run against merely parsing the same files.

    .venv/bin/python bench/units.py                    # full: 1,000, 10,000 and 50,000 units
    .venv/bin/python bench/units.py --size smoke       # 200 units (seconds; tests/test_bench_units.py)
    .venv/bin/python bench/units.py --size 10000 --json

Each size gets a scratch database (created on the server of DATABASE_URL or the embedded cluster, migrated,
dropped afterwards) and two generated trees of N units: one council; tasks in layers that import two tasks
of the layer above; chains of 3 steps (the third a REV-01 gate) over them; roles; fragments importing a
task; all of it in independent components of 1,000 units. Version 1.0.0 is published to the registry (a file store) first; the tree under test is 1.1.0 with,
per 100 tasks, one input removed (FM-06 with its blast radius) and, per 100 chains, one gate turned off and
one REV-01 step dropped (FM-05, FM-04): 11 findings per 1,000 units (110 at 10,000), each with a blast radius.

Cases (seconds; the ratio is ci / parse-only of the same tree in the same run, lower is better):
  clean      `ci` of the 1.0.0 tree alone (nothing published: no baselines, no findings)
  registry   `ci` of the 1.1.0 tree, baselines from the registry (the highest published version below)
  against    `ci --against <the 1.0.0 tree>` of the 1.1.0 tree (two trees parsed)
parse-only is the YAML 1.2 load of every file of the tree in one process (the best of eight: two at the start and one
before each case, so that it is timed across the same minutes as the `ci` runs on a shared machine), with the cyclic garbage
collector paused as `ci`'s loading pauses it (the ratio against a parse with it running is in each row's detail,
`ratio_to_parse_collector`: the baseline before issue 12's fourth pass). Each `ci` case is
timed with the default loader (one worker process per CPU once a tree has PARALLEL_MIN_FILES files: that is
the verdict) and again with `workers=1` (everything in one process: what the parallelism buys is the
difference); each time is the minimum of --repeat runs (default 3). Goals (issue 12, at 10,000 units):
clean <= 1.5x, registry <= 2.5x, against <= 4x. `growth` divides the per-unit cost of each case at the largest
size by that at the smallest (1.0 = linear). The tree is made of independent components of COMPONENT units, each
with the same planted findings, so findings per unit and each finding's blast radius stay constant as N grows and
the growth rows measure the pipeline, not the generator (before issue 12's seventh pass one DAG deepened with N and
its findings' radii with it). Each row's detail also holds the least CPU
time of the case's runs (the ci process, its loader's workers and its database backend, from /proc when the server
runs on this machine) and its ratio to the parse's (`cpu_s`, `cpu_ratio`): other work on shared cores stretches
wall time, hardly CPU time. Correctness is checked in every run: each ci run must find exactly the planted findings.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402
import yaml  # noqa: E402

from bench import _proc  # noqa: E402
from worker import db, migrations, ssot  # noqa: E402
from worker.units import canonical, checks, load, publish, yaml12  # noqa: E402
from worker.units.store import open_store  # noqa: E402

NAME = "units"
SIZES = {"smoke": [200], "full": [1_000, 10_000, 50_000]}
GOALS = {"clean": 1.5, "registry": 2.5, "against": 4.0}  # at 10,000 units, ci / parse-only

COUNCIL = {"id": "council/bench", "domain": "dev", "version": "1.0.0", "meta": {"title": "bench"},
           "agents": [{"designation": d, "role": d.lower(), "capabilities": ["plan", "code", "review"],
                       "protected": d == "REV-01", "gate_authority": True} for d in ("LEAD-01", "REV-01", "DEV-01")],
           "protectedAgents": {"dev": ["REV-01"]}}
EVERY = 100  # one mutation per this many tasks / chains
COMPONENT = 1_000  # units per independent component (issue 12, seventh pass): the same shape and findings in each


def _unit(kind: str, slug: str, version: str, **fields) -> dict:
    doc = {"id": f"strat://dev/{kind}/{slug}@{version}", "type": kind, "domain": "dev", "slug": slug,
           "version": version, "status": "stable",
           "meta": {"title": slug, "description": f"generated {kind}", "tags": ["bench"], "author": "bench",
                    "created": "2025-01-01", "modified": "2025-01-01"},
           "imports": []}
    doc.update(fields)
    return doc


def generate(root: Path, n: int, version: str = "1.0.0", mutate: bool = False,
             plant: bool = False, component: int = COMPONENT) -> collections.Counter:
    """Write n units (and the council) under root; returns how many mutations of each kind were made.

    The units form independent components of ``component`` units (the last one may be smaller): within one,
    tasks in layers of 200 import two tasks of the layer above, chains use the last three tasks, fragments the
    last task, and the mutations fall per 100 tasks / chains *of the component*. Every full component is the
    same shape with the same findings and the same blast radii, so findings per unit and the radius of each
    stay constant as n grows (11 findings per 1,000 units; radii 2..22)."""
    root.mkdir(parents=True)
    (root / "council.yaml").write_text(yaml.safe_dump(COUNCIL, sort_keys=False))
    made: collections.Counter = collections.Counter()
    tasks, per_layer, chains, start = [], 200, 0, 0
    for i in range(n):
        if i % component == 0:  # a new component: nothing of the previous one is imported
            tasks, chains, start = [], 0, i
        kind = ("task", "task", "task", "chain", "role", "fragment")[(i - start) % 6]
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


def parse_only(root: Path, collector: bool = False) -> float:
    """Seconds to find and YAML-1.2-load every file of ``root`` in this one process: the baseline. The cyclic
    garbage collector is paused as `ci`'s loading pauses it (load.collector_paused), so both do the same parse;
    ``collector=True`` leaves it running, as the baseline did before issue 12's fourth pass (each collection
    rescans the parser's live node graph: 10-30 % slower, which flattered every ratio)."""
    with contextlib.nullcontext() if collector else load.collector_paused():
        start = time.perf_counter()
        for path in load.find_files([root]):
            yaml12.load(path.read_bytes())
        return time.perf_counter() - start


def _own_cpu() -> float:
    """CPU seconds of this process and of its children that have ended (the loader's pool, joined by run_ci)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed_ci(url: str, root: Path, against: Path | None = None, workers: int | None = None,
             repeat: int = 1) -> tuple[float, checks.Report, float | None]:
    """The fastest of ``repeat`` runs of `ci` (each its own connection, as `stratt ci` is), its report, and the
    least CPU time any of the runs used: the `ci` process, its loader's workers and its database backend
    (None when the backend's CPU cannot be read). Wall time is the verdict; CPU time is the work done, which
    other processes on the shared cores do not stretch."""
    best, cpu = None, None
    for _ in range(repeat):
        with psycopg.connect(url) as conn:
            backend = conn.info.backend_pid
            server0, own0 = _proc.cpu_seconds(backend, comm="postgres"), _own_cpu()
            start = time.perf_counter()
            report = checks.run_ci(conn, [str(root)], council="council/bench",
                                   against=str(against) if against else None, workers=workers)
            seconds = time.perf_counter() - start
            server1, own1 = _proc.cpu_seconds(backend, comm="postgres"), _own_cpu()
        if server0 is not None and server1 is not None:
            used = own1 - own0 + server1 - server0
            cpu = used if cpu is None else min(cpu, used)
        if best is None or seconds < best[0]:
            best = (seconds, report)
    return best[0], best[1], cpu


@contextlib.contextmanager
def scratch_database(database_url: str | None):
    """A migrated, synced database of its own on the given server (or DATABASE_URL / the embedded cluster)."""
    url = database_url or db.database_url()
    base = url.rsplit("/", 1)[0]
    name = f"bench_units_{random.randrange(10**8)}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with psycopg.connect(f"{base}/{name}") as conn:
            migrations.migrate(conn)
            ssot.sync(conn)
            conn.commit()
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def measure(n: int, database_url: str | None, repeat: int = 3) -> dict:
    """Times of one size (each case: the default loader, then ``<case>_1`` with one process; the minimum of
    ``repeat`` runs); raises AssertionError when a run does not report exactly the planted findings."""
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp, scratch_database(database_url) as url:
        base, head = Path(tmp) / "v1.0.0", Path(tmp) / "v1.1.0"
        generate(base, n)
        made = generate(head, n, "1.1.0", mutate=True)
        parses: dict[bool, list[float]] = {False: [], True: []}
        cpu: dict[str, float | None] = {"parse": None}

        def sample() -> None:  # one parse each way before every case: the baseline is timed across the same minutes
            for collector in (False, True):
                used = time.process_time()
                parses[collector].append(parse_only(head, collector=collector))
                if not collector:
                    used = time.process_time() - used
                    cpu["parse"] = used if cpu["parse"] is None else min(cpu["parse"], used)

        sample()
        sample()
        sample()
        clean, report, cpu["clean"] = timed_ci(url, base, repeat=repeat)
        sample()
        clean_1, report_1, cpu["clean_1"] = timed_ci(url, base, workers=1, repeat=repeat)
        for r in (report, report_1):
            assert r.exit_code == 0 and not r.findings, [f["message"] for f in r.findings[:3]]
        with psycopg.connect(url) as conn:  # the registry: 1.0.0 of every unit
            res = publish.publish(conn, [str(base)], open_store(f"file://{tmp}/objects"))
        assert res.exit_code == 0, res.messages
        sample()
        registry, r1, cpu["registry"] = timed_ci(url, head, repeat=repeat)
        sample()
        registry_1, r1_1, cpu["registry_1"] = timed_ci(url, head, workers=1, repeat=repeat)
        sample()
        against, r2, cpu["against"] = timed_ci(url, head, against=base, repeat=repeat)
        sample()
        against_1, r2_1, cpu["against_1"] = timed_ci(url, head, against=base, workers=1, repeat=repeat)
        radius = []
        for r in (r1, r2, r1_1, r2_1):
            found = collections.Counter(f["alias"] for f in r.findings)
            assert found == made and r.exit_code == 1, (found, made)
            radius += [f["details"]["blast_radius"]["transitive"] for f in r.findings if f["alias"] == "FM-06"]
    parse, parse_collector = min(parses[False]), min(parses[True])
    return {"units": n, "parse": parse, "parse_collector": parse_collector, "parse_samples": len(parses[False]),
            "clean": clean, "registry": registry, "against": against,
            "clean_1": clean_1, "registry_1": registry_1, "against_1": against_1, "workers": load.default_workers(),
            "cpu": cpu, "load_average": [round(x, 2) for x in load_before + os.getloadavg()], "findings": dict(sorted(made.items())), "blast_radius": [min(radius, default=0), max(radius, default=0)]}


def sizes_of(size: str) -> list[int]:
    if size in SIZES:
        return SIZES[size]
    try:
        n = int(size)
    except ValueError:
        raise ValueError(f"--size must be smoke, full or a number of units, not {size!r}") from None
    if n < 100:
        raise ValueError(f"--size {n}: at least 100 units (one mutation per 100 tasks and chains)")
    return [n]


def run(size: str, database_url: str | None, repeat: int | None = None) -> list[dict]:
    """The rows of the bench convention (bench_convention.md): per size, one per case with the default loader
    (the verdict), one per case in one process (`<case> 1 worker`, no verdict), then the growth rows.
    ``repeat``: runs per case, the fastest counts (None: 1 for smoke, else 3)."""
    repeat = repeat or (1 if size == "smoke" else 3)
    rows, per_unit = [], {}
    for n in sizes_of(size):
        m = measure(n, database_url, repeat)
        for key in ("clean", "registry", "against", "clean_1", "registry_1", "against_1"):
            case, one = key.removesuffix("_1"), key.endswith("_1")
            ratio = m[key] / m["parse"]
            goal = GOALS[case]
            rows.append({"benchmark": NAME, "case": f"{case}{' 1 worker' if one else ''} @{n}",
                         "ours": round(m[key] * 1000, 1),
                         "baseline": round(m["parse"] * 1000, 1), "unit": "ms (lower is better)",
                         "ratio": round(ratio, 2), "goal": f"≤ {goal}× parse-only at 10,000 units",
                         "met": (ratio <= goal) if n == 10_000 and not one else None,
                         "detail": {"units": n, "workers": 1 if one else m["workers"], "repeat": repeat,
                                    "load_average": m["load_average"],
                                    "ms_per_unit": round(m[key] * 1000 / n, 3),
                                    "parse_ms_per_unit": round(m["parse"] * 1000 / n, 3),
                                    "parse_collector_ms": round(m["parse_collector"] * 1000, 1),
                                    "parse_samples": m["parse_samples"],
                                    "cpu_s": None if m["cpu"][key] is None else round(m["cpu"][key], 6),
                                    "parse_cpu_s": round(m["cpu"]["parse"], 6),
                                    "cpu_ratio": None if m["cpu"][key] is None else round(m["cpu"][key] / m["cpu"]["parse"], 2),
                                    "ratio_to_parse_collector": round(m[key] / m["parse_collector"], 2),
                                    "findings": m["findings"] if case != "clean" else {},
                                    "fm06_blast_radius": m["blast_radius"] if case != "clean" else None}})
        per_unit[n] = {case: m[case] / n for case in ("clean", "registry", "against")}
    if len(per_unit) > 1:
        small, large = min(per_unit), max(per_unit)
        for case in ("clean", "registry", "against"):
            growth = per_unit[large][case] / per_unit[small][case]
            rows.append({"benchmark": NAME, "case": f"growth {case} {small}->{large}",
                         "ours": round(per_unit[large][case] * 1000, 3), "baseline": round(per_unit[small][case] * 1000, 3),
                         "unit": f"ms per unit of `{case}` (lower is better)", "ratio": round(growth, 2),
                         "goal": "≤ 1.5× (per-unit cost flat: linear growth)", "met": growth <= 1.5,
                         "detail": {"ms_per_unit": {str(k): round(v[case] * 1000, 3) for k, v in per_unit.items()}}})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="full", help="smoke, full or a number of units")
    ap.add_argument("--json", action="store_true", help="print the rows as JSON")
    ap.add_argument("--repeat", type=int, default=None, help="runs per case; the fastest counts (default 3; smoke 1)")
    args = ap.parse_args()
    if args.repeat is not None and args.repeat < 1:
        ap.error(f"--repeat must be at least 1, not {args.repeat}")
    try:
        sizes_of(args.size)
    except ValueError as exc:
        ap.error(str(exc))
    rows = run(args.size, None, args.repeat)
    if args.json:
        print(json.dumps(rows, indent=1, ensure_ascii=False))
        return
    print(f"workers (default) {load.default_workers()}; load average (1, 5, 15 min) before and after each size: "
          + "; ".join(f"{r['detail']['units']}: {r['detail']['load_average']}" for r in rows if r["case"].startswith("clean @")))
    print(f"{'case':<30} {'ours ms':>10} {'parse ms':>10} {'ratio':>7} {'ms/unit':>8}  goal")
    for r in rows:
        per = r["detail"].get("ms_per_unit")
        per = f"{per:>8.3f}" if isinstance(per, float) else " " * 8
        verdict = "" if r["met"] is None else (" met" if r["met"] else " NOT met")
        print(f"{r['case']:<30} {r['ours']:>10} {r['baseline']:>10} {r['ratio']:>7} {per}  {r['goal']}{verdict}")


if __name__ == "__main__":
    main()
