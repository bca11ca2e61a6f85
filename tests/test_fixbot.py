"""FixBot: policy checks, a real `command` runner driven by a real worker, GitHub destinations
against a local API server, `ops fixbot verify`."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import psycopg
import pytest

from tests.dispatch_kit import FAST, WorkerProcess, role_login, states, wait_until
from tests.receiver import Receiver
from worker import fixbot

POLICY = fixbot.Policy.load()


def diff_touching(*paths: str, lines: int = 1) -> str:
    out = []
    for p in paths:
        out += [f"diff --git a/{p} b/{p}", f"--- a/{p}", f"+++ b/{p}", f"@@ -1 +1,{lines} @@", "-old"] + ["+new"] * lines
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
    assert sorted(d.files) == ["gone.txt", "new.py", "old.py"] and d.changed_lines == 2


def test_diff_content_that_looks_like_headers_is_counted():
    # A removed SQL comment "-- note" and an added "++counter" are content lines inside the hunk.
    text = textwrap.dedent("""\
        diff --git a/src/a.sql b/src/a.sql
        --- a/src/a.sql
        +++ b/src/a.sql
        @@ -1,3 +1,3 @@
         keep
        --- note
        -+++ old
        +++counter
        +--- new
        """)
    d = fixbot.parse_diff(text)
    assert d.files == ["src/a.sql"] and (d.removed, d.added) == (2, 2)
    # A hunk header that understates the change: git applies what the header says and ignores the rest,
    # so that is what is counted.
    lying = "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n" + "+b\n" * 50
    assert fixbot.parse_diff(lying).changed_lines == 1 + 1
    # One that overstates it cannot swallow the next file: git calls it corrupt, and it is rejected.
    for header in ("diff --git a/.github/workflows/deploy.yml b/.github/workflows/deploy.yml\n", ""):
        hiding = ("--- a/ok.txt\n+++ b/ok.txt\n@@ -1,100 +1,100 @@\n-a\n+b\n" + header +
                  "--- a/.github/workflows/deploy.yml\n+++ b/.github/workflows/deploy.yml\n@@ -1 +1 @@\n-x\n+y\n")
        verdict = fixbot.verify(hiding, POLICY, head="fixbot/1")
        assert not verdict["approved"], header
        assert [r["code"] for r in verdict["reasons"]] == ["AGENT.PATCH_UNPARSEABLE"], verdict
        assert "corrupt patch" in verdict["reasons"][0]["message"]


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
    # The worker runs as a login that is only a member of ops_worker: FixBot needs no more than that.
    with role_login(db_url, "ops_worker") as worker_url, WorkerProcess(worker_url, tmp_path / "w.log", *FAST, env=env) as w:
        wait_until(lambda: run_row(db_url) and run_row(db_url)[0][1] not in ("queued", "running"), 30, 0.1, "run verdict")
        wait_until(lambda: states(db_url).get("delivered") == 1, 10, 0.1, "escalation delivered")
        w.stop()
    ((run_id, got, verdict, run_branch, pr_url),) = run_row(db_url)
    runs = (tmp_path / "runs.jsonl").read_text().splitlines()
    assert len(runs) == 1, "the runner ran once, and nothing else was dispatched for it"
    doc = json.loads(runs[0])
    assert doc["run_id"] == run_id and doc["policy"]["pr_only"] is True and doc["base"] == "main"
    assert doc["branch"].startswith("fixbot/") and doc["policy"]["sha256"] == POLICY.sha256
    assert doc["policy"]["required_checks"] == POLICY.data["required_checks"]
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
        # As a login that is only a member of ops_worker: links, comments and dispatches need no more.
        with role_login(db_url, "ops_worker") as worker_url, \
                WorkerProcess(worker_url, tmp_path / "w.log", *FAST, env=env) as w:
            wait_until(lambda: states(db_url).get("delivered") == 1, 20, 0.1, "issue opened")
            conn.execute("SELECT ops.set_error_status(fingerprint, 'resolved') FROM ops.agent_errors WHERE code = 'UNIT.CAPABILITY_MISSING'")
            conn.execute("SELECT ops.record_error(source => 'stratt', phase => 'ci', message => 'FM-09 ✗ agent BECK-07 lacks capability deploy')")
            wait_until(lambda: states(db_url).get("delivered") == 2, 20, 0.1, "comment")
            # The worker crashed after commenting, before recording it: the retry finds its own comment.
            conn.execute("UPDATE ops.escalations SET state = 'pending', next_attempt_at = now() "
                         "WHERE id = (SELECT max(id) FROM ops.escalations)")
            wait_until(lambda: states(db_url).get("delivered") == 2, 20, 0.1, "the retried comment")
            # It crashed after opening the issue, before linking it: the retry finds the issue it opened.
            conn.execute("DELETE FROM ops.github_issue_links")
            conn.execute("UPDATE ops.escalations SET state = 'pending', next_attempt_at = now() "
                         "WHERE id = (SELECT min(id) FROM ops.escalations)")
            wait_until(lambda: states(db_url).get("delivered") == 2, 20, 0.1, "the retried opening")
            assert conn.execute("SELECT issue_number FROM ops.github_issue_links").fetchone() == (7,)
            # A fixbot code with the default github_dispatch runner: a repository_dispatch event.
            conn.execute("SELECT ops.record_error(source => 'github_actions', phase => 'test', message => 'FAILED tests/test_x.py::test_y - AssertionError')")
            wait_until(lambda: states(db_url).get("delivered") == 3, 20, 0.1, "dispatch")
            w.stop()
        posts = [(h["method"], h["path"]) for h in api.requests if h["method"] == "POST"]
        assert posts == [("POST", "/repos/acme/app/issues"), ("POST", "/repos/acme/app/issues/7/comments"),
                         ("POST", "/repos/acme/app/dispatches")]
        dispatch = json.loads(api.hits("/repos/acme/app/dispatches")[0]["body"])
        assert dispatch["event_type"] == "fixbot" and dispatch["client_payload"]["policy"]["pr_only"] is True
        assert len(dispatch["client_payload"]) <= 10, "GitHub refuses a client_payload with more than 10 members"
        assert dispatch["client_payload"]["code"] == "CI.TESTS_FAILED"
        assert conn.execute("SELECT result ->> 'action' FROM ops.escalations ORDER BY id").fetchall()[:2] == [
            ("opened",), ("already commented",)]
        issue = json.loads([h for h in api.hits("/repos/acme/app/issues") if h["method"] == "POST"][-1]["body"])
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


def test_verify_needs_the_head_and_flags_a_branch_other_than_the_runs(db_url, tmp_path):
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT ops.record_error(source => 'github_actions', phase => 'lint', message => 'Found 3 errors.')")
        run_id = conn.execute("SELECT id FROM ops.agent_runs").fetchone()[0]
        # what dispatching the run records
        conn.execute("SELECT ops.update_agent_run(%s, 'running', branch => 'fixbot/1-ci-lint-failed')", (run_id,))
    patch = tmp_path / "p.diff"
    patch.write_text(diff_touching("src/app.py"))
    env = {"DATABASE_URL": db_url, "PATH": "/usr/bin:/bin"}

    def verify(*extra):
        return subprocess.run([sys.executable, "-m", "worker.cli", "fixbot", "verify", "--diff", str(patch), "--json",
                               *extra], env=env, capture_output=True, text=True)

    # Only the branch the change is really on proves PR-only; the run's planned branch does not.
    no_head = verify("--run", str(run_id))
    assert no_head.returncode == 2 and "--head is needed" in no_head.stderr
    elsewhere = verify("--run", str(run_id), "--head", "fixbot/other")
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert json.loads(elsewhere.stdout)["flags"] == [
        "head fixbot/other is not the branch the run was dispatched with (fixbot/1-ci-lint-failed)"]
    with psycopg.connect(db_url) as conn:
        status, verdict = conn.execute("SELECT status, verdict FROM ops.agent_runs WHERE id = %s", (run_id,)).fetchone()
    assert status == "succeeded" and verdict["head"] == "fixbot/other"


def test_a_dead_dispatch_takes_its_run_along_and_requeue_brings_both_back(db_url):
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT ops.record_error(source => 'github_actions', phase => 'lint', message => 'Found 3 errors.')")
        (esc_id, token), = conn.execute("SELECT id, claims FROM ops.claim_escalations('w', 10)").fetchall()
        conn.execute("SELECT ops.update_agent_run(r.id, 'running') FROM ops.agent_runs r")
        assert conn.execute("SELECT ops.fail_escalation(%s, %s, '422 Unprocessable Entity', permanent => true)",
                            (esc_id, token)).fetchone()[0] == "dead"
        status, error = conn.execute("SELECT status, last_error FROM ops.agent_runs").fetchone()
        assert status == "dead" and "422" in error, "the fingerprint is not held by a run nobody will finish"
        # Requeued by hand, the escalation brings its run back (no other run is active for the fingerprint).
        conn.execute("SELECT ops.requeue_escalation(%s)", (esc_id,))
        assert conn.execute("SELECT status FROM ops.agent_runs").fetchone()[0] == "queued"


def test_runs_nobody_reports_on_expire(db_url):
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT ops.record_error(source => 'github_actions', phase => 'lint', message => 'Found 3 errors.')")
        conn.execute("UPDATE ops.agent_runs SET status = 'running', updated_at = now() - interval '7 hours'")
        assert conn.execute("SELECT ops.expire_agent_runs(interval '6 hours')").fetchone()[0] == 1
        assert conn.execute("SELECT ops.expire_agent_runs(interval '6 hours')").fetchone()[0] == 0
        status, error = conn.execute("SELECT status, last_error FROM ops.agent_runs").fetchone()
        assert status == "failed" and "no result reported within 06:00:00" in error
        code, = conn.execute("SELECT code FROM ops.error_events WHERE source = 'agent_runner'").fetchone()
        assert code == "AGENT.RUN_TIMEOUT"
        # The fingerprint is free again: one active run per fingerprint no longer blocks a new one.
        conn.execute("INSERT INTO ops.agent_runs (fingerprint, code, policy_ref) SELECT fingerprint, code, policy_ref "
                     "FROM ops.agent_runs")


def test_a_finished_run_is_final_and_requeue_respects_an_active_run(db_url):
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SELECT ops.record_error(source => 'github_actions', phase => 'lint', message => 'Found 3 errors.')")
        (esc_id, token), = conn.execute("SELECT id, claims FROM ops.claim_escalations('w', 10)").fetchall()
        run_id, fingerprint = conn.execute("SELECT id, fingerprint FROM ops.agent_runs").fetchone()
        conn.execute("SELECT ops.fail_escalation(%s, %s, 'gone', permanent => true)", (esc_id, token))
        # A late report on the dead run is refused, not written over it.
        with pytest.raises(psycopg.Error) as refused:
            conn.execute("SELECT ops.update_agent_run(%s, 'succeeded')", (run_id,))
        assert refused.value.sqlstate == "OP005" and "already dead" in str(refused.value)
        # Meanwhile a new occurrence queued another run for the same fingerprint: requeue keeps the old one dead.
        conn.execute("INSERT INTO ops.agent_runs (fingerprint, code, policy_ref) VALUES (%s, 'CI.LINT_FAILED', 'p')",
                      (fingerprint,))
        assert conn.execute("SELECT (ops.requeue_escalation(%s)).state", (esc_id,)).fetchone()[0] == "pending"
        assert conn.execute("SELECT status FROM ops.agent_runs WHERE id = %s", (run_id,)).fetchone()[0] == "dead"


@pytest.mark.parametrize("runner", ["command", "github_dispatch"])
def test_a_run_stays_queued_while_its_destination_is_unconfigured(db_url, tmp_path, runner):
    # The issue's example: with its environment variable missing, the run went `running` and its
    # attempts rose on every poll (17 in six minutes) until the reaper would fail it as a timeout.
    env = setup_command_runner(db_url, tmp_path, "src/app.py")
    configured = {"OPS_FIXBOT_COMMAND": env.pop("OPS_FIXBOT_COMMAND")}
    if runner == "github_dispatch":
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("""UPDATE ops.destinations SET config = '{"runner": "github_dispatch", "repo_env": "OPS_FIXBOT_REPO",
                            "token_env": "OPS_FIXBOT_TEST_TOKEN"}' WHERE name = 'fixbot'""")
    unset = {"OPS_FIXBOT_COMMAND": "", "OPS_FIXBOT_REPO": "", "OPS_FIXBOT_TEST_TOKEN": ""}

    def waits() -> int:
        with psycopg.connect(db_url) as conn:
            return conn.execute("SELECT coalesce(sum(count), 0) FROM ops.agent_errors WHERE code = 'ENV.KEY_MISSING'").fetchone()[0]

    with WorkerProcess(db_url, tmp_path / "w.log", *FAST, env={**env, **unset}) as w:
        wait_until(lambda: waits() >= 5, 30, 0.1, "five polls that find the destination unconfigured")
        w.stop()
    with psycopg.connect(db_url) as conn:
        status, attempts, error = conn.execute("SELECT status, attempts, last_error FROM ops.agent_runs").fetchone()
        esc_state, esc_attempts = conn.execute("SELECT state, attempts FROM ops.escalations").fetchone()
    assert (status, attempts) == ("queued", 0), "never marked running, no attempt spent, while nothing was dispatched"
    assert (esc_state, esc_attempts) == ("pending", 0)
    assert not (tmp_path / "runs.jsonl").exists(), "the runner never ran"
    if runner == "github_dispatch":
        return
    # Configured, the same run is dispatched once and finishes.
    with WorkerProcess(db_url, tmp_path / "w2.log", *FAST, env={**env, **configured}) as w:
        wait_until(lambda: run_row(db_url)[0][1] == "succeeded", 30, 0.1, "the run dispatched")
        w.stop()
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT attempts FROM ops.agent_runs").fetchone()[0] == 1


def test_a_failed_dispatch_puts_the_run_back_in_the_queue(db_url, tmp_path):
    with Receiver() as api, psycopg.connect(db_url, autocommit=True) as conn:
        api.scripts["/repos/acme/app/dispatches"] = [(503, {})] * 50
        conn.execute("SELECT ops.record_error(source => 'github_actions', phase => 'lint', message => 'Found 3 errors.')")
        env = {"OPS_GITHUB_API_URL": api.url(""), "OPS_FIXBOT_REPO": "acme/app", "GITHUB_TOKEN": "test-token"}
        with WorkerProcess(db_url, tmp_path / "w.log", *FAST, env=env) as w:
            wait_until(lambda: len(api.hits("/repos/acme/app/dispatches")) >= 2, 30, 0.1, "two dispatch attempts")
            w.stop()
        status, error = conn.execute("SELECT status, last_error FROM ops.agent_runs").fetchone()
    assert status == "queued" and "dispatch failed" in error, "a dispatch GitHub refused did not start the run"
