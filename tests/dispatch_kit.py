"""Helpers for dispatch tests: real worker subprocesses, escalations inserted by SQL, waiting."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

FAST = ["--poll", "0.5", "--lease", "2", "--backoff-base", "0.05", "--backoff-cap", "0.3"]


def insert_escalations(url: str, n: int, destination: str = "ops_webhook", tag: str = "e") -> list[int]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            """INSERT INTO ops.escalations (dedupe_key, fingerprint, code, reason, destination, count_at, payload)
               SELECT %s || i, md5(%s || i), 'DB.DEADLOCK', 'manual', %s, i,
                      jsonb_build_object('title', 'Deadlock detected', 'severity', 'high',
                                         'runbook', 'docs/runbooks/failures/DB.DEADLOCK.md',
                                         'sample_message', 'ERROR: deadlock detected', 'source', 'github_actions')
               FROM generate_series(1, %s) i RETURNING id""", (tag, tag, destination, n)).fetchall()
    return [r[0] for r in rows]


@contextlib.contextmanager
def role_login(admin_url: str, group: str = "ops_worker"):
    """A fresh login that is only a member of ``group``, with the group's timeouts copied onto it by
    ops.configure_login (as the README tells operators to do). Yields its URL; dropped afterwards."""
    role, password = f"{group.removeprefix('ops_')}_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}' IN ROLE {group}")
        admin.execute("SELECT * FROM ops.configure_login(%s::regrole)", (role,))
    try:
        parts = urlsplit(admin_url)
        yield urlunsplit(parts._replace(netloc=f"{role}:{password}@{parts.hostname}:{parts.port}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP OWNED BY {role}")
            admin.execute(f"DROP ROLE {role}")


def states(url: str, ids: list[int] | None = None) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT state, count(*) FROM ops.escalations WHERE %s::bigint[] IS NULL OR id = ANY(%s) "
                            "GROUP BY state", (ids, ids)).fetchall()
    return dict(rows)


def wait_until(predicate, timeout: float, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


class WorkerProcess:
    def __init__(self, url: str, log: Path, *args: str, env: dict | None = None) -> None:
        environment = {**os.environ, "DATABASE_URL": url, **(env or {})}
        self.log_path = log
        self.log = open(log, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "worker.cli", "worker", *args], env=environment,
                                     stdout=self.log, stderr=self.log)

    def events(self) -> list[dict]:
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
        return out

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self.log.close()

    def __enter__(self) -> WorkerProcess:
        return self

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()
