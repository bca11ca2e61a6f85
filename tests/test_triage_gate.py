"""`ops triage list | promote` and `ops gate check` as a user runs them: real database, subprocesses, logins
with the least role each command needs, and the SSOT file edited in a copy of the checkout."""

from __future__ import annotations

import difflib
import json
import os
import shutil
import subprocess
import sys

import psycopg
import psycopg.rows
import pytest

from tests.dispatch_kit import role_login
from worker import ROOT, triage
from worker.gate import annotations, workflow_escape
from worker.ssot import TAXONOMY

OPS = [sys.executable, "-m", "worker.cli"]
UNKNOWN_TEXT = "zzq weird thing happened in job 42"


def ops(*args, url, env=None, stdin=""):
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("DATABASE_URL", "GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY")}
    environment["DATABASE_URL"] = url
    environment.update(env or {})
    return subprocess.run([*OPS, *args], input=stdin, capture_output=True, text=True, env=environment, timeout=120)


def ops_here(monkeypatch, capsys, *args, url, env=None):
    """The same command in this process (cheaper than a subprocess): (exit code, stdout, stderr)."""
    from worker import cli

    for name in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", url)
    for name, value in (env or {}).items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def record(url, message, source="github_actions", **extra):
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT fingerprint, code FROM ops.record_error(source => %s, message => %s, context => %s::jsonb, "
            "origin => %s)", (source, message, json.dumps(extra.get("context") or {}), extra.get("origin"))).fetchone()


@pytest.fixture
def checkout(tmp_path):
    """The parts of the checkout `ops triage promote --pattern` reads and `ops ssot check` verifies."""
    for part in ("ssot", "docs/runbooks"):
        shutil.copytree(ROOT / part, tmp_path / part)
    (tmp_path / "tests/fixtures").mkdir(parents=True)
    shutil.copy(ROOT / triage.CORPUS, tmp_path / triage.CORPUS)
    return tmp_path


@pytest.fixture
def triager(db_url):
    with role_login(db_url, "ops_triage") as url:
        yield url


@pytest.fixture
def analyst(db_url):
    with role_login(db_url, "ops_analyst") as url:
        yield url


# -- the SSOT file: ruamel.yaml round trip -----------------------------------------------------------

def _only_added(before: str, after: str) -> list[str]:
    """The lines ``after`` adds to ``before``; fails when anything else differs."""
    ops_ = difflib.SequenceMatcher(a=before.splitlines(keepends=True), b=after.splitlines(keepends=True),
                                   autojunk=False).get_opcodes()
    assert all(tag in ("equal", "insert") for tag, *_ in ops_), "only insertions, nothing removed or rewritten"
    return [line for tag, _, _, j1, j2 in ops_ if tag == "insert"
            for line in after.splitlines(keepends=True)[j1:j2]]


@pytest.mark.parametrize("kind, pattern, line", [
    ("substring", 'env "X" is unset', '        - "env \\"X\\" is unset"\n'),
    ("regex", "missing (key|var) [a-z]+", "        - {regex: 'missing (key|var) [a-z]+'}\n"),
])
def test_adding_a_pattern_keeps_every_other_byte(kind, pattern, line):
    before = (ROOT / TAXONOMY).read_text(encoding="utf-8")
    after = triage.add_pattern(before, "ENV.KEY_MISSING", kind, pattern)
    assert _only_added(before, after) == [line], "exactly one line, in the file's own style"
    lines = after.splitlines(keepends=True)
    at = lines.index(line)
    assert "".join(lines[:at] + lines[at + 1:]) == before, "comments, order, quoting and layout are kept byte for byte"
    # it is the last pattern of ENV.KEY_MISSING: the next line is not another pattern of that code
    assert lines[at - 1].startswith("        - ") and not lines[at + 1].startswith("        - ")
    owner = next(l for l in reversed(lines[:at]) if l.startswith("  - code: "))
    assert owner.split("#")[0].strip() == "- code: ENV.KEY_MISSING", "inside ENV.KEY_MISSING's own entry"


