"""No large LANGUAGE sql function on the ingest path of a text new to the classification cache (issue 12, ninth pass).

PostgreSQL keeps a LANGUAGE sql function's parsed and planned body only for the transaction that built it, unless the
planner inlines it (it cannot when the function has a SET clause, sublinks or more than one statement). A producer's
autocommit INSERT of a text the cache has not seen (every text that carries a request id) paid ~6.5 ms of ~9 ms of
server CPU reading `ops.grouping_text`'s 74 kB stored parse tree back and planning it again; PL/pgSQL keeps its plans
for the session. This test finds the functions such an INSERT calls (``track_functions``) and fails when one of them
is a LANGUAGE sql function whose stored body is over ``LIMIT`` bytes, so a later version written the old way is caught
(bench/README.md, "Real producers' text: ids and timestamps that vary").
"""

from __future__ import annotations

import psycopg

LIMIT = 16_000  # bytes of stored body (prosqlbody, else prosrc); the largest left on the path is ~11 kB


def test_a_new_text_calls_no_large_sql_function(db_url):
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SET track_functions = 'all'")
        with conn.transaction():
            conn.execute("INSERT INTO ops.error_events (source, phase, message) VALUES ('vercel', 'build', "
                         "'2026-12-01T03:00:00.123Z Error: Missing required environment variable STRIPE_SECRET_KEY "
                         "(request 3f2b8c1e-9a4d-4e7b-8c2a-1d5e6f7a8b9c)')")
            called = conn.execute(
                "SELECT f.schemaname || '.' || f.funcname, l.lanname, "
                "       coalesce(length(p.prosqlbody::text), length(p.prosrc)) "
                "FROM pg_stat_xact_user_functions f JOIN pg_proc p ON p.oid = f.funcid "
                "JOIN pg_language l ON l.oid = p.prolang").fetchall()
    names = {name for name, _, _ in called}
    assert {"ops.grouping_text", "ops.classify_error"} <= names, names  # the miss path ran
    large = [(name, size) for name, language, size in called if language == "sql" and size > LIMIT]
    assert large == [], f"LANGUAGE sql functions re-planned in every transaction on the ingest path: {large}"
