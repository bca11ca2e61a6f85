"""Migrations: one source, applied once, immutable, linted with PostgreSQL's own tools."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pglast
import psycopg
import pytest

from worker import ROOT, migrations
from worker.errors import OpsError


def test_supabase_migrations_are_the_sql_folder():
    link = ROOT / "supabase" / "migrations"
    assert link.is_symlink() and link.resolve() == (ROOT / "sql").resolve(), "one copy of each migration"
    assert sorted(p.name for p in link.iterdir()) == sorted(p.name for p in (ROOT / "sql").iterdir())


def test_migration_names_follow_the_supabase_convention():
    versions = [m.version for m in migrations.migrations()]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)


@pytest.mark.parametrize("path", sorted((ROOT / "sql").glob("*.sql")), ids=lambda p: p.name)
def test_migration_parses_with_the_postgresql_parser(path):
    statements = pglast.parse_sql(path.read_text())
    assert statements, f"{path.name} has no statements"


def test_squawk_finds_nothing():
    squawk = Path(sys.executable).parent / "squawk"
    result = subprocess.run([str(squawk), *sorted(str(p) for p in (ROOT / "sql").glob("*.sql"))],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_plpgsql_check_finds_no_errors(conn):
    rows = conn.execute("""
        WITH fns AS (
            SELECT p.oid, p.oid::regprocedure::text AS name, p.prorettype = 'trigger'::regtype AS is_trigger
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
            WHERE n.nspname IN ('ops', 'ops_private') AND l.lanname = 'plpgsql'
        ), targets AS (
            -- Trigger functions are checked against each table they are attached to.
            SELECT f.oid, f.name, t.tgrelid AS relid,
                   CASE WHEN t.tgnewtable IS NOT NULL THEN t.tgnewtable END AS newtable
            FROM fns f JOIN pg_trigger t ON t.tgfoid = f.oid
            WHERE f.is_trigger AND NOT t.tgisinternal AND t.tgparentid = 0
            UNION ALL
            SELECT f.oid, f.name, 0, NULL FROM fns f WHERE NOT f.is_trigger
        )
        SELECT t.name, c.level, c.message, c.lineno
        FROM targets t
        CROSS JOIN LATERAL plpgsql_check_function_tb(t.oid, t.relid, newtable => t.newtable) c
        WHERE c.level IN ('error', 'warning')
    """).fetchall()
    assert rows == []
    checked = conn.execute("""SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        JOIN pg_language l ON l.oid = p.prolang WHERE n.nspname IN ('ops', 'ops_private') AND l.lanname = 'plpgsql'""").fetchone()[0]
    assert checked >= 10


def test_rerunning_migrations_is_a_no_op(conn):
    assert migrations.migrate(conn) == []
    assert all(r["state"] == "applied" for r in migrations.status(conn))
    versions = conn.execute("SELECT count(*) FROM supabase_migrations.schema_migrations").fetchone()[0]
    assert versions == len(migrations.migrations())


def test_a_changed_applied_migration_is_refused(conn, tmp_path):
    copy = tmp_path / "sql"
    shutil.copytree(ROOT / "sql", copy)
    first = sorted(copy.glob("*.sql"))[2]
    first.write_text(first.read_text() + "\n-- an edit after the fact\n")
    with pytest.raises(OpsError, match=rf"{first.name}: already applied with different content"):
        migrations.migrate(conn, copy)
    assert [r["state"] for r in migrations.status(conn, copy)].count("changed") == 1


def test_a_new_migration_is_applied_once(conn, tmp_path):
    copy = tmp_path / "sql"
    shutil.copytree(ROOT / "sql", copy)
    (copy / "29991231000000_extra.sql").write_text("CREATE TABLE ops.extra_for_test (id int);\n")
    assert migrations.migrate(conn, copy) == ["29991231000000"]
    assert migrations.migrate(conn, copy) == []
    name = conn.execute("SELECT name FROM supabase_migrations.schema_migrations WHERE version = '29991231000000'").fetchone()[0]
    assert name == "extra"


def test_concurrent_migrations_serialise(dbs):
    """Two migrators on an empty database: the advisory lock makes one apply and the other see it done."""
    import threading

    with dbs.clone("mig") as url:
        with psycopg.connect(url, autocommit=True) as c:
            c.execute("DROP SCHEMA ops CASCADE; DROP SCHEMA ops_private CASCADE; DROP SCHEMA supabase_migrations CASCADE")
        results, errors = [], []

        def run():
            try:
                with psycopg.connect(url) as c:
                    results.append(migrations.migrate(c))
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert sorted(len(r) for r in results) == [0, len(migrations.migrations())]
