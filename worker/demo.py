"""The demo (`ops demo`, the main job of `make run`): the whole loop in about a minute.

1. **Feed** — a built-in stream of realistic failures from every kind of producer (volatile parts varied,
   so dedupe has something to do) is recorded through the pipeline, with a progress bar and a compact
   summary per code instead of a line per event.
2. **Deliver** — a real `ops worker` process delivers the escalations the feed caused to a local receiver
   the demo starts on 127.0.0.1 (worker/demo_receiver.py): the signed webhook (checked with
   worker/signing.py), Slack's incoming webhook and GitHub issues; FixBot runs go through the FixBot
   destination's ``command`` runner (worker/demo_fixbot.py), whose sample patches are held to
   ``ssot/agents/fixbot_policy.yaml`` (one is rejected for touching a workflow).
3. **Resolve** — one delivered error is resolved (:func:`_resolve_one`).
4. **Report** — `ops report --html` is written and its path printed.

For the demo's worker only, the ``fixbot`` destination is synced with ``runner: command`` (the SSOT's
document with that one destination changed); the real SSOT is synced back before the demo ends, also on Ctrl-C, so
`ops ssot diff` shows no drift afterwards. The worker and the receiver stop with the demo. Run it as often
as you like: each run adds events; thresholds already crossed do not escalate again, and an error resolved
by an earlier run that recurs is a regression (it escalates again).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psycopg
from psycopg.rows import dict_row
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from worker import ROOT, db, ingest, migrations, report, report_html, resolutions, ssot
from worker.demo_receiver import Receiver
from worker.logsafe import mask_password
from worker.queries import execute
from worker.render import terminal

# (source, phase, message template). {n} is a small number, {id} a hex id, {port} a port.
FEED = [
    ("github_actions", "test", "FAILED tests/test_api.py::test_create - AssertionError: assert {n} == 201"),
    ("github_actions", "test", "Tests: {n} failed, 41 passed, 44 total"),
    ("agent_runner", "memory", "ops memory write failed: 503 from upstream (request {id})"),
    ("github_actions", "lint", "Found {n} errors."),
    ("github_actions", "typecheck", "error TS2322: Type 'string' is not assignable to type 'number'."),
    ("github_actions", "policy-gates", "/bin/bash: jq: command not found"),
    ("github_actions", "project-automation", "Could not resolve to a ProjectV2 with the number {n}."),
    ("github_actions", "build", "The job running on runner GitHub Actions {n} has exceeded the maximum execution time of 360 minutes."),
    ("github_actions", "migrate", 'ERROR: relation "ops.agent_errors" already exists (SQLSTATE 42P07)'),
    ("supabase_fn", "invoke", "PLANE_WEBHOOK_SECRET is not set in this environment"),
    ("supabase_fn", "invoke", "JWT verification failed"),
    ("supabase_fn", "boot", "BOOT_ERROR: Function failed to start (please check logs)"),
    ("supabase_fn", "invoke", "connect ECONNREFUSED 127.0.0.1:{port}"),
    ("vercel", "build", 'Error: Command "npm run build" exited with 1'),
    ("vercel", "invoke", "FUNCTION_INVOCATION_TIMEOUT after {n}s on request {id}"),
    ("agent_runner", "patch", "changed_lines {big} exceeds limit 500"),
    ("agent_runner", "verify", "checks_failed: typecheck, lint"),
    ("agent_runner", "model", "overloaded_error: Overloaded (request {id})"),
    ("agent_runner", "plan", "prompt is too long: {big}000 tokens > 200000 maximum"),
    ("odoo", "rpc", "odoo.exceptions.AccessError: You are not allowed to access 'Invoice' (account.move) records."),
    ("dns", "check", "getaddrinfo ENOTFOUND api-{n}.example.com"),
    ("terraform", "apply", "Error acquiring the state lock (lock id {id})"),
    ("ops", "dispatch", "worker heartbeat lost for {n}s on host ops-{n}"),
    ("agent_runner", "verify", "agent sandbox produced an unexpected reply #{n}"),
]

# The demo's FixBot destination: the same name and kind as in ssot/destinations.yaml, run locally.
FIXBOT_COMMAND = {"runner": "command", "command_env": "OPS_FIXBOT_COMMAND", "timeout_seconds": 60}
SETTLE_SECONDS = 30  # at most this long after the feed for the worker to deliver what is due


def events(rng: random.Random):
    """An endless stream of demo events, skewed so some errors repeat often enough to escalate."""
    weights = [max(1, len(FEED) - i) for i in range(len(FEED))]
    while True:
        source, phase, template = rng.choices(FEED, weights=weights)[0]
        message = template.format(n=rng.randint(1, 99), id=f"{rng.getrandbits(48):012x}",
                                  port=rng.choice([5432, 6543, 54322]), big=rng.randint(501, 999))
        yield {"source": source, "phase": phase, "message": message, "top_frame": None, "run_id": f"run-{rng.randint(1, 9999)}",
               "correlation_id": None, "origin": "demo", "context": {"demo": True}, "code_hint": None}


def demo_home() -> Path:
    """Where the demo writes its report and the worker's log: ``$OPS_HOME/demo`` (default ``./.ops/demo``)."""
    return Path(os.environ.get("OPS_HOME", ROOT / ".ops")).resolve() / "demo"


