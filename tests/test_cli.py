"""The ops command line as a user runs it: subprocesses, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

from worker import ROOT, cluster

OPS = [sys.executable, "-m", "worker.cli"]


def ops(*args, url=None, stdin=None, env=None):
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if url:
        environment["DATABASE_URL"] = url
    environment.update(env or {})
    return subprocess.run([*OPS, *args], input=stdin, capture_output=True, text=True, env=environment, timeout=120)


@pytest.mark.parametrize("command", [[], ["db"], ["ssot"], ["ingest"], ["classify"], ["errors"], ["demo"], ["report"],
                                     ["errors", "show"], ["errors", "list"], ["resolve"], ["ignore"], ["reopen"]])
def test_every_command_has_help(command):
    result = ops(*command, "--help")
    assert result.returncode == 0 and "usage: ops" in result.stdout


def test_usage_errors_exit_2():
    assert ops("db", "sideways").returncode == 2
    result = ops("ingest", url="postgresql://unused@127.0.0.1:1/x")
    assert result.returncode == 2 and "give --source and --message" in result.stderr


def test_ingest_classify_errors_and_db_commands(db_url):
    assert ops("db", "url", "--show-password", url=db_url).stdout.strip() == db_url
    status = ops("db", "status", "--json", url=db_url)
    assert status.returncode == 0 and {r["state"] for r in json.loads(status.stdout)} == {"applied"}
    assert ops("ssot", "check", url=db_url).returncode == 0
    assert ops("ssot", "diff", url=db_url).stdout.strip() == "no drift"

    result = ops("classify", "--source", "github_actions", "--message", "npm ERR! code ERESOLVE", "--json", url=db_url)
    assert result.returncode == 0 and json.loads(result.stdout)["code"] == "CI.DEPENDENCY_INSTALL_FAILED"

    lines = "\n".join(json.dumps({"source": "vercel", "message": "FUNCTION_INVOCATION_TIMEOUT", "phase": "invoke"})
                      for _ in range(3)) + "\n{broken\n"
    result = ops("ingest", "--file", "-", "--json", url=db_url, stdin=lines)
    assert result.returncode == 3, "a refused line makes the exit code 3"
    out = json.loads(result.stdout)
    assert [r["count"] for r in out["stored"]] == [3, 3, 3] and out["refused"][0]["line"] == 4
    assert "refused: line 4: not valid JSON" in result.stderr

    result = ops("errors", "--json", "--code", "VERCEL.FUNCTION_TIMEOUT", url=db_url)
    (row,) = json.loads(result.stdout)
    assert row["count"] == 3 and row["status"] == "open"


def test_refused_input_is_one_line_exit_3(db_url):
    result = ops("ingest", "--source", "mainframe", "--message", "x", url=db_url)
    assert result.returncode == 3
    assert result.stderr.strip().splitlines() == [
        'refused: unknown source "mainframe" (known sources: supabase_fn, github_actions, vercel, odoo, dns, '
        'terraform, agent_runner, stratt, ops)']


def test_drift_exits_1(db_url):
    import psycopg
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("UPDATE ops.failure_modes SET title = 'edited by hand' WHERE code = 'DB.DEADLOCK'")
    result = ops("ssot", "diff", url=db_url)
    assert result.returncode == 1 and "failure_modes_upserted 1" in result.stdout
    assert "~ failure_modes DB.DEADLOCK: title \"edited by hand\" -> \"Database deadlock or serialization failure\"" in result.stdout
    assert ops("ssot", "sync", url=db_url).returncode == 0
    assert ops("ssot", "diff", url=db_url).returncode == 0


def test_unreachable_database_exits_4():
    result = ops("errors", url="postgresql://nobody:x@127.0.0.1:1/none")
    assert result.returncode == 4
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("ops: database unavailable")


def test_embedded_cluster_from_nothing():
    """With DATABASE_URL unset, `ops db up` creates, starts and migrates a private cluster."""
    # Under the repository: pytest's tmp_path is private to root, and the server runs as postgres.
    (ROOT / ".ops").mkdir(exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="cli-", dir=ROOT / ".ops"))
    env = {"OPS_HOME": str(home)}
    try:
        up = ops("db", "up", env=env)
        assert up.returncode == 0, up.stderr
        assert "embedded" in up.stdout
        url = ops("db", "url", env=env).stdout.strip()
        assert url.startswith("postgresql://postgres:") and "@127.0.0.1:" in url
        assert (home / "cluster.json").stat().st_mode & 0o777 == 0o600, "the password file is private"
        assert ops("ssot", "sync", env=env).returncode == 0
        result = ops("ingest", "--source", "ops", "--message", "hello from the embedded cluster", env=env)
        assert result.returncode == 0 and "UNKNOWN.OPS" in result.stdout
    finally:
        down = ops("db", "down", env=env)
    assert down.stdout.strip() == "embedded cluster stopped"
    assert not (home / "pg" / "postmaster.pid").exists()
    again = ops("db", "down", "--json", env=env)  # stopping a stopped cluster says so, and succeeds
    assert again.returncode == 0 and json.loads(again.stdout) == {"stopped": "embedded", "was_running": False}
    shutil.rmtree(home)


def test_a_private_ops_home_works_as_root(tmp_path):
    """As root the server runs as postgres, which cannot enter root's private folders (a checkout under
    /root): its files go to a folder it owns, and everything works from the private home."""
    home = tmp_path / "private" / ".ops"
    (tmp_path / "private").mkdir(mode=0o700)
    env = {"OPS_HOME": str(home)}
    try:
        up = ops("db", "up", env=env)
        assert up.returncode == 0, up.stderr
        assert ops("ssot", "sync", env=env).returncode == 0
        assert ops("ingest", "--source", "ops", "--message", "hello from a private home", env=env).returncode == 0
        server_root = Path(json.loads((home / "cluster.json").read_text())["server_root"])
        if os.geteuid() == 0:
            assert server_root.parent == Path(pwd.getpwnam("postgres").pw_dir) / "ops-clusters"
            assert server_root.stat().st_uid == pwd.getpwnam("postgres").pw_uid
        else:  # the server runs as this user, who can reach the folder
            assert server_root == home
        assert (server_root / "pg" / "PG_VERSION").exists()
    finally:
        ops("db", "down", env=env)
        cluster.Cluster(home).destroy()
    assert not server_root.exists()

def test_bad_bytes_and_bad_arguments_are_clear_refusals(db_url):
    env = {"DATABASE_URL": db_url}
    ops("ssot", "sync", env=env)
    # Invalid UTF-8 on the command line (Python hands it over as surrogate escapes) becomes U+FFFD.
    bad = subprocess.run([sys.executable, "-m", "worker.cli", "ingest", "--source", "ops", "--message",
                          os.fsdecode(b"bad \xff\xfe bytes"), "--json"],
                         env={**os.environ, **env}, capture_output=True, text=True)
    assert bad.returncode == 0, bad.stderr
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT message FROM ops.error_events").fetchone()[0] == "bad \ufffd\ufffd bytes"
    classify = ops("classify", "--source", "mainframe", "--message", "boom", env=env)
    assert classify.returncode == 3 and 'refused: unknown source "mainframe" (known sources: ' in classify.stderr
    missing = ops("ingest", "--file", "/nonexistent/events.jsonl", env=env)
    assert missing.returncode == 3 and "cannot read --file: No such file or directory" in missing.stderr
    negative = ops("errors", "--limit", "-1", env=env)
    assert negative.returncode == 2 and "argument --limit: must be an integer, at least 1, not -1" in negative.stderr


def test_classify_explain_lists_candidates_and_the_deciding_rule(db_url):
    message = "The runner has received a shutdown signal.\nProcess completed with exit code 137."
    result = ops("classify", "--explain", "--json", "--source", "github_actions", "--phase", "build",
                 "--message", message, url=db_url)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["code"] == "CI.RUNNER_LOST" and len(out["rule"]) == 7
    by_code = {c["code"]: c for c in out["candidates"]}
    assert by_code["CI.RUNNER_LOST"]["rank"] == 1 and by_code["CI.RUNNER_LOST"]["decided_by"] == "winner"
    oom = by_code["INFRA.OUT_OF_MEMORY"]
    assert oom["line_number"] == 2 and oom["on_cause"] is False and oom["decided_by"].startswith("2 cause")

    text = ops("classify", "--explain", "--source", "github_actions", "--phase", "build", "--message", message, url=db_url)
    assert text.returncode == 0
    assert "#1 CI.RUNNER_LOST" in text.stdout and "WINNER" in text.stdout
    assert "lost on 2 cause" in text.stdout and "matched line 2: 'Process completed with exit code 137.'" in text.stdout

    unknown = ops("classify", "--explain", "--source", "dns", "--message", "all good here", url=db_url)
    assert unknown.returncode == 0 and "UNKNOWN.DNS" in unknown.stdout and "no pattern matched" in unknown.stdout
