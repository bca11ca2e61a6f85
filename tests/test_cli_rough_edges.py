"""Rough edges a newcomer hit in `ops`, through the real process and a real database: a typo in a filter is
refused with the closest known values (not an empty table, exit 0), the report keeps guardrail findings apart
from unit CI, and the small messages say what is really wrong."""

from __future__ import annotations

import json

import psycopg
import pytest

from tests.dispatch_kit import role_login
from tests.test_cli import ops


def _ingest(url: str, source: str, message: str, phase: str | None = None) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT fingerprint FROM ops.record_error(source => %s, phase => %s, message => %s)",
                            (source, phase, message)).fetchone()[0]


def _refused(result, line: str) -> None:
    assert result.returncode == 3, (result.returncode, result.stdout, result.stderr)
    assert result.stderr.strip().splitlines() == [line], result.stderr


def test_a_typo_in_a_filter_is_refused_with_the_closest_known_values(db_url):
    _ingest(db_url, "github_actions", "FAILED tests/test_api.py::test_create - AssertionError", "test")
    _refused(ops("errors", "list", "--code", "CI.TEST_FAILED", url=db_url),
             'refused: unknown code "CI.TEST_FAILED" for --code: did you mean CI.TESTS_FAILED? '
             "(the codes are listed in ssot/errors/failure_modes.yaml)")
    _refused(ops("errors", "list", "--code", "ci.tests_failed", url=db_url),
             'refused: unknown code "ci.tests_failed" for --code: codes are case-sensitive, did you mean CI.TESTS_FAILED?')
    sources = "supabase_fn, github_actions, vercel, odoo, dns, terraform, agent_runner, stratt, ops"
    _refused(ops("errors", "list", "--source", "githb", url=db_url),
             f'refused: unknown source "githb" for --source: did you mean github_actions? (known sources: {sources})')
    _refused(ops("errors", "--code", "CI.TEST_FAILED", url=db_url),
             'refused: unknown code "CI.TEST_FAILED" for --code: did you mean CI.TESTS_FAILED? '
             "(the codes are listed in ssot/errors/failure_modes.yaml)")
    _refused(ops("triage", "list", "--source", "vercl", url=db_url),
             f'refused: unknown source "vercl" for --source: did you mean vercel? (known sources: {sources})')
    _refused(ops("bench", "scorecard", "--agent-type", "fixbott", url=db_url),
             'refused: unknown agent type "fixbott" for --agent-type: did you mean fixbot? (known agent types: fixbot)')

    as_json = ops("errors", "list", "--code", "XYZZY", "--json", url=db_url)
    assert as_json.returncode == 3 and json.loads(as_json.stdout) == {
        "error": "refused", "code": "unknown_value", "field": "--code", "exit_code": 3,
        "reason": 'unknown code "XYZZY" for --code: no known code is close '
                  "(the codes are listed in ssot/errors/failure_modes.yaml)"}
    assert json.loads(ops("errors", "list", "--source", "githb", "--json", url=db_url).stdout)["code"] == "OP002"

    # Known values that match nothing still answer empty, exit 0.
    for args in (["errors", "list", "--code", "CI.LINT_FAILED"], ["errors", "list", "--source", "odoo"],
                 ["errors", "--code", "CI.LINT_FAILED"], ["triage", "list", "--source", "odoo"],
                 ["errors", "list", "--code", "CI.TESTS_FAILED", "--status", "resolved"]):
        result = ops(*args, "--json", url=db_url)
        assert result.returncode == 0 and json.loads(result.stdout) == [], (args, result.stderr)
    assert ops("bench", "scorecard", "--agent-type", "fixbot", url=db_url).returncode == 0
    assert json.loads(ops("errors", "list", "--code", "CI.TESTS_FAILED", "--json", url=db_url).stdout)


def test_an_analyst_gets_the_same_refusal(db_url):
    """An ops_analyst login may not read ops.sources: the sources come from the taxonomy's UNKNOWN.<SOURCE> codes."""
    with role_login(db_url, "ops_analyst") as url:
        result = ops("errors", "list", "--source", "githb", url=url)
        assert result.returncode == 3 and "did you mean github_actions?" in result.stderr, result.stderr
        result = ops("errors", "list", "--code", "CI.TEST_FAILED", url=url)
        assert result.returncode == 3 and "did you mean CI.TESTS_FAILED?" in result.stderr, result.stderr
        result = ops("bench", "scorecard", "--agent-type", "fixbott", url=url)
        assert result.returncode == 3 and "did you mean fixbot?" in result.stderr, result.stderr


def test_a_code_dropped_from_the_taxonomy_is_still_a_filter_while_errors_have_it(db_url):
    fp = _ingest(db_url, "vercel", "FUNCTION_INVOCATION_TIMEOUT", "invoke")
    with psycopg.connect(db_url, autocommit=True) as conn:  # as if the code had been renamed since
        conn.execute("SET session_replication_role = replica")
        conn.execute("UPDATE ops.agent_errors SET code = 'VERCEL.OLD_TIMEOUT', status = 'resolved' "
                     "WHERE fingerprint = %s", (fp,))
    result = ops("errors", "list", "--code", "VERCEL.OLD_TIMEOUT", "--status", "open", "--json", url=db_url)
    assert result.returncode == 0 and json.loads(result.stdout) == [], result.stderr


def test_report_puts_guardrail_findings_on_their_own_line(db_url, tmp_path):
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO ops.convergence_findings (scope, fingerprint, code, alias, severity, message, "
                     "first_run_id, last_run_id) VALUES "
                     "('guardrail|acme/api@main', 'g1', 'SEC.SECRET_LEAKED', 'SEC.SECRET_LEAKED', 'critical', 'a', 0, 0), "
                     "('guardrail|acme/api@main', 'g2', 'SEC.SECRET_LEAKED', 'SEC.SECRET_LEAKED', 'critical', 'b', 0, 0), "
                     "('guardrail|acme/web@main', 'g3', 'SEC.SECRET_LEAKED', 'SEC.SECRET_LEAKED', 'critical', 'c', 0, 0)")
    text = ops("report", url=db_url)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert "unit CI     0 runs" in lines and "findings    3 open: guardrail 3" in lines, text.stdout
    assert not any("open findings" in line and "unit CI" in line for line in lines)
    assert "guardrail  " in text.stdout.split("open findings", 1)[1], "the table names each finding's kind"

    with psycopg.connect(db_url, autocommit=True) as conn:
        run = conn.execute("INSERT INTO ops.maintenance_runs (kind, scope, status) VALUES ('unit_ci', 'unit_ci:t', "
                           "'failed') RETURNING id").fetchone()[0]
        conn.execute("INSERT INTO ops.convergence_findings (scope, fingerprint, code, alias, severity, message, "
                     "first_run_id, last_run_id) VALUES ('unit_ci:t', 'f1', 'UNIT.BROKEN_IMPORT', 'FM-02', 'blocking', "
                     "'x', %s, %s)", (run, run))
    doc = json.loads(ops("report", "--json", url=db_url).stdout)
    t = doc["totals"]
    assert (t["open_findings"], t["open_guardrail_findings"], t["open_unit_ci_findings"]) == (4, 3, 1)
    assert sorted(f["kind"] for f in doc["open_findings"]) == ["guardrail"] * 3 + ["unit_ci"]
    assert "findings    4 open: guardrail 3, unit CI 1" in ops("report", url=db_url).stdout

    page = tmp_path / "report.html"
    assert ops("report", "--html", str(page), url=db_url).returncode == 0
    html = page.read_text()
    assert "open guardrail findings" in html and "open unit-CI findings" in html and "<th>kind</th>" in html
