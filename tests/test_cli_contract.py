"""The command-line contract (issue 11 item 13), through the real `ops` and `stratt` processes: bad flags
are usage errors naming the flag and its range, a malformed DATABASE_URL names the bad part and never the
password, an unmigrated or unsynced database says what to run, a closed stdout ends quietly, --json
always prints JSON, timestamps are RFC 3339 with an offset, refusals read alike, roles are named."""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import uuid

import psycopg
import pytest

from tests.dispatch_kit import role_login
from tests.test_cli import ops
from tests.units_kit import FIXTURES
from worker import cli
from worker.units import checks

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)$")
UNREACHABLE = "postgresql://nobody:hunter2@127.0.0.1:1/none"


# -- bad flags: exit 2 naming the flag and its range ------------------------------------------------

@pytest.mark.parametrize("flag, value, expected", [
    ("--concurrency", "0", "must be an integer from 1 to 256, not 0"),
    ("--lease", "0", "must be a number above 0 seconds, not 0"),
    ("--lease", "-5", "must be a number above 0 seconds, not -5"),
    ("--batch", "0", "must be an integer from 1 to 1000, not 0"),
    ("--poll", "0", "must be a number above 0 seconds, not 0"),
    ("--poll", "-1", "must be a number above 0 seconds, not -1"),
    ("--metrics-port", "0", "must be an integer from 1 to 65535, not 0"),
    ("--metrics-port", "65536", "must be an integer from 1 to 65535, not 65536"),
])
def test_worker_flags_out_of_range_are_usage_errors(flag, value, expected):
    result = ops("worker", "--once", flag, value, url=UNREACHABLE)
    assert result.returncode == 2, result.stderr
    assert f"argument {flag}: {expected}" in result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr


