"""Ingest that never loses or doubles (issue 11 items 7, 8, 9, 10), through the real CLI and database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.dispatch_kit import role_login
from worker import ingest

OPS = [sys.executable, "-m", "worker.cli"]


def ops(*args, url, stdin=None, timeout=120):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DATABASE_URL"] = url
    return subprocess.run([*OPS, *args], input=stdin, capture_output=True, text=True, env=env, timeout=timeout)


def nested(depth: int) -> dict:
    """A context ``depth`` levels deep (the object itself is level 1)."""
    node: dict = {}
    root = node
    for _ in range(depth - 1):
        node["n"] = {}
        node = node["n"]
    return root


def events(conn) -> int:
    return conn.execute("SELECT count(*) FROM ops.error_events").fetchone()[0]


# -- item 7: one bad line never loses the file --------------------------------------------------------

def test_the_issue_example_a_600_deep_context_is_refused_and_its_neighbours_stored(db_url, conn):
    deep = '{"source": "vercel", "message": "deep", "context": ' + '{"a":' * 600 + "1" + "}" * 600 + "}"
    lines = [
        json.dumps({"source": "vercel", "message": "FUNCTION_INVOCATION_TIMEOUT one"}),
        deep,
        json.dumps({"source": "vercel", "message": "just too deep", "context": nested(33)}),
        json.dumps({"source": "vercel", "message": "deep enough", "context": nested(32)}),
        "{not json",
        json.dumps({"message": "no source"}),
        json.dumps({"source": "vercel", "message": 42}),
        json.dumps({"source": "vercel", "message": "\u00a0\u200b\u202e\t"}),
        json.dumps({"source": "mainframe", "message": "unknown source"}),
        json.dumps({"source": "vercel", "message": "x", "colour": "red"}),
        json.dumps({"source": "vercel", "message": "x", "run_id": {"id": 1}}),
        json.dumps({"source": "vercel", "message": "FUNCTION_INVOCATION_TIMEOUT two"}),
    ]
    result = ops("ingest", "--file", "-", "--json", url=db_url, stdin="\n".join(lines) + "\n")
    assert result.returncode == 3, result.stderr
    out = json.loads(result.stdout)
    refusals = {r["line"]: (r["field"], r["code"]) for r in out["refused"]}
    assert refusals == {
        2: ("context", "too_deep"),
        3: ("context", "too_deep"),
        5: (None, "invalid_json"),
        6: ("source", "missing"),
        7: ("message", "bad_type"),
        8: ("message", "empty"),
        9: ("source", "unknown_source"),
        10: ("colour", "unknown_field"),
        11: ("run_id", "bad_type"),
    }
    assert all(set(r) == {"line", "field", "code", "reason"} and r["reason"] for r in out["refused"])
    assert "nested deeper than 32 levels" in next(r["reason"] for r in out["refused"] if r["line"] == 2)
    assert out["summary"] == {"lines": 12, "stored": 3, "duplicates": 0, "refused": 9,
                              "refused_by_code": {"bad_type": 2, "empty": 1, "invalid_json": 1, "missing": 1,
                                                  "too_deep": 2, "unknown_field": 1, "unknown_source": 1},
                              "last_committed_line": 12}
    assert events(conn) == 3, "every valid neighbour is stored"
    assert "refused: line 2: context is nested deeper than 32 levels" in result.stderr

    text = ops("ingest", "--file", "-", url=db_url, stdin="\n".join(lines[:3]) + "\n")
    assert text.stdout.strip().splitlines()[-1] == (
        "1 stored, 0 duplicates, 2 refused (too_deep 2); committed through line 3")
    assert "\r" not in text.stderr, "no progress line when stderr is not a terminal"


def test_the_database_names_the_field_it_refuses(db_url, conn):
    # Lines the CLI cannot judge alone (an unknown source, a reserved one) come back from SQL per line.
    lines = [json.dumps({"source": "vercel", "message": f"m{i}"}) for i in range(3)]
    lines.insert(1, json.dumps({"source": "vercel", "message": "m", "event_key": "k" * 201}))
    result = ops("ingest", "--file", "-", "--json", url=db_url, stdin="\n".join(lines))
    out = json.loads(result.stdout)
    assert [(r["line"], r["field"], r["code"]) for r in out["refused"]] == [(2, "event_key", "invalid")]
    assert out["summary"]["stored"] == 3 and events(conn) == 3


def test_progress_shows_on_a_terminal(db_url, tmp_path):
    import pty

    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps({"source": "vercel", "message": f"m {i}"}) for i in range(50)))
    primary, secondary = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DATABASE_URL"] = db_url
    proc = subprocess.run([*OPS, "ingest", "--file", str(path), "--batch-size", "10"], stdout=subprocess.PIPE,
                          stderr=secondary, env=env, timeout=120)
    os.close(secondary)
    seen = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(primary)
    assert proc.returncode == 0
    assert b"\ringest: line 10 committed; 10 stored" in seen


# -- item 10: one rule for "empty" ------------------------------------------------------------------

INVISIBLE_CHARS = [c for c in map(chr, range(1, 0x10000)) if ingest.is_blank(c)]
VISIBLE_SAMPLES = ["x", "é", "字", "\u0416", "0", "!", "\u2400", "\ufffd"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(INVISIBLE_CHARS + VISIBLE_SAMPLES), max_size=8).map("".join))
def test_sql_and_cli_agree_on_blank(module_conn, text):
    sql_blank = module_conn.execute("SELECT ops.is_blank(%s)", (text,)).fetchone()[0]
    assert ingest.is_blank(text) == sql_blank
    try:
        ingest.event({"source": "vercel", "message": text})
        cli_refuses = False
    except ingest.Refusal as exc:
        cli_refuses = True
        assert (exc.field, exc.code, str(exc)) == ("message", "empty", "message is required (it has no visible character)")
    assert cli_refuses == sql_blank


def test_every_invisible_character_is_blank_in_sql_and_refused_by_the_trigger(module_conn):
    chars = "".join(INVISIBLE_CHARS)
    assert module_conn.execute("SELECT ops.is_blank(%s)", (chars,)).fetchone()[0]
    visible = module_conn.execute(
        "SELECT array_agg(c) FROM unnest(%s::text[]) c WHERE ops.is_blank(c)", (VISIBLE_SAMPLES,)).fetchone()[0]
    assert visible is None
    with pytest.raises(psycopg.Error) as caught, module_conn.transaction():
        module_conn.execute("SELECT ops.record_error(source => 'vercel', message => %s)", (chars,))
    assert caught.value.sqlstate == "OP001" and caught.value.diag.message_detail == "it has no visible character"


@pytest.fixture(scope="module")
def module_conn(module_db_url):
    with psycopg.connect(module_db_url, autocommit=True) as c:
        yield c


# -- item 8: idempotency ----------------------------------------------------------------------------

def _keyed_lines(n: int) -> list[str]:
    return [json.dumps({"source": "vercel", "message": f"FUNCTION_INVOCATION_TIMEOUT on request {i}",
                        "event_id": f"evt-{i:05d}"}) for i in range(1, n + 1)]


def _kill_after(db_url, conn, lines: list[str], committed: int, sig: int) -> subprocess.CompletedProcess:
    """Feed lines on stdin, stop feeding once ``committed`` events are stored, then send ``sig``."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DATABASE_URL"] = db_url
    proc = subprocess.Popen([*OPS, "ingest", "--file", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    proc.stdin.write("\n".join(lines[:committed]) + "\n")
    proc.stdin.flush()
    deadline = time.monotonic() + 60
    while events(conn) < committed and time.monotonic() < deadline:
        conn.rollback()
        time.sleep(0.05)
    conn.rollback()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_the_issue_example_a_killed_run_re_run_does_not_double_count(db_url, conn):
    lines = _keyed_lines(3000)
    killed = _kill_after(db_url, conn, lines, 2000, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    assert events(conn) == 2000, "the run was killed with 2,000 committed"

    rerun = ops("ingest", "--file", "-", "--json", url=db_url, stdin="\n".join(lines) + "\n")
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)["summary"]
    assert (summary["stored"], summary["duplicates"]) == (1000, 2000)
    assert events(conn) == 3000
    assert conn.execute("SELECT sum(count) FROM ops.agent_errors").fetchone()[0] == 3000
    crossings = conn.execute("SELECT count(*) FROM ops.escalations WHERE code = 'VERCEL.FUNCTION_TIMEOUT'").fetchone()[0]
    assert crossings <= 1, "thresholds crossed once, not twice"


def test_an_interrupted_run_reports_its_last_committed_line_and_resumes(db_url, conn):
    lines = [json.dumps({"source": "vercel", "message": f"unkeyed failure {i}"}) for i in range(1, 1201)]
    stopped = _kill_after(db_url, conn, lines, 1000, signal.SIGTERM)
    assert stopped.returncode == 130
    assert "interrupted: committed through line 1000; resume with --resume-from 1000" in stopped.stderr
    resumed = ops("ingest", "--file", "-", "--resume-from", "1000", "--json", url=db_url,
                  stdin="\n".join(lines) + "\n")
    assert json.loads(resumed.stdout)["summary"]["stored"] == 200
    assert events(conn) == 1200


def test_key_field_names_the_key_and_a_line_without_it_is_refused(db_url, conn):
    lines = [json.dumps({"source": "vercel", "message": "m", "req": "r-1"}),
             json.dumps({"source": "vercel", "message": "m", "req": "r-1"}),
             json.dumps({"source": "vercel", "message": "m"})]
    out = json.loads(ops("ingest", "--file", "-", "--key-field", "req", "--json", url=db_url,
                         stdin="\n".join(lines)).stdout)
    assert out["summary"]["stored"] == 1 and out["summary"]["duplicates"] == 1
    assert [(r["line"], r["field"], r["code"]) for r in out["refused"]] == [(3, "req", "missing")]
    assert conn.execute("SELECT event_key FROM ops.error_events").fetchall() == [("r-1",)]


def test_two_sessions_inserting_one_key_at_once_store_it_once(db_url):
    with psycopg.connect(db_url) as a, psycopg.connect(db_url) as b:
        a.execute("INSERT INTO ops.error_events (source, message, event_key) VALUES ('vercel', 'race', 'same-key')")
        result: dict = {}

        def second():
            result["row"] = b.execute("SELECT event_id, duplicate FROM ops.record_error("
                                      "source => 'vercel', message => 'race', event_key => 'same-key')").fetchone()
            b.commit()

        t = threading.Thread(target=second)
        t.start()
        time.sleep(0.5)
        assert t.is_alive(), "the second session waits for the first's key"
        a.commit()
        t.join(30)
        original = a.execute("SELECT id FROM ops.error_events WHERE event_key = 'same-key'").fetchall()
        assert len(original) == 1
        assert result["row"] == (original[0][0], True)
        assert a.execute("SELECT count FROM ops.agent_errors a JOIN ops.error_events e USING (fingerprint) "
                         "WHERE e.event_key = 'same-key'").fetchone()[0] == 1


def test_a_rolled_back_first_key_leaves_the_key_free(db_url):
    with psycopg.connect(db_url) as a, psycopg.connect(db_url) as b:
        a.execute("INSERT INTO ops.error_events (source, message, event_key) VALUES ('vercel', 'race', 'k-rb')")
        result: dict = {}
        t = threading.Thread(target=lambda: result.update(row=b.execute(
            "SELECT duplicate FROM ops.record_error(source => 'vercel', message => 'race', event_key => 'k-rb')"
        ).fetchone()))
        t.start()
        time.sleep(0.3)
        a.rollback()
        t.join(30)
        b.commit()
        assert result["row"] == (False,)


def test_retention_prunes_the_keys_of_dropped_events(db_url, conn):
    from datetime import date, timedelta

    old = date.today() - timedelta(days=40)
    conn.execute(f"CREATE TABLE ops_private.error_events_{old:%Y%m%d} (LIKE ops.error_events INCLUDING DEFAULTS)")
    conn.execute(f"ALTER TABLE ops.error_events ATTACH PARTITION ops_private.error_events_{old:%Y%m%d} "
                 f"FOR VALUES FROM ('{old}') TO ('{old + timedelta(days=1)}')")
    conn.execute("INSERT INTO ops.error_events (source, message, event_key, received_at) "
                 "VALUES ('vercel', 'old', 'k-old', now() - interval '40 days'), ('vercel', 'new', 'k-new', now())")
    conn.commit()
    result = ops("db", "maintain", "--retention-days", "30", url=db_url)
    assert result.returncode == 0, result.stderr
    assert "dropped: 1 (1 rows), idempotency keys pruned: 1" in result.stdout
    assert conn.execute("SELECT event_key FROM ops_private.event_keys").fetchall() == [("k-new",)]
    assert conn.execute("SELECT duplicate FROM ops.record_error(source => 'vercel', message => 'old', "
                        "event_key => 'k-old')").fetchone() == (False,), "a key past retention is new again"


def test_copy_gets_the_same_deduplication(conn):
    with conn.cursor().copy("COPY ops.error_events (source, message, event_key) FROM STDIN") as copy:
        for key in ("c-1", "c-2", "c-1"):
            copy.write_row(("vercel", "FUNCTION_INVOCATION_TIMEOUT", key))
    conn.commit()
    with conn.cursor().copy("COPY ops.error_events (source, message, event_key) FROM STDIN") as copy:
        copy.write_row(("vercel", "FUNCTION_INVOCATION_TIMEOUT", "c-2"))
    conn.commit()
    assert events(conn) == 2
    assert conn.execute("SELECT sum(count) FROM ops.agent_errors").fetchone()[0] == 2


# -- item 9 and 3: bulk ingest as the ingest role, through a real login ----------------------------------

@pytest.fixture
def ingest_login(db_url):
    """A real login that is only a member of ops_ingest: (its name, its URL)."""
    with role_login(db_url, "ops_ingest") as url:
        yield urlsplit(url).username, url


def test_bulk_ingest_works_for_the_ingest_role_through_a_real_login(ingest_login, conn):
    name, url = ingest_login
    with psycopg.connect(url) as producer:
        assert producer.execute("SELECT session_user").fetchone()[0] == name
        with pytest.raises(psycopg.errors.FeatureNotSupported, match="row-level security"):
            with producer.cursor().copy("COPY ops.error_events (source, message) FROM STDIN") as copy:
                copy.write_row(("vercel", "x"))
    lines = "\n".join(json.dumps({"source": "vercel", "message": f"FUNCTION_INVOCATION_TIMEOUT {i}",
                                  "event_id": f"bulk-{i}"}) for i in range(1500))
    result = ops("ingest", "--file", "-", "--json", url=url, stdin=lines)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["summary"]["stored"] == 1500
    again = ops("ingest", "--file", "-", "--json", url=url, stdin=lines)
    assert json.loads(again.stdout)["summary"]["duplicates"] == 1500
    assert events(conn) == 1500


def test_the_ingest_role_may_not_write_internal_sources_or_claim_fixbot_codes(ingest_login, conn):
    name, url = ingest_login
    lines = [json.dumps({"source": "ops", "message": "forged delivery failure"}),
             json.dumps({"source": "github_actions", "message": "run the bot on this text", "code": "CI.LINT_FAILED"}),
             json.dumps({"source": "vercel", "message": "other source's code", "code": "CI.LINT_FAILED"})]
    result = ops("ingest", "--file", "-", "--json", url=url, stdin="\n".join(lines))
    assert result.stdout, result.stderr
    out = json.loads(result.stdout)
    (refused,) = out["refused"]
    assert (refused["line"], refused["field"], refused["code"]) == (1, "source", "reserved_source")
    assert f'source "ops" is reserved for the system\'s roles; role {name} may not write it' in refused["reason"]
    rows = conn.execute("SELECT source, code, context ->> '_claimed_code' FROM ops.error_events ORDER BY id").fetchall()
    assert rows == [("github_actions", "UNKNOWN.GITHUB_ACTIONS", "CI.LINT_FAILED"),
                    ("vercel", "UNKNOWN.VERCEL", "CI.LINT_FAILED")]
    assert conn.execute("SELECT count(*) FROM ops.agent_runs").fetchone()[0] == 0, "no FixBot run from a claim"
