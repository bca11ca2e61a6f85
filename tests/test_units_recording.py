"""Every run is recorded: runs, events per check and finding, convergence, the error pipeline, waivers."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest

from tests.units_kit import Tree, aliases, check_outcomes, ci
from worker.units import cli, report


@pytest.fixture
def tree(tmp_path):
    return Tree(tmp_path / "units")


def _drop_reviewer(d):
    d["composition"]["steps"].pop()


def test_a_run_writes_one_run_row_and_one_event_per_check_and_finding(db_url, tree):
    tree.edit("sol-1-boot", _drop_reviewer)
    r = ci(db_url, [tree.root], council="council/pathfinder")
    with psycopg.connect(db_url) as c:
        run = c.execute("SELECT kind, council, status, exit_code, units_count, councils_count, findings_count, "
                        "blocking_count, duration_ms, paths FROM ops.maintenance_runs WHERE id = %s", (r.run_id,)).fetchone()
        events = c.execute("SELECT kind, check_alias, outcome FROM ops.maintenance_run_events WHERE run_id = %s ORDER BY id",
                           (r.run_id,)).fetchall()
        left = c.execute("SELECT count(*) FROM ops.unit_snapshot WHERE run_id = %s", (r.run_id,)).fetchone()[0]
    assert run[:8] == ("unit_ci", "council/pathfinder", "failed", 1, 5, 1, 1, 1)
    assert run[8] >= 0 and run[9] == [str(tree.root)]
    checks = [e[1] for e in events if e[0] == "check"]
    assert checks == ["FM-01", "FM-02", "FM-03", "FM-04", "FM-05", "FM-06", "FM-07", "FM-09"]
    assert ("check", "FM-04", "fail") in events and ("finding", "FM-04", "fail") in events
    # the finding follows its check
    i = events.index(("check", "FM-04", "fail"))
    assert events[i + 1] == ("finding", "FM-04", "fail")
    assert left == 0  # the snapshot is dropped when the run finishes


def test_blocking_findings_go_through_the_error_pipeline(db_url, tree):
    tree.edit("sol-1-boot", _drop_reviewer)
    ci(db_url, [tree.root])
    with psycopg.connect(db_url) as c:
        rows = c.execute("SELECT code, source, phase, count FROM ops.agent_errors WHERE source = 'stratt'").fetchall()
    assert rows == [("UNIT.PROTECTED_AGENT_MISSING", "stratt", "ci", 1)]


def test_warnings_are_not_errors_and_not_findings_to_converge(db_url, tree):
    tree.edit("reviewer", lambda d: d.update(status="deprecated"))
    r = ci(db_url, [tree.root])
    with psycopg.connect(db_url) as c:
        assert c.execute("SELECT count(*) FROM ops.agent_errors WHERE source = 'stratt'").fetchone()[0] == 0
        assert c.execute("SELECT count(*) FROM ops.convergence_findings").fetchone()[0] == 0
    assert r.exit_code == 0 and r.status == "warned"


def test_findings_converge_resolve_and_reopen(db_url, tree):
    tree.edit("sol-1-boot", _drop_reviewer)
    first = ci(db_url, [tree.root])
    fp = [f["fingerprint"] for f in first.findings if f["alias"] == "FM-04"][0]
    second = ci(db_url, [tree.root])
    assert [f["fingerprint"] for f in second.findings if f["alias"] == "FM-04"] == [fp]  # stable across runs

    def row():
        with psycopg.connect(db_url) as c:
            return c.execute("SELECT status, occurrences, reopen_count, first_run_id, last_run_id, resolved_run_id "
                             "FROM ops.convergence_findings WHERE fingerprint = %s", (fp,)).fetchone()

    assert row() == ("open", 2, 0, first.run_id, second.run_id, None)
    restored = Tree(tree.root.parent / "restored")
    tree.write("sol-1-boot", restored.read("sol-1-boot"))
    third = ci(db_url, [tree.root])
    assert third.exit_code == 0 and row()[0] == "resolved" and row()[5] == third.run_id
    tree.edit("sol-1-boot", _drop_reviewer)
    ci(db_url, [tree.root])
    assert row()[:3] == ("open", 3, 1)


def test_resolution_is_per_scope(db_url, tree):
    tree.edit("sol-1-boot", _drop_reviewer)
    ci(db_url, [tree.root])
    ci(db_url, [tree.root / "reviewer.yaml", tree.root / "council.yaml"])  # another scope, nothing wrong there
    with psycopg.connect(db_url) as c:
        assert c.execute("SELECT status FROM ops.convergence_findings").fetchall() == [("open",)]


def _waiver(report, alias, **kw):
    f = [f for f in report.findings if f["alias"] == alias][0]
    return {"fingerprint": f["fingerprint"], "reason": "pairing instead of review", "owner": "sol",
            "expires": str(dt.date.today() + dt.timedelta(days=30)), **kw}


def test_a_valid_waiver_silences_a_blocking_finding(db_url, tree):
    tree.edit("sol-1-boot", _drop_reviewer)
    w = _waiver(ci(db_url, [tree.root]), "FM-04")
    r = ci(db_url, [tree.root], waivers=[w])
    assert r.exit_code == 0 and [f["outcome"] for f in r.findings] == ["waived"]
    assert r.counts["waived"] == 1


def test_a_check_whose_findings_are_all_waived_is_not_a_failure(db_url, tree):
    tree.edit("sol-1-boot", _drop_reviewer)
    w = _waiver(ci(db_url, [tree.root]), "FM-04")
    r = ci(db_url, [tree.root], waivers=[w])
    fm04 = [c for c in r.checks if c["alias"] == "FM-04"][0]
    assert (fm04["outcome"], fm04["severity"], fm04["reason"]) == ("pass", None, "1 finding(s), all waived")
    assert report.text(r).splitlines()[4] == "FM-04 ✓ 1 finding(s), all waived"
    with psycopg.connect(db_url) as c:
        assert c.execute("SELECT outcome FROM ops.maintenance_run_events WHERE run_id = %s AND kind = 'check' "
                         "AND check_alias = 'FM-04'", (r.run_id,)).fetchone() == ("pass",)
        assert c.execute("SELECT status FROM ops.maintenance_runs WHERE id = %s", (r.run_id,)).fetchone() == ("passed",)


def test_a_check_line_shows_its_worst_severity_not_its_first(db_url, tree):
    """Two chains lack BECK-02: sol-1-boot (override: a warning, reported first) and zz-boot (blocking)."""
    def overridden(d):
        d["composition"]["steps"].pop()
        d["overrides"] = [{"check": "FM-04", "agent": "BECK-02", "reason": "pairing", "approved_by": "SOL-01"}]
    tree.edit("sol-1-boot", overridden)
    zz = tree.read("sol-1-boot")
    zz.update(id="strat://dev/chain/zz-boot@1.0.0", slug="zz-boot")
    zz.pop("overrides")
    tree.write("zz-boot", zz)
    r = ci(db_url, [tree.root])
    assert [f["severity"] for f in r.findings if f["alias"] == "FM-04"] == ["warning", "blocking"]
    fm04 = [c for c in r.checks if c["alias"] == "FM-04"][0]
    assert (fm04["outcome"], fm04["severity"], fm04["reason"]) == ("fail", "blocking", "1 finding(s), 1 warning(s)")
    line = [x for x in report.text(r).splitlines() if x.startswith("FM-04 ")][0]
    assert line.startswith("FM-04 ✗ blocking — strat://dev/chain/zz-boot@1.0.0 has no step") and line.endswith("(+1 more)")


def test_an_expired_waiver_fails_the_run(db_url, tree):
    tree.edit("sol-1-boot", _drop_reviewer)
    w = _waiver(ci(db_url, [tree.root]), "FM-04", expires="2020-01-01")
    r = ci(db_url, [tree.root], waivers=[w])
    assert r.exit_code == 1 and check_outcomes(r)["WAIVERS"] == "fail" and "FM-04" in aliases(r)


def test_an_unmatched_waiver_fails_the_run(db_url, tree):
    r = ci(db_url, [tree.root], waivers=[{"fingerprint": "0" * 64, "reason": "r", "owner": "o", "expires": "2999-01-01"}])
    assert r.exit_code == 1 and "matches no finding" in [f for f in r.findings if f["alias"] == "WAIVERS"][0]["message"]


def test_critical_findings_cannot_be_waived(db_url, tree):
    tree.edit("plan-boot", lambda d: d["imports"].append("strat://dev/role/ghost@1.0.0"))
    w = _waiver(ci(db_url, [tree.root]), "FM-02")
    r = ci(db_url, [tree.root], waivers=[w])
    assert r.exit_code == 3 and "cannot be waived" in [f for f in r.findings if f["alias"] == "WAIVERS"][0]["message"]


def test_waivers_are_still_judged_when_files_fail_validation(db_url, tree):
    """The FM checks are skipped, so an in-date waiver cannot be matched: reported, not dropped. Expired still fails."""
    tree.edit("sol-1-boot", _drop_reviewer)
    fm04 = _waiver(ci(db_url, [tree.root]), "FM-04")
    tree.write("broken", {"id": "strat://dev/task/broken@1.0", "type": "task"}, fingerprint=False)
    schema_fp = [f for f in ci(db_url, [tree.root]).findings if f["alias"] == "SCHEMA"][0]["fingerprint"]
    expired = {**fm04, "fingerprint": "a" * 64, "expires": "2020-01-01"}
    on_schema = {**fm04, "fingerprint": schema_fp}
    r = ci(db_url, [tree.root], waivers=[fm04, expired, on_schema])
    got = {f["fingerprint"]: (f["outcome"], f["severity"]) for f in r.findings if f["alias"] == "WAIVERS"}
    assert got == {fm04["fingerprint"]: ("warn", "warning"), "a" * 64: ("fail", "blocking"),
                   schema_fp: ("fail", "blocking")}
    messages = " ".join(f["message"] for f in r.findings if f["alias"] == "WAIVERS")
    assert "could not be matched: the FM checks were skipped" in messages and "expired on 2020-01-01" in messages
    assert "targets a SCHEMA finding, which cannot be waived" in messages
    waivers = [c for c in r.checks if c["alias"] == "WAIVERS"][0]
    assert waivers["outcome"] == "fail" and "1 waiver(s) not judged" in waivers["reason"]
    assert r.exit_code == 1


def test_an_internal_error_after_the_run_began_is_still_recorded(db_url, tree):
    """A waiver whose expiry is not a date (load_waivers refuses it; the API does not) breaks the checks in SQL."""
    bad = {"fingerprint": "0" * 64, "reason": "r", "owner": "o", "expires": "someday"}
    with pytest.raises(psycopg.errors.InvalidDatetimeFormat) as e:
        ci(db_url, [tree.root], waivers=[bad])
    assert any("recorded as error (exit 70)" in note for note in e.value.__notes__)
    with psycopg.connect(db_url) as c:
        run = c.execute("SELECT id, status, exit_code, summary ->> 'error', finished_at IS NOT NULL "
                        "FROM ops.maintenance_runs ORDER BY id DESC LIMIT 1").fetchone()
        events = c.execute("SELECT kind, check_alias, outcome FROM ops.maintenance_run_events WHERE run_id = %s",
                           (run[0],)).fetchall()
        left = c.execute("SELECT count(*) FROM ops.unit_snapshot WHERE run_id = %s", (run[0],)).fetchone()[0]
    assert run[1:3] == ("error", 70) and run[3].startswith("internal error: InvalidDatetimeFormat") and run[4]
    assert events == [("check", "RUN", "skipped")] and left == 0  # no half-written events, snapshot dropped


def test_a_waiver_that_expires_on_an_impossible_date_is_a_usage_error(db_url, tree, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", db_url)
    waivers = tree.root.parent / "waivers.yaml"
    waivers.write_text("waivers:\n  - {fingerprint: '" + "0" * 64 + "', reason: r, owner: o, expires: 2026-02-30}\n")
    assert cli.main(["ci", str(tree.root), "--waivers", str(waivers)]) == 64  # the file is checked first
    assert "expires must be a date" in capsys.readouterr().err


def test_error_runs_are_recorded_too(db_url, tmp_path):
    r = ci(db_url, [tmp_path])
    with psycopg.connect(db_url) as c:
        assert c.execute("SELECT status, exit_code FROM ops.maintenance_runs WHERE id = %s",
                         (r.run_id,)).fetchone() == ("error", 64)


def test_schema_failures_are_counted_through_the_pipeline(db_url, tree):
    tree.write("broken", {"id": "strat://dev/task/broken@1.0", "type": "task"}, fingerprint=False)
    ci(db_url, [tree.root])
    with psycopg.connect(db_url) as c:
        codes = [r[0] for r in c.execute("SELECT code FROM ops.error_events WHERE source = 'stratt'")]
    assert codes and set(codes) == {"UNIT.SCHEMA_INVALID"}
