"""Outcomes in, scores and scorecards out (issue 10): the github-webhook function served over real
HTTP with signatures computed here (Python's hmac, independently of the function's Web Crypto),
`ops fixbot report` as a least-privilege login, the FixBot destination storing patch and transcript,
the benchmark's SSOT checks, and the scorecard on a seeded synthetic history with known answers."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import random
import shutil
import subprocess
import sys
import textwrap
import uuid
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from scipy.stats import binomtest

from tests.dispatch_kit import FAST, WorkerProcess, role_login, wait_until
from tests.test_edge_functions import assert_problem, request, serve
from worker import ROOT, ssot

SECRET = "whsec_python_side"
BRANCH = "fixbot/7-ci-tests-failed"


def ops(*args: str, url: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "worker.cli", *args], env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
                          input=stdin, capture_output=True, text=True, timeout=120)


@contextlib.contextmanager
def login(admin_url: str, *groups: str):
    """A fresh login in ``groups`` (with their timeouts, through ops.configure_login); dropped afterwards."""
    role, password = f"outcomes_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}' IN ROLE {', '.join(groups)}")
        admin.execute("SELECT * FROM ops.configure_login(%s::regrole)", (role,))
    try:
        parts = urlsplit(admin_url)
        yield urlunsplit(parts._replace(netloc=f"{role}:{password}@{parts.hostname}:{parts.port}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP OWNED BY {role}")
            admin.execute(f"DROP ROLE {role}")


def new_run(conn, **columns) -> int:
    values = {"fingerprint": f"fp-{uuid.uuid4().hex}", "code": "CI.TESTS_FAILED",
              "policy_ref": "ssot/agents/fixbot_policy.yaml", "status": "succeeded", **columns}
    names = ", ".join(values)
    marks = ", ".join(f"%({k})s" for k in values)
    return conn.execute(f"INSERT INTO ops.agent_runs ({names}) VALUES ({marks}) RETURNING id", values).fetchone()[0]


# -- the webhook over HTTP ---------------------------------------------------------------------------

def github_delivery(port: int, event: str, delivery: str, payload: dict, secret: str = SECRET):
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return request(port, body, path="/github-webhook", token=None,
                   headers={"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": signature})


def test_webhook_over_http_matches_dedupes_and_refuses_forgeries(db_url):
    with psycopg.connect(db_url, autocommit=True) as conn:
        run_id = new_run(conn, branch=BRANCH, patch="diff --git a/x b/x",
                         verdict=json.dumps({"approved": True, "changed_lines": 2}))
    suite = {"action": "completed", "repository": {"full_name": "acme/app"},
             "check_suite": {"head_branch": BRANCH, "head_sha": "ec26c3e5", "status": "completed",
                             "conclusion": "success", "updated_at": "2026-11-30T01:21:14Z", "pull_requests": []}}
    # The function's login is least-privilege: outcomes, plus ingest for recording its own failures.
    with login(db_url, "ops_outcomes", "ops_ingest") as fn_url, \
            serve("github-webhook", SUPABASE_DB_URL=fn_url, GITHUB_WEBHOOK_SECRET=SECRET) as port:
        status, _, body = github_delivery(port, "check_suite", "py-1", suite)
        assert status == 200, body
        stored = json.loads(body)
        assert stored["run_id"] == run_id and stored["duplicate"] is False
        status, _, body = github_delivery(port, "check_suite", "py-1", suite)  # GitHub's "Redeliver"
        assert status == 200 and json.loads(body) == {**stored, "duplicate": True}
        status, headers, body = github_delivery(port, "check_suite", "py-2", suite, secret="someone-else")
        doc = assert_problem(status, headers, body)
        assert status == 401 and doc["ipai"]["code"] == "AUTH.WEBHOOK_SIGNATURE_INVALID"
        assert SECRET not in body.decode() and "someone-else" not in body.decode()
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM ops.agent_run_outcomes WHERE run_id = %s", (run_id,)).fetchone()[0] == 1
        assert conn.execute("SELECT resolved FROM ops.agent_benchmark_results WHERE run_id = %s",
                            (run_id,)).fetchone()[0] is True
        # The forgery was recorded through the pipeline (by the ops_ingest half of the login).
        assert conn.execute("SELECT count(*) FROM ops.error_events WHERE code = 'AUTH.WEBHOOK_SIGNATURE_INVALID' "
                            "AND origin = 'supabase_fn:github-webhook'").fetchone()[0] == 1


# -- ops fixbot report -------------------------------------------------------------------------------

FAKE_TOKEN = "ghp_" + "a1B2" * 9  # a GitHub token shape the redaction rules know, built at run time

TRANSCRIPT = [
    {"role": "system", "content": "You fix CI failures. Never touch .github/workflows."},
    {"role": "user", "content": "CI.TESTS_FAILED on main: tests/test_api.py::test_login"},
    {"role": "assistant", "content": None,
     "tool_calls": [{"type": "function", "function": {"name": "run_tests",
                                                      "arguments": json.dumps({"token": FAKE_TOKEN})}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "1 failed"},
]


def test_report_records_outcomes_transcript_and_rescores(db_url, tmp_path):
    with psycopg.connect(db_url, autocommit=True) as conn:
        run_id = new_run(conn, branch=BRANCH, pr_url="https://github.com/acme/app/pull/7", patch="diff --git a/x b/x",
                         verdict=json.dumps({"approved": True, "changed_lines": 12}))
    transcript = tmp_path / "t.json"
    transcript.write_text(json.dumps(TRANSCRIPT))
    with login(db_url, "ops_outcomes") as url:
        result = ops("fixbot", "report", str(run_id), "--ci", "success", "--target-fixed", "--pr-state", "merged",
                     "--review", "approved", "--transcript", str(transcript), "--json", url=url)
        assert result.returncode == 0, result.stderr
        doc = json.loads(result.stdout)
        assert [(o["kind"], o["state"]) for o in doc["outcomes"]] == [
            ("report", "success"), ("pull_request", "merged"), ("review", "approved")] and doc["transcript"] is True
        text = ops("fixbot", "report", str(run_id), "--ci", "failure", "--regressions", "2", url=url)
        assert text.returncode == 0 and f"run {run_id}: report failure recorded" in text.stdout
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT kind, state, target_fixed, regressions, delivery_id FROM ops.agent_run_outcomes "
                            "WHERE run_id = %s ORDER BY id", (run_id,)).fetchall()
        stored = conn.execute("SELECT transcript FROM ops.agent_runs WHERE id = %s", (run_id,)).fetchone()[0]
        resolved, outcome = conn.execute("SELECT resolved, outcome FROM ops.agent_benchmark_results WHERE run_id = %s",
                                         (run_id,)).fetchone()
    assert rows == [("report", "success", True, 0, None), ("pull_request", "merged", None, None, None),
                    ("review", "approved", None, None, None), ("report", "failure", None, 2, None)]
    assert [m["role"] for m in stored] == ["system", "user", "assistant", "tool"]
    assert stored[2]["tool_calls"][0]["function"]["name"] == "run_tests"
    assert FAKE_TOKEN not in json.dumps(stored), "tool-call arguments are redacted"
    # The later report says two green checks broke: no longer resolved (SWE-bench's PASS_TO_PASS).
    assert (resolved, outcome) == (False, "ci_failed")


def test_report_refuses_what_it_cannot_store(db_url, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"role": "robot", "content": "beep"}]))
    with psycopg.connect(db_url, autocommit=True) as conn:
        run_id = new_run(conn)
    with login(db_url, "ops_outcomes") as url:
        missing = ops("fixbot", "report", "999999", "--ci", "success", "--json", url=url)
        assert missing.returncode == 1 and json.loads(missing.stdout)["reason"] == "no agent run 999999"
        refused = ops("fixbot", "report", str(run_id), "--ci", "success", "--transcript", str(bad), "--json", url=url)
        assert refused.returncode == 3 and "transcript[0]" in json.loads(refused.stdout)["reason"]
        not_json = ops("fixbot", "report", str(run_id), "--ci", "success", "--transcript", "-", url=url, stdin="{")
        assert not_json.returncode == 3 and "--transcript is not JSON" in not_json.stderr
    with role_login(db_url, "ops_analyst") as analyst:
        denied = ops("fixbot", "report", str(run_id), "--ci", "success", url=analyst)
        assert denied.returncode == 1 and "needs a login in ops_outcomes" in denied.stderr
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM ops.agent_run_outcomes").fetchone()[0] == 0, \
            "a refused report stores nothing, not even its valid parts"


# -- the FixBot destination stores what the runner produced ------------------------------------------

RUNNER = textwrap.dedent("""\
    import json, sys
    run = json.load(sys.stdin)
    diff = "diff --git a/src/app.py b/src/app.py\\n--- a/src/app.py\\n+++ b/src/app.py\\n@@ -1 +1 @@\\n-x\\n+key = 'AKIAIOSFODNN7EXAMPLE'\\n"
    print(json.dumps({"branch": run["branch"], "diff": diff, "pr_url": "http://127.0.0.1/pr/1",
                      "transcript": [{"role": "user", "content": "fix " + run["code"]},
                                     {"role": "assistant", "content": "done"}]}))
    """)


def test_the_fixbot_destination_stores_patch_and_transcript_redacted(db_url, tmp_path):
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("""UPDATE ops.destinations SET config = '{"runner": "command", "command_env": "OPS_FIXBOT_COMMAND"}'
                        WHERE name = 'fixbot'""")
        conn.execute("SELECT ops.record_error(source => 'github_actions', phase => 'lint', message => 'Found 3 errors.')")
    env = {"OPS_FIXBOT_COMMAND": f"{sys.executable} {script}"}

    def run():
        with psycopg.connect(db_url) as c:
            return c.execute("SELECT status, patch, transcript FROM ops.agent_runs").fetchone()

    with role_login(db_url, "ops_worker") as worker_url, WorkerProcess(worker_url, tmp_path / "w.log", *FAST, env=env) as w:
        wait_until(lambda: run()[0] not in ("queued", "running"), 30, 0.1, "run verdict")
        w.stop()
    status, patch, transcript = run()
    assert status == "succeeded"
    assert patch.startswith("diff --git a/src/app.py") and "AKIAIOSFODNN7EXAMPLE" not in patch
    assert transcript == [{"role": "user", "content": "fix CI.LINT_FAILED"}, {"role": "assistant", "content": "done"}]


def test_fixbot_verify_run_stores_the_patch(db_url, tmp_path):
    with psycopg.connect(db_url, autocommit=True) as conn:
        run_id = new_run(conn, status="running", branch="fixbot/9-x")
    patch = tmp_path / "p.diff"
    patch.write_text("diff --git a/src/a.py b/src/a.py\n--- a/src/a.py\n+++ b/src/a.py\n@@ -1 +1 @@\n-old\n+new\n")
    with role_login(db_url, "ops_worker") as url:
        result = ops("fixbot", "verify", "--run", str(run_id), "--diff", str(patch), "--head", "fixbot/9-x", url=url)
    assert result.returncode == 0, result.stderr
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT patch FROM ops.agent_runs WHERE id = %s", (run_id,)).fetchone()[0] == patch.read_text()


# -- the benchmark in the SSOT -----------------------------------------------------------------------

def test_ssot_sync_stores_the_benchmark_with_its_sha256(conn):
    sha, detail = conn.execute("SELECT sha256, detail FROM ops.ssot_state WHERE name = 'benchmark'").fetchone()
    assert sha == hashlib.sha256((ROOT / "ssot/agents/benchmark.yaml").read_bytes()).hexdigest()
    assert {m["id"] for m in detail["metrics"]} >= {"resolved", "evidence_compliance", "diff_minimality",
                                                     "ci_pass_rate", "time_to_green_s"}


def test_ssot_check_names_benchmark_mistakes_by_file_and_line(tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "ssot", root / "ssot")
    shutil.copytree(ROOT / "docs" / "runbooks", root / "docs" / "runbooks")
    path = root / "ssot/agents/benchmark.yaml"
    text = path.read_text()
    text = text.replace("codes: [CI.LINT_FAILED]", "codes: [CI.LINT_FAILD]")
    text = text.replace("  - {tier: B, min_score: 70, requires_resolved: true}", "  - {tier: B, min_score: 90}")
    text = text.replace("  - id: time_to_green_s\n", "  - id: diff_minimality\n")
    path.write_text(text)
    problems = [str(p) for p in ssot.check(None, root)]
    lines = text.splitlines()

    def line_of(fragment):
        return next(i for i, line in enumerate(lines, 1) if fragment in line)

    assert f"ssot/agents/benchmark.yaml:{line_of('CI.LINT_FAILD')}: task category 'lint': unknown failure mode " \
           "CI.LINT_FAILD" in problems, problems
    assert any(p.startswith(f"ssot/agents/benchmark.yaml:{line_of('min_score: 90')}: tier B: min_score 90 must be below")
               for p in problems), problems
    assert any("metric 'diff_minimality' is listed twice" in p for p in problems)
    assert any("metric 'time_to_green_s' is missing" in p for p in problems)
    path.write_text(text.replace("weight: 50", "weight: -1"))
    assert any("metrics/0/weight" in str(p) for p in ssot.check(None, root)), "the JSON Schema is applied"


# -- the scorecard on a synthetic history with a planted effect --------------------------------------

# Per outcome kind: the run's columns, its outcomes and the score the benchmark gives it (by hand from
# ssot/agents/benchmark.yaml; tests/sql/16_outcomes_scoring.sql checks the same numbers in SQL).
KINDS = {
    "resolved": 99.00,        # patch, PR, approved verdict, 50 lines, target green after 600 s
    "ci_failed": 15.00,       # patch, PR, approved verdict, 500 lines, CI red
    "policy_refused": 13.55,  # patch refused by the policy, 10 lines
    "no_patch": 0.00,         # the runner failed without a patch
}
VARIANTS = {"baseline": 0.35, "challenger-a": 0.70, "challenger-null": 0.35}  # true resolved rates
TASKS = 40


def plant_history(conn, seed: int = 20261130) -> dict[str, list[str]]:
    """Every variant attempts the same TASKS tasks once; whether a run resolves is drawn with the
    variant's true rate; a failure is CI failed, policy-refused or no patch. Returns kinds per variant."""
    rng = random.Random(seed)
    planted: dict[str, list[str]] = {v: [] for v in VARIANTS}
    for task in range(TASKS):
        for variant, rate in VARIANTS.items():
            kind = "resolved" if rng.random() < rate else rng.choice(["ci_failed", "ci_failed", "policy_refused", "no_patch"])
            planted[variant].append(kind)
            run_id = new_run(
                conn, task_id=f"task-{task:02d}", metadata=json.dumps({"variant_id": variant}),
                status={"policy_refused": "rejected", "no_patch": "failed"}.get(kind, "succeeded"),
                patch=None if kind == "no_patch" else "diff --git a/x b/x",
                pr_url=f"https://github.com/acme/app/pull/{run_task(task, variant)}" if kind in ("resolved", "ci_failed") else None,
                verdict=None if kind == "no_patch" else json.dumps(
                    {"approved": kind != "policy_refused",
                     "changed_lines": {"resolved": 50, "ci_failed": 500, "policy_refused": 10}[kind]}),
                created_at="2026-11-29T00:00:00Z")
            if kind == "resolved":
                conn.execute("INSERT INTO ops.agent_run_outcomes (run_id, kind, state, target_fixed, regressions, occurred_at) "
                             "VALUES (%s, 'ci', 'success', true, 0, timestamptz '2026-11-29T00:10:00Z')", (run_id,))
            elif kind == "ci_failed":
                conn.execute("INSERT INTO ops.agent_run_outcomes (run_id, kind, state, target_fixed) "
                             "VALUES (%s, 'ci', 'failure', false)", (run_id,))
            elif kind == "policy_refused":
                conn.execute("SELECT ops.record_error(source => 'agent_runner', phase => 'verify', code_hint => "
                             "'AGENT.FORBIDDEN_PATH', message => 'patch touches .github/workflows/ci.yml', run_id => %s)",
                             (str(run_id),))
    return planted


