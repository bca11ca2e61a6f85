"""The declarative schema (``supabase/schemas/``) builds exactly what the migrations (``sql/``) build.

Two empty databases in the test cluster: one migrated with ``migrations.migrate`` (as every test database is),
one given the schema files in lexical order in one transaction. Their normalized catalogs
(``tests/schema_catalog.py``) must be equal; a difference names the object and what differs, e.g.
``function ops.check_gates(p_run bigint): differs`` followed by the lines of its definition that differ.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest

from tests import schema_catalog
from worker import ROOT, migrations

SCHEMA_DIR = ROOT / "supabase" / "schemas"


def schema_files(directory: Path = SCHEMA_DIR) -> list[Path]:
    return sorted(directory.glob("*.sql"))


def apply_schema(conn: psycopg.Connection, directory: Path = SCHEMA_DIR) -> None:
    """Apply every ``*.sql`` of ``directory`` in lexical order, in one transaction."""
    with conn.transaction():
        for path in schema_files(directory):
            try:
                conn.execute(path.read_text())
            except psycopg.Error as exc:
                raise AssertionError(f"{path} does not apply: {exc}") from exc
    conn.commit()


def catalog_from_schema(dbs, directory: Path = SCHEMA_DIR) -> dict[str, str]:
    with dbs.empty("schema") as url, psycopg.connect(url) as conn:
        apply_schema(conn, directory)
        return schema_catalog.describe(conn)


@pytest.fixture(scope="module")
def migrations_catalog(dbs):
    with dbs.empty("migs") as url, psycopg.connect(url) as conn:
        migrations.migrate(conn)
        return schema_catalog.describe(conn)


def _report(problems: list[str]) -> str:
    return (f"supabase/schemas/ and sql/ build different schemas ({len(problems)} objects differ; "
            "'-' is what the migrations build, '+' what the schema files build):\n\n" + "\n\n".join(problems))


def test_the_schema_files_exist_in_area_order():
    names = [p.name for p in schema_files()]
    assert names and names[0].startswith("00_roles") and names[-1].endswith("_privileges.sql"), names


def test_schema_files_build_what_the_migrations_build(dbs, migrations_catalog):
    schema = catalog_from_schema(dbs)
    problems = schema_catalog.diff(migrations_catalog, schema)
    assert not problems, _report(problems)
    # The comparison is not vacuous: it saw the objects every area defines.
    kinds = {key.split(" ")[0] for key in migrations_catalog}
    assert {"table", "view", "function", "index", "policy", "constraint", "trigger", "type", "sequence"} <= kinds
    assert sum(key.startswith("function ") for key in migrations_catalog) >= 50


def test_partitions_compare_by_name_pattern(migrations_catalog):
    parts = [k for k in migrations_catalog if k.startswith("table ops_private.error_events_") and " " not in k[6:]]
    assert parts == ["table ops_private.error_events_YYYYMMDD", "table ops_private.error_events_default"]


def test_a_changed_function_body_is_named(dbs, migrations_catalog, tmp_path):
    copy = tmp_path / "schemas"
    shutil.copytree(SCHEMA_DIR, copy)
    path = copy / "10_unit_ci_checks.sql"
    text = path.read_text()
    marker = "CREATE FUNCTION ops.check_gates(p_run bigint)"
    assert marker in text
    head, tail = text.split(marker, 1)
    # One statement added at the top of the body.
    changed = tail.replace("BEGIN ATOMIC", "BEGIN ATOMIC\n    SELECT NULL::ops.unit_finding WHERE false;", 1)
    assert changed != tail
    path.write_text(head + marker + changed)
    problems = schema_catalog.diff(migrations_catalog, catalog_from_schema(dbs, copy))
    assert [p.split("\n")[0] for p in problems] == ["function ops.check_gates(p_run bigint): differs"]
    added = [line.strip() for line in problems[0].splitlines() if line.strip().startswith("+ ")]
    assert added and added[0].startswith("+ SELECT NULL::ops.unit_finding"), problems[0]


def test_a_missing_grant_and_column_comment_are_named(dbs, migrations_catalog, tmp_path):
    copy = tmp_path / "schemas"
    shutil.copytree(SCHEMA_DIR, copy)
    priv = copy / "12_privileges.sql"
    grant = "GRANT EXECUTE ON FUNCTION ops.ensure_error_event_partitions(integer) TO ops_worker;\n"
    assert grant in priv.read_text()
    priv.write_text(priv.read_text().replace(grant, ""))
    views = copy / "07_views.sql"
    comment = "COMMENT ON COLUMN ops.top_errors.count IS 'Occurrences.';"
    assert comment in views.read_text()
    views.write_text(views.read_text().replace(comment, comment.replace("Occurrences.", "How often.")))
    problems = schema_catalog.diff(migrations_catalog, catalog_from_schema(dbs, copy))
    heads = [p.split("\n")[0] for p in problems]
    assert heads == ["column ops.top_errors.count: differs",
                     "function ops.ensure_error_event_partitions(days_ahead integer): differs"]
    removed = [line.strip() for line in problems[1].splitlines() if line.strip().startswith("-privileges")]
    assert len(removed) == 1 and "ops_worker=EXECUTE" in removed[0], problems[1]
    assert "-comment 'Occurrences.'" in problems[0] and "+comment 'How often.'" in problems[0], problems[0]
