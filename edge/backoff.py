"""Retry delays, one implementation for every reconnect loop (camera, GPS, MQTT); pure, randomness injected.

The delay before retry ``attempt`` (1 = first retry) grows from ``min_s`` by doubling up to
``max_s``. The jitter rule spreads a fleet that lost the same broker or gpsd at once:

``none``          exactly the cap (the camera: one device, one reopen loop)
``proportional``  the cap ± ``fraction`` (GPS: 10 %)
``full``          uniform in [min_s / 2, cap] (MQTT: a fleet reconnecting to one broker)
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Literal

Jitter = Literal["none", "proportional", "full"]


def cap_delay(attempt: int, min_s: float, max_s: float) -> float:
    """``min_s · 2**(attempt-1)``, at most ``max_s``; 0 before the first retry."""
    if attempt < 1:
        return 0.0
    return min(max_s, min_s * 2 ** min(attempt - 1, 32))


def backoff_delay(attempt: int, min_s: float, max_s: float, *, jitter: Jitter = "none", fraction: float = 0.1,
                  rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait before retry ``attempt`` under the ``jitter`` rule (``rand`` gives a float in [0, 1))."""
    cap = cap_delay(attempt, min_s, max_s)
    if cap == 0.0 or jitter == "none":
        return cap
    if jitter == "proportional":
        return cap * (1 + fraction * (2 * rand() - 1))
    low = min(min_s / 2, cap)
    return low + (cap - low) * rand()


class Backoff:
    """Stateful: ``next()`` gives the delay for one more failed attempt; ``reset()`` after a success."""

    def __init__(self, min_s: float, max_s: float, *, jitter: float = 0.1, rand: Callable[[], float] = random.random,
                 rule: Jitter = "proportional") -> None:
        if min_s <= 0 or max_s < min_s:
            raise ValueError("need 0 < min_s <= max_s")
        self.min_s, self.max_s, self.jitter, self.rule, self._rand = min_s, max_s, jitter, rule, rand
        self.attempts = 0

    def next(self) -> float:
        self.attempts += 1
        return backoff_delay(self.attempts, self.min_s, self.max_s, jitter=self.rule, fraction=self.jitter, rand=self._rand)

    def reset(self) -> None:
        self.attempts = 0
