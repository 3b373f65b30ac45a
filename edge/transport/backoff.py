"""Reconnect delays: exponential backoff with full jitter (pure, so it is unit-tested)."""

from __future__ import annotations

import random


def backoff_delay(attempt: int, min_s: float, max_s: float, rng: random.Random | None = None) -> float:
    """Delay before reconnect ``attempt`` (1 = first retry): uniform in [min_s/2, cap], cap = min(max_s, min_s * 2**(attempt-1)).

    The lower bound keeps a fleet from hammering a recovering broker; the jitter spreads a fleet
    that lost the link at the same moment.
    """
    if attempt < 1:
        return 0.0
    cap = min(max_s, min_s * (2 ** min(attempt - 1, 32)))
    low = min(min_s / 2, cap)
    return (rng or random).uniform(low, cap)
