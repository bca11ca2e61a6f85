"""Smoke run of bench/units.py (200 units): the rows have the bench convention's shape and every ci run
found exactly the planted findings (the module asserts that itself). No speed is asserted."""

from __future__ import annotations

import importlib.util

import pytest
import yaml

from worker import ROOT


def bench_units():
    spec = importlib.util.spec_from_file_location("bench_units", ROOT / "bench" / "units.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_smoke_run_gives_one_row_per_case_with_the_planted_findings(db_url):
    rows = bench_units().run("smoke", db_url, repeat=1)
    assert [r["case"] for r in rows] == ["clean @200", "registry @200", "against @200",
                                         "clean 1 worker @200", "registry 1 worker @200", "against 1 worker @200"]
    for r in rows:
        assert set(r) == {"benchmark", "case", "ours", "baseline", "unit", "ratio", "goal", "met", "detail"}
        assert r["benchmark"] == "units" and r["ours"] > 0 and r["baseline"] > 0
        assert r["ratio"] == pytest.approx(r["ours"] / r["baseline"], rel=0.02)
        assert r["met"] is None  # verdicts only at 10,000 units
        assert r["detail"]["units"] == 200
        # the baseline: eight parses each way (collector paused: the verdict; running: the old reading), and the
        # CPU time of the ci process, its workers and its backend (the embedded cluster runs on this machine)
        assert r["detail"]["parse_samples"] == 8 and r["detail"]["parse_collector_ms"] > 0
        assert r["detail"]["cpu_s"] > 0 and r["detail"]["parse_cpu_s"] > 0
        assert r["detail"]["cpu_ratio"] == pytest.approx(r["detail"]["cpu_s"] / r["detail"]["parse_cpu_s"], rel=0.02)
    # 200 units: 100 tasks (an input removed from the 50th: FM-06) and 34 chains (the 10th's gate off: FM-05);
    # run() has already checked that both runs reported exactly these, each FM-06 with its blast radius.
    assert rows[0]["detail"]["findings"] == {}
    assert rows[1]["detail"]["findings"] == rows[2]["detail"]["findings"] == {"FM-05": 1, "FM-06": 1}
    assert rows[4]["detail"]["findings"] == rows[5]["detail"]["findings"] == {"FM-05": 1, "FM-06": 1}
    assert [r["detail"]["workers"] for r in rows[3:]] == [1, 1, 1]
    assert rows[1]["detail"]["fm06_blast_radius"][0] > 0


def test_size_argument_is_checked():
    units = bench_units()
    assert units.sizes_of("smoke") == [200] and units.sizes_of("1234") == [1234]
    with pytest.raises(ValueError, match="smoke, full or a number"):
        units.sizes_of("huge")
    with pytest.raises(ValueError, match="at least 100"):
        units.sizes_of("10")


def test_the_tree_is_made_of_independent_components_with_the_same_findings(tmp_path):
    """Issue 12, seventh pass: findings per unit and each finding's blast radius stay constant as N grows, because
    the tree is a row of independent components of the same shape (here 2 of 300 units, against 1 of 300)."""
    units = bench_units()
    one = units.generate(tmp_path / "one", 300, "1.1.0", mutate=True, component=300)
    two = units.generate(tmp_path / "two", 600, "1.1.0", mutate=True, component=300)
    assert one == {"FM-05": 1, "FM-06": 1}  # 150 tasks (the 50th loses an input), 50 chains (the 10th a gate)
    assert two == one + one
    for path in (tmp_path / "two").rglob("*.yaml"):
        doc = yaml.safe_load(path.read_text())
        if "slug" not in doc:
            continue  # the council
        component = int(doc["slug"].rsplit("-", 1)[1]) // 300
        used = list(doc["imports"]) + [s["unit"] for s in (doc.get("composition") or {}).get("steps", [])]
        assert all(int(u.split("/")[-1].split("@")[0].rsplit("-", 1)[1]) // 300 == component for u in used), path
