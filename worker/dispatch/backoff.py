"""Capped exponential backoff with full jitter: uniform(0, min(cap, base * 2**(attempt-1)))."""

from __future__ import annotations

import random


def delay(attempt: int, base: float, cap: float, rng: random.Random = random._inst) -> float:  # noqa: SLF001
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return rng.uniform(0, ceiling)
