"""The `make bench` harness (bench/run.py, bench/peers.py): discovery, the row convention, one real
smoke run of a benchmark module through the harness (results file, machine facts, table). Speed is
never asserted here: the harness prints ratios, the tests check shapes and correctness."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from bench import peers
from bench import run as harness
from worker import ROOT


def test_discovery_finds_the_benchmark_modules_and_nothing_else():
    found = harness.discover()
    assert {"drain", "latency", "footprint"} <= set(found)
    assert not {"run", "peers", "_peer_queue"} & set(found), "the harness, the venv helper and peer scripts are not benchmarks"
    assert all(callable(m.run) for m in found.values())


def test_only_names_an_unknown_module():
    with pytest.raises(ValueError, match="nosuch"):
        harness.discover(["drain", "nosuch"])


@pytest.mark.parametrize("row, complaint", [
    ({"case": "x"}, "lacks benchmark"),
    ({"benchmark": "b", "case": "x", "ours": "fast", "baseline": None, "unit": "ms", "ratio": None, "goal": None,
      "met": None, "detail": {}}, "ours must be a number"),
    ({"benchmark": "b", "case": "x", "ours": 1.0, "baseline": 2.0, "unit": "ms", "ratio": 0.5, "goal": "g",
      "met": "yes", "detail": {}}, "met must be"),
])
def test_a_row_that_breaks_the_convention_is_named(row, complaint):
    with pytest.raises(ValueError, match=complaint):
        harness.check_row(row)


def test_table_shows_ratio_goal_and_verdict():
    rows = [{"benchmark": "drain", "case": "noop", "ours": 1200.0, "baseline": 1000.0, "unit": "jobs/s", "ratio": 1.2,
             "goal": "≥ 1.0× PgQueuer", "met": True, "detail": {}},
            {"benchmark": "drain", "case": "http", "ours": 300.0, "baseline": 1000.0, "unit": "jobs/s", "ratio": 0.3,
             "goal": "≥ 0.5× PgQueuer", "met": False, "detail": {}}]
    lines = harness.table(rows).splitlines()
    assert lines[0].startswith("| benchmark | case | ours | baseline | unit | ratio | goal | met |")
    assert lines[2] == "| drain | noop | 1,200 | 1,000 | jobs/s | 1.200 | ≥ 1.0× PgQueuer | yes |"
    assert lines[3].endswith("| 0.300 | ≥ 0.5× PgQueuer | **no** |")


def test_a_smoke_run_through_the_harness_writes_results_with_the_machine(db_url, tmp_path):
    """bench/run.py as `make bench` runs it, on one module at a small size (footprint: 300 real events)."""
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--size", "300", "--only", "footprint",
                           "--results", str(tmp_path)], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "DATABASE_URL": db_url}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "synchronous_commit=" in proc.stdout and "| footprint | bytes per stored event" in proc.stdout
    saved = json.loads((tmp_path / "footprint.json").read_text())
    assert saved["size"] == "300"
    machine = saved["machine"]
    assert machine["cpu_count"] >= 1 and machine["server"]["synchronous_commit"] in ("on", "off", "local", "remote_write",
                                                                                     "remote_apply")
    assert machine["server"]["shared_buffers"] and machine["pools"]["http_max_connections_per_destination"] > 0
    rows = saved["rows"]
    for row in rows:
        harness.check_row(row)
    per_event = rows[0]
    assert per_event["detail"]["events"] == 300 and per_event["ours"] > 0 and per_event["baseline"] > 0
    assert rows[1]["detail"]["groups"] > 1


def test_a_failing_module_is_reported_and_fails_the_run(tmp_path):
    """A benchmark that raises (here: drain against a server that is not there) is one error row, exit 1."""
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--size", "smoke", "--only", "drain",
                           "--no-peers", "--results", str(tmp_path)], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ,
                               "DATABASE_URL": "postgresql://nobody:x@127.0.0.1:1/none"}, timeout=120)
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "| drain | failed |" in proc.stdout and "**error**" in proc.stdout
    saved = json.loads((tmp_path / "drain.json").read_text())
    assert "OperationalError" in saved["rows"][0]["detail"]["error"]
    assert saved["machine"]["server"]["error"], "the machine facts say the server was unreachable"


def test_peer_venvs_are_made_once_and_named_safely():
    with pytest.raises(ValueError, match="letters, digits"):
        peers.ensure_venv("../escape", [])
    name = "harness-selftest"
    shutil.rmtree(peers.VENVS / name, ignore_errors=True)
    try:
        path = peers.ensure_venv(name, [])
        assert path == peers.VENVS / name and (path / "bin" / "python").exists()
        stamp = (path / ".requirements.json").stat().st_mtime_ns
        assert peers.ensure_venv(name, []) == path
        assert (path / ".requirements.json").stat().st_mtime_ns == stamp, "a second call reuses the venv"
        # `.bench-venvs`, not `.bench-venvs/`: a directory pattern misses a symlink of that name, and a helper once
        # committed one (git then replaced the ignored directory with it on merge).
        assert ".bench-venvs" in (ROOT / ".gitignore").read_text().splitlines(), "peer venvs are never committed"
    finally:
        shutil.rmtree(peers.VENVS / name, ignore_errors=True)
