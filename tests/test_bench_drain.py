"""Smoke runs of the worker benchmarks (bench/drain.py, bench/latency.py) against real worker processes, a
real receiver and the test cluster: the rows' shape and the exactly-once checks the modules make on every
run (a lost or repeated job raises). Ours and the bare SKIP LOCKED baseline only: creating the peers'
virtualenvs (PgQueuer, Procrastinate) takes minutes, so the peer comparison runs in `make bench`
(bench/README.md). No speed threshold is asserted."""

from __future__ import annotations

from bench import drain, latency
from bench import run as harness


def test_drain_smoke_delivers_every_job_once_and_reports_ratios(db_url):
    rows = drain.run("smoke", db_url, with_peers=False)
    for row in rows:
        harness.check_row(row)
    by_case = {r["case"]: r for r in rows}
    assert set(by_case) == {"noop, 1 worker(s) vs bare SKIP LOCKED", "http, 1 worker(s) vs ours no-op",
                            "worker peak RSS, http, 1 worker(s)"}
    noop = by_case["noop, 1 worker(s) vs bare SKIP LOCKED"]
    assert noop["unit"] == "jobs/s" and noop["ours"] > 0 and noop["baseline"] > 0
    assert noop["ratio"] == round(noop["ours"] / noop["baseline"], 3)
    assert noop["detail"]["jobs"] == drain.SIZES["smoke"]["n"]
    assert 10 < by_case["worker peak RSS, http, 1 worker(s)"]["ours"] < 2048, "RSS in MiB, read from /proc"


def test_drain_checks_catch_a_lost_job(db_url):
    """The exactly-once check is real: waiting for more jobs than were committed times out."""
    import pytest
    with pytest.raises(AssertionError, match="only 3 of 4 jobs done"):
        drain.wait_done(lambda: 3, 4, 0.2)


def test_latency_smoke_measures_every_committed_escalation(db_url):
    rows = latency.run("smoke", db_url, with_peers=False)
    for row in rows:
        harness.check_row(row)
    assert [r["case"] for r in rows] == [f"commit→delivery {q} @ {rate}/s vs Procrastinate"
                                         for rate in latency.RATES for q in ("p50", "p95", "p99")]
    for rate in latency.RATES:
        p50, p95, p99 = (r["ours"] for r in rows if f"@ {rate}/s" in r["case"])
        assert 0 < p50 <= p95 <= p99, "latencies in ms, ordered"
        detail = next(r["detail"] for r in rows if f"@ {rate}/s" in r["case"])
        assert detail["ours"]["jobs"] == int(rate * latency.SECONDS["smoke"][rate]), "every committed job ran, once"


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert (latency.percentile(values, 50), latency.percentile(values, 99), latency.percentile([7.0], 99)) == (50, 99, 7.0)
