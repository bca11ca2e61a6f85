"""The improvement loop on a planted history in the real database: scored runs of three FixBot variants with a known
true effect (one challenger better, one no different), repeated tasks and noise. `ops bench compare` must recover
the effect and call the null inconclusive; dispatch's Thompson sampling must prefer the better challenger and record
its choice on the run; `ops bench promote` must refuse the null and promote the better one through the YAML."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import psycopg
import pytest
from psycopg.rows import dict_row

from tests.dispatch_kit import FAST, WorkerProcess, role_login, wait_until
from tests.test_fixbot import setup_command_runner
from worker import ROOT, cli, ssot
from worker.learn import ablation

CODE = "CI.LINT_FAILED"
# True resolved rates on an average task: the planted effect.
RATES = {"baseline": 0.35, "retrieval-similar-fixes": 0.70, "verify-full-suite": 0.35}


def plant_history(conn, tasks: int = 70, seed: int = 11, repeats: int = 2) -> None:
    """Runs of every variant on the same tasks (some run twice), each scored through ops.record_run_outcome."""
    rng = np.random.default_rng(seed)
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    for t in range(tasks):
        difficulty = rng.normal(0, 0.8)
        for variant, rate in RATES.items():
            for _ in range(repeats if t % 5 == 0 else 1):
                fixed = bool(rng.random() < 1 / (1 + math.exp(-(logit(rate) + difficulty))))
                (run_id,) = conn.execute(
                    """INSERT INTO ops.agent_runs (fingerprint, code, status, policy_ref, metadata, task_id, patch,
                                                   pr_url, verdict, finished_at, created_at)
                       VALUES (%s, %s, 'succeeded', 'ssot/agents/fixbot_policy.yaml', %s, %s, %s, %s, %s, now(),
                               now() - interval '1 hour')
                       RETURNING id""",
                    (f"planted-{t}", CODE, json.dumps({"variant_id": variant}), f"task-{t}",
                     "diff --git a/x b/x\n", f"http://127.0.0.1/pr/{t}",
                     json.dumps({"approved": True, "changed_lines": int(rng.integers(2, 60))}))).fetchone()
                conn.execute("SELECT * FROM ops.record_run_outcome(kind => 'ci', state => %s, run_id => %s, "
                             "check_name => 'make test', target_fixed => %s, regressions => 0)",
                             ("success" if fixed else "failure", run_id, fixed))


@pytest.fixture(scope="module")
def history(module_db_url):
    """One planted history for the module (planting scores some 250 runs); the tests that write (the worker's
    run, the choice records, promotion last) do not change what the earlier ones read."""
    with psycopg.connect(module_db_url, autocommit=True) as conn:
        plant_history(conn)
    return module_db_url


def test_compare_recovers_the_planted_effect_and_calls_the_null_inconclusive(history):
    with psycopg.connect(history, row_factory=dict_row) as conn:
        better, null = ablation.run_compare(conn, "baseline", ["retrieval-similar-fixes", "verify-full-suite"])
    assert better.n_tasks == 70 and null.n_tasks == 70
    assert better.verdict == "better", better.as_dict()
    assert better.interval[0] > 0 and better.p_adjusted < 0.05
    assert null.verdict == "inconclusive", null.as_dict()
    assert null.detectable_effect and null.detectable_effect < 0.35
    assert better.details["knobs"] == ["retrieval_policy"] and null.details["knobs"] == ["verification_strictness"]


def test_compare_cli_prints_the_verdict_in_words_and_json(history, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", history)
    assert cli.main(["bench", "compare", "--baseline", "baseline", "--variant", "retrieval-similar-fixes",
                     "--variant", "verify-full-suite"]) == 0
    out = capsys.readouterr().out
    assert "retrieval-similar-fixes vs baseline on 70 shared tasks" in out and "BETTER" in out
    assert "INCONCLUSIVE" in out and "Holm" in out
    assert cli.main(["bench", "compare", "--baseline", "baseline", "--variant", "verify-full-suite", "--metric",
                     "score", "--json"]) == 0
    (doc,) = json.loads(capsys.readouterr().out)["comparisons"]
    assert doc["metric"] == "score" and doc["verdict"] == "inconclusive" and doc["n_tasks"] == 70


def test_compare_refuses_an_unknown_variant_by_flag(history, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", history)
    assert cli.main(["bench", "compare", "--baseline", "baseline", "--variant", "nope", "--json"]) == 3
    err = json.loads(capsys.readouterr().out)
    assert err["field"] == "--variant" and "unknown variant 'nope'" in err["reason"]


def test_thompson_sampling_prefers_the_better_challenger(history):
    with psycopg.connect(history, row_factory=dict_row) as conn:
        rows = conn.execute("SELECT * FROM ops.variant_posteriors(%s, 'fixbot')", (CODE,)).fetchall()
    from worker.learn import variants

    arms = [variants.Arm(r["variant_id"], r["status"], r["resolved"], r["failed"]) for r in rows]
    assert {a.variant_id for a in arms} == set(RATES)
    picks = [variants.choose(i, arms, 1.0)[0] for i in range(300)]
    assert picks.count("retrieval-similar-fixes") / len(picks) > 0.9
    assert {variants.choose(i, arms, 0.0)[0] for i in range(50)} == {"baseline"}


def test_the_worker_records_the_choice_on_the_run_and_the_runner_gets_that_variant(history, tmp_path):
    tree = tmp_path / "root"
    shutil.copytree(ROOT / "ssot", tree / "ssot")
    text = (tree / ssot.VARIANTS).read_text().replace("exploration_share: 0.2", "exploration_share: 1.0")
    (tree / ssot.VARIANTS).write_text(text)
    with psycopg.connect(history, autocommit=True) as conn:
        conn.execute("SELECT ops.sync_agent_variants(%s::jsonb)", (json.dumps(ssot.variants_document(tree)),))
    env = setup_command_runner(history, tmp_path, "src/app.py")
    with role_login(history, "ops_worker") as worker_url, WorkerProcess(worker_url, tmp_path / "w.log", *FAST, env=env) as w:
        def finished():
            with psycopg.connect(history) as c:
                return c.execute("SELECT status FROM ops.agent_runs WHERE fingerprint NOT LIKE 'planted-%'"
                                 ).fetchone()[0] not in ("queued", "running")
        wait_until(finished, 30, 0.1, "FixBot run finished")
        w.stop()
    with psycopg.connect(history) as conn:
        (run_id, metadata) = conn.execute(
            "SELECT id, metadata FROM ops.agent_runs WHERE fingerprint NOT LIKE 'planted-%'").fetchone()
    choice = metadata["variant_choice"]
    assert choice["policy"] == "thompson" and choice["share"] == 1.0
    assert metadata["variant_id"] == "retrieval-similar-fixes" == max(choice["p_best"], key=choice["p_best"].get)
    assert choice["posteriors"]["retrieval-similar-fixes"]["resolved"] > choice["posteriors"]["verify-full-suite"]["resolved"]
    (sent,) = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert sent["run_id"] == run_id and sent["variant_id"] == metadata["variant_id"]
    # Replayable: the recorded seed and posteriors give the same choice again.
    from worker.learn import variants

    arms = [variants.Arm(v, "baseline" if v == "baseline" else "challenger", p["resolved"], p["failed"])
            for v, p in choice["posteriors"].items()]
    assert variants.choose(run_id, arms, 1.0) == (metadata["variant_id"], choice)


def test_the_first_choice_stands_and_a_dispatched_run_takes_none(history):
    with psycopg.connect(history, autocommit=True) as conn:
        (run_id,) = conn.execute("SELECT id FROM ops.agent_runs WHERE status = 'succeeded' LIMIT 1").fetchone()
        with pytest.raises(psycopg.Error, match="a variant is chosen before it is dispatched") as refused:
            conn.execute("SELECT ops.record_variant_choice(%s, 'baseline', '{}')", (run_id,))
        assert refused.value.sqlstate == "OP001"
        conn.execute("""INSERT INTO ops.agent_runs (fingerprint, code, policy_ref) VALUES ('q', %s, 'p')""", (CODE,))
        (queued,) = conn.execute("SELECT id FROM ops.agent_runs WHERE fingerprint = 'q'").fetchone()
        first = conn.execute("SELECT ops.record_variant_choice(%s, 'verify-full-suite', '{\"policy\": \"x\"}')",
                             (queued,)).fetchone()[0]
        again = conn.execute("SELECT ops.record_variant_choice(%s, 'baseline', '{}')", (queued,)).fetchone()[0]
        assert first == again and again["variant_id"] == "verify-full-suite"
        conn.execute("INSERT INTO ops.agent_runs (fingerprint, code, policy_ref) VALUES ('q2', %s, 'p')", (CODE,))
        (q2,) = conn.execute("SELECT id FROM ops.agent_runs WHERE fingerprint = 'q2'").fetchone()
        with pytest.raises(psycopg.Error, match="not a dispatchable variant") as refused:
            conn.execute("SELECT ops.record_variant_choice(%s, 'nope', '{}')", (q2,))
        assert refused.value.sqlstate == "OP001"


def test_promote_refuses_the_null_and_promotes_the_better_one_through_the_yaml(history, tmp_path, monkeypatch, capsys):
    tree = tmp_path / "root"
    shutil.copytree(ROOT / "ssot", tree / "ssot")
    before = (tree / ssot.VARIANTS).read_text()
    rules = {"min_tier": "F", "min_runs": 30, "metric": "resolved"}
    with psycopg.connect(history, autocommit=True, row_factory=dict_row) as conn:
        with pytest.raises(ablation.PromotionRefused, match="compare: .*INCONCLUSIVE"):
            ablation.promote(conn, "verify-full-suite", rules=rules, apply=True, root=tree)
        assert (tree / ssot.VARIANTS).read_text() == before
        with pytest.raises(ablation.PromotionRefused, match="min_runs: .* scored runs \\(at least 500\\)"):
            ablation.promote(conn, "retrieval-similar-fixes", rules={**rules, "min_runs": 500}, apply=True, root=tree)
        dry = ablation.promote(conn, "retrieval-similar-fixes", rules=rules, apply=False, root=tree)
        assert not dry["applied"] and (tree / ssot.VARIANTS).read_text() == before
        report = ablation.promote(conn, "retrieval-similar-fixes", rules=rules, apply=True, root=tree)
        assert report["applied"]
        statuses = {r["id"]: r["status"] for r in conn.execute("SELECT id, status FROM ops.agent_variants")}
    assert statuses == {"baseline": "retired", "retrieval-similar-fixes": "baseline", "verify-full-suite": "challenger"}
    after = (tree / ssot.VARIANTS).read_text()
    # Round trip: only the two status lines changed; comments and layout are kept.
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines()) if a != b]
    assert len(before.splitlines()) == len(after.splitlines())
    assert changed == [("    status: baseline", "    status: retired"), ("    status: challenger", "    status: baseline")]
    assert "-    status: challenger" in report["diff"] and "+    status: baseline" in report["diff"]