def _commands(parser: argparse.ArgumentParser, path=()):
    """(command path, parser) for every (sub)command of ``parser``."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


def _numeric_arguments():
    """Every numeric argument of every `ops` command, found by walking the parser (a new flag is covered)."""
    for path, p in _commands(cli.parser()):
        positionals = [a for a in p._actions if not a.option_strings and not isinstance(a, argparse._SubParsersAction)]
        for action in p._actions:
            if action.type in (int, float) or isinstance(action.type, cli.Number):
                if action.option_strings:
                    yield pytest.param(path, action, [action.option_strings[0]], id=" ".join((*path, action.dest)))
                else:  # a positional: the ones before it take their first choice
                    before = [a.choices[0] if a.choices else "x" for a in positionals[:positionals.index(action)]]
                    yield pytest.param(path, action, before, id=" ".join((*path, action.dest)))


NUMERIC = list(_numeric_arguments())


def test_the_parser_walk_finds_the_numeric_flags():
    ids = {p.id for p in NUMERIC}
    assert {"worker concurrency", "worker lease", "worker batch", "worker poll", "worker metrics_port",
            "errors limit", "dispatch limit", "dispatch id", "db days_ahead", "fixbot verify run"} <= ids


@pytest.mark.parametrize("path, action, prefix", NUMERIC)
def test_every_numeric_flag_refuses_nonsense_naming_the_flag(path, action, prefix):
    """Property: each numeric argument of each command, given a nonsense value (not a number, not finite,
    and below its range where it has one), exits 2 naming the argument and the range; never 'internal'."""
    assert isinstance(action.type, cli.Number), f"{path} {action.dest}: use cli.Number, which names the range"
    name = action.option_strings[0] if action.option_strings else action.dest
    values = ["abc", "nan", "1e999", ""]
    if action.type.low is not None:
        values.append(str(action.type.low if action.type.low_open else action.type.low - 1))
    if action.type.high is not None:
        values.append(str(action.type.high + 1))
    for value in values:
        result = ops(*path, *prefix, value, url=UNREACHABLE)
        assert result.returncode == 2, (value, result.stderr)
        assert f"argument {name}: must be {action.type.describe()}" in result.stderr, (value, result.stderr)
        assert "internal error" not in result.stderr and "Traceback" not in result.stderr


def test_usage_error_under_json_is_the_json_error_object():
    result = ops("worker", "--lease", "0", "--json", url=UNREACHABLE)
    assert result.returncode == 2
    doc = json.loads(result.stdout)
    assert doc["error"] == "usage" and doc["field"] == "--lease" and doc["exit_code"] == 2
    assert "must be a number above 0 seconds" in doc["reason"]


# -- DATABASE_URL --------------------------------------------------------------------------------------

@pytest.mark.parametrize("url, part", [
    ("postgresql://app:hunter2@db.example:abc/ops", "the port 'abc' is not a number from 1 to 65535"),
    ("postgresql://app:hunter2@db.example:70000/ops", "the port '70000' is not a number from 1 to 65535"),
    ("mysql://app:hunter2@db.example/ops", "the scheme mysql:// is not postgresql:// or postgres://"),
    ("postgresql://app:hunter2@db.example/ops?sslmod=require", 'invalid URI query parameter: "sslmod"'),
    ("hunter2", 'missing "=" after "hunter2"'),
])
def test_malformed_database_url_names_the_part_never_the_password(url, part):
    result = ops("errors", url=url)
    assert result.returncode == 2, result.stderr
    assert "DATABASE_URL is malformed" in result.stderr and part in result.stderr.replace("hunter2", "hunter2")
    if url != "hunter2":  # a bare word is not a password
        assert "hunter2" not in result.stderr + result.stdout and "app:***@" in result.stderr
    as_json = ops("errors", "--json", url=url)
    doc = json.loads(as_json.stdout)
    assert doc["field"] == "DATABASE_URL" and doc["exit_code"] == 2 and part in doc["reason"]


# -- unmigrated and unsynced databases ---------------------------------------------------------------

@pytest.fixture
def empty_db(dbs):
    name = f"empty_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dbs.url("postgres"), autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    yield dbs.url(name)
    with psycopg.connect(dbs.url("postgres"), autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_unmigrated_then_unsynced_database_says_what_to_run(empty_db):
    for command in (["errors"], ["dispatch", "list"], ["classify", "--source", "ops", "--message", "x"],
                    ["errors", "regroup"]):
        result = ops(*command, url=empty_db)
        assert result.returncode == 2, (command, result.stderr)
        assert "run `ops db migrate`" in result.stderr and "internal error" not in result.stderr, command
    doc = json.loads(ops("errors", "--json", url=empty_db).stdout)
    assert doc["error"] == "usage" and doc["code"] in ("42P01", "42883", "3F000") and "ops db migrate" in doc["reason"]

    assert ops("db", "migrate", url=empty_db).returncode == 0
    for command in (["classify", "--source", "ops", "--message", "x"], ["ingest", "--source", "ops", "--message", "x"]):
        result = ops(*command, url=empty_db)
        assert result.returncode == 2, (command, result.stderr)
        assert "run `ops ssot sync`" in result.stderr, command
    assert ops("ssot", "sync", url=empty_db).returncode == 0
    assert ops("classify", "--source", "ops", "--message", "x", url=empty_db).returncode == 0


def test_worker_on_an_unmigrated_database_says_migrate_and_logs_rfc3339(empty_db):
    result = ops("worker", "--once", url=empty_db)
    assert result.returncode == 2 and "run `ops db migrate`" in result.stderr, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert lines and all(RFC3339.match(line["ts"]) for line in lines), lines


def test_stratt_keeps_its_own_usage_code_for_a_bad_database_url():
    """`stratt`'s 2 means tampered: a malformed DATABASE_URL is its usage error, 64, and --format json
    gets the JSON error object."""
    env = {**os.environ, "DATABASE_URL": "postgresql://app:hunter2@db.example:abc/ops"}
    result = subprocess.run([sys.executable, "-m", "worker.units.cli", "ci", str(FIXTURES / "pathfinder"),
                             "--format", "json"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 64, result.stderr
    doc = json.loads(result.stdout)
    assert doc["error"] == "usage" and doc["field"] == "DATABASE_URL" and doc["exit_code"] == 64
    assert "the port 'abc'" in doc["reason"] and "hunter2" not in result.stdout + result.stderr


# -- a closed stdout ---------------------------------------------------------------------------------

def _many_groups(db_url, n=400):
    with psycopg.connect(db_url) as c:
        for i in range(n):
            c.execute("INSERT INTO ops.error_events (source, message) VALUES ('vercel', %s)",
                      (f"error number {i} " + "word " * (i % 7) + chr(65 + i % 26) * (1 + i % 13),))


def test_broken_pipe_exits_quietly(db_url):
    _many_groups(db_url)
    # The example, in a real shell pipeline.
    env = {**{k: v for k, v in os.environ.items() if k != "DATABASE_URL"}, "DATABASE_URL": db_url}
    shell = subprocess.run(f"set -o pipefail; {sys.executable} -m worker.cli errors --limit 400 --json | head -1",
                           shell=True, executable="/bin/bash", capture_output=True, text=True, env=env, timeout=120)
    assert shell.stdout == "[\n" and shell.stderr == "", shell.stderr
    assert shell.returncode in (0, 141), "141 when the writer saw the pipe close, 0 when it had finished first"
    # Deterministic: a pipe whose reader is gone before the first write.
    read, write = os.pipe()
    os.close(read)
    try:
        result = subprocess.run([sys.executable, "-m", "worker.cli", "errors", "--limit", "400"], stdout=write,
                                stderr=subprocess.PIPE, text=True, env=env, timeout=120)
    finally:
        os.close(write)
    assert result.returncode == cli.EXIT_PIPE == 141
    assert result.stderr == "", "no traceback, no 'Exception ignored' line"


# -- JSON, timestamps, refusals --------------------------------------------------------------------

def test_json_errors_are_json_objects(db_url):
    down = ops("errors", "--json", url=UNREACHABLE)
    assert down.returncode == 4
    doc = json.loads(down.stdout)
    assert doc["error"] == "unavailable" and doc["exit_code"] == 4 and set(doc) == {
        "error", "code", "field", "reason", "exit_code"}
    assert "hunter2" not in down.stdout + down.stderr

    refused = ops("classify", "--source", "mainframe", "--message", "boom", "--json", url=db_url)
    assert refused.returncode == 3
    doc = json.loads(refused.stdout)
    assert doc["error"] == "refused" and doc["field"] == "source" and doc["code"] == "OP002"
    assert doc["reason"].startswith('unknown source "mainframe"')

    missing = ops("dispatch", "requeue", "999999", "--json", url=db_url)
    assert missing.returncode == 1
    doc = json.loads(missing.stdout)
    assert doc["error"] == "failed" and doc["exit_code"] == 1 and doc["reason"]


def test_timestamps_are_rfc3339_with_offset(db_url):
    assert ops("ingest", "--source", "vercel", "--message", "FUNCTION_INVOCATION_TIMEOUT", url=db_url).returncode == 0
    (row,) = json.loads(ops("errors", "--json", url=db_url).stdout)
    assert RFC3339.match(row["last_seen_at"]), row["last_seen_at"]
    text = ops("errors", url=db_url).stdout.splitlines()[2]
    assert re.search(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}", text), text
    listed = json.loads(ops("dispatch", "list", "--json", url=db_url).stdout)
    for item in listed:
        for key, value in item.items():
            if key.endswith("_at") and value is not None:
                assert RFC3339.match(value), (key, value)


def test_one_wording_for_refusals_across_commands(db_url):
    ingest = ops("ingest", "--source", "mainframe", "--message", "boom", url=db_url)
    classify = ops("classify", "--source", "mainframe", "--message", "boom", url=db_url)
    assert ingest.returncode == classify.returncode == 3
    assert ingest.stderr.strip() == classify.stderr.strip()
    assert classify.stderr.startswith('refused: unknown source "mainframe" (known sources: supabase_fn, ')


# -- roles -----------------------------------------------------------------------------------------

@pytest.fixture
def analyst_url(db_url):
    """A real login that is only a member of ops_analyst (the README's recipe)."""
    with role_login(db_url, "ops_analyst") as url:
        yield url


def test_classify_works_for_the_analyst_role(analyst_url):
    result = ops("classify", "--source", "github_actions", "--message", "npm ERR! code ERESOLVE", "--json",
                 url=analyst_url)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["code"] == "CI.DEPENDENCY_INSTALL_FAILED"
    explain = ops("classify", "--explain", "--source", "github_actions", "--message", "npm ERR! code ERESOLVE",
                  url=analyst_url)
    assert explain.returncode == 0 and "WINNER" in explain.stdout, explain.stderr
    assert ops("errors", url=analyst_url).returncode == 0


def test_permission_denied_names_the_role_needed(analyst_url):
    for command, role in ((["dispatch", "requeue", "1"], "`ops dispatch requeue` needs a login in ops_worker"),
                          (["ingest", "--source", "ops", "--message", "x"], "`ops ingest` needs a login in ops_ingest"),
                          (["ssot", "sync"], "`ops ssot` needs the owner of the ops schema")):
        result = ops(*command, url=analyst_url)
        assert result.returncode == 1, (command, result.stderr)
        assert "permission denied" in result.stderr and role in result.stderr, result.stderr
        assert "internal error" not in result.stderr
    doc = json.loads(ops("dispatch", "requeue", "1", "--json", url=analyst_url).stdout)
    assert doc["code"] == "42501" and "ops_worker" in doc["reason"]


# -- stratt --council ---------------------------------------------------------------------------------

def stratt(*args, url):
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "worker.units.cli", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_stratt_council_accepts_the_bare_slug(db_url):
    full = stratt("ci", str(FIXTURES / "pathfinder"), "--council", "council/pathfinder", url=db_url)
    bare = stratt("ci", str(FIXTURES / "pathfinder"), "--council", "pathfinder", url=db_url)
    assert bare.returncode == full.returncode == 0, bare.stdout + bare.stderr
    unknown = stratt("ci", str(FIXTURES / "pathfinder"), "--council", "pathfindr", url=db_url)
    assert unknown.returncode == checks.EXIT_USAGE == 64
    assert "council pathfindr is not defined under the paths (found: council/pathfinder)" in unknown.stdout + unknown.stderr


def test_resolve_council_names_every_match_when_ambiguous():
    ids = ["council/pathfinder", "council/other"]
    assert checks.resolve_council("pathfinder", ids) == ("council/pathfinder", None)
    assert checks.resolve_council("council/other", ids) == ("council/other", None)
    assert checks.resolve_council("nope", ids) == ("nope", None)
    assert checks.resolve_council("pathfinder", ["council/pathfinder", "team/council/pathfinder"]) == (
        "pathfinder", ["council/pathfinder", "team/council/pathfinder"])


# -- --json prints JSON, whatever happens ---------------------------------------------------------------

# Values for the flags a command cannot run without (a new required flag must be added here).
REQUIRED = {"--diff": "/dev/null", "--head": "fixbot/try", "--source": "ops", "--message": "boom", "id": "1",
            "fingerprint": "abcd1234", "--summary": "fixed", "--out": "/tmp/ops-contract-export",
            "--ci": "success", "run": "1",
            "--baseline": "baseline", "--variant": "verify-full-suite", "variant": "verify-full-suite"}


def _json_invocations():
    """Every command with --json, with each choice of its positional arguments: (argv)."""
    for path, p in _commands(cli.parser()):
        options = {s for a in p._actions for s in a.option_strings}
        if "--json" not in options:
            continue
        variants = [list(path)]
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction) or action.option_strings:
                continue
            if action.choices:
                variants = [v + [c] for v in variants for c in action.choices]
            elif action.dest in REQUIRED:
                variants = [v + [REQUIRED[action.dest]] for v in variants]
        extra = [x for a in p._actions if a.option_strings and (a.required or a.option_strings[0] in ("--source", "--message", "--head"))
                 for x in (a.option_strings[0], REQUIRED[a.option_strings[0]])]
        for v in variants:
            yield pytest.param(v + extra, id=" ".join(v))


@pytest.mark.parametrize("argv", list(_json_invocations()))
@pytest.mark.parametrize("url", [UNREACHABLE, "postgresql://app:hunter2@db.example:abc/ops"], ids=["down", "malformed"])
def test_json_always_prints_json(argv, url):
    """Property: every command that takes --json prints JSON on stdout whatever happens (here: the
    database is unreachable, or DATABASE_URL is malformed), and an error exit carries the error object."""
    result = ops(*argv, "--json", url=url)
    doc = json.loads(result.stdout)  # raises if not JSON
    if result.returncode not in (0, 1) or isinstance(doc, dict) and "error" in doc:
        assert doc["exit_code"] == result.returncode and doc["reason"], doc
    assert "hunter2" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr


def test_malformed_listen_url_is_named_before_anything_starts():
    result = ops("worker", "--once", "--listen-url", "postgresql://app:hunter2@db.example:99999/ops", url=UNREACHABLE)
    assert result.returncode == 2
    assert "--listen-url is malformed: the port '99999' is not a number from 1 to 65535" in result.stderr
    assert "hunter2" not in result.stderr