def run_task(task: int, variant: str) -> int:
    return task * 10 + list(VARIANTS).index(variant)


def test_the_scorecard_recovers_a_planted_effect_with_known_answers(db_url):
    with psycopg.connect(db_url, autocommit=True) as conn:
        planted = plant_history(conn)
        assert conn.execute("SELECT ops.score_agent_runs()").fetchone()[0] == TASKS * len(VARIANTS)
    with role_login(db_url, "ops_analyst") as analyst:
        result = ops("bench", "scorecard", "--agent-type", "fixbot", "--json", url=analyst)
        text = ops("bench", "scorecard", url=analyst)
    assert result.returncode == 0, result.stderr
    cards = {c["variant_id"]: c for c in json.loads(result.stdout)}
    assert set(cards) == set(VARIANTS)
    for variant, kinds in planted.items():
        card, k = cards[variant], kinds.count("resolved")
        ci = binomtest(k, TASKS).proportion_ci(confidence_level=0.95, method="wilson")
        assert card["n"] == TASKS and card["resolved"]["count"] == k
        assert card["resolved"]["ci95"] == pytest.approx([ci.low, ci.high], abs=1e-4), "Wilson, as SciPy computes it"
        mean = (sum(Decimal(str(KINDS[x])) for x in kinds) / TASKS).quantize(Decimal("0.01"), ROUND_HALF_UP)
        assert card["mean_score"] == float(mean), "the view's mean, rounded half up to 2 decimals as SQL round() does"
        assert card["tiers"] == {"A": k, "B": 0, "C": 0, "F": TASKS - k}
        assert card["funnel"] == {"dispatched": TASKS, "no_patch": kinds.count("no_patch"),
                                  "policy_refused": kinds.count("policy_refused"), "awaiting_ci": 0,
                                  "ci_failed": kinds.count("ci_failed"), "resolved": k}
        refused = kinds.count("policy_refused")
        assert card["top_failure_modes"] == ([{"code": "AGENT.FORBIDDEN_PATH", "runs": refused,
                                               "share": round(refused / TASKS, 4)}] if refused else [])
    # The planted effect shows: the better challenger's interval lies above the baseline's rate; the
    # null challenger's interval covers it.
    base = cards["baseline"]["resolved"]["rate"]
    assert cards["challenger-a"]["resolved"]["ci95"][0] > base
    low, high = cards["challenger-null"]["resolved"]["ci95"]
    assert low <= base <= high
    assert text.returncode == 0 and "95% CI" in text.stdout and "challenger-a" in text.stdout


