"""The acceptance scenario of the original spec, end to end through the real parts: a missing Vercel
environment variable is sent to the Edge Function (real Deno), classified ENV.KEY_MISSING, linked to its
runbook, escalated per its rule (3 within 1h to `oncall`), delivered by the real worker process to a real
HTTP receiver on 127.0.0.1, resolved with a record (`ops resolve`), and visible in the analysts' views."""

from __future__ import annotations

import hashlib
import json

import psycopg

from tests.dispatch_kit import FAST, WorkerProcess, role_login, wait_until
from tests.receiver import Receiver
from tests.test_cli import ops
from tests.test_edge_functions import SECRET, request, serve
from worker import ROOT

MESSAGE = "Error: Missing required environment variable STRIPE_SECRET_KEY (set it in the Vercel project settings)"


def test_missing_vercel_env_var_from_ingest_to_resolution_record(db_url, tmp_path):
    # 1. Ingest through the Edge Function, three times within the hour (the code's escalation rule).
    with serve("ops-ingest-error", SUPABASE_DB_URL=db_url, OPS_INGEST_SECRET=SECRET) as port:
        answers = []
        for n in range(3):
            status, _, body = request(port, json.dumps({
                "source": "vercel", "phase": "build", "message": MESSAGE, "run_id": f"dpl_{n}",
                "correlation_id": "deploy-2026-11-30", "where": "vercel:web"}).encode())
            assert status == 202, body
            answers.append(json.loads(body))
    assert {a["code"] for a in answers} == {"ENV.KEY_MISSING"} and [a["count"] for a in answers] == [1, 2, 3]
    fp = answers[0]["fingerprint"]

    # 2. Linked to its runbook, escalated once per its rule.
    shown = json.loads(ops("errors", "show", fp[:10], "--json", url=db_url).stdout)
    runbook = shown["group"]["runbook"]
    assert runbook == "docs/runbooks/failures/ENV.KEY_MISSING.md" and (ROOT / runbook).is_file()
    assert [(e["reason"], e["destination"], e["count_at"]) for e in shown["escalations"]] == [("window", "oncall", 3)]
    assert {e["run_id"] for e in shown["events"]} == {"dpl_0", "dpl_1", "dpl_2"}

    # 3. Delivered by the real worker to a local receiver (the oncall destination is Slack-shaped).
    with Receiver() as rx, WorkerProcess(db_url, tmp_path / "worker.log", *FAST,
                                         env={"OPS_SLACK_WEBHOOK_URL": rx.url("/slack")}) as worker:
        wait_until(lambda: rx.hits("/slack"), 30, message="the escalation reaching the receiver")
        wait_until(lambda: json.loads(ops("errors", "show", fp[:10], "--json", url=db_url).stdout)
                   ["escalations"][0]["state"] == "delivered", 30, message="the escalation marked delivered")
        assert worker.stop() == 0
    delivered = json.dumps(json.loads(rx.hits("/slack")[0]["body"]))
    assert "ENV.KEY_MISSING" in delivered and "ENV.KEY_MISSING.md" in delivered

    # 4. Resolved with a record written from the database.
    (tmp_path / "repo/docs/resolutions").mkdir(parents=True)
    resolved = ops("resolve", fp[:10], "--summary", "STRIPE_SECRET_KEY restored in Vercel",
                   "--cause", "the variable was deleted from the production environment",
                   "--fix", "re-added STRIPE_SECRET_KEY in the Vercel project settings and redeployed",
                   "--prevention", "a deploy check that lists the required variables", "--by", "oncall-ana",
                   "--root", str(tmp_path / "repo"), "--json", url=db_url)
    assert resolved.returncode == 0, resolved.stderr
    out = json.loads(resolved.stdout)
    record = (tmp_path / "repo" / out["record"]).read_bytes()
    assert hashlib.sha256(record).hexdigest() == out["sha256"]
    text = record.decode()
    assert "escalation 1 (window, count 3) to oncall: delivered" in text
    assert "| occurrences | 3 |" in text and "dpl\\_2" in text and "STRIPE\\_SECRET\\_KEY restored in Vercel" in text

    # 5. Visible to an analyst (a login that is only in ops_analyst) in the views.
    with role_login(db_url, "ops_analyst") as analyst_url, psycopg.connect(analyst_url) as conn:
        summary = conn.execute("SELECT events, open_errors, runbook FROM ops.failure_mode_summary "
                               "WHERE code = 'ENV.KEY_MISSING'").fetchone()
        group = conn.execute("SELECT status, resolved_by, resolution_ref, resolution_sha256 FROM ops.error_groups "
                             "WHERE fingerprint = %s", (fp,)).fetchone()
        escalations = conn.execute("SELECT reason, state FROM ops.error_escalation_log WHERE fingerprint = %s",
                                   (fp,)).fetchall()
        as_analyst = ops("errors", "list", "--code", "ENV.KEY_MISSING", "--status", "resolved", "--json", url=analyst_url)
    assert summary == (3, 0, runbook)
    assert group == ("resolved", "oncall-ana", out["record"], out["sha256"])
    assert escalations == [("window", "delivered")]
    assert as_analyst.returncode == 0 and [r["fingerprint"] for r in json.loads(as_analyst.stdout)] == [fp]
