"""Smoke run of bench/ingest.py (issue 12): the module runs at smoke size against a scratch database on
the test cluster and returns well-formed rows; its own correctness checks (every event stored, counts
exact per group, one escalation per threshold crossing) ran, or it would have raised. Speed is never
asserted here: the ratios are printed by `make bench`."""

from __future__ import annotations

import importlib.util

import pytest

from worker import ROOT

CASES = ("single-row INSERT, 1 client", "single-row INSERT, 8 threads", "ops.record_error, 8 clients",
         "500-row INSERT, repeated", "COPY", "first-seen", "storm", "classification 100 → 1,000 patterns")


@pytest.fixture(scope="module")
def rows(dbs):
    spec = importlib.util.spec_from_file_location("bench_ingest", ROOT / "bench" / "ingest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.run("smoke", dbs.url("postgres"))


def test_every_case_reports_a_row(rows):
    for case in CASES:
        assert any(r["case"].startswith(case) or case in r["case"] for r in rows), case


def test_rows_have_the_shape_of_the_bench_convention(rows):
    for r in rows:
        assert set(r) == {"benchmark", "case", "ours", "baseline", "unit", "ratio", "goal", "met", "detail"}
        assert r["benchmark"] == "ingest"
        assert r["ours"] > 0 and r["unit"] in ("events/s", "µs/event")
        if r["baseline"] is not None:
            assert r["baseline"] > 0 and r["ratio"] is not None and r["ratio"] > 0
        assert r["met"] in (True, False, None)
        assert r["detail"]["server"]["synchronous_commit"]


def test_counts_were_checked_exactly(rows):
    storm = next(r for r in rows if r["case"].startswith("storm"))
    # warm-up groups + one storm group, each counted exactly (check_counts raised otherwise)
    assert storm["detail"]["groups"] == 50 + 1
    assert storm["detail"]["events"] == 50 + 1 + 2 * 8 * 4
    first = next(r for r in rows if r["case"].startswith("500-row INSERT, first-seen"))
    assert first["detail"]["groups"] == first["detail"]["n"] == 50


def test_event_cases_record_the_server_cpu_per_event(rows):
    """The diagnostic beside each events/s figure: the backends' CPU per event, ours and bare, read from /proc (the
    test cluster runs on this machine, so it is always there); its size is never asserted."""
    events = [r for r in rows if r["unit"] == "events/s" and not r["case"].startswith("storm")]
    assert len(events) >= 9
    for r in events:
        cpu = r["detail"]["server_cpu_us_per_event"]
        assert set(cpu) == {"ours", "bare"} and all(isinstance(v, float) and v >= 0 for v in cpu.values()), r["case"]
    assert sum(r["detail"]["server_cpu_us_per_event"]["ours"] for r in events) > 0, "some server CPU was counted"
