"""MQTT reconnect delays: :func:`edge.backoff.backoff_delay` with full jitter; this name stays for existing imports."""

from __future__ import annotations

import random

from edge import backoff


def backoff_delay(attempt: int, min_s: float, max_s: float, rng: random.Random | None = None) -> float:
    """Delay before reconnect ``attempt`` (1 = first retry): uniform in [min_s/2, cap], cap = min(max_s, min_s * 2**(attempt-1)).

    The lower bound keeps a fleet from hammering a recovering broker; the jitter spreads a fleet
    that lost the link at the same moment.
    """
    return backoff.backoff_delay(attempt, min_s, max_s, jitter="full", rand=(rng or random).random)