def test_scorecard_on_an_empty_history_says_so(db_url):
    with role_login(db_url, "ops_analyst") as analyst:
        assert json.loads(ops("bench", "scorecard", "--json", url=analyst).stdout) == []
        assert "no scored runs yet" in ops("bench", "scorecard", url=analyst).stdout


def test_a_changed_benchmark_rescores_every_run_on_sync(db_url, tmp_path):
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "ssot", root / "ssot")
    shutil.copytree(ROOT / "docs" / "runbooks", root / "docs" / "runbooks")
    with psycopg.connect(db_url, autocommit=True) as conn:
        run_id = new_run(conn, patch="diff --git a/x b/x", pr_url="https://github.com/acme/app/pull/3",
                         verdict=json.dumps({"approved": True, "changed_lines": 0}))
        score = "SELECT score, benchmark_sha256 FROM ops.agent_benchmark_results WHERE run_id = %s"
        # evidence 3 of 4 (no CI result): 75 points x 15; diff 0 lines: 100 x 10; out of 100 weight
        assert conn.execute(score, (run_id,)).fetchone()[0] == Decimal("21.25")
        assert "runs_rescored" not in ssot.sync(conn, ROOT), "an unchanged benchmark rescores nothing"
        path = root / "ssot/agents/benchmark.yaml"
        path.write_text(path.read_text().replace("    weight: 10\n    rule: linear\n    best: 0", "    weight: 60\n    rule: linear\n    best: 0"))
        assert ssot.sync(conn, root)["runs_rescored"] == 1
        value, sha = conn.execute(score, (run_id,)).fetchone()
    assert sha == hashlib.sha256(path.read_bytes()).hexdigest()
    assert value == Decimal("47.50"), "the new weights scored the run again: (75 x 15 + 100 x 60) / 150"