def test_adding_a_pattern_twice_or_to_a_missing_code_is_refused():
    text = "failure_modes:\n  - code: A.B  # a comment\n    detect:\n      patterns: [\"x\"]\n"
    once = triage.add_pattern(text, "A.B", "substring", "qq")
    assert once == "failure_modes:\n  - code: A.B  # a comment\n    detect:\n      patterns: [\"x\", \"qq\"]\n", \
        "a flow-style list stays flow style"
    with pytest.raises(triage.BadInput, match="already has"):
        triage.add_pattern(once, "A.B", "substring", "qq")
    with pytest.raises(triage.BadInput, match="TEST.NOPE is not in"):
        triage.add_pattern(text, "TEST.NOPE", "substring", "qq")


# -- ops triage list and promote ---------------------------------------------------------------------

def test_list_and_promote_with_a_pattern(db_url, analyst, triager, checkout):
    record(db_url, "Process exited: npm test failed with 3 failing tests")
    unknown, code = record(db_url, UNKNOWN_TEXT)
    record(db_url, "zzq weird thing happened in job 7")
    assert code == "UNKNOWN.GITHUB_ACTIONS"

    listed = ops("triage", "list", "--json", "--source", "github_actions", url=analyst)
    assert listed.returncode == 0, listed.stderr
    row = next(r for r in json.loads(listed.stdout) if r["fingerprint"] == unknown)
    assert row["count"] == 2 and row["classifier"] == [] and isinstance(row["suggested"], list)
    text = ops("triage", "list", url=analyst)
    assert text.returncode == 0 and unknown[:12] in text.stdout and "suggested:" in text.stdout

    before = (checkout / TAXONOMY).read_text(encoding="utf-8")
    done = ops("triage", "promote", unknown[:10], "CI.TESTS_FAILED", "--pattern", "weird thing happened",
               "--yes", "--root", str(checkout), "--json", url=triager)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["old_code"], out["new_code"], out["count"]) == ("UNKNOWN.GITHUB_ACTIONS", "CI.TESTS_FAILED", 2)
    assert '+        - "weird thing happened"' in out["diff"] and out["diff"].startswith(f"--- a/{TAXONOMY}")
    after = (checkout / TAXONOMY).read_text(encoding="utf-8")
    assert _only_added(before, after) == ['        - "weird thing happened"\n']

    # a late event of the old fingerprint lands in the new group
    late, late_code = record(db_url, "zzq weird thing happened in job 99")
    assert (late, late_code) == (out["new_fingerprint"], "CI.TESTS_FAILED")
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count FROM ops.agent_errors WHERE fingerprint = %s", (late,)).fetchone()[0] == 3
        assert conn.execute("SELECT reason FROM ops.error_aliases WHERE fingerprint = %s", (unknown,)).fetchone()[0] == "promote"


def test_a_pattern_that_steals_is_refused_naming_the_code(db_url, triager, checkout):
    stolen, stolen_code = record(db_url, "npm ERR! code ERESOLVE")
    unknown, _ = record(db_url, UNKNOWN_TEXT)
    before = (checkout / TAXONOMY).read_text(encoding="utf-8")
    result = ops("triage", "promote", unknown, "CI.TESTS_FAILED", "--pattern", "npm ERR! code ERESOLVE", "--yes",
                 "--root", str(checkout), "--json", url=triager)
    assert result.returncode == 1
    assert f"classified today as {stolen_code}" in result.stderr and stolen[:12] in result.stderr
    assert json.loads(result.stdout)["error"] == "failed"
    assert (checkout / TAXONOMY).read_text(encoding="utf-8") == before, "the file is untouched"
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT code FROM ops.agent_errors WHERE fingerprint = %s", (unknown,)).fetchone()[0] \
            == "UNKNOWN.GITHUB_ACTIONS", "nothing was promoted"

    # the labelled corpus counts too: a github_actions line of it is UNIT.BROKEN_IMPORT's
    result = ops("triage", "promote", unknown, "CI.TESTS_FAILED", "--pattern", "broken import strat", "--yes",
                 "--root", str(checkout), url=triager)
    assert result.returncode == 1 and "UNIT.BROKEN_IMPORT" in result.stderr and "message " in result.stderr
    # a stratt-only line is no steal: CI.TESTS_FAILED does not list stratt, so precedence keeps its code
    with psycopg.connect(triager) as conn:
        assert not [r for r in triage.pattern_conflicts(conn.cursor(row_factory=psycopg.rows.dict_row),
                                                        "CI.TESTS_FAILED", "substring", "recomputed blake3", checkout)
                    .steals]


