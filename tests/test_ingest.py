"""Bad input is refused clearly or accepted deliberately; every accepted event is stored."""

from __future__ import annotations

import io
import json

import psycopg
import pytest

from worker import ingest
from worker.errors import BadInput


def stored_count(conn) -> int:
    return conn.execute("SELECT count(*) FROM ops.error_events").fetchone()[0]


def lines(*docs) -> io.BytesIO:
    return io.BytesIO(b"\n".join(d if isinstance(d, bytes) else json.dumps(d).encode() for d in docs))


def ingest_lines(conn, stream):
    parsed = list(ingest.parse_lines(stream))
    good = [(n, e) for n, e in parsed if not isinstance(e, ingest.Refused)]
    refused = [e for _, e in parsed if isinstance(e, ingest.Refused)]
    stored, refused_db = ingest.record_many(conn, good)
    return stored, refused + refused_db


def test_nul_bytes_and_invalid_utf8_are_stored_visibly(conn):
    raw = b'{"source": "ops", "message": "bad \\u0000 byte"}\n' + \
          b'{"source": "ops", "message": "latin1 \xe9t\xe9 here"}'
    stored, refused = ingest_lines(conn, io.BytesIO(raw))
    assert refused == [] and len(stored) == 2
    messages = [r[0] for r in conn.execute("SELECT message FROM ops.error_events ORDER BY id")]
    assert messages == ["bad \u2400 byte", "latin1 \ufffdt\ufffd here"]


def test_ten_megabyte_message_is_truncated_not_lost(conn):
    message = "Error: something broke\n" + "x" * (10 * 1024 * 1024) + "\nFATAL: sorry, too many clients already"
    row = ingest.record_one(conn, ingest.event({"source": "github_actions", "message": message}))
    length, truncated, stored_len, code = conn.execute(
        "SELECT message_length, truncated, length(message), code FROM ops.error_events WHERE id = %s",
        (row["event_id"],)).fetchone()
    assert (length, truncated) == (len(message), True)
    assert stored_len < 33_000
    assert code == "DB.CONNECTION_LIMIT", "the tail is kept, so the real error at the end still classifies"


def test_deeply_nested_context_is_refused_by_the_one_depth_rule(conn):
    text = '{"source": "ops", "message": "deep", "context": ' + '{"a":' * 5000 + "{}" + "}" * 5000 + "}"
    stored, refused = ingest_lines(conn, io.BytesIO(text.encode()))
    # Python's JSON parser refuses such depth itself: refused with the line named, nothing half-stored.
    assert stored == [] and refused and refused[0].line == 1 and "nested too deeply to parse" in refused[0].reason
    ev = ingest.event({"source": "ops", "message": "deep but parsed", "context": _nest(31)})  # 32 levels: allowed
    ingest.record_one(conn, ev)
    with pytest.raises(ingest.Refusal, match="context is nested deeper than 32 levels") as caught:
        ingest.event({"source": "ops", "message": "too deep", "context": _nest(32)})
    assert (caught.value.field, caught.value.code) == ("context", "too_deep")
    with pytest.raises(BadInput, match="context is nested deeper than 32 levels"):
        ingest.record_one(conn, dict(ev, context=_nest(32)))  # SQL holds the same line
    assert stored_count(conn) == 1


def _nest(depth: int) -> dict:
    node: dict = {}
    root = node
    for _ in range(depth):
        node["n"] = {}
        node = node["n"]
    return root


def test_sql_and_regex_metacharacters_are_data(conn):
    nasty = "'); DROP TABLE ops.error_events; -- .*[(\\1 $$ %s %(x)s"
    row = ingest.record_one(conn, ingest.event({"source": "ops", "message": nasty}))
    assert conn.execute("SELECT message FROM ops.error_events WHERE id = %s", (row["event_id"],)).fetchone()[0] == nasty


