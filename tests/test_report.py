"""`ops report` (issue 13): the figures from the analysts' views through the real CLI as an ops_analyst
login, the terminal summary, and the HTML page rendered in a real headless Chromium (Debian's `chromium`,
driven over the DevTools protocol by Playwright): no console errors, no request leaves the page, every
chart drew marks, hostile text stays text, and a screenshot is saved under the test's tmp dir."""

from __future__ import annotations

import html.parser
import json
import shutil
from pathlib import Path

import psycopg
import pytest
from hypothesis import given, settings, strategies as st

from tests.dispatch_kit import role_login
from tests.test_cli import ops
from worker.render import html_text, script_json

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HOSTILE = '</script><script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> <b>bold</b>'


def populate(url: str) -> None:
    """Two days of events (one hostile message), a resolution, a regression, FixBot runs with verdicts, a
    delivered and a dead escalation, a unit-CI run with checks and an open finding. Through the real
    pipeline (INSERT into ops.error_events, ops.set_error_status, the protocol functions) where one exists."""
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("INSERT INTO ops.error_events (source, phase, message, received_at) "
                  "SELECT 'vercel', 'invoke', 'FUNCTION_INVOCATION_TIMEOUT', now() - interval '1 day' FROM generate_series(1, 4)")
        c.execute("INSERT INTO ops.error_events (source, phase, message) "
                  "SELECT 'vercel', 'invoke', 'FUNCTION_INVOCATION_TIMEOUT' FROM generate_series(1, 3)")
        c.execute("INSERT INTO ops.error_events (source, message) VALUES ('github_actions', %s)", (HOSTILE,))
        c.execute("INSERT INTO ops.error_events (source, phase, message) "
                  "SELECT 'github_actions', 'test', 'npm ERR! code ERESOLVE' FROM generate_series(1, 2)")
        c.execute("SELECT ops.set_error_status(fingerprint, 'resolved') FROM ops.agent_errors WHERE code = 'CI.DEPENDENCY_INSTALL_FAILED'")
        c.execute("INSERT INTO ops.error_events (source, phase, message) VALUES ('github_actions', 'test', 'npm ERR! code ERESOLVE')")
        c.execute("SELECT ops.set_error_status(fingerprint, 'resolved') FROM ops.agent_errors WHERE code = 'VERCEL.FUNCTION_TIMEOUT'")
        # FixBot: two runs queued by the pipeline, one approved, one rejected.
        c.execute("INSERT INTO ops.error_events (source, phase, message) VALUES "
                  "('github_actions', 'test', 'FAILED tests/test_api.py::test_create - AssertionError'), "
                  "('github_actions', 'typecheck', 'error TS2322: Type ''string'' is not assignable to type ''number''.')")
        runs = [r[0] for r in c.execute("SELECT id FROM ops.agent_runs ORDER BY id").fetchall()]
        assert len(runs) == 3, "npm (2 within 24h), the tests and the typecheck: FixBot codes"
        c.execute("SELECT ops.update_agent_run(%s, 'succeeded', '{\"approved\": true, \"reasons\": []}')", (runs[1],))
        c.execute("SELECT ops.update_agent_run(%s, 'rejected', "
                  "'{\"approved\": false, \"reasons\": [{\"code\": \"AGENT.FORBIDDEN_PATH\", \"message\": \"x\"}]}')", (runs[2],))
        # Escalations: one delivered, one dead, through the claim protocol.
        jobs = c.execute("SELECT id, claims FROM ops.claim_escalations('test', 2, interval '1 minute')").fetchall()
        assert len(jobs) == 2, jobs
        c.execute("SELECT ops.complete_escalation(%s, %s, '{}')", jobs[0])
        c.execute("SELECT ops.fail_escalation(%s, %s, 'gone', interval '0', true, true)", jobs[1])
        # Unit CI: a run with three checks and an open finding.
        run = c.execute("INSERT INTO ops.maintenance_runs (kind, scope, status) VALUES ('unit_ci', 'unit_ci:t', 'failed') "
                        "RETURNING id").fetchone()[0]
        c.execute("INSERT INTO ops.maintenance_run_events (run_id, kind, check_alias, outcome, message) VALUES "
                  "(%(r)s, 'check', 'FM-01', 'pass', 'ok'), (%(r)s, 'check', 'FM-02', 'fail', 'broken'), "
                  "(%(r)s, 'check', 'FM-04', 'warn', 'w')", {"r": run})
        c.execute("INSERT INTO ops.convergence_findings (scope, fingerprint, code, alias, severity, message, "
                  "first_run_id, last_run_id) VALUES ('unit_ci:t', 'f1', 'UNIT.BROKEN_IMPORT', 'FM-02', 'blocking', "
                  "%s, %s, %s)", (HOSTILE, run, run))


