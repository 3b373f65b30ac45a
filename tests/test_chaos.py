"""Chaos: every accepted record reaches the consumer exactly once after de-duplication, in per-device order."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos_harness import run_chaos


def _check(report) -> None:  # noqa: ANN001
    print("\n" + report.to_json())
    assert report.missing == 0, report.to_json()
    assert report.unexpected == 0
    assert report.received_unique == report.records
    assert report.out_of_order == 0
    assert report.order_ok
    assert report.invalid == 0
    assert report.integrity_ok
    assert report.pending_left == 0


@pytest.mark.timeout(180)
def test_chaos_small(mosquitto_fresh, tmp_path: Path) -> None:
    """300 records over 2 devices survive 3 publisher kill -9s, 1 broker restart and 2 link cuts."""
    report = run_chaos(mosquitto_fresh, tmp_path, records=300, devices=2, kills=3, restarts=1, cuts=2, rate_per_s=40, seed=7, drain_timeout_s=60)
    _check(report)


@pytest.mark.soak
@pytest.mark.timeout(1200)
def test_chaos_soak(mosquitto_fresh, tmp_path: Path) -> None:
    """5,000 records over 2 devices survive 12 publisher kill -9s, 2 broker restarts and 6 random link cuts."""
    report = run_chaos(mosquitto_fresh, tmp_path, records=5000, devices=2, kills=12, restarts=2, cuts=6, rate_per_s=60, seed=2026, drain_timeout_s=300)
    _check(report)
