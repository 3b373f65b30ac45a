"""Simulated position sources behave like the real reader: fixes, routes, scheduled and forced outages."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from edge.errors import ConfigError
from edge.gps import PositionSource, evaluate
from edge.config import GpsConfig
from simulator.gps import FixedPoint, Outage, RouteSource, haversine_m, load_route

MONAS = (-6.1754, 106.8272)
NORTH = (-6.1710, 106.8272)  # ~489 m north of Monas


class Clock:
    """A settable monotonic clock (seconds)."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    """A monotonic clock the test moves by hand."""
    return Clock()


def test_fixed_point_is_a_position_source(clock):
    """FixedPoint satisfies the PositionSource protocol and reports its point as a current fix."""
    source = FixedPoint(*MONAS, alt_m=12.0, monotonic=clock)
    assert isinstance(source, PositionSource)
    assert source.latest().status == "no_fix"  # not started
    with source:
        clock.t += 0.4
        stamp = source.latest()
        assert source.state == "connected"
    assert stamp.status == "fix" and (stamp.fix.lat, stamp.fix.lon, stamp.fix.mode) == (*MONAS, "3d")
    assert stamp.age_s == pytest.approx(0.4) and stamp.source == "sim-fixed"
    assert source.state == "disabled"


def test_scheduled_no_fix_and_silent_outages(clock):
    """A no_fix outage reports no_fix at once; a silent one goes stale after stale_after_s; both carry last known."""
    source = FixedPoint(*MONAS, monotonic=clock, stale_after_s=5,
                        outages=[Outage(10, 20, "no_fix"), Outage(30, 50, "silent")])
    source.start()
    clock.t += 10.5
    stamp = source.latest()
    assert stamp.status == "no_fix" and stamp.last_known_age_s == pytest.approx(1.5)
    assert stamp.gps_time is not None  # the receiver still knows the time
    clock.t += 10  # 20.5
    assert source.latest().status == "fix"
    clock.t += 12  # 32.5: last report at 29, 3.5 s old
    assert source.latest().status == "fix"
    clock.t += 3  # 35.5: 6.5 s without reports
    stamp = source.latest()
    assert stamp.status == "stale" and stamp.last_known_age_s == pytest.approx(6.5)
    clock.t += 20  # 55.5
    assert source.latest().status == "fix"


def test_forced_outage_and_policy(clock):
    """set_outage() drives the no-fix policy just as a real loss would."""
    source = FixedPoint(*MONAS, monotonic=clock)
    source.start()
    clock.t += 1
    source.set_outage("no_fix")
    clock.t += 600
    decision = evaluate(source.latest(), GpsConfig(no_fix_policy="refuse", max_fix_age_s=300))
    assert not decision.allowed and decision.flag == "no_fix"
    source.set_outage(None)
    clock.t += 1
    assert evaluate(source.latest(), GpsConfig(no_fix_policy="refuse")).allowed


def test_route_moves_at_speed_and_stops_at_end(clock):
    """Position advances speed·t along the route, then rests at the last waypoint."""
    source = RouteSource([MONAS, NORTH], speed_mps=5.0, monotonic=clock)
    source.start()
    clock.t += 40
    fix = source.latest().fix
    assert haversine_m(MONAS, (fix.lat, fix.lon)) == pytest.approx(200, abs=1)
    assert fix.speed_mps == 5.0
    clock.t += 1000
    fix = source.latest().fix
    assert (fix.lat, fix.lon) == NORTH and fix.speed_mps == 0.0


def test_route_loops(clock):
    """With loop=True the route starts over after its length."""
    source = RouteSource([MONAS, NORTH], speed_mps=10.0, loop=True, monotonic=clock)
    source.start()
    clock.t += 60  # 600 m along a ~489 m route
    fix = source.latest().fix
    assert haversine_m(MONAS, (fix.lat, fix.lon)) == pytest.approx(600 - source.length_m, abs=1)


def test_gps_time_comes_from_injected_utc(clock):
    """The simulated receiver reports the injected UTC clock as GPS time."""
    when = datetime(2026, 3, 2, 3, 0, tzinfo=timezone.utc)
    source = FixedPoint(*MONAS, monotonic=clock, utc_now=lambda: when)
    source.start()
    assert source.latest().gps_time == when


@pytest.mark.parametrize("text,expected", [
    ("lat,lon\n-6.1754,106.8272\n# comment\n-6.1710, 106.8272\n", [MONAS, NORTH]),
    ("[[-6.1754, 106.8272], [-6.1710, 106.8272]]", [MONAS, NORTH]),
    (json.dumps({"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[106.8272, -6.1754], [106.8272, -6.1710]]}}), [MONAS, NORTH]),
])
def test_load_route__valid(tmp_path, text, expected):
    """CSV, JSON pairs and GeoJSON LineString route files load to (lat, lon) waypoints."""
    path = tmp_path / "route.txt"
    path.write_text(text)
    assert load_route(path) == expected


@pytest.mark.parametrize("text,message", [
    ("-6.1,106.8\nnot,a number\n", "line 2"),
    ("[[-95, 10]]", "out of range"),
    ("", "at least one waypoint"),
    ("{", "not valid JSON"),
    ('{"type": "Point", "coordinates": [1, 2]}', "LineString"),
])
def test_load_route__invalid(tmp_path, text, message):
    """Malformed route files raise ConfigError naming the file and the problem."""
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_route(path)
    assert "bad.csv" in str(info.value)


def test_missing_route_file(tmp_path):
    """A missing route file is a ConfigError naming it."""
    with pytest.raises(ConfigError, match="nowhere.csv"):
        RouteSource(tmp_path / "nowhere.csv")
