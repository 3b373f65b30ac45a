"""One backoff for every reconnect loop: the doubling cap and the three jitter rules."""

from __future__ import annotations

import random

import pytest

from edge.backoff import Backoff, backoff_delay, cap_delay
from edge.camera.recovery import backoff_delay as camera_delay
from edge.gps.backoff import Backoff as GpsBackoff
from edge.transport.backoff import backoff_delay as mqtt_delay


def test_cap_doubles_from_min_and_stops_at_max():
    assert [cap_delay(a, 0.5, 4.0) for a in range(0, 7)] == [0.0, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert cap_delay(10_000, 0.5, 30.0) == 30.0


@pytest.mark.parametrize("r,expected", [(0.0, 3.6), (0.5, 4.0), (0.999999, 4.4)])
def test_proportional_jitter_is_within_the_fraction(r, expected):
    assert backoff_delay(4, 0.5, 4.0, jitter="proportional", fraction=0.1, rand=lambda: r) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("r,expected", [(0.0, 0.5), (1.0, 8.0)])
def test_full_jitter_spans_half_min_to_cap(r, expected):
    assert backoff_delay(4, 1.0, 60.0, jitter="full", rand=lambda: r) == expected


def test_the_old_names_are_the_same_rules():
    """Camera: no jitter; GPS: ±10 %; MQTT: full jitter from the given RNG (same draws as random.uniform)."""
    assert [camera_delay(n, 0.5, 4.0) for n in range(4)] == [0.0, 0.5, 1.0, 2.0]
    assert GpsBackoff is Backoff and [Backoff(1, 8, rand=lambda: 0.5).next() for _ in range(2)] == [1.0, 1.0]
    a, b = random.Random(3), random.Random(3)
    assert mqtt_delay(3, 1, 60, a) == b.uniform(0.5, 4.0)
