"""Paired comparison of agent variants on shared tasks (`ops bench compare`).

The unit of analysis is a task (``task_id`` in ops.agent_benchmark_results: the failure a run was sent to fix).
Only tasks that both variants ran are compared, so task difficulty cancels out. Repeated runs of one variant on
one task are reduced to one value per task: for pass/fail the task counts as resolved by the variant when the
majority of its scored runs resolved it (ties count as not resolved); for scores, the mean score (0-100).

Statistics (SciPy's tested implementations wherever one exists):

* pass/fail (``--metric resolved``): the exact McNemar test — a two-sided binomial test of the discordant pairs
  against 1/2 (``scipy.stats.binomtest``; McNemar 1947, exact form as in Fagerland et al. 2013);
* scores (``--metric score``): the Wilcoxon signed-rank test of the paired differences (``scipy.stats.wilcoxon``);
* for both, a 95 % interval of the mean paired difference by a seeded paired bootstrap (``scipy.stats.bootstrap``,
  percentile method, 9,999 resamples, ``random_state`` = the seed), so a rerun prints the same interval;
* several variants against one baseline: Holm's step-down correction (Holm 1979) of the p-values.

The verdict is ``better`` or ``worse`` when the (corrected) p-value is below alpha, else ``inconclusive``. With it
come the smallest effect this sample could detect at alpha (two-sided) and power 0.8 — for pass/fail Connor's
(1987) sample-size approximation for McNemar's test solved for the effect at the observed discordance rate, for
scores the normal approximation (z_alpha/2 + z_beta) * sd / sqrt(n) — and how many tasks in all would be needed to
detect the observed effect with that power.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

ALPHA = 0.05
POWER = 0.8
RESAMPLES = 9999
METRICS = ("resolved", "score")


@dataclass(frozen=True)
class Pair:
    """One shared task: each side's reduced outcome (resolved: majority of runs; score: mean, 0-100)."""

    task_id: str
    baseline_resolved: bool
    variant_resolved: bool
    baseline_score: float
    variant_score: float
    baseline_runs: int = 1
    variant_runs: int = 1


@dataclass
class Comparison:
    """The result for one variant against the baseline. ``effect`` is variant minus baseline: a difference of
    resolved rates (-1..1) for ``resolved``, of mean scores (points) for ``score``."""

    baseline: str
    variant: str
    metric: str
    n_tasks: int
    effect: float | None
    interval: tuple[float, float] | None
    p_value: float | None
    p_adjusted: float | None = None
    verdict: str = "inconclusive"
    detectable_effect: float | None = None
    tasks_needed: int | None = None
    details: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "baseline": self.baseline, "variant": self.variant, "metric": self.metric, "n_tasks": self.n_tasks,
            "effect": self.effect, "interval_95": list(self.interval) if self.interval else None,
            "p_value": self.p_value, "p_adjusted": self.p_adjusted, "verdict": self.verdict,
            "detectable_effect": self.detectable_effect, "tasks_needed": self.tasks_needed,
            "details": self.details, "notes": self.notes,
        }


def _z(q: float) -> float:
    from scipy import stats  # SciPy is imported when a comparison runs, not with every ops command

    return float(stats.norm.ppf(q))