def test_promote_refusals(db_url, analyst, triager, monkeypatch, capsys):
    unknown, _ = record(db_url, UNKNOWN_TEXT)
    classified, _ = record(db_url, "npm ERR! code ERESOLVE")
    cases = [
        (("promote", unknown, "UNKNOWN.VERCEL", "--yes"), triager, 3, "an UNKNOWN code is the fallback"),
        (("promote", unknown, "NOPE.CODE", "--yes"), triager, 3, 'unknown code "NOPE.CODE"'),
        (("promote", classified, "CI.TESTS_FAILED", "--yes"), triager, 1, "pass force"),
        (("promote", unknown, "CI.TESTS_FAILED"), triager, 2, "pass --yes"),
        (("promote", "zz", "CI.TESTS_FAILED", "--yes"), triager, 2, "6 to 64 hexadecimal"),
        (("promote", unknown, "CI.TESTS_FAILED", "--yes"), analyst, 1, "needs a login in ops_triage"),
    ]
    for args, url, exit_code, words in cases:
        code, _, err = ops_here(monkeypatch, capsys, "triage", *args, url=url)
        assert (code, words in err) == (exit_code, True), (args, err)
    code, out, _ = ops_here(monkeypatch, capsys, "triage", "promote", unknown, "CI.TESTS_FAILED", "--yes", "--json",
                            url=analyst)
    assert code == 1 and json.loads(out)["exit_code"] == 1, "--json carries the error object"
    forced = ops("triage", "promote", classified, "CI.TESTS_FAILED", "--yes", "--force", url=triager)
    assert forced.returncode == 0 and "to CI.TESTS_FAILED" in forced.stdout


# -- ops gate check ----------------------------------------------------------------------------------

def test_workflow_escape_keeps_text_on_one_command_line():
    assert workflow_escape("100% done\r\n::warning::x") == "100%25 done%0D%0A::warning::x"
    assert workflow_escape("a:b,c", prop=True) == "a%3Ab%2Cc"
    [line] = annotations([{"code": "X.Y", "target": "acme/api@main", "message": "bad\n::error::forged",
                           "since": None, "runbook": "docs/r.md", "file": None}])
    assert line.startswith("::error title=X.Y blocks acme/api@main::") and "\n" not in line


def test_gate_blocks_until_the_error_is_resolved(db_url, analyst, tmp_path, monkeypatch, capsys):
    assert ops_here(monkeypatch, capsys, "gate", "check", url=analyst)[0] == 0, "a fresh database is clear"
    message = "fingerprint mismatch for strat://billing/task/x@1.0.0, 100%\n::warning::forged"
    fingerprint, code = record(db_url, message, context={"repository": "acme/api", "branch": "main"})
    assert code == "UNIT.FINGERPRINT_TAMPER"  # remediate.kind: guardrail, escalates at 1

    summary = tmp_path / "summary.md"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    blocked = ops("gate", "check", "--target", "acme/api@main", url=analyst, env=env)
    assert blocked.returncode == 1
    commands = [line for line in blocked.stdout.splitlines() if line.startswith("::")]
    assert len(commands) == 1 and commands[0].startswith("::error title=UNIT.FINGERPRINT_TAMPER blocks acme/api@main::")
    assert "100%25" in commands[0] and "%0A::warning::forged" in commands[0], "the producer's text cannot start a command"
    assert "docs/runbooks/failures/UNIT.FINGERPRINT_TAMPER.md" in blocked.stdout and "since" in blocked.stdout
    table = summary.read_text().splitlines()
    assert table[0] == "### ops gate: blocked for `acme/api@main`" and table[4].startswith("| `UNIT.FINGERPRINT_TAMPER` |")
    assert table[4].count(" | ") == 4, "producer text cannot add table cells"

    code, out, _ = ops_here(monkeypatch, capsys, "gate", "check", "--json", url=analyst)
    out = json.loads(out)
    assert code == 1 and out["blocked"] and out["findings"][0]["target"] == "acme/api@main"
    assert ops_here(monkeypatch, capsys, "gate", "check", "--target", "acme/web@main", url=analyst)[0] == 0, \
        "other targets are clear"
    code, out, _ = ops_here(monkeypatch, capsys, "gate", "check", url=analyst)
    assert code == 1 and not any(line.startswith("::") for line in out.splitlines()), \
        "no workflow commands outside GitHub Actions"

    with psycopg.connect(db_url) as conn:
        conn.execute("SELECT ops.set_error_status(%s, 'resolved')", (fingerprint,))
    code, out, _ = ops_here(monkeypatch, capsys, "gate", "check", "--target", "acme/api@main", url=analyst, env=env)
    assert code == 0 and "gate: clear" in out
    assert summary.read_text().count("### ops gate") == 2, "each run appends its summary"