@pytest.fixture
def analyst(db_url):
    with role_login(db_url, "ops_analyst") as url:
        yield url


def test_report_figures_as_json_for_an_analyst(db_url, analyst):
    populate(db_url)
    result = ops("report", "--since", "7d", "--json", url=analyst)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    t = doc["totals"]
    # 4 + 3 timeouts, the hostile one, 2 + 1 npm, tests, typecheck, and the dead escalation's OPS.DELIVERY_FAILED
    assert t["events"] == 4 + 3 + 1 + 2 + 1 + 2 + 1
    assert (t["new"], t["regressed"], t["resolved"]) == (6, 1, 2)
    assert (t["agent_runs"], t["unit_ci_runs"], t["open_findings"]) == (3, 1, 1)
    days = {(r["day"], r["code"]): r["events"] for r in doc["events_per_day"]}
    timeout_days = sorted(e for (d, c), e in days.items() if c == "VERCEL.FUNCTION_TIMEOUT")
    assert timeout_days == [3, 4], "events per UTC day per code, yesterday's and today's"
    assert doc["top_errors"][0]["code"] == "VERCEL.FUNCTION_TIMEOUT" and doc["top_errors"][0]["events"] == 7
    changes = {(r["change"]): r["errors"] for r in doc["changes_per_day"] if r["change"] != "new"}
    assert changes == {"regressed": 1, "resolved": 2}
    (timeout,) = [r for r in doc["resolution_times"] if r["code"] == "VERCEL.FUNCTION_TIMEOUT"]
    assert timeout["resolved"] == 1 and 86_000 < timeout["median_seconds"] < 90_000, "resolved a day after first seen"
    outcomes = {(r["destination"], r["state"]) for r in doc["escalation_outcomes"]}
    assert {s for _, s in outcomes} >= {"delivered", "dead"}
    assert {r["status"]: r["runs"] for r in doc["agent_run_outcomes"]} == {"queued": 1, "succeeded": 1, "rejected": 1}
    rates = {r["check_alias"]: r["pass_rate"] for r in doc["unit_check_pass_rates"]}
    assert rates == {"FM-01": 1.0, "FM-02": 0.0, "FM-04": 1.0}, "a warning passes; a failure does not"
    assert doc["open_findings"][0]["message"] == HOSTILE

    text = ops("report", url=analyst)
    assert text.returncode == 0, text.stderr
    assert "new 6, regressed 1, resolved 2" in text.stdout and "top errors" in text.stdout
    assert "FM-02" in text.stdout and "VERCEL.FUNCTION_TIMEOUT" in text.stdout

    later = json.loads(ops("report", "--since", "2099-01-01", "--json", url=analyst).stdout)
    assert later["totals"]["events"] == 0 and later["events_per_day"] == [] and later["open_findings"], \
        "a period in the future has no events; open findings are listed whatever the period"


