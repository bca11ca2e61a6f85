"""`stratt ci` reports the same findings after the performance work (issue 12) as before it.

tests/fixtures/units_ci_equivalence.json holds what the design before issue 12 reported (the set-by-set
checks of migration 20261122001000 and its fixes, a blast radius query per level) on the generated corpus
of bench/units.py: 600 units, version 1.0.0 and a 1.1.0 with an input removed per 100 tasks (FM-06), gates
turned off or dropped per 100 chains (FM-05, FM-04), and one planted problem for each other check (FM-01
tampered fingerprint, FM-02 import of nothing, FM-03 two fragments importing each other, FM-07 a stable
unit importing a draft, FM-09 an agent without the capability). Four runs: the 1.0.0 tree alone, the 1.1.0
tree before and after 1.0.0 is published (registry baselines), and with ``--against`` the 1.0.0 tree.
Every finding is compared whole: message, fix, line, fingerprint and details (blast radius included).
To regenerate after an intended change of a message: run this module's ``_runs`` and write its result.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import psycopg
import pytest

from worker import ROOT
from worker.units import checks, load, publish
from worker.units.store import open_store

EXPECTED = ROOT / "tests" / "fixtures" / "units_ci_equivalence.json"
FIELDS = ("alias", "code", "severity", "outcome", "unit", "file", "line", "message", "fix", "fingerprint", "details")


def bench_units():
    spec = importlib.util.spec_from_file_location("bench_units", ROOT / "bench" / "units.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _normal(report: checks.Report) -> list:
    return [[{k: f[k] for k in FIELDS} for f in report.findings],
            [[c["alias"], c["outcome"], c["severity"], c["reason"]] for c in report.checks]]


def _runs(url: str, **options) -> dict:
    """The four runs, from the current directory (paths in findings are relative to it); ``options`` go to
    every checks.run_ci call (workers)."""
    gen = bench_units()
    gen.generate(Path("base"), 600)
    gen.generate(Path("head"), 600, "1.1.0", mutate=True, plant=True)
    out = {}
    with psycopg.connect(url) as conn:
        out["clean"] = _normal(checks.run_ci(conn, ["base"], council="council/bench", **options))
        out["before_publish"] = _normal(checks.run_ci(conn, ["head"], council="council/bench", **options))
        assert publish.publish(conn, ["base"], open_store("file://objects")).exit_code == 0
        out["registry"] = _normal(checks.run_ci(conn, ["head"], council="council/bench", **options))
        out["against"] = _normal(checks.run_ci(conn, ["head"], council="council/bench", against="base", **options))
    return out


@pytest.mark.parametrize("workers", [1, 2], ids=["one-process", "process-pool"])
def test_findings_on_the_planted_corpus_are_identical_to_the_design_before(db_url, tmp_path, monkeypatch, workers):
    """One process, and a pool of two loading both trees (the corpus is below the pool's threshold, lowered
    here so that the pool's path is the one judged)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(load, "PARALLEL_MIN_FILES", 1)
    got = json.loads(json.dumps(_runs(db_url, workers=workers)))  # tuples and the like as JSON has them
    expected = json.loads(EXPECTED.read_text())
    assert sorted(got) == sorted(expected)
    for run in expected:
        want_findings, want_checks = expected[run]
        have_findings, have_checks = got[run]
        assert have_checks == want_checks, run
        assert len(have_findings) == len(want_findings), run
        for have, want in zip(have_findings, want_findings):
            assert have == want, (run, want["alias"], want["unit"])
    aliases = {f["alias"] for f in expected["registry"][0]}
    assert aliases == {"FM-01", "FM-02", "FM-03", "FM-04", "FM-05", "FM-06", "FM-07", "FM-09"}
