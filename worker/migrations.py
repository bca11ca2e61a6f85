"""The migration runner: ``sql/<14-digit version>_<name>.sql`` applied in order, each once.

Versions are recorded in ``supabase_migrations.schema_migrations`` (where the Supabase CLI keeps
them). The SQL this module runs is its own bookkeeping and stays here (not in worker/queries).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from worker import ROOT
from worker.errors import OpsError

SQL_DIR = ROOT / "sql"
MIGRATION_FILE = re.compile(r"^(\d{14})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path

    @property
    def content(self) -> str:
        return self.path.read_text()


def migrations(directory: Path = SQL_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        m = MIGRATION_FILE.match(path.name)
        if not m:
            raise OpsError(f"{path}: migration files are named <14-digit version>_<name>.sql")
        found.append(Migration(m.group(1), m.group(2), path))
    return found


def _same_content(statements: list[str], content: str) -> bool:
    # We store a file as one statement; the Supabase CLI stores it split. Compare ignoring how.
    if len(statements) == 1:
        return statements[0] == content
    squash = lambda s: re.sub(r"[\s;]+", "", s)  # noqa: E731
    return squash("".join(statements)) == squash(content)


def migrate(conn: psycopg.Connection, directory: Path = SQL_DIR) -> list[str]:
    """Apply pending migrations in one transaction; return the versions applied.

    Versions are recorded in ``supabase_migrations.schema_migrations`` (where the Supabase CLI keeps
    them), so ``supabase db push`` recognises a database set up here. An applied file whose content
    changed is refused: write a new migration instead.
    """
    applied_now = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('ops migrations'))")
        # Never queue behind a long lock on a busy table: fail fast and let the operator retry.
        conn.execute("SET LOCAL lock_timeout = '10s'; SET LOCAL statement_timeout = '10min'")
        conn.execute(
            "CREATE SCHEMA IF NOT EXISTS supabase_migrations;"
            "CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations"
            " (version text PRIMARY KEY, statements text[], name text)"
        )
        applied = dict(conn.execute("SELECT version, statements FROM supabase_migrations.schema_migrations").fetchall())
        for m in migrations(directory):
            content = m.content
            if m.version in applied:
                if not _same_content(applied[m.version] or [], content):
                    raise OpsError(
                        f"{m.path.name}: already applied with different content; "
                        "applied migrations are immutable, add a new one instead"
                    )
                continue
            conn.execute(content)
            conn.execute(
                "INSERT INTO supabase_migrations.schema_migrations (version, statements, name) VALUES (%s, %s, %s)",
                (m.version, [content], m.name),
            )
            applied_now.append(m.version)
    # Partitions are created ahead on every migrate (and by the worker), not only the first time.
    conn.execute("SELECT ops.ensure_error_event_partitions()")
    conn.commit()
    return applied_now


def status(conn: psycopg.Connection, directory: Path = SQL_DIR) -> list[dict]:
    exists = conn.execute("SELECT to_regclass('supabase_migrations.schema_migrations') IS NOT NULL").fetchone()[0]
    applied = {}
    if exists:
        applied = dict(conn.execute("SELECT version, statements FROM supabase_migrations.schema_migrations").fetchall())
    rows = []
    for m in migrations(directory):
        if m.version not in applied:
            state = "pending"
        elif _same_content(applied[m.version] or [], m.content):
            state = "applied"
        else:
            state = "changed"
        rows.append({"version": m.version, "name": m.name, "state": state})
    return rows