@pytest.mark.parametrize("doc, reason", [
    ({"message": "no source"}, "source is required"),
    ({"source": "ops"}, "message is required"),
    ({"source": "ops", "message": "   "}, "message is required (it has no visible character)"),
    ({"source": "ops", "message": "\u00a0\u200b\u202e"}, "message is required (it has no visible character)"),
    ({"source": "ops", "message": {"text": "x"}}, "message must be a string, not an object"),
    ({"source": "ops", "message": "x", "phase": ["a"]}, "phase must be a string, not an array"),
    ({"source": "ops", "message": "x", "colour": "red"}, "unknown field(s): colour"),
])
def test_missing_fields_are_named(doc, reason):
    with pytest.raises(BadInput, match=reason.replace("(", r"\(").replace(")", r"\)")):
        ingest.event(doc)


def test_a_bad_line_in_a_batch_loses_nothing_else(conn):
    stream = lines({"source": "ops", "message": "one"}, b"not json", {"source": "mainframe", "message": "two"},
                   [1, 2], {"source": "vercel", "message": "three"})
    stored, refused = ingest_lines(conn, stream)
    assert len(stored) == 2 and stored_count(conn) == 2
    assert sorted((r.line, r.reason.split(" (")[0]) for r in refused) == [
        (2, "not valid JSON: Expecting value: line 1 column 1"),
        (3, 'unknown source "mainframe"'),
        (4, "each line must be a JSON object"),
    ]


def test_insert_copy_and_record_error_agree(conn):
    message = "connect ECONNREFUSED 127.0.0.1:5432"
    a = ingest.record_one(conn, ingest.event({"source": "supabase_fn", "message": message}))
    conn.execute("INSERT INTO ops.error_events (source, message) VALUES ('supabase_fn', 'connect ECONNREFUSED 10.1.1.1:6543')")
    with conn.cursor().copy("COPY ops.error_events (source, message) FROM STDIN") as copy:
        for port in (1, 2, 3):
            copy.write_row(("supabase_fn", f"connect ECONNREFUSED 10.0.0.{port}:5432"))
    conn.commit()
    rows = conn.execute("SELECT fingerprint, code, count FROM ops.agent_errors").fetchall()
    assert rows == [(a["fingerprint"], "NET.CONNECTION_REFUSED", 5)]


def test_record_errors_returns_counts_in_input_order(conn):
    batch = [{"source": "ops", "message": f"qqz-unknown {i}"} for i in range(5)] + \
            [{"source": "vercel", "message": "FUNCTION_INVOCATION_TIMEOUT"}]
    stored, refused = ingest.record_many(conn, [(i, ingest.event(e)) for i, e in enumerate(batch)])
    assert refused == []
    assert [r["count"] for r in stored] == [5, 5, 5, 5, 5, 1]
    assert [r["code"] for r in stored] == ["UNKNOWN.OPS"] * 5 + ["VERCEL.FUNCTION_TIMEOUT"]


def test_nul_in_raw_sql_is_refused_by_the_driver_not_stored(conn):
    with pytest.raises(psycopg.DataError):
        conn.execute("SELECT ops.record_error(source => 'ops', message => %s)", ("a\x00b",))


def test_a_repeated_error_updates_its_group_without_new_index_entries(conn):
    """Every event of a grouped error updates its ops.agent_errors row; no indexed column moves and the page keeps
    room, so each update is heap-only (HOT). pg_stat_xact_user_tables reads the backend's counts not yet flushed to
    the cumulative statistics (they may span several of this loop's transactions): updates and HOT updates agree."""
    message = "Error: Process completed with exit code 1."
    conn.execute("INSERT INTO ops.error_events (source, message) VALUES ('github_actions', %s)", (message,))
    conn.commit()
    hot = []
    for _ in range(30):
        conn.execute("INSERT INTO ops.error_events (source, message) VALUES ('github_actions', %s)", (message,))
        hot.append(conn.execute("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables "
                                "WHERE relid = 'ops.agent_errors'::regclass").fetchone())
        conn.commit()
    assert all(updated == heap_only > 0 for updated, heap_only in hot), hot
    assert conn.execute("SELECT count FROM ops.agent_errors").fetchone() == (31,)