@contextlib.contextmanager
def fixbot_runs_locally(conn):
    """Sync the SSOT with the ``fixbot`` destination run by the ``command`` runner (for the demo's worker),
    and the SSOT as it is back on the way out, whatever happens. One document, loaded once, changed in
    that one destination (`ops ssot sync` checks the files themselves; `make run` runs it first)."""
    doc = ssot.Ssot.load().document()
    local = {**doc, "destinations": [d if d["name"] != "fixbot" else
                                     {"name": "fixbot", "kind": "fixbot", "config": dict(FIXBOT_COMMAND)}
                                     for d in doc["destinations"]]}
    _sync(conn, local)
    try:
        yield
    finally:
        _sync(conn, doc)


def _sync(conn, doc: dict) -> None:
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:  # e.g. Ctrl-C mid-statement
        conn.rollback()
    with conn.transaction():
        execute(conn, "ssot", "sync_ssot", {"doc": json.dumps(doc)})


@contextlib.contextmanager
def running_worker(url: str, receiver_url: str, secret: str, log_path: Path):
    """A real `ops worker` process pointed at the receiver (every destination's variables set for it
    alone); stopped with SIGTERM (killed if it does not stop) on the way out. Yields the Popen."""
    env = {**os.environ, "DATABASE_URL": url,
           "OPS_WEBHOOK_URL": f"{receiver_url}/webhook", "OPS_WEBHOOK_SECRET": secret,
           "OPS_SLACK_WEBHOOK_URL": f"{receiver_url}/slack",
           "OPS_GITHUB_API_URL": f"{receiver_url}/github", "OPS_GITHUB_REPO": "demo/ops-demo",
           "GITHUB_TOKEN": secrets.token_hex(16), "OPS_FIXBOT_REPO": "demo/ops-demo",
           "OPS_FIXBOT_COMMAND": f"{sys.executable} -m worker.demo_fixbot"}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "worker.cli", "worker", "--name", "demo-worker", "--poll", "0.5",
                                 "--backoff-base", "0.5", "--backoff-cap", "5", "--shutdown-timeout", "5"],
                                env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=ROOT)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def _resolve_one(conn, fingerprint: str, code: str, say, root: Path) -> dict:
    """Resolve one error as `ops resolve` does: the record written from the evidence under ``root``
    (``docs/resolutions/YYYY/MM/...``; the demo keeps it under .ops/demo, out of the checkout's docs) and its
    path and SHA-256 stored on the error. Returns the error's row with the record's path."""
    done = resolutions.resolve(
        conn, root, fingerprint, resolved_by="demo",
        summary=f"Demo: {code} resolved after its escalation was delivered",
        cause="The demo feed injected it on purpose.",
        fix="Nothing to change: the demo shows the loop. A real fix follows the runbook.")
    conn.commit()
    say(f"resolved {terminal(code)} ({fingerprint[:12]}) with its record {terminal(str(root / done['path']))} "
        f"(sha256 {done['sha256'][:12]}); `ops errors show {fingerprint[:12]}` shows it")
    return {**done["row"], "code": code, "record": str(root / done["path"]), "record_sha256": done["sha256"]}