# -- a run's score holds every error recorded with its id ---------------------------------------------

def test_a_refused_verdict_is_scored_with_the_failure_modes_it_recorded(db_url, tmp_path):
    """`ops fixbot verify --run` (the FixBot destination's record_verdict) records the verdict's reasons with the
    run's id before it moves the run to rejected, whose update rescores it: the score holds them, and the
    scorecard lists them, without a rescore by hand (the demo's run 5)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        run_id = new_run(conn, status="running", branch="fixbot/9-x")
    patch = tmp_path / "p.diff"
    patch.write_text("diff --git a/.github/workflows/ci.yml b/.github/workflows/ci.yml\n--- a/.github/workflows/ci.yml\n"
                     "+++ b/.github/workflows/ci.yml\n@@ -1 +1 @@\n-old\n+new\n")
    with role_login(db_url, "ops_worker") as url:
        result = ops("fixbot", "verify", "--run", str(run_id), "--diff", str(patch), "--head", "fixbot/9-x", url=url)
    assert result.returncode == 1 and "AGENT.FORBIDDEN_PATH" in result.stdout, result.stderr
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT failure_modes, outcome FROM ops.agent_benchmark_results WHERE run_id = %s",
                            (run_id,)).fetchone() == (["AGENT.FORBIDDEN_PATH"], "policy_refused")
    with role_login(db_url, "ops_analyst") as analyst:
        [card] = json.loads(ops("bench", "scorecard", "--json", url=analyst).stdout)
        text = ops("bench", "scorecard", url=analyst).stdout
    assert card["top_failure_modes"] == [{"code": "AGENT.FORBIDDEN_PATH", "runs": 1, "share": 1.0}]
    assert "AGENT.FORBIDDEN_PATH (1)" in text


def test_an_expired_run_is_scored_with_its_timeout(conn):
    """ops.expire_agent_runs records AGENT.RUN_TIMEOUT with the run's id before it fails the run (whose update
    rescores it); an error a producer sends later with the run's id joins the score at the run's next rescore
    (an outcome, a change of the run, a changed benchmark), never through the ingest triggers."""
    conn.autocommit = True
    run_id = new_run(conn, status="running", updated_at=datetime.now(UTC) - timedelta(hours=2))
    assert conn.execute("SELECT ops.expire_agent_runs(interval '1 hour')").fetchone()[0] == 1
    row = "SELECT failure_modes, outcome FROM ops.agent_benchmark_results WHERE run_id = %s"
    assert conn.execute(row, (run_id,)).fetchone() == (["AGENT.RUN_TIMEOUT"], "no_patch")

    conn.execute("SELECT ops.record_error(source => 'agent_runner', phase => 'verify', code_hint => "
                 "'AGENT.FORBIDDEN_PATH', message => 'patch touches .github/workflows/ci.yml', run_id => %s)",
                 (str(run_id),))
    assert conn.execute(row, (run_id,)).fetchone()[0] == ["AGENT.RUN_TIMEOUT"], "ingest does not rescore"
    conn.execute("SELECT * FROM ops.record_run_outcome(kind => 'report', state => 'failure', run_id => %s)", (run_id,))
    assert conn.execute(row, (run_id,)).fetchone()[0] == ["AGENT.FORBIDDEN_PATH", "AGENT.RUN_TIMEOUT"]
