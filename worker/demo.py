"""The built-in demo feed: realistic failures from every kind of producer, with the volatile parts
(durations, ids, hosts, line numbers) varied so that dedupe has something to do."""

from __future__ import annotations

import random

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
