"""Test databases: a private cluster, one migrated and synced template, a clone per test.

The cluster lives in ``$OPS_TEST_HOME`` (default ``.ops/test``), is created with durability off
(tests only) and is reused between runs. Each session builds the template afresh from ``sql/`` and
``ssot/`` with pytest-postgresql's janitor; each test gets its own database cloned from it
(``CREATE DATABASE … TEMPLATE``), so tests never see each other's rows.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import psycopg
from pytest_postgresql.janitor import DatabaseJanitor

from worker import ROOT, cluster, migrations, ssot

_counter = itertools.count()


class TestDatabases:
    def __init__(self) -> None:
        self.cluster = cluster.Cluster(Path(os.environ.get("OPS_TEST_HOME", ROOT / ".ops" / "test")).resolve())
        self.cluster.init(fast=True)
        self.cluster.start()
        s = self.cluster.settings()
        self.port, self.password = s["port"], s["password"]
        # One template per session: concurrent test runs on one cluster never touch each other's.
        self.template = f"ops_template_{os.getpid()}"
        self._build_template()
        atexit.register(self._drop_template)

    def url(self, dbname: str) -> str:
        return self.cluster.url(dbname)

    def _janitor(self, dbname: str, template: str | None = None) -> DatabaseJanitor:
        return DatabaseJanitor(user=cluster.SUPERUSER, host="127.0.0.1", port=self.port, password=self.password,
                               dbname=dbname, template_dbname=template)

    def _build_template(self) -> None:
        janitor = self._janitor(self.template)
        with contextlib.suppress(Exception):
            janitor.drop()
        janitor.init()
        with psycopg.connect(self.url(self.template)) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pgtap")
            conn.execute("CREATE EXTENSION IF NOT EXISTS plpgsql_check")
            conn.commit()
            migrations.migrate(conn)
            ssot.sync(conn)
        self.built_on = datetime.now(UTC).date()

    def _catch_up(self) -> None:
        """Keep the template's daily partitions of ops.error_events those of today, as the worker's maintenance keeps a
        running system's: a session that crosses midnight UTC would otherwise clone yesterday's window (one partition
        too few ahead, one too many behind). Runs once per new day; the template's partitions hold no rows."""
        today = datetime.now(UTC).date()
        if today == self.built_on:
            return
        with psycopg.connect(self.url(self.template), autocommit=True) as conn:
            conn.execute("SELECT count(*) FROM ops.drop_error_event_partitions(interval '1 day')")
            conn.execute("SELECT ops.ensure_error_event_partitions()")
        self.built_on = today

    def _drop_template(self) -> None:
        with contextlib.suppress(Exception):
            self._janitor(self.template).drop()

    @contextlib.contextmanager
    def empty(self, prefix: str = "e"):
        """A fresh empty database (nothing applied); dropped afterwards. Yields its URL."""
        name = f"{prefix}_{os.getpid()}_{next(_counter)}"
        janitor = self._janitor(name)
        janitor.init()
        try:
            yield self.url(name)
        finally:
            janitor.drop()

    @contextlib.contextmanager
    def clone(self, prefix: str = "t"):
        """A fresh database cloned from the template; dropped afterwards. Yields its URL."""
        self._catch_up()
        name = f"{prefix}_{os.getpid()}_{next(_counter)}"
        janitor = self._janitor(name, self.template)
        janitor.init()
        try:
            yield self.url(name)
        finally:
            janitor.drop()


@cache
def databases() -> TestDatabases:
    return TestDatabases()
