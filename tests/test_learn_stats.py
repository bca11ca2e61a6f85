"""The statistics of `ops bench compare` and the Thompson sampling of dispatch, on planted effects.

Planted histories are drawn here with a fixed seed; what is asserted is what the methods must recover (a real
effect called better, a null called inconclusive, Holm's adjustment, Connor's sample size), never a number
copied from a run.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from worker.learn import compare, variants


def planted(n: int, p_base: float, p_var: float, seed: int, score_gain: float = 0.0) -> list[compare.Pair]:
    """Tasks of varying difficulty (a logistic random effect shared by both sides), each run once per side."""
    rng = np.random.default_rng(seed)
    logit = lambda p: math.log(p / (1 - p))  # noqa: E731
    out = []
    for i in range(n):
        difficulty = rng.normal(0, 1)
        b = rng.random() < 1 / (1 + math.exp(-(logit(p_base) + difficulty)))
        v = rng.random() < 1 / (1 + math.exp(-(logit(p_var) + difficulty)))
        sb = 50 + 30 * b + rng.normal(0, 8)
        sv = 50 + 30 * v + score_gain + rng.normal(0, 8)
        out.append(compare.Pair(f"task-{i}", bool(b), bool(v), sb, sv))
    return out


def test_a_planted_improvement_is_called_better_and_a_null_inconclusive():
    results = compare.compare_family("base", {"good": planted(300, 0.35, 0.60, 1), "null": planted(300, 0.35, 0.35, 2)})
    good, null = results
    assert good.verdict == "better" and good.effect > 0.1
    assert good.interval[0] > 0  # the bootstrap interval excludes no effect
    assert null.verdict == "inconclusive"
    assert null.interval[0] < 0 < null.interval[1]
    assert null.detectable_effect is not None and 0 < null.detectable_effect < 0.3
    assert all("Holm" in " ".join(r.notes) for r in results)


def test_a_planted_regression_is_called_worse_on_scores():
    (r,) = compare.compare_family("base", {"bad": planted(200, 0.5, 0.5, 3, score_gain=-6)}, "score")
    assert r.verdict == "worse" and r.effect < 0
    assert r.details["test"] == "Wilcoxon signed-rank"


def test_the_verdict_is_reproducible_with_the_seed():
    pairs = planted(80, 0.4, 0.5, 4)
    a = compare.compare_pairs("b", "v", pairs, seed=7)
    b = compare.compare_pairs("b", "v", pairs, seed=7)
    c = compare.compare_pairs("b", "v", pairs, seed=8)
    assert a.interval == b.interval
    assert a.p_value == c.p_value  # the exact test does not depend on the seed, the bootstrap does


def test_a_small_sample_is_inconclusive_and_says_how_many_tasks_would_be_needed():
    r = compare.compare_pairs("b", "v", planted(20, 0.4, 0.55, 5))
    assert r.verdict == "inconclusive"
    if r.tasks_needed is not None:
        assert r.tasks_needed > r.n_tasks
    text = compare.describe(r)
    assert "INCONCLUSIVE" in text and "could detect an effect of about" in text


def test_no_shared_tasks_is_no_verdict():
    r = compare.compare_pairs("b", "v", [])
    assert r.verdict == "inconclusive" and r.n_tasks == 0 and r.p_value is None
    assert "no shared tasks" in compare.describe(r)


def test_mcnemar_uses_only_the_discordant_pairs():
    # 10 tasks both resolved, 10 neither, 8 only the variant, 1 only the baseline: binomial(8 of 9, 1/2).
    pairs = ([compare.Pair(f"a{i}", True, True, 80, 80) for i in range(10)]
             + [compare.Pair(f"b{i}", False, False, 20, 20) for i in range(10)]
             + [compare.Pair(f"c{i}", False, True, 20, 80) for i in range(8)]
             + [compare.Pair("d", True, False, 80, 20)])
    r = compare.compare_pairs("b", "v", pairs)
    assert r.details["variant_only"] == 8 and r.details["baseline_only"] == 1
    assert r.p_value == pytest.approx(2 * sum(math.comb(9, k) for k in (8, 9)) / 2**9)
    assert r.effect == pytest.approx(7 / 29)


def test_holm_step_down():
    # Sorted 0.005, 0.01, 0.03, 0.04 with m = 4: 0.02, 0.03, 0.06, max(0.04, 0.06) = 0.06; input order restored.
    assert compare.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert compare.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_connor_sample_size_and_its_inverse_agree():
    # Connor (1987): psi = 0.3, d = 0.1 -> (1.96 sqrt(.3) + 0.8416 sqrt(.29))^2 / .01 ≈ 233.1 pairs.
    n = compare.mcnemar_tasks_needed(0.1, 0.3)
    assert n == 234
    assert compare.mcnemar_detectable(n, 0.3) == pytest.approx(0.1, abs=0.002)


def test_an_unknown_metric_is_refused():
    with pytest.raises(ValueError, match="metric must be one of resolved, score"):
        compare.compare_pairs("b", "v", [], "speed")


ARMS = [variants.Arm("baseline", "baseline", 10, 10), variants.Arm("good", "challenger", 40, 10),
        variants.Arm("weak", "challenger", 5, 45)]


def test_the_choice_is_replayable_from_the_run_id():
    assert variants.choose(41, ARMS, 0.5) == variants.choose(41, ARMS, 0.5)
    assert variants.seed_for(41) != variants.seed_for(42)


def test_share_zero_always_dispatches_the_baseline_and_share_one_always_explores():
    assert {variants.choose(i, ARMS, 0.0)[0] for i in range(200)} == {"baseline"}
    picks = [variants.choose(i, ARMS, 1.0) for i in range(400)]
    assert all(record["policy"] == "thompson" for _, record in picks)
    share_good = sum(v == "good" for v, _ in picks) / len(picks)
    assert share_good > 0.95  # Beta(41, 11) against Beta(6, 46): the better arm almost always draws higher


def test_the_exploration_share_is_respected():
    explored = sum(variants.choose(i, ARMS, 0.2)[1]["policy"] == "thompson" for i in range(2000)) / 2000
    assert 0.17 < explored < 0.23


def test_the_record_holds_what_the_choice_needs_to_be_audited():
    variant, record = variants.choose(7, ARMS, 1.0)
    assert record["posteriors"]["good"] == {"resolved": 40, "failed": 10, "alpha": 41, "beta": 11}
    assert sum(record["p_best"].values()) == pytest.approx(1.0, abs=1e-3)
    assert max(record["thompson_draws"], key=record["thompson_draws"].get) == variant


def test_uncertain_challengers_are_both_explored():
    arms = [variants.Arm("baseline", "baseline"), variants.Arm("a", "challenger"), variants.Arm("b", "challenger")]
    picks = {variants.choose(i, arms, 1.0)[0] for i in range(100)}
    assert picks == {"a", "b"}


def test_a_choice_needs_exactly_one_baseline():
    with pytest.raises(ValueError, match="exactly one baseline"):
        variants.choose(1, [variants.Arm("a", "challenger")], 0.5)
