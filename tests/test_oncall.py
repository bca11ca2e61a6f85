"""On call through the real `ops` process and a real database: errors show / list, resolve with a record,
ignore, reopen; prefix resolution; the FixBot auto-resolve writing its record."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import psycopg
import pytest

from tests.test_cli import ops
from worker import ROOT, resolutions

# Secret shapes the redaction rules know, built at run time so no token-like literal sits in the repo.
FAKE_STRIPE_KEY = "sk_live_" + "abcdefghijklmnop1234"
FAKE_GITHUB_TOKEN = "ghp_" + "abcdefghijklmnopqrstuvwxyz0123456789"


def _ingest(url, *messages, source="vercel", phase="build", run_id=None, correlation_id=None):
    with psycopg.connect(url, autocommit=True) as conn:
        fps = [conn.execute("SELECT fingerprint FROM ops.record_error(source => %s, phase => %s, message => %s, "
                            "run_id => %s, correlation_id => %s)", (source, phase, m, run_id, correlation_id)).fetchone()[0]
               for m in messages]
    return fps[-1]


@pytest.fixture
def repo(tmp_path) -> Path:
    (tmp_path / "docs/resolutions").mkdir(parents=True)
    return tmp_path


def test_show_list_resolve_with_record_then_regression(db_url, repo):
    fp = _ingest(db_url, *[f"Error: Missing required environment variable STRIPE_SECRET_KEY={FAKE_STRIPE_KEY}"] * 3,
                 run_id="run-41", correlation_id="req-9")
    prefix = fp[:8]

    shown = ops("errors", "show", prefix, "--json", url=db_url)
    assert shown.returncode == 0, shown.stderr
    doc = json.loads(shown.stdout)
    assert doc["group"]["fingerprint"] == fp and doc["group"]["code"] == "ENV.KEY_MISSING"
    assert doc["group"]["count"] == 3 and doc["group"]["runbook"] == "docs/runbooks/failures/ENV.KEY_MISSING.md"
    assert len(doc["events"]) == 3 and doc["events"][0]["run_id"] == "run-41" and doc["events"][0]["correlation_id"] == "req-9"
    assert FAKE_STRIPE_KEY not in shown.stdout  # redacted at ingest
    assert [e["reason"] for e in doc["escalations"]] == ["window"]  # ENV.KEY_MISSING escalates at 3 within 1h
    text = ops("errors", "show", prefix, url=db_url).stdout
    assert "ENV.KEY_MISSING" in text and "docs/runbooks/failures/ENV.KEY_MISSING.md" in text and "run-41" in text

    listed = json.loads(ops("errors", "list", "--code", "ENV.KEY_MISSING", "--since", "1h", "--status", "open", "--json",
                            url=db_url).stdout)
    assert [r["fingerprint"] for r in listed] == [fp]
    assert json.loads(ops("errors", "list", "--source", "odoo", "--json", url=db_url).stdout) == []
    assert json.loads(ops("errors", "list", "--since", "2999-01-01T00:00:00Z", "--json", url=db_url).stdout) == []

    summary = "Rotated the *Stripe* key [click](http://evil) @team"  # also the file name's slug
    resolved = ops("resolve", prefix, "--summary", summary, "--cause", "the key was removed from Vercel",
                   "--fix", f"set STRIPE_SECRET_KEY={FAKE_STRIPE_KEY} again", "--pr", "https://github.com/o/r/pull/12",
                   "--by", "ana", "--root", str(repo), "--json", url=db_url)
    assert resolved.returncode == 0, resolved.stderr
    out = json.loads(resolved.stdout)
    path = repo / out["record"]
    assert re.fullmatch(r"docs/resolutions/\d{4}/\d{2}/\d{4}-\d{2}-\d{2}_ENV\.KEY_MISSING_rotated-the-stripe-key-click-http-evil-team\.md",
                        out["record"]), out["record"]
    content = path.read_bytes()
    assert hashlib.sha256(content).hexdigest() == out["sha256"]
    record = content.decode()
    assert f'fingerprint: "{fp}"' in record and 'resolved_by: "ana"' in record and "| occurrences | 3 |" in record
    assert "run\\-41" in record and "https://github.com/o/r/pull/12" in record.split("---")[1]
    assert FAKE_STRIPE_KEY not in record  # the person's text is redacted too
    assert "[click](http://evil)" not in record and "\\[click\\]" in record  # inert Markdown
    assert "escalation" in record and "window" in record  # the escalation is in the timeline
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT status, resolution_ref, resolution_sha256, resolved_by FROM ops.agent_errors "
                           "WHERE fingerprint = %s", (fp,)).fetchone()
    assert row == ("resolved", out["record"], out["sha256"], "ana")

    again = ops("resolve", prefix, "--summary", summary, "--root", str(repo), url=db_url)
    assert again.returncode == 1 and "cannot become resolved" in again.stderr and "reopen" in again.stderr
    assert list((repo / "docs/resolutions").rglob("*.md")) == [path]  # the refused resolve left no file behind

    # It comes back: regressed, shown as such, and a second record never clobbers the first.
    _ingest(db_url, f"Error: Missing required environment variable STRIPE_SECRET_KEY={FAKE_STRIPE_KEY}")
    doc = json.loads(ops("errors", "show", prefix, "--json", url=db_url).stdout)
    assert doc["group"]["status"] == "regressed" and doc["group"]["regression_count"] == 1
    assert [r["to_status"] for r in doc["regressions"]] == ["regressed"]
    second = ops("resolve", prefix, "--summary", summary, "--root", str(repo), url=db_url)
    printed = Path(re.search(r"; record (.+) \(sha256 ", second.stdout).group(1))
    assert printed == repo / out["record"].replace(".md", "-2.md")  # --root elsewhere: the path a person can open
    assert path.read_bytes() == content
    assert "resolved → regressed by ingest" in printed.read_text()


def test_ignore_until_then_reopen_and_refusals(db_url):
    fp = _ingest(db_url, "getaddrinfo ENOTFOUND api.example.com", source="dns", phase="resolve")
    ignored = ops("ignore", fp[:10], "--until", "2h", "--json", url=db_url)
    assert ignored.returncode == 0, ignored.stderr
    assert json.loads(ignored.stdout)["status"] == "ignored"
    for _ in range(3):
        _ingest(db_url, "getaddrinfo ENOTFOUND api.example.com", source="dns", phase="resolve")
    doc = json.loads(ops("errors", "show", fp[:10], "--json", url=db_url).stdout)
    assert doc["group"]["count"] == 4 and doc["escalations"] == [] and doc["group"]["ignored_until"]
    assert ops("reopen", fp[:10], url=db_url).returncode == 0
    again = ops("reopen", fp[:10], "--json", url=db_url)
    assert again.returncode == 1 and json.loads(again.stdout)["code"] == "OPD04"
    bad = ops("ignore", fp[:10], "--until", "tomorrow", url=db_url)
    assert bad.returncode == 2 and "argument --until: must be a duration" in bad.stderr
    # A time without an offset is UTC, as in `ops report --since` and `ops export --since` (worker/timeflags.py).
    naive = ops("errors", "list", "--since", "2999-01-01T10:00:00", "--json", url=db_url)
    assert naive.returncode == 0 and json.loads(naive.stdout) == [], "nothing was seen after that time"
    assert ops("errors", "list", "--since", "2w", "--json", url=db_url).returncode == 0  # weeks, as the report takes


def test_prefix_not_found_malformed_and_ambiguous(db_url):
    missing = ops("errors", "show", "0000000000", "--json", url=db_url)
    assert missing.returncode == 1 and json.loads(missing.stdout)["code"] == "OP004"
    assert "no error with a fingerprint starting" in missing.stderr
    short = ops("errors", "show", "ab", url=db_url)
    assert short.returncode == 3 and "at least 4 hex digits" in short.stderr
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO ops.agent_errors (fingerprint, fingerprint_version, code, source, count, first_seen_at, "
                     "last_seen_at, sample_message) SELECT 'beef' || repeat(d, 60), 2, 'ENV.KEY_MISSING', 'vercel', 1, now(), "
                     "now(), 'x' FROM unnest(ARRAY['0', '1']) d")
    ambiguous = ops("resolve", "beef", "--summary", "x", url=db_url)
    assert ambiguous.returncode == 3
    assert 'prefix "beef" is ambiguous: 2 errors match' in ambiguous.stderr
    assert "beef000000000000 ENV.KEY_MISSING (open)" in ambiguous.stderr and "beef111111111111" in ambiguous.stderr


def test_worker_auto_resolves_a_merged_fixbot_fix_with_a_record(conn, repo):
    conn.execute("SELECT ops.record_error(source => 'github_actions', phase => 'typecheck', "
                 "message => 'error TS2322: Type ''string'' is not assignable to type ''number''.', run_id => 'gh-77')")
    (fp, run_id), = conn.execute("SELECT fingerprint, id FROM ops.agent_runs WHERE code = 'CI.TYPECHECK_FAILED'").fetchall()
    conn.execute("UPDATE ops.agent_runs SET status = 'succeeded', pr_url = 'https://github.com/o/r/pull/5', "
                 "finished_at = now() - interval '2 days' WHERE id = %s", (run_id,))
    conn.execute("SELECT * FROM ops.record_run_outcome(kind => 'pull_request', state => 'merged', run_id => %s, "
                 "occurred_at => now() - interval '2 days')", (run_id,))
    conn.execute("UPDATE ops.agent_errors SET last_seen_at = now() - interval '3 days' WHERE fingerprint = %s", (fp,))
    conn.commit()
    quiet = resolutions.quiet_period_seconds({"auto_resolve": {"quiet_period": "1d"}})
    assert resolutions.auto_resolve(conn, repo, resolutions.quiet_period_seconds({"auto_resolve": {"quiet_period": "3d"}})) == []
    written = resolutions.auto_resolve(conn, repo, quiet)
    assert [w["fingerprint"] for w in written] == [fp]
    record = (repo / written[0]["path"]).read_text()
    assert 'resolved_by: "fixbot"' in record and f"agent_runs: [{run_id}]" in record
    assert 'pull_request: "https://github.com/o/r/pull/5"' in record and "gh\\-77" in record
    assert conn.execute("SELECT status, resolved_by, resolution_sha256 FROM ops.agent_errors WHERE fingerprint = %s",
                        (fp,)).fetchone() == ("resolved", "fixbot", written[0]["sha256"])
    assert resolutions.auto_resolve(conn, repo, quiet) == []  # resolved once


def test_the_shipped_policy_has_a_quiet_period():
    from worker import fixbot
    assert resolutions.quiet_period_seconds(fixbot.Policy.load().data) == 24 * 3600
    assert (ROOT / "docs/resolutions/_template.md").read_text().count("{{") > 10


def test_runbooks_name_the_commands_and_never_an_update():
    """Runbooks tell people to run `ops errors show` / `ops resolve` / `ops ignore`, never to UPDATE ops tables."""
    pages = sorted((ROOT / "docs/runbooks").rglob("*.md"))
    assert len(pages) > 100
    for page in pages:
        text = page.read_text()
        assert not re.search(r"\bupdate\s+ops\.", text, re.IGNORECASE), page
        if page.parent.name == "failures":
            assert "ops resolve <fingerprint>" in text and "ops errors show <fingerprint>" in text, page


def test_the_worker_process_auto_resolves_in_its_maintenance(db_url, repo, tmp_path):
    """The real `ops worker --once` resolves a merged FixBot fix once the policy's quiet period (24h) has passed."""
    from tests.dispatch_kit import FAST, WorkerProcess
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT ops.record_error(source => 'github_actions', phase => 'lint', message => 'Found 3 errors.')")
        fp, run_id = conn.execute("SELECT fingerprint, id FROM ops.agent_runs WHERE code = 'CI.LINT_FAILED'").fetchone()
        conn.execute("UPDATE ops.escalations SET state = 'delivered' WHERE fingerprint = %s", (fp,))
        conn.execute("UPDATE ops.agent_runs SET status = 'succeeded', pr_url = 'https://github.com/o/r/pull/9', "
                     "finished_at = now() - interval '25 hours' WHERE id = %s", (run_id,))
        conn.execute("SELECT * FROM ops.record_run_outcome(kind => 'pull_request', state => 'merged', run_id => %s, "
                     "occurred_at => now() - interval '25 hours')", (run_id,))
        conn.execute("UPDATE ops.agent_errors SET last_seen_at = now() - interval '26 hours' WHERE fingerprint = %s", (fp,))
    with WorkerProcess(db_url, tmp_path / "w.log", *FAST, "--once", env={"OPS_RESOLUTIONS_ROOT": str(repo)}) as w:
        assert w.proc.wait(90) == 0  # --once: maintenance, then whatever is due, then exit
        resolved = [e for e in w.events() if e.get("event") == "error_auto_resolved"]
    assert [e["fingerprint"] for e in resolved] == [fp]
    assert 'resolved_by: "fixbot"' in (repo / resolved[0]["record"]).read_text()
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT status, resolved_by FROM ops.agent_errors WHERE fingerprint = %s",
                            (fp,)).fetchone() == ("resolved", "fixbot")


def test_a_secret_in_the_summary_reaches_neither_the_file_name_nor_the_record(db_url, repo):
    fp = _ingest(db_url, "Error: Missing required environment variable PLANE_WEBHOOK_SECRET")
    out = json.loads(ops("resolve", fp[:12], "--summary", f"leaked {FAKE_GITHUB_TOKEN} rotated",
                         "--root", str(repo), "--json", url=db_url).stdout)
    assert "abcdefghijklmnop" not in out["record"]
    assert "abcdefghijklmnop" not in (repo / out["record"]).read_text()
