"""Reconnect delays: exponential with a cap and a little jitter; pure, randomness injected."""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    """``next()`` gives min, 2·min, 4·min … up to max (each ±10 %); ``reset()`` after a success."""

    def __init__(self, min_s: float, max_s: float, *, jitter: float = 0.1, rand: Callable[[], float] = random.random) -> None:
        if min_s <= 0 or max_s < min_s:
            raise ValueError("need 0 < min_s <= max_s")
        self.min_s, self.max_s, self.jitter, self._rand = min_s, max_s, jitter, rand
        self.attempts = 0

    def next(self) -> float:
        base = min(self.max_s, self.min_s * (2 ** min(self.attempts, 32)))
        self.attempts += 1
        return base * (1 + self.jitter * (2 * self._rand() - 1))

    def reset(self) -> None:
        self.attempts = 0