def test_empty_database_says_so(db_url):
    text = ops("report", url=db_url)
    assert text.returncode == 0 and "nothing in this period" in text.stdout, text.stdout + text.stderr
    bad = ops("report", "--since", "yesterday", "--json", url=db_url)
    assert bad.returncode == 2 and json.loads(bad.stdout)["field"] == "--since"


def _render(path: Path, screenshot: Path) -> dict:
    """Open ``path`` in headless Chromium; what a person would see and what the console said."""
    from playwright.sync_api import sync_playwright

    seen = {"console": [], "errors": [], "requests": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: seen["console"].append((m.type, m.text)))
            page.on("pageerror", lambda e: seen["errors"].append(str(e)))
            page.on("request", lambda r: seen["requests"].append(r.url))
            page.goto(path.as_uri(), wait_until="load")
            page.wait_for_timeout(300)
            seen["charts"] = page.eval_on_selector_all("div.chart", """divs => divs.map(d => ({
                id: d.id, svg: d.querySelectorAll('svg.main-svg').length,
                marks: d.querySelectorAll('.barlayer .point path, .scatterlayer .point').length}))""")
            seen["pwned"] = page.evaluate("window.__pwned === undefined ? null : window.__pwned")
            seen["text"] = page.inner_text("body")
            seen["img"] = page.evaluate("document.querySelectorAll('img').length")
            seen["scripts"] = page.evaluate("document.querySelectorAll('script:not([type])').length")
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return seen


def test_html_page_renders_in_chromium(db_url, analyst, tmp_path):
    populate(db_url)
    out = tmp_path / "report.html"
    result = ops("report", "--html", str(out), url=analyst)
    assert result.returncode == 0 and f"report written: {out}" in result.stdout, result.stderr
    seen = _render(out, tmp_path / "report.png")
    assert seen["errors"] == [] and [m for m in seen["console"] if m[0] in ("error", "warning")] == [], seen
    assert all(u.startswith("file://") for u in seen["requests"]), "self-contained: nothing fetched from a network"
    assert len(seen["charts"]) == 7, seen["charts"]
    for chart in seen["charts"]:
        assert chart["svg"] >= 1 and chart["marks"] >= 1, f"chart {chart['id']} drew nothing: {chart}"
    assert seen["pwned"] is None and seen["img"] == 0, "producer text stays text: no script ran, no element was added"
    assert seen["scripts"] == 2, "the only scripts are plotly.js and the constant loader"
    assert HOSTILE.split("<img")[0] in seen["text"], "the hostile message is shown, as text"
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_empty_html_page_says_so_in_chromium(db_url, tmp_path):
    out = tmp_path / "empty.html"
    assert ops("report", "--html", str(out), url=db_url).returncode == 0
    seen = _render(out, tmp_path / "empty.png")
    assert seen["errors"] == [] and seen["charts"] == [] and "Nothing to report" in seen["text"]


def test_html_to_an_unwritable_path_is_refused(db_url, tmp_path):
    result = ops("report", "--html", str(tmp_path / "missing" / "r.html"), "--json", url=db_url)
    assert result.returncode == 3 and json.loads(result.stdout)["error"] == "refused"
    assert "cannot write --html" in result.stderr


class _Text(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_html_text_is_only_text(value):
    """Property: escaped text inside an element parses as that one element holding text, no other tag."""
    parser = _Text()
    parser.feed(f'<td title="{html_text(value)}">{html_text(value)}</td>')
    assert parser.tags == ["td"]
    shown = "".join(parser.text)
    assert "\n" not in shown and ("<" not in value or "<" in shown or not value.strip())


@settings(max_examples=300, deadline=None)
@given(st.recursive(st.none() | st.text() | st.integers(), lambda c: st.lists(c) | st.dictionaries(st.text(), c)))
def test_script_json_cannot_close_its_element(value):
    text = script_json(json.dumps(value))
    assert "<" not in text and ">" not in text and "\u2028" not in text
    assert json.loads(text) == value
