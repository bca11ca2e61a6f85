"""Rough edges a newcomer hit in `ops`, through the real process and a real database: a typo in a filter is
refused with the closest known values (not an empty table, exit 0), the report keeps guardrail findings apart
from unit CI, and the small messages say what is really wrong."""

from __future__ import annotations

import json
import subprocess
from importlib import metadata

import psycopg

from tests.dispatch_kit import role_login
from tests.test_cli import ops
from worker import ROOT


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
             'refused: unknown code "CI.TEST_FAILED" (did you mean CI.TESTS_FAILED? '
             "the codes are listed in ssot/errors/failure_modes.yaml)")
    _refused(ops("errors", "list", "--code", "ci.tests_failed", url=db_url),
             'refused: unknown code "ci.tests_failed" (codes are case-sensitive: did you mean CI.TESTS_FAILED?)')
    sources = "supabase_fn, github_actions, vercel, odoo, dns, terraform, agent_runner, stratt, ops"
    _refused(ops("errors", "list", "--source", "githb", url=db_url),
             f'refused: unknown source "githb" (did you mean github_actions? known sources: {sources})')
    _refused(ops("errors", "--code", "CI.TEST_FAILED", url=db_url),
             'refused: unknown code "CI.TEST_FAILED" (did you mean CI.TESTS_FAILED? '
             "the codes are listed in ssot/errors/failure_modes.yaml)")
    _refused(ops("triage", "list", "--source", "vercl", url=db_url),
             f'refused: unknown source "vercl" (did you mean vercel? known sources: {sources})')
    _refused(ops("bench", "scorecard", "--agent-type", "fixbott", url=db_url),
             'refused: unknown agent type "fixbott" (did you mean fixbot? known agent types: fixbot)')

    as_json = ops("errors", "list", "--code", "XYZZY", "--json", url=db_url)
    assert as_json.returncode == 3 and json.loads(as_json.stdout) == {
        "error": "refused", "code": "unknown_value", "field": "--code", "exit_code": 3,
        "reason": 'unknown code "XYZZY" (no known code is close; the codes are listed in ssot/errors/failure_modes.yaml)'}
    assert json.loads(ops("errors", "list", "--source", "githb", "--json", url=db_url).stdout)["code"] == "OP002"

    # Known values that match nothing still answer empty, exit 0.
    for args in (["errors", "list", "--code", "CI.LINT_FAILED"], ["errors", "list", "--source", "odoo"],
                 ["errors", "--code", "CI.LINT_FAILED"], ["triage", "list", "--source", "odoo"],
                 ["errors", "list", "--code", "CI.TESTS_FAILED", "--status", "resolved"]):
        result = ops(*args, "--json", url=db_url)
        assert result.returncode == 0 and json.loads(result.stdout) == [], (args, result.stderr)
    assert ops("bench", "scorecard", "--agent-type", "fixbot", url=db_url).returncode == 0
    assert json.loads(ops("errors", "list", "--code", "CI.TESTS_FAILED", "--json", url=db_url).stdout)


def test_classifier_suggest_refuses_an_unknown_source_as_classify_does(db_url):
    _refused(ops("classifier", "suggest", "--text", "npm ERR! code ERESOLVE", "--source", "githb", url=db_url),
             'refused: unknown source "githb" (did you mean github_actions? known sources: supabase_fn, github_actions, '
             "vercel, odoo, dns, terraform, agent_runner, stratt, ops)")


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


def test_triage_promote_names_a_bad_code_before_it_asks_for_yes(db_url):
    fp = _ingest(db_url, "vercel", "zorglub frobnicated the widget")  # UNKNOWN.VERCEL; stdin is not a terminal here
    _refused(ops("triage", "promote", fp, "CI.TEST_FAILED", url=db_url),
             'refused: unknown code "CI.TEST_FAILED" (did you mean CI.TESTS_FAILED? promote to a code of '
             "ssot/errors/failure_modes.yaml: add it there and run `ops ssot sync` first)")
    _refused(ops("triage", "promote", fp, "UNKNOWN.ODOO", url=db_url),
             'refused: cannot promote to "UNKNOWN.ODOO": an UNKNOWN code is the fallback, not a classification')
    asks = ops("triage", "promote", fp, "CI.TESTS_FAILED", url=db_url)
    assert asks.returncode == 2 and "pass --yes" in asks.stderr


def test_ignore_says_why_an_until_is_refused_in_rfc3339(db_url):
    fp = _ingest(db_url, "vercel", "zorglub frobnicated the widget")
    zero = ops("ignore", fp[:12], "--until", "0m", url=db_url)
    assert zero.returncode == 2 and "argument --until: must be a duration above zero" in zero.stderr, zero.stderr
    _refused(ops("ignore", fp[:12], "--until", "2020-01-01", url=db_url),
             "refused: --until must be in the future, not 2020-01-01T00:00:00Z")
    past = json.loads(ops("ignore", fp[:12], "--until", "2020-01-01T03:00:00+02:00", "--json", url=db_url).stdout)
    assert (past["field"], past["code"], past["reason"]) == (
        "--until", "OP001", "--until must be in the future, not 2020-01-01T01:00:00Z")


def test_bench_promote_joins_its_reasons_as_sentences(db_url):
    refused = ops("bench", "promote", "verify-full-suite", url=db_url)
    assert refused.returncode == 1
    reason = refused.stderr.strip().splitlines()[-1]
    assert ".;" not in reason and "first. min_runs: 0 scored runs (at least " in reason, reason
    assert reason.endswith("min_tier: no scored runs, so no tier (at least B).") and "None" not in reason, reason


def test_classify_json_has_no_line_for_an_event_given_by_flags(db_url):
    plain = json.loads(ops("classify", "--source", "vercel", "--message", "FUNCTION_INVOCATION_TIMEOUT", "--json",
                           url=db_url).stdout)
    assert plain == {"code": "VERCEL.FUNCTION_TIMEOUT", "confidence": plain["confidence"],
                     "matched_pattern": plain["matched_pattern"]}, "no line (nor rule, candidates) without --file/--explain"
    lines = json.loads(ops("classify", "--file", "-", "--json", url=db_url,
                           stdin='{"source": "vercel", "message": "FUNCTION_INVOCATION_TIMEOUT"}\n').stdout)
    assert lines["results"][0]["line"] == 1, "a --file result still names its line"


def test_version_comes_from_the_package_metadata():
    version = ops("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"ops {metadata.version('ops-reliability')}"


def test_report_html_in_the_checkout_is_ignored_by_git():
    ignored = subprocess.run(["git", "check-ignore", "-q", "report.html"], cwd=ROOT)
    assert ignored.returncode == 0, "`ops report --html report.html` (README) leaves no untracked file"
    assert subprocess.run(["git", "check-ignore", "-q", "docs/report.html"], cwd=ROOT).returncode == 1


def test_a_second_demo_says_the_receiver_also_got_older_escalations(db_url, tmp_path):
    for _ in range(3):  # ENV.KEY_MISSING escalates at 3 within 1h; no worker runs, so it stays pending
        _ingest(db_url, "vercel", "Error: Missing required environment variable STRIPE_SECRET_KEY", "build")
    result = ops("demo", "--events", "20", "--delay", "0", "--quiet", "--report", str(tmp_path / "r.html"), url=db_url,
                 env={"OPS_HOME": str(tmp_path / "home")})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "escalations this run: " in result.stdout
    assert "(including 1 for escalation(s) left pending before this run)" in result.stdout, result.stdout
