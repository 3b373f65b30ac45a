"""When to try reopening a camera that failed: pure backoff bookkeeping, time passed in."""

from __future__ import annotations

from dataclasses import dataclass

from edge.backoff import cap_delay
from edge.config.camera import CameraRecoveryConfig


def backoff_delay(failures: int, initial_s: float, max_s: float) -> float:
    """Seconds to wait after the ``failures``-th consecutive failure: initial, doubling, capped (no jitter)."""
    return cap_delay(failures, initial_s, max_s)


@dataclass
class Recovery:
    """Counts consecutive failures and says when the next reopen attempt is due."""

    policy: CameraRecoveryConfig
    failures: int = 0
    next_attempt_at: float = 0.0

    def on_failure(self, now: float) -> float:
        """Record a failure at ``now``; returns the delay until the next attempt."""
        self.failures += 1
        delay = backoff_delay(self.failures, self.policy.initial_s, self.policy.max_s)
        self.next_attempt_at = now + delay
        return delay

    def on_success(self) -> None:
        self.failures = 0
        self.next_attempt_at = 0.0

    def due(self, now: float) -> bool:
        return now >= self.next_attempt_at

    @property
    def state(self) -> str:
        """``ok`` with no failures, ``recovering`` while retrying, ``failed`` after ``fail_after`` failures."""
        if self.failures == 0:
            return "ok"
        return "failed" if self.failures >= self.policy.fail_after else "recovering"