def run(*, seed: int = 7, total: int = 300, seconds: float = 45, delay: float = 0.02, quiet: bool = False,
        report_path: Path | None = None, as_json: bool = False) -> dict:
    """Run the demo against the database in use (migrated and synced first). Prints as it goes unless
    ``as_json``; returns the summary (what the CLI prints with --json): events, errors, escalations by
    state, the receiver's deliveries by kind, FixBot runs, the resolved error and the report's path."""
    console = Console(quiet=as_json, highlight=False, soft_wrap=True)
    say = console.print
    rng = random.Random(seed)
    url = db.database_url()
    home = demo_home()
    report_path = (report_path or home / "report.html").expanduser().resolve()
    summary: dict = {}
    with db.connect(url) as conn:
        migrations.migrate(conn)
        conn.commit()
        say(f"[bold]ops demo[/] — the whole loop in about a minute (database {terminal(mask_password(url))})")
        with fixbot_runs_locally(conn):
            conn.commit()
            last, started = execute(conn, "demo", "start").fetchone()
            conn.commit()
            secret = secrets.token_hex(32)
            receiver = Receiver(secret.encode()).start()
            try:
                with running_worker(url, receiver.url, secret, home / "worker.log") as worker:
                    say(f"\n[bold]1. feed[/]  realistic failures from CI, Edge Functions, Vercel, agents, Odoo, DNS, Terraform")
                    codes = _feed(conn, rng, total, seconds, delay, last, quiet or as_json, console)
                    say(f"\n[bold]2. deliver[/]  `ops worker` (pid {worker.pid}) → local receiver {receiver.url}")
                    escalations = _settle(conn, last, worker, console, quiet or as_json)
                    with conn.cursor(row_factory=dict_row) as cur:
                        runs = execute(cur, "demo", "agent_runs_after", {"after": last}).fetchall()
                        earlier = execute(cur, "demo", "earlier_delivered", {"after": last, "since": started}).fetchone()
                    conn.commit()
                    summary.update(_print_deliveries(say, codes, escalations, receiver, runs, earlier["delivered"]))
            finally:
                receiver.stop()
        say("\n[bold]3. resolve[/]")
        with conn.cursor(row_factory=dict_row) as cur:
            candidate = execute(cur, "demo", "resolve_candidate", {"after": last}).fetchone()
        conn.commit()
        summary["resolved"] = None
        if candidate:
            summary["resolved"] = _resolve_one(conn, candidate["fingerprint"], candidate["code"], say, home)
        else:
            say("nothing delivered is open to resolve this time")
        say("\n[bold]4. report[/]")
        data = report.collect(conn, report.parse_since("7d"))
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_html.write(data, report_path)
        summary["report"] = str(report_path)
    say(f"`ops report --html` written: [bold]{report_path}[/] (open it in a browser; it works offline)")
    say(f"worker log: {home / 'worker.log'}\n"
        "next: `ops errors`, `ops dispatch list`, `ops report`, `ops report --html report.html`")
    return summary


def _feed(conn, rng, total: int, seconds: float, delay: float, last: int, quiet: bool, console) -> Counter:
    """Record up to ``total`` events over at most ``seconds``; a progress bar shows events, errors and
    escalations so far. Returns events per code."""
    codes: Counter = Counter()
    fingerprints: set[str] = set()
    feed = events(rng)
    deadline = time.monotonic() + seconds
    columns = [TextColumn("  "), BarColumn(), MofNCompleteColumn(), TextColumn("events  {task.fields[status]}"),
               TimeElapsedColumn()]
    with Progress(*columns, console=console, disable=quiet, transient=False) as progress:
        task = progress.add_task("feed", total=total, status="")
        escalated = 0
        for n in range(1, total + 1):
            if time.monotonic() >= deadline:
                break
            row = ingest.record_one(conn, next(feed))
            codes[row["code"]] += 1
            fingerprints.add(row["fingerprint"])
            if n % 20 == 0 or n == total:
                escalated = len(execute(conn, "demo", "escalations_after", {"after": last}).fetchall())
                conn.commit()
            progress.update(task, advance=1, status=f"{len(fingerprints)} errors, {escalated} escalations")
            if delay:
                time.sleep(delay)
    console.print(f"  {sum(codes.values())} events → {len(fingerprints)} errors in {len(codes)} codes "
                  "(deduplicated by fingerprint)")
    return codes


