"""The demo (`ops demo`, the main job of `make run`): a built-in feed of realistic failures from every
kind of producer, with the volatile parts (durations, ids, hosts, line numbers) varied so that dedupe
has something to do, recorded through the pipeline while the escalations it causes are printed."""

from __future__ import annotations

import random
import time

from psycopg.rows import dict_row

from worker.logsafe import mask_password
from worker import db, ingest, migrations, ssot
from worker.output import table
from worker.queries import execute

# (source, phase, message template). {n} is a small number, {id} a hex id, {port} a port.
FEED = [
    ("github_actions", "test", "FAILED tests/test_api.py::test_create - AssertionError: assert {n} == 201"),
    ("github_actions", "test", "Tests: {n} failed, 41 passed, 44 total"),
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


def events(rng: random.Random):
    """An endless stream of demo events, skewed so some errors repeat often enough to escalate."""
    weights = [max(1, len(FEED) - i) for i in range(len(FEED))]
    while True:
        source, phase, template = rng.choices(FEED, weights=weights)[0]
        message = template.format(n=rng.randint(1, 99), id=f"{rng.getrandbits(48):012x}",
                                  port=rng.choice([5432, 6543, 54322]), big=rng.randint(501, 999))
        yield {"source": source, "phase": phase, "message": message, "top_frame": None, "run_id": f"run-{rng.randint(1, 9999)}",
               "correlation_id": None, "origin": "demo", "context": {"demo": True}, "code_hint": None}


def run(*, seed: int = 7, total: int = 400, seconds: float = 45, delay: float = 0.05, quiet: bool = False) -> int:
    """Migrate and sync the database in use, then record up to ``total`` demo events over at most
    ``seconds`` (``delay`` seconds apart), printing each, each escalation as it arrives and the top
    errors at the end. Returns the exit code (0)."""
    rng = random.Random(seed)
    url = db.database_url()
    with db.connect(url) as conn:
        migrations.migrate(conn)
        ssot.sync(conn)
    with db.connect(url, autocommit=True) as listener, db.connect(url) as conn:
        listener.execute("LISTEN ops_outbox")
        last = execute(conn, "errors", "last_escalation_id").fetchone()[0]
        conn.commit()
        deadline = time.monotonic() + seconds
        feed = events(rng)
        count = 0
        print(f"demo feed: {total} events over at most {seconds:.0f}s (database {mask_password(url)})\n")
        while count < total and time.monotonic() < deadline:
            row = ingest.record_one(conn, next(feed))
            count += 1
            if not quiet:
                print(f"{count:4d}  {row['code']:<40} count={row['count']:<4} fp={row['fingerprint'][:10]}")
            # The outbox notifies on insert. A notification is only a hint: read what is new since `last`.
            if any(True for _ in listener.notifies(timeout=0)):
                last = _print_escalations(conn, last)
            time.sleep(delay)
        last = _print_escalations(conn, last)
        with conn.cursor(row_factory=dict_row) as cur:
            rows = execute(cur, "errors", "top_errors", {"code": None, "limit": 12}).fetchall()
        for r in rows:
            r["fingerprint"] = r["fingerprint"][:10]
        print("\ntop errors:\n" + table(rows, ["code", "count", "status", "source", "fingerprint", "sample_message"], 46))
    return 0


def _print_escalations(conn, last: int) -> int:
    with conn.cursor(row_factory=dict_row) as cur:
        for e in execute(cur, "errors", "new_escalations", {"after": last}).fetchall():
            print(f"  ⚑ escalation #{e['id']}: {e['code']} ({e['reason']}, count {e['count_at']}) → {e['destination']}")
            for run_ in execute(cur, "errors", "queued_agent_runs_for", {"escalation_id": e["id"]}).fetchall():
                print(f"    ↳ FixBot run #{run_['id']} queued (variant {run_['variant_id']}, PR-only)")
            last = e["id"]
    conn.commit()
    return last
