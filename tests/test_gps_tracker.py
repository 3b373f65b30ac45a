"""FixTracker: fix / stale / no_fix with ages on an injected monotonic clock; the reconnect backoff."""

from __future__ import annotations

import pytest

from edge.gps.backoff import Backoff
from edge.gps.tracker import FixTracker

S = 1_000_000_000
TPV = {"class": "TPV", "mode": 3, "time": "2026-03-02T03:00:04.000Z", "lat": -6.1754, "lon": 106.8272, "altMSL": 12.5}
NO_FIX = {"class": "TPV", "mode": 1, "time": "2026-03-02T03:00:09.000Z"}


@pytest.fixture
def tracker() -> FixTracker:
    """A tracker that calls a fix stale after 5 s without reports."""
    return FixTracker("gpsdclient", stale_after_s=5)


def test_nothing_received_is_no_fix(tracker):
    """Before any report the stamp is no_fix with nothing known."""
    stamp = tracker.stamp(100 * S)
    assert stamp.status == "no_fix" and stamp.last_known is None and stamp.gps_time is None


def test_fresh_fix_has_age(tracker):
    """A fix received 2 s ago is a current fix aged 2 s."""
    tracker.on_report(TPV, 10 * S)
    stamp = tracker.stamp(12 * S)
    assert stamp.status == "fix" and stamp.age_s == 2.0 and stamp.fix.lat == -6.1754
    assert stamp.last_known == stamp.fix and stamp.gps_time_age_s == 2.0


def test_silence_makes_fix_stale(tracker):
    """No report for longer than stale_after_s: stale, with the last position and its age."""
    tracker.on_report(TPV, 10 * S)
    stamp = tracker.stamp(16 * S)
    assert stamp.status == "stale" and stamp.fix is None and stamp.age_s is None
    assert stamp.last_known.lat == -6.1754 and stamp.last_known_age_s == 6.0


def test_receiver_reporting_no_fix_is_no_fix_with_last_known(tracker):
    """A mode-1 report after a fix: no_fix at once, last known kept, GPS time updated."""
    tracker.on_report(TPV, 10 * S)
    tracker.on_report(NO_FIX, 11 * S)
    stamp = tracker.stamp(11 * S)
    assert stamp.status == "no_fix" and stamp.last_known_age_s == 1.0
    assert stamp.gps_time.second == 9 and stamp.gps_time_age_s == 0.0


def test_fix_returns_after_loss(tracker):
    """A new fix after a loss is current again."""
    for report, t in ((TPV, 1), (NO_FIX, 2), (TPV, 3)):
        tracker.on_report(report, t * S)
    assert tracker.stamp(3 * S).status == "fix"


def test_mode_zero_and_junk_change_nothing(tracker):
    """Mode 0 ('unknown') and malformed reports neither refresh nor clear the fix."""
    tracker.on_report(TPV, 10 * S)
    tracker.on_report({"class": "TPV", "mode": 0}, 14 * S)
    tracker.on_report("junk", 14 * S)
    tracker.on_report({"class": "TPV", "mode": "3"}, 14 * S)
    assert tracker.stamp(16 * S).status == "stale"
    assert tracker.rejected == 2


def test_sky_quality_attaches_only_when_recent(tracker):
    """Satellites/HDOP from a SKY seen within 5 s attach to the next fix; older SKY does not."""
    tracker.on_report({"class": "SKY", "uSat": 7, "hdop": 1.1}, 1 * S)
    tracker.on_report(TPV, 2 * S)
    assert tracker.stamp(2 * S).fix.satellites_used == 7
    tracker.on_report(TPV, 20 * S)
    assert tracker.stamp(20 * S).fix.satellites_used is None


def test_clock_never_negative_age(tracker):
    """A report stamped after 'now' (clock read races) gives age 0, not a negative age."""
    tracker.on_report(TPV, 10 * S)
    assert tracker.stamp(9 * S).age_s == 0.0


def test_backoff_doubles_to_cap_and_resets():
    """Delays double from min to max; reset() starts over."""
    backoff = Backoff(0.5, 4.0, rand=lambda: 0.5)  # no jitter at rand=0.5
    assert [backoff.next() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    backoff.reset()
    assert backoff.next() == 0.5


def test_backoff_jitter_stays_within_ten_percent():
    """Jitter moves a delay by at most ±10 %."""
    low, high = Backoff(1, 1, rand=lambda: 0.0), Backoff(1, 1, rand=lambda: 1.0)
    assert low.next() == pytest.approx(0.9) and high.next() == pytest.approx(1.1)


@pytest.mark.parametrize("lo,hi", [(0, 1), (2, 1)])
def test_backoff__invalid(lo, hi):
    """Non-positive or inverted bounds are refused."""
    with pytest.raises(ValueError):
        Backoff(lo, hi)