def _bootstrap_interval(diffs: np.ndarray, seed: int) -> tuple[float, float] | None:
    """95 % percentile interval of the mean paired difference (paired bootstrap: tasks are resampled whole)."""
    import numpy as np
    from scipy import stats

    if len(diffs) < 2:
        return None
    if np.all(diffs == diffs[0]):
        return float(diffs[0]), float(diffs[0])
    res = stats.bootstrap((diffs,), np.mean, n_resamples=RESAMPLES, confidence_level=0.95, method="percentile",
                          random_state=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def mcnemar_detectable(n: int, discordance: float, alpha: float = ALPHA, power: float = POWER) -> float | None:
    """The smallest difference of paired proportions McNemar's test detects with ``n`` pairs at discordance rate
    ``discordance`` (share of pairs that disagree): Connor (1987), n = (z_a sqrt(psi) + z_b sqrt(psi - d^2))^2 / d^2,
    solved for d. None when it cannot be estimated (no pairs or no discordance)."""
    from scipy import optimize

    if n <= 0 or discordance <= 0:
        return None
    za, zb = _z(1 - alpha / 2), _z(power)

    def needed(d: float) -> float:
        return (za * math.sqrt(discordance) + zb * math.sqrt(max(discordance - d * d, 0.0))) ** 2 / (d * d) - n

    hi = math.sqrt(discordance)
    if needed(hi) > 0:  # even the largest possible effect needs more pairs than there are
        return hi
    return float(optimize.brentq(needed, 1e-9, hi))


def mcnemar_tasks_needed(effect: float, discordance: float, alpha: float = ALPHA, power: float = POWER) -> int | None:
    """Pairs needed to detect ``effect`` at ``discordance`` (Connor 1987); None when undefined."""
    d = abs(effect)
    if d == 0 or discordance <= 0 or d * d >= discordance:
        return None
    za, zb = _z(1 - alpha / 2), _z(power)
    return math.ceil((za * math.sqrt(discordance) + zb * math.sqrt(discordance - d * d)) ** 2 / (d * d))


def compare_pairs(baseline: str, variant: str, pairs: list[Pair], metric: str = "resolved", *, seed: int = 0,
                  alpha: float = ALPHA) -> Comparison:
    """One variant against the baseline on their shared tasks (uncorrected; :func:`holm` corrects a family)."""
    import numpy as np
    from scipy import stats

    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, not {metric!r}")
    n = len(pairs)
    result = Comparison(baseline, variant, metric, n, None, None, None)
    if n == 0:
        result.notes.append("no task was run by both variants: nothing to compare")
        return result
    za_zb = _z(1 - alpha / 2) + _z(POWER)
    if metric == "resolved":
        base = np.array([p.baseline_resolved for p in pairs], dtype=bool)
        var = np.array([p.variant_resolved for p in pairs], dtype=bool)
        b = int(np.sum(base & ~var))  # baseline resolved, variant did not
        c = int(np.sum(~base & var))  # variant resolved, baseline did not
        diffs = var.astype(float) - base.astype(float)
        result.effect = (c - b) / n
        result.p_value = float(stats.binomtest(c, b + c, 0.5).pvalue) if b + c else 1.0
        discordance = (b + c) / n
        result.details = {"baseline_rate": float(base.mean()), "variant_rate": float(var.mean()),
                          "baseline_only": b, "variant_only": c, "both": int(np.sum(base & var)),
                          "neither": int(np.sum(~base & ~var)), "discordance": discordance,
                          "test": "exact McNemar (binomial test of discordant pairs)"}
        if discordance == 0:
            result.notes.append("the variants agreed on every task: no evidence either way")
            # With no disagreement observed, assume one in n pairs would disagree for the power statement.
            discordance = 1 / n
        result.detectable_effect = mcnemar_detectable(n, discordance, alpha)
        result.tasks_needed = mcnemar_tasks_needed(result.effect, discordance, alpha)
    else:
        diffs = np.array([p.variant_score - p.baseline_score for p in pairs], dtype=float)
        result.effect = float(diffs.mean())
        if np.count_nonzero(diffs) == 0:
            result.p_value = 1.0
        else:
            result.p_value = float(stats.wilcoxon(diffs, zero_method="wilcox").pvalue)
        sd = float(diffs.std(ddof=1)) if n > 1 else 0.0
        result.details = {"baseline_mean": float(np.mean([p.baseline_score for p in pairs])),
                          "variant_mean": float(np.mean([p.variant_score for p in pairs])), "sd_difference": sd,
                          "test": "Wilcoxon signed-rank"}
        if sd > 0:
            result.detectable_effect = za_zb * sd / math.sqrt(n)
            if result.effect:
                result.tasks_needed = math.ceil((za_zb * sd / abs(result.effect)) ** 2)
    result.interval = _bootstrap_interval(diffs, seed)
    result.p_adjusted = result.p_value
    result.verdict = verdict(result.effect, result.p_adjusted, alpha)
    if n < 10:
        result.notes.append(f"only {n} shared tasks: treat any verdict as provisional")
    return result


def verdict(effect: float | None, p: float | None, alpha: float = ALPHA) -> str:
    """``better`` / ``worse`` when p < alpha (by the sign of the effect), else ``inconclusive``."""
    if effect is None or p is None or p >= alpha or effect == 0:
        return "inconclusive"
    return "better" if effect > 0 else "worse"


def holm(p_values: list[float]) -> list[float]:
    """Holm's (1979) step-down adjusted p-values, in the input order: sort ascending, multiply the i-th smallest
    (0-based) by (m - i), carry the running maximum, cap at 1. (SciPy has no Holm; statsmodels' multipletests does,
    but it is a large dependency for six lines.)"""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def compare_family(baseline: str, pairs_by_variant: dict[str, list[Pair]], metric: str = "resolved", *,
                   seed: int = 0, alpha: float = ALPHA) -> list[Comparison]:
    """Each variant against the baseline, with Holm's correction across the family when there are several."""
    results = [compare_pairs(baseline, v, pairs, metric, seed=seed, alpha=alpha)
               for v, pairs in pairs_by_variant.items()]
    tested = [r for r in results if r.p_value is not None]
    if len(tested) > 1:
        for r, p in zip(tested, holm([r.p_value for r in tested])):
            r.p_adjusted = p
            r.verdict = verdict(r.effect, p, alpha)
            r.notes.append(f"Holm-corrected across {len(tested)} variants")
    return results


def describe(result: Comparison) -> str:
    """The verdict in words, for people."""
    if result.n_tasks == 0:
        return f"{result.variant} vs {result.baseline}: no shared tasks; run both on the same tasks first."
    unit = " points" if result.metric == "score" else ""
    scale = 1 if result.metric == "score" else 100
    pct = "" if result.metric == "score" else " pp"
    effect = f"{result.effect * scale:+.1f}{pct}{unit}"
    interval = (f" (95 % interval {result.interval[0] * scale:+.1f} to {result.interval[1] * scale:+.1f}{pct})"
                if result.interval else "")
    p = f"p = {result.p_adjusted:.3g}" + (" Holm-adjusted" if result.p_adjusted != result.p_value else "")
    text = (f"{result.variant} vs {result.baseline} on {result.n_tasks} shared tasks, {result.metric}: "
            f"{effect}{interval}, {p}: {result.verdict.upper()}.")
    if result.verdict == "inconclusive":
        if result.detectable_effect is not None:
            text += (f" This sample could detect an effect of about {result.detectable_effect * scale:.1f}{pct}{unit}"
                     f" (alpha {ALPHA}, power {POWER:.0%}).")
        if result.tasks_needed and result.tasks_needed > result.n_tasks:
            text += (f" To detect the observed effect, about {result.tasks_needed} shared tasks would be needed "
                     f"({result.tasks_needed - result.n_tasks} more).")
    return text
