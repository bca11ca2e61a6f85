"""FixBot: policy checks, a real `command` runner driven by a real worker, GitHub destinations
against a local API server, `ops fixbot verify`."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import psycopg
import pytest

from tests.dispatch_kit import FAST, WorkerProcess, states, wait_until
from tests.receiver import Receiver
from worker import fixbot

POLICY = fixbot.Policy.load()


def diff_touching(*paths: str, lines: int = 1) -> str:
    out = []
    for p in paths:
        out += [f"diff --git a/{p} b/{p}", f"--- a/{p}", f"+++ b/{p}", "@@ -1 +1 @@", "-old"] + ["+new"] * lines
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("path, forbidden", [
    (".env.production", True), ("apps/web/.env.local", True), ("ssot/secrets/x.yaml", True),
    ("supabase/config.toml", True), (".github/workflows/ci.yml", True), ("src/app.py", False),
    ("docs/env.md", False), ("ssot/errors/failure_modes.yaml", False),
])
def test_forbidden_globs(path, forbidden):
    verdict = fixbot.verify(diff_touching(path), POLICY, head="fixbot/1-x")
    assert ("AGENT.FORBIDDEN_PATH" in [r["code"] for r in verdict["reasons"]]) is forbidden


def test_limits_sensitive_paths_and_branches():
    big = fixbot.verify(diff_touching("src/a.py", lines=600), POLICY, head="fixbot/1")
    assert [r["code"] for r in big["reasons"]] == ["AGENT.PATCH_DIFF_TOO_LARGE"]
    assert "changed_lines 601 exceeds limit 500" in big["reasons"][0]["message"]
    many = fixbot.verify(diff_touching(*[f"src/f{i}.py" for i in range(11)]), POLICY, head="fixbot/1")
    assert "files_changed 11 exceeds limit 10" in many["reasons"][0]["message"]
    flagged = fixbot.verify(diff_touching("ssot/errors/failure_modes.yaml"), POLICY, head="fixbot/1")
    assert flagged["approved"] and flagged["flags"] == ["sensitive path ssot/errors/failure_modes.yaml"]
    for head in ("main", None):
        v = fixbot.verify(diff_touching("src/a.py"), POLICY, head=head)
        assert [r["code"] for r in v["reasons"]] == ["AGENT.DEFAULT_BRANCH_WRITE"]


def test_diff_parsing_renames_and_deletions():
    text = textwrap.dedent("""\
        diff --git a/old.py b/new.py
        similarity index 90%
        rename from old.py
        rename to new.py
        diff --git a/gone.txt b/gone.txt
        deleted file mode 100644
        --- a/gone.txt
        +++ /dev/null
        @@ -1,2 +0,0 @@
        -a
        -b
        """)
    d = fixbot.parse_diff(text)
    assert d.files == ["old.py", "new.py", "gone.txt"] and d.changed_lines == 2


RUNNER = textwrap.dedent("""\
    import json, os, sys
    run = json.load(sys.stdin)
    with open(os.environ["RUNNER_LOG"], "a") as f:
        f.write(json.dumps(run) + "\\n")
    path = os.environ["RUNNER_TOUCHES"]
    branch = os.environ.get("RUNNER_BRANCH") or run["branch"]
    diff = f"diff --git a/{path} b/{path}\\n--- a/{path}\\n+++ b/{path}\\n@@ -1 +1 @@\\n-x\\n+y\\n"
    print(json.dumps({"branch": branch, "diff": diff, "pr_url": "http://127.0.0.1/pr/1"}))
    """)


def setup_command_runner(db_url, tmp_path, touches: str, branch: str = "") -> dict:
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("""UPDATE ops.destinations SET config = '{"runner": "command", "command_env": "OPS_FIXBOT_COMMAND"}'
                        WHERE name = 'fixbot'""")
        # CI.LINT_FAILED is a fixbot code that escalates on its first occurrence: one escalation, one queued run.
        conn.execute("SELECT ops.record_error(source => 'github_actions', phase => 'lint', message => 'Found 3 errors.')")
    return {"OPS_FIXBOT_COMMAND": f"{sys.executable} {script}", "RUNNER_LOG": str(tmp_path / "runs.jsonl"),
            "RUNNER_TOUCHES": touches, "RUNNER_BRANCH": branch}


def run_row(db_url):
    with psycopg.connect(db_url) as conn:
        return conn.execute("SELECT id, status, verdict, branch, pr_url FROM ops.agent_runs").fetchall()


@pytest.mark.parametrize("touches, branch, status, code", [
    (".env.production", "", "rejected", "AGENT.FORBIDDEN_PATH"),
    ("src/app.py", "main", "rejected", "AGENT.DEFAULT_BRANCH_WRITE"),
    ("src/app.py", "", "succeeded", None),
])
def test_command_runner_is_held_to_the_policy(db_url, tmp_path, touches, branch, status, code):
    env = setup_command_runner(db_url, tmp_path, touches, branch)
    with WorkerProcess(db_url, tmp_path / "w.log", *FAST, env=env) as w:
        wait_until(lambda: run_row(db_url) and run_row(db_url)[0][1] not in ("queued", "running"), 30, 0.1, "run verdict")
        wait_until(lambda: states(db_url).get("delivered") == 1, 10, 0.1, "escalation delivered")
        w.stop()
    ((run_id, got, verdict, run_branch, pr_url),) = run_row(db_url)
    runs = (tmp_path / "runs.jsonl").read_text().splitlines()
    assert len(runs) == 1, "the runner ran once, and nothing else was dispatched for it"
    doc = json.loads(runs[0])
    assert doc["run_id"] == run_id and doc["pr_only"] is True and doc["base"] == "main"
    assert doc["branch"].startswith("fixbot/") and doc["policy_sha256"] == POLICY.sha256
    assert got == status and verdict["policy_sha256"] == POLICY.sha256
    with psycopg.connect(db_url) as conn:
        recorded = [r[0] for r in conn.execute("SELECT code FROM ops.error_events WHERE source = 'agent_runner'")]
    if code:
        assert [r["code"] for r in verdict["reasons"]] == [code] and recorded == [code] and pr_url is None
    else:
        assert verdict["approved"] and recorded == [] and pr_url == "http://127.0.0.1/pr/1"
        assert run_branch == doc["branch"] != "main"


def test_github_issue_opens_then_comments_and_dispatch(db_url, tmp_path):
    with Receiver() as api, psycopg.connect(db_url, autocommit=True) as conn:
        env = {"OPS_GITHUB_API_URL": api.url(""), "OPS_GITHUB_REPO": "acme/app", "GITHUB_TOKEN": "test-token",
               "OPS_FIXBOT_REPO": "acme/app"}
        # UNIT.CAPABILITY_MISSING goes to github_issues on its first occurrence; a regression escalates again.
        conn.execute("SELECT ops.record_error(source => 'stratt', phase => 'ci', message => 'FM-09 ✗ agent BECK-07 lacks capability deploy')")
        with WorkerProcess(db_url, tmp_path / "w.log", *FAST, env=env) as w:
            wait_until(lambda: states(db_url).get("delivered") == 1, 20, 0.1, "issue opened")
            conn.execute("SELECT ops.set_error_status(fingerprint, 'resolved') FROM ops.agent_errors WHERE code = 'UNIT.CAPABILITY_MISSING'")
            conn.execute("SELECT ops.record_error(source => 'stratt', phase => 'ci', message => 'FM-09 ✗ agent BECK-07 lacks capability deploy')")
            wait_until(lambda: states(db_url).get("delivered") == 2, 20, 0.1, "comment")
            # A fixbot code with the default github_dispatch runner: a repository_dispatch event.
            conn.execute("SELECT ops.record_error(source => 'github_actions', phase => 'test', message => 'FAILED tests/test_x.py::test_y - AssertionError')")
            wait_until(lambda: states(db_url).get("delivered") == 3, 20, 0.1, "dispatch")
            w.stop()
        posts = [(h["method"], h["path"]) for h in api.requests if h["method"] == "POST"]
        assert posts == [("POST", "/repos/acme/app/issues"), ("POST", "/repos/acme/app/issues/7/comments"),
                         ("POST", "/repos/acme/app/dispatches")]
        dispatch = json.loads(api.hits("/repos/acme/app/dispatches")[0]["body"])
        assert dispatch["event_type"] == "fixbot" and dispatch["client_payload"]["pr_only"] is True
        assert dispatch["client_payload"]["code"] == "CI.TESTS_FAILED"
        issue = json.loads(api.hits("/repos/acme/app/issues")[-1]["body"])
        assert "docs/runbooks/failures/UNIT.CAPABILITY_MISSING.md" in issue["body"]
        assert conn.execute("SELECT status FROM ops.agent_runs").fetchone()[0] == "running"


def test_fixbot_verify_cli_records_the_verdict(db_url, tmp_path):
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT ops.record_error(source => 'github_actions', phase => 'lint', message => 'Found 3 errors.')")
        run_id = conn.execute("SELECT id FROM ops.agent_runs").fetchone()[0]
    patch = tmp_path / "p.diff"
    patch.write_text(diff_touching("supabase/config.toml"))
    result = subprocess.run([sys.executable, "-m", "worker.cli", "fixbot", "verify", "--run", str(run_id), "--diff", str(patch),
                             "--head", "fixbot/9-x", "--json"], env={"DATABASE_URL": db_url, "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True)
    assert result.returncode == 1, result.stderr
    assert json.loads(result.stdout)["reasons"][0]["code"] == "AGENT.FORBIDDEN_PATH"
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT status FROM ops.agent_runs WHERE id = %s", (run_id,)).fetchone()[0] == "rejected"