def test_a_non_blocking_guardrail_is_listed_but_never_blocks(db_url, analyst, tmp_path, monkeypatch, capsys):
    """CI.AUTOMATION.PROJECT_BOARD_FAILED is a guardrail with ci_behavior: non_blocking: its finding opens and is
    listed (as not blocking, a ::warning under GitHub Actions), but the gate stays clear; a blocking finding on the
    same target still blocks, with the non-blocking one listed after it."""
    target = ["--target", "acme/api@main"]
    with psycopg.connect(db_url) as conn:
        for _ in range(5):  # escalate: after_count 5 within 24h
            (code,) = conn.execute(
                "SELECT code FROM ops.record_error(source => 'github_actions', phase => 'project-automation', "
                "message => 'Could not resolve to a ProjectV2 with the number 84.', "
                "context => '{\"repository\": \"acme/api\", \"branch\": \"main\"}')").fetchone()
        assert code == "CI.AUTOMATION.PROJECT_BOARD_FAILED"
        assert conn.execute("SELECT count(*) FROM ops.gate_findings WHERE code = %s AND NOT blocking",
                            (code,)).fetchone()[0] == 1, "the finding is open and listed"

    code, out, _ = ops_here(monkeypatch, capsys, "gate", "check", *target, url=analyst)
    assert code == 0 and out.startswith("gate: clear"), out
    assert "not blocking — 1 open finding(s)" in out and "CI.AUTOMATION.PROJECT_BOARD_FAILED (low) open on acme/api@main" in out
    code, out, _ = ops_here(monkeypatch, capsys, "gate", "check", "--json", url=analyst)
    out = json.loads(out)
    assert code == 0 and not out["blocked"] and out["findings"] == []
    assert [f["code"] for f in out["non_blocking"]] == ["CI.AUTOMATION.PROJECT_BOARD_FAILED"]

    record(db_url, "fingerprint mismatch for strat://billing/task/x@1.0.0",
           context={"repository": "acme/api", "branch": "main"})  # UNIT.FINGERPRINT_TAMPER: blocks at once
    summary = tmp_path / "summary.md"
    blocked = ops("gate", "check", *target, url=analyst,
                  env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)})
    assert blocked.returncode == 1 and "gate: blocked — 1 open blocking finding(s)" in blocked.stdout
    commands = [line.split("::")[1].split(" ")[0] for line in blocked.stdout.splitlines() if line.startswith("::")]
    assert commands == ["error", "warning"]
    assert "::warning title=CI.AUTOMATION.PROJECT_BOARD_FAILED (non-blocking) on acme/api@main::" in blocked.stdout
    text = summary.read_text()
    assert "| `UNIT.FINGERPRINT_TAMPER` |" in text and "Not blocking (1, `ci_behavior: non_blocking`" in text


def test_gate_help_and_usage():
    result = subprocess.run([*OPS, "gate", "check", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "Exit 0" in result.stdout
    result = subprocess.run([*OPS, "gate", "--json"], capture_output=True, text=True)
    assert result.returncode == 2 and json.loads(result.stdout)["error"] == "usage"