def _settle(conn, last: int, worker, console, quiet: bool) -> list[dict]:
    """Wait (at most SETTLE_SECONDS) until the worker has delivered every escalation of the demo that is due;
    returns them all with their states."""
    deadline = time.monotonic() + SETTLE_SECONDS
    with console.status("  the worker is delivering…", spinner="dots") if not quiet else contextlib.nullcontext():
        while time.monotonic() < deadline and worker.poll() is None:
            due = execute(conn, "demo", "due_after", {"after": last}).fetchone()[0]
            conn.commit()
            if not due:
                break
            time.sleep(0.3)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = execute(cur, "demo", "escalations_after", {"after": last}).fetchall()
    conn.commit()
    return rows


def _print_deliveries(say, codes: Counter, escalations: list[dict], receiver, runs: list[dict], earlier: int = 0) -> dict:
    """The compact summary: events and escalations per code, deliveries per destination, FixBot verdicts.
    ``earlier``: escalations left pending by earlier runs that this run's worker delivered (the receiver got them too)."""
    per_code: dict[str, Counter] = {}
    for e in escalations:
        per_code.setdefault(e["code"], Counter())[e["state"]] += 1
    table = Table(title=None, box=None, pad_edge=False, show_edge=False)
    for column, justify in (("code", "left"), ("events", "right"), ("escalations", "left")):
        table.add_column(column, justify=justify)
    for code, count in codes.most_common(12):
        states = per_code.get(code)
        table.add_row(terminal(code), str(count), ", ".join(f"{n} {s}" for s, n in sorted(states.items())) if states else "")
    if len(codes) > 12:
        table.add_row(f"… {len(codes) - 12} more codes", str(sum(n for _, n in codes.most_common()[12:])), "")
    say(table)
    states = Counter(e["state"] for e in escalations)
    by_destination: dict[str, Counter] = {}
    for e in escalations:
        by_destination.setdefault(f"{e['destination']} ({e['kind']})", Counter())[e["state"]] += 1
    say(f"  {len(escalations)} escalations this run: " + ", ".join(f"{n} {s}" for s, n in sorted(states.items())))
    for name, c in sorted(by_destination.items()):
        say(f"    {terminal(name):<28} " + ", ".join(f"{n} {s}" for s, n in sorted(c.items())))
    held = [e for e in escalations if e["state"] == "pending" and e["reason"] == "digest"]
    if held:
        say(f"  {len(held)} digest(s) of crossings held back by a page budget, due at "
            f"{min(e['next_attempt_at'] for e in held):%H:%M} UTC (any `ops worker` delivers them then)")
    received = receiver.counts()
    verified = sum(1 for r in receiver.received if r["kind"] == "webhook" and r["signature_ok"])
    say(f"  the receiver got: {received.get('webhook', 0)} signed webhook(s) ({verified} signature(s) verified), "
        f"{received.get('slack', 0)} Slack message(s), {received.get('github_issue', 0)} GitHub issue(s) "
        f"+ {received.get('github_comment', 0)} comment(s)"
        + (f" (including {earlier} for escalation(s) left pending before this run)" if earlier else ""))
    for r in runs:
        verdict = {True: "patch approved by the policy", False: "patch refused: " + ", ".join(r["reason_codes"] or [])}
        say(f"  FixBot run #{r['id']} {terminal(r['code'])} on {terminal(r['branch'] or '-')}: {r['status']}"
            + (f" — {verdict[r['approved']]}" if r["approved"] is not None else ""))
    return {"events": sum(codes.values()), "codes": dict(codes), "escalations": dict(states),
            "earlier_escalations_delivered": earlier, "received": received, "signatures_verified": verified,
            "agent_runs": [{"id": r["id"], "code": r["code"], "status": r["status"], "approved": r["approved"],
                            "reason_codes": r["reason_codes"]} for r in runs]}
