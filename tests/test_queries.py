"""Every named query the Python side runs parses as PostgreSQL (sqlglot) and names only ops objects
that the migrations create: renaming a function in SQL cannot silently break the worker or the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from worker.queries import load

SUBSYSTEMS = sorted(p.stem for p in (Path(__file__).parent.parent / "worker" / "queries").glob("*.sql"))
QUERIES = [(s, name, sql) for s in SUBSYSTEMS for name, sql in load(s).items()]
# Queries that by design name no ops object: PostgreSQL compiling an SSOT regex, and the embedded
# cluster's bootstrap (before any migration). Every other query must name one.
BUILT_IN_ONLY = {("ssot", "regex_matches_empty"), ("ssot", "redact_example"),
                 ("cluster", "database_exists"), ("cluster", "create_database"), ("report", "period")}


def references(sql: str) -> tuple[set[str], set[str]]:
    """(functions, relations) in schema ops that a query names."""
    tree = sqlglot.parse_one(re.sub(r"%\((\w+)\)s", "NULL", sql), read="postgres")
    functions, relations = set(), set()
    for table in tree.find_all(exp.Table):
        if table.db != "ops":
            continue
        if isinstance(table.this, exp.Anonymous):
            functions.add(table.this.name.lower())
        else:
            relations.add(table.name.lower())
    for dot in tree.find_all(exp.Dot):
        if isinstance(dot.this, exp.Identifier) and dot.this.name == "ops" and isinstance(dot.expression, exp.Anonymous):
            functions.add(dot.expression.name.lower())
    return functions, relations


def test_there_are_queries_in_every_subsystem():
    assert {"errors", "dispatch"} <= set(SUBSYSTEMS)
    assert all(load(s) for s in SUBSYSTEMS)


@pytest.mark.parametrize("subsystem, name, sql", QUERIES, ids=[f"{s}.{n}" for s, n, _ in QUERIES])
def test_named_query_parses_and_its_objects_exist(module_db_url, subsystem, name, sql):
    import psycopg

    functions, relations = references(sql)
    if (subsystem, name) in BUILT_IN_ONLY:
        assert not functions and not relations, f"{subsystem}.{name} names ops objects: take it off BUILT_IN_ONLY"
        return
    assert functions or relations, f"{subsystem}.{name} names no ops object"
    with psycopg.connect(module_db_url) as conn:
        missing_f = [f for f in functions if not conn.execute(
            "SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'ops' AND p.proname = %s",
            (f,)).fetchone()]
        missing_r = [r for r in relations if conn.execute("SELECT to_regclass(%s)", (f"ops.{r}",)).fetchone()[0] is None]
    assert (missing_f, missing_r) == ([], []), f"{subsystem}.{name}"


def test_a_missing_parameter_is_refused_by_name_and_none_is_null(module_db_url):
    import psycopg

    from worker.queries import MissingParameter, execute, parameters

    assert parameters("dispatch", "update_agent_run") == {"id", "status", "verdict", "branch", "pr_url", "error"}
    with psycopg.connect(module_db_url) as conn:
        with pytest.raises(MissingParameter, match=r"dispatch\.update_agent_run needs parameter\(s\) "
                                                   r"branch, error, pr_url, verdict \(pass None"):
            execute(conn, "dispatch", "update_agent_run", {"id": 1, "status": "queued"})
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE  # nothing reached the server
        assert execute(conn, "errors", "top_errors", {"code": None, "limit": 1}).fetchall() is not None
