"""Variant choice for FixBot dispatch: the baseline by default, a challenger by Thompson sampling with the
configured exploration share (ssot/agents/variants.yaml).

Thompson sampling (Thompson 1933; Russo et al., "A Tutorial on Thompson Sampling", 2018): each challenger's
resolved rate for the failure mode has a Beta(1 + resolved, 1 + not resolved) posterior (a uniform prior updated
with the scored runs of that code, ops.variant_posteriors); one draw per challenger, the highest draw wins. The
random numbers come from a generator seeded by the run id, so a choice can be replayed from what the run records:
``metadata.variant_choice = {policy, seed, share, explore_draw, posteriors, thompson_draws, p_best}``. ``p_best``
is each challenger's probability of having the highest rate, estimated from P_BEST_DRAWS joint draws.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np

P_BEST_DRAWS = 4000


@dataclass(frozen=True)
class Arm:
    """A variant and its record on one failure mode: resolved and not-resolved scored runs."""

    variant_id: str
    status: str  # baseline | challenger
    resolved: int = 0
    failed: int = 0

    @property
    def alpha(self) -> int:
        return 1 + self.resolved

    @property
    def beta(self) -> int:
        return 1 + self.failed


def seed_for(run_id: int) -> int:
    """The run's seed: the first 8 bytes of SHA-256("variant-choice:<run id>"), an unsigned 64-bit integer."""
    return int.from_bytes(hashlib.sha256(f"variant-choice:{run_id}".encode()).digest()[:8], "big")


def choose(run_id: int, arms: list[Arm], share: float) -> tuple[str, dict]:
    """(variant id, the choice record) for one run. ``arms`` holds exactly one baseline and any challengers.
    Raises ValueError when there is no baseline or more than one."""
    baselines = [a for a in arms if a.status == "baseline"]
    if len(baselines) != 1:
        raise ValueError(f"variant choice needs exactly one baseline, got {len(baselines)}")
    challengers = sorted((a for a in arms if a.status == "challenger"), key=lambda a: a.variant_id)
    seed = seed_for(run_id)
    rng = np.random.default_rng(seed)
    explore_draw = float(rng.random())
    record = {
        "policy": "baseline", "seed": str(seed), "share": share, "explore_draw": round(explore_draw, 6),
        "posteriors": {a.variant_id: {"resolved": a.resolved, "failed": a.failed, "alpha": a.alpha, "beta": a.beta}
                       for a in [*baselines, *challengers]},
    }
    if not challengers or explore_draw >= share:
        return baselines[0].variant_id, record
    alpha = np.array([a.alpha for a in challengers], dtype=float)
    beta = np.array([a.beta for a in challengers], dtype=float)
    draws = rng.beta(alpha, beta)
    joint = rng.beta(alpha, beta, size=(P_BEST_DRAWS, len(challengers)))
    wins = np.bincount(joint.argmax(axis=1), minlength=len(challengers)) / P_BEST_DRAWS
    chosen = challengers[int(draws.argmax())].variant_id
    record |= {
        "policy": "thompson",
        "thompson_draws": {a.variant_id: round(float(d), 6) for a, d in zip(challengers, draws)},
        "p_best": {a.variant_id: round(float(p), 4) for a, p in zip(challengers, wins)},
    }
    return chosen, record


def assign(ctx, run: dict) -> dict:
    """Choose and record the variant of a FixBot run that has none yet (``ops.record_variant_choice``; the first
    choice stands on a retry). Returns the run with its updated metadata. Without a synced variants file the run
    keeps the variant it was queued with."""
    metadata = run.get("metadata") or {}
    if "variant_choice" in metadata or run["status"] not in ("queued", "claimed"):
        return run
    rows = ctx.query("variant_arms", {"code": run["code"], "agent_type": run.get("agent_type") or "fixbot"},
                     subsystem="learn")
    if not rows:
        return run
    arms = [Arm(r["variant_id"], r["status"], int(r["resolved"]), int(r["failed"])) for r in rows]
    share = float(rows[0]["exploration_share"] or 0)
    variant_id, record = choose(run["id"], arms, share)
    (row,) = ctx.query("record_variant_choice", {"run_id": run["id"], "variant_id": variant_id,
                                                 "choice": json.dumps(record)}, subsystem="learn")
    return {**run, "metadata": row["metadata"]}
