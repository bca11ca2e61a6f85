"""`ops demo` (issue 13) through the real CLI: the feed, a real worker process delivering to the demo's
local receiver (signed webhook verified, Slack, GitHub issues), FixBot through the command runner held to
the policy (one patch approved, one refused), one error resolved, the HTML report written; run twice, it
works again, leaves the SSOT as it was and no worker behind."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import psycopg

from tests.test_cli import ops


def demo(db_url, tmp_path, name, events=150):
    report = tmp_path / f"{name}.html"
    result = ops("demo", "--events", str(events), "--delay", "0", "--json", "--report", str(report), url=db_url,
                 env={"OPS_HOME": str(tmp_path / "home")})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout), report


def test_demo_runs_the_whole_loop_twice(db_url, tmp_path):
    first, report = demo(db_url, tmp_path, "first")
    assert first["events"] == 150
    received = first["received"]
    assert received.get("webhook", 0) >= 1 and first["signatures_verified"] == received["webhook"], received
    assert received.get("slack", 0) >= 1 and received.get("github_issue", 0) >= 1, received
    assert "refused" not in received, "every delivery was accepted: signatures held"
    assert first["escalations"].get("delivered", 0) >= 5 and not first["escalations"].get("dead"), first["escalations"]
    verdicts = {(r["status"], tuple(r["reason_codes"] or [])) for r in first["agent_runs"]}
    assert ("succeeded", ()) in verdicts, "a sample patch the policy approves"
    assert ("rejected", ("AGENT.FORBIDDEN_PATH",)) in verdicts, "the workflow edit is refused by the policy"
    assert first["resolved"]["status"] == "resolved"
    assert first["resolved"]["code"] == "ENV.KEY_MISSING", "the error README's \"A day on call\" follows"
    record = Path(first["resolved"]["record"])  # written from the evidence, as `ops resolve` writes it
    assert record.is_file() and record.is_relative_to(tmp_path / "home" / "demo")
    assert hashlib.sha256(record.read_bytes()).hexdigest() == first["resolved"]["record_sha256"]
    assert first["resolved"]["code"] in record.read_text(encoding="utf-8")
    text = report.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and 'data-chart="chart-0"' in text and "Plotly.newPlot" in text
    assert (tmp_path / "home" / "demo" / "worker.log").stat().st_size > 0

    with psycopg.connect(db_url) as c:
        assert c.execute("SELECT status FROM ops.agent_errors WHERE fingerprint = %s",
                         (first["resolved"]["fingerprint"],)).fetchone()[0] == "resolved"
        assert c.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ops-worker' "
                         "AND datname = current_database()").fetchone()[0] == 0, "the demo's worker is gone"

    second, report2 = demo(db_url, tmp_path, "second", events=40)
    assert second["events"] == 40 and report2.is_file()
    assert "refused" not in second["received"] and not second["escalations"].get("dead")
    assert ops("ssot", "diff", url=db_url).stdout.strip() == "no drift", "the real SSOT is synced back"


def test_the_demo_receiver_checks_webhook_signatures():
    """The receiver the demo shows as 'signature verified' really verifies: a forged or replayed request is
    refused (401), a genuine one and a re-signed re-delivery are accepted."""
    import httpx

    from worker import signing
    from worker.demo_receiver import Receiver

    receiver = Receiver(b"demo-secret").start()
    try:
        body = b'{"code": "AGENT.MEMORY_WRITE_FAILED"}'
        good = signing.sign(b"demo-secret", body, "esc-1")
        forged = signing.sign(b"another-secret", body, "esc-2")
        post = lambda headers: httpx.post(f"{receiver.url}/webhook", content=body, headers=headers)  # noqa: E731
        assert post(good).status_code == 200
        assert post(good).status_code == 401, "the same signed request again is a replay"
        assert post(forged).status_code == 401
        assert post(signing.sign(b"demo-secret", body, "esc-1")).json()["duplicate"] is True
        assert receiver.counts() == {"webhook": 2, "refused": 2}
    finally:
        receiver.stop()
