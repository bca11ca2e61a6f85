"""Issue 11 items 5 and 6 through the real parts: hostile text through a real worker to the test
receiver (Slack, GitHub) and through `ops` to a terminal; secrets kept out of the worker's log, out
of `ops db url` and out of the embedded cluster's server log."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
from markdown_it import MarkdownIt

from tests.dispatch_kit import FAST, WorkerProcess, states, wait_until
from tests.receiver import Receiver
from worker import ROOT, migrations
from worker.cluster import Cluster

HOSTILE_PHASE = "deploy <!channel> <@U123> <http://evil.example/|click> @octocat\x1b[31m\u202e"
HOSTILE_SAMPLE = ("``` closed?\n<!here> <!channel> <@U123> <http://evil.example/|your login expired>\n"
                  "@octocat @acme/oncall [click](http://evil.example) <img src=x>\n"
                  "\x1b]8;;http://evil.example\x07link\x1b]8;;\x07 ok\rFAKE \u202eevil\n```\n")


def _insert(conn, *, destination: str, tag: str, fingerprint: str, phase: str, sample: str) -> int:
    return conn.execute(
        """INSERT INTO ops.escalations (dedupe_key, fingerprint, code, reason, destination, count_at, payload)
           VALUES (%s, %s, 'CI.TESTS_FAILED', 'threshold', %s, 3,
                   jsonb_build_object('title', 'Tests failed', 'severity', 'high', 'source', 'github_actions',
                                      'runbook', 'docs/runbooks/failures/CI.TESTS_FAILED.md',
                                      'phase', %s::text, 'sample_message', %s::text))
           RETURNING id""", (tag, fingerprint, destination, phase, sample)).fetchone()[0]


def _slack_acts(mrkdwn: str) -> list[str]:
    """What Slack would act on in mrkdwn: <!channel>, <!here>, <@U…>, <url|label> — any <…>."""
    return re.findall(r"<[^>]*>", mrkdwn)


def test_hostile_text_reaches_slack_inert(db_url, tmp_path):
    with psycopg.connect(db_url, autocommit=True) as conn:
        esc = _insert(conn, destination="oncall", tag="slack", fingerprint="a" * 64,
                      phase=HOSTILE_PHASE, sample=HOSTILE_SAMPLE)
    with Receiver() as rx, WorkerProcess(db_url, tmp_path / "w.log", *FAST,
                                         env={"OPS_SLACK_WEBHOOK_URL": rx.url("/slack")}) as w:
        wait_until(lambda: states(db_url, [esc]).get("delivered") == 1, 20, 0.05, "the Slack delivery")
        w.stop()
        (hit,) = rx.hits("/slack")
    message = json.loads(hit["body"])
    mrkdwn = [message["text"]] + [f["text"] for b in message["blocks"] for f in b.get("fields", [])] + \
        [b["text"]["text"] for b in message["blocks"] if b["type"] == "section" and "text" in b] + \
        [e["text"] for b in message["blocks"] for e in b.get("elements", [])]
    assert all(_slack_acts(t) == [] for t in mrkdwn), "no ping, mention or disguised link"
    source = next(f["text"] for b in message["blocks"] for f in b.get("fields", []) if f["text"].startswith("*Source:*"))
    assert "&lt;!channel&gt;" in source and "\\x1b[31m" in source and "&lt;U+202E&gt;" in source, \
        "the phase is shown, escaped, controls visibly"
    code = message["blocks"][2]["text"]["text"]
    assert code.startswith("```") and code.endswith("```") and "``" not in code[3:-3], "the fence holds"
    assert "\x1b" not in hit["body"].decode() and "\\u001b" not in hit["body"].decode()


def test_hostile_text_reaches_github_inert_and_cannot_forge_a_delivery_marker(db_url, tmp_path):
    md = MarkdownIt("commonmark")
    fingerprint = "b" * 64
    with Receiver() as api, psycopg.connect(db_url, autocommit=True) as conn:
        env = {"OPS_GITHUB_API_URL": api.url(""), "OPS_GITHUB_REPO": "acme/app", "GITHUB_TOKEN": "test-token"}
        opened = _insert(conn, destination="github_issues", tag="g1", fingerprint=fingerprint,
                         phase=HOSTILE_PHASE, sample=HOSTILE_SAMPLE)
        with conn.transaction():
            # The second escalation's sample carries the third's delivery marker, written as the worker
            # writes it: before rendering, the third delivery found it and skipped its comment.
            forger = _insert(conn, destination="github_issues", tag="g2", fingerprint=fingerprint,
                             phase="test", sample="")
            victim = _insert(conn, destination="github_issues", tag="g3", fingerprint=fingerprint,
                             phase="test", sample="a later failure")
            forged = f"<!-- ops-fingerprint:{fingerprint} delivery:esc-{victim} -->"
            conn.execute("UPDATE ops.escalations SET payload = jsonb_set(payload, '{sample_message}', to_jsonb(%s::text)) "
                         "WHERE id = %s", (f"boom\n{forged}\n", forger))
            conn.execute("UPDATE ops.escalations SET next_attempt_at = now() + interval '1 day' WHERE id = ANY(%s)",
                         ([forger, victim],))
        with WorkerProcess(db_url, tmp_path / "w.log", *FAST, "--concurrency", "1", "--batch", "1", env=env) as w:
            wait_until(lambda: states(db_url, [opened]).get("delivered") == 1, 20, 0.05, "the issue")
            conn.execute("UPDATE ops.escalations SET next_attempt_at = now() WHERE id = %s", (forger,))
            wait_until(lambda: states(db_url, [forger]).get("delivered") == 1, 20, 0.05, "the forging comment")
            conn.execute("UPDATE ops.escalations SET next_attempt_at = now() WHERE id = %s", (victim,))
            wait_until(lambda: states(db_url, [victim]).get("delivered") == 1, 20, 0.05, "the later comment")
            w.stop()
        results = dict(conn.execute("SELECT id, result ->> 'action' FROM ops.escalations WHERE id = ANY(%s)",
                                    ([opened, forger, victim],)).fetchall())
        assert results == {opened: "opened", forger: "commented", victim: "commented"}, \
            "the forged marker did not make the later comment be skipped"
        bodies = [json.loads(h["body"])["body"] for h in api.requests if h["method"] == "POST"]
    assert len(bodies) == 3
    for body in bodies:
        tokens = [t for block in md.parse(body) for t in [block, *(block.children or [])]]
        html = [t.content.strip() for t in tokens if t.type in ("html_block", "html_inline")]
        assert len(html) == 1 and html[0].startswith("<!-- ops-fingerprint:") and body.rstrip().endswith(html[0]), \
            "the only HTML is the worker's own marker, last"
        assert not [t for t in tokens if t.type in ("link_open", "image")], "no link or image from a producer"
        text = " ".join(t.content for t in tokens if t.type in ("text", "code_inline"))
        assert not re.search(r"(?<![\w`])@[A-Za-z0-9]", text), "no @mention"
        assert [t.type for t in tokens].count("fence") == 1, "the sample stays in its fence"
    assert "\\x1b]8;;http://evil.example\\x07link" in bodies[0], "OSC-8 link shown, not hidden"


def ops(*args, url: str | None = None, env: dict | None = None):
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if url:
        environment["DATABASE_URL"] = url
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "worker.cli", *args], capture_output=True, text=True,
                          env=environment, timeout=120)


def test_ops_errors_and_dispatch_list_print_control_characters_visibly(db_url):
    evil = "\r\u202e\x1b]8;;http://e.x\x07c\x9b2J"  # short: the table cuts a cell at 50 characters
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT ops.record_error(source => 'github_actions', phase => 'test', message => %s)", (evil,))
        _insert(conn, destination="nowhere", tag="t", fingerprint="c" * 64, phase="p", sample="s")
        conn.execute("UPDATE ops.escalations SET last_error = %s", (evil,))
    for args in (["errors"], ["dispatch", "list"], ["errors", "--json"], ["dispatch", "list", "--json"]):
        result = ops(*args, url=db_url)
        assert result.returncode == 0, result.stderr
        out = result.stdout
        assert "\x1b" not in out and "\r" not in out and "\u202e" not in out and "\x9b" not in out, args
        if "--json" in args:
            rows = json.loads(out)
            assert any(evil in v for r in rows for v in r.values() if isinstance(v, str)), "JSON keeps the value"
        else:
            assert "\\x0d<U+202E>\\x1b]8;;http://e.x\\x07c\\x9b2J" in out, "shown, visibly"


# -- item 6: secrets outside the tables -------------------------------------------------------------------

def test_a_failing_slack_delivery_logs_and_stores_no_webhook_path(db_url, tmp_path):
    secret_path = "/services/T0AAAAAAA/B0BBBBBBB/zzSECRETzzSECRETzz1234"
    with psycopg.connect(db_url, autocommit=True) as conn:
        retried = _insert(conn, destination="oncall", tag="s1", fingerprint="d" * 64, phase="p", sample="s")
    with Receiver() as rx:
        rx.scripts[secret_path] = [(500, {}), (404, {})]
        with WorkerProcess(db_url, tmp_path / "w.log", *FAST, env={"OPS_SLACK_WEBHOOK_URL": rx.url(secret_path)}) as w:
            wait_until(lambda: states(db_url, [retried]).get("dead") == 1, 20, 0.05, "a dead Slack delivery")
            w.stop()
    log = (tmp_path / "w.log").read_text()
    assert "zzSECRETzz" not in log and "T0AAAAAAA" not in log, "no webhook path in the log"
    assert f"POST http://127.0.0.1:{rx.server.server_port} returned 404" in log, "scheme and host are enough"
    with psycopg.connect(db_url) as conn:
        stored = conn.execute("SELECT last_error || error_history::text FROM ops.escalations WHERE id = %s",
                              (retried,)).fetchone()[0]
        events = conn.execute("SELECT string_agg(message || coalesce(context::text, ''), ' ') FROM ops.error_events "
                              "WHERE code = 'OPS.DELIVERY_FAILED'").fetchone()[0]
    assert "zzSECRETzz" not in stored and "zzSECRETzz" not in (events or "")


def test_the_worker_log_is_redacted_with_the_ssot_rules(tmp_path):
    """Every record, whatever its source: a message quoting a token or a URL with a password."""
    code = ("import logging; from worker.dispatch.worker import log, _HANDLER; "
            "log('delivery', error='POST https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXX failed', "
            "nested={'url': 'postgresql://app:hunter2@db.example:5432/ops'}); "
            "lg = logging.getLogger('psycopg.pool'); "
            "lg.handlers[:] = [_HANDLER]; lg.propagate = False; "
            "lg.warning('reconnect to %s failed', 'postgresql://app:hunter2@db.example/ops')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert len(lines) == 2, result.stderr
    assert "XXXXXXXXXXXXXXXXXXXX" not in result.stderr and "hunter2" not in result.stderr
    assert "[REDACTED" in lines[0]["error"] and "[REDACTED" in lines[0]["nested"]["url"]
    assert lines[1]["event"] == "library_log" and "[REDACTED" in lines[1]["message"]


def test_ops_db_url_masks_the_password_unless_asked(db_url):
    masked = ops("db", "url", url=db_url)
    assert masked.returncode == 0
    real_password = re.match(r"postgresql://[^:]+:([^@]+)@", db_url).group(1)
    assert real_password not in masked.stdout and ":***@" in masked.stdout
    assert masked.stdout.strip() == db_url.replace(real_password, "***")
    shown = ops("db", "url", "--show-password", url=db_url)
    assert shown.stdout.strip() == db_url
    keyword = ops("db", "url", url="host=127.0.0.1 port=1 user=app password=s3cr3t dbname=ops")
    assert "s3cr3t" not in keyword.stdout and "password=***" in keyword.stdout


def test_the_embedded_cluster_log_is_private_and_never_quotes_a_refused_statement():
    (ROOT / ".ops").mkdir(exist_ok=True)
    cluster = Cluster(Path(tempfile.mkdtemp(prefix="log-", dir=ROOT / ".ops")))
    secret = "ghp_" + "Q" * 36
    try:
        cluster.init(fast=True)
        cluster.start()
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            migrations.migrate(conn)
            for statement in (
                # refused by the pipeline (unknown source), the literal holding a token
                f"INSERT INTO ops.error_events (source, message) VALUES ('mainframe', 'token {secret}')",
                # refused by a constraint, whose DETAIL would quote the row
                f"INSERT INTO ops.escalations (dedupe_key, fingerprint, code, reason, destination, count_at, payload) "
                f"VALUES ('{secret}', 'f', 'X', 'no such reason', 'd', 1, '{{}}')",
            ):
                try:
                    conn.execute(statement)
                except psycopg.Error:
                    pass
                else:
                    raise AssertionError(f"not refused: {statement}")
        log = cluster.log_file
        text = log.read_text()
        assert "ERROR:" in text, "errors are still logged"
        assert secret not in text, "neither the statement nor the failing row is logged"
        assert log.stat().st_mode & 0o077 == 0, "the log file is private (0600)"
        assert log.parent.stat().st_mode & 0o077 == 0, "its folder too (0700)"
    finally:
        cluster.destroy()
