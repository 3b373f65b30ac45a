"""Small helpers shared by test modules (not fixtures)."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(predicate: Callable[[], object], timeout_s: float = 15.0, interval_s: float = 0.05) -> object:
    """Poll ``predicate`` until it returns something truthy; that value, or the last falsy one after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval_s)
