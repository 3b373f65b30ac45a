"""gpsd JSON parsing: valid reports become typed fixes, anything malformed is dropped field by field."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.gps.parse import Sky, parse_line, parse_sky, parse_time, parse_tpv

TPV_3D = {"class": "TPV", "mode": 3, "time": "2026-03-02T03:00:04.000Z", "lat": -6.1754, "lon": 106.8272,
          "altHAE": 16.6, "altMSL": 12.5, "alt": 12.5, "eph": 17.1, "epv": 27.6, "speed": 0.0}


def test_3d_tpv_becomes_fix_with_sky_quality():
    """A 3D TPV plus the latest SKY gives every GpsFix field."""
    tpv = parse_tpv(TPV_3D, Sky(satellites_used=9, hdop=0.9))
    assert tpv is not None and tpv.mode == 3
    fix = tpv.fix
    assert (fix.lat, fix.lon, fix.alt_m, fix.mode) == (-6.1754, 106.8272, 12.5, "3d")
    assert (fix.satellites_used, fix.hdop, fix.eph_m, fix.epv_m, fix.speed_mps) == (9, 0.9, 17.1, 27.6, 0.0)
    assert fix.fix_time == datetime(2026, 3, 2, 3, 0, 4, tzinfo=timezone.utc)


def test_2d_fix_has_no_altitude_even_if_reported():
    """A 2D fix never carries an altitude (gpsd-py3 would say 0.0; we say None)."""
    fix = parse_tpv(dict(TPV_3D, mode=2)).fix
    assert fix.mode == "2d" and fix.alt_m is None and fix.epv_m is None


def test_old_gpsd_alt_field_is_used_without_altmsl():
    """gpsd before 3.20 only sends 'alt'."""
    report = {k: v for k, v in TPV_3D.items() if k not in ("altMSL", "altHAE")}
    assert parse_tpv(dict(report, alt=40.0)).fix.alt_m == 40.0


@pytest.mark.parametrize("mode", [0, 1])
def test_no_fix_modes_give_time_but_no_position(mode):
    """Mode 0/1 reports never yield a position, but keep the receiver's time."""
    tpv = parse_tpv(dict(TPV_3D, mode=mode))
    assert tpv.fix is None and tpv.time is not None


@pytest.mark.parametrize("field,value", [("speed", -1), ("eph", float("nan")), ("altMSL", 1e9), ("epv", "x")])
def test_bad_quality_fields_are_dropped_not_fatal(field, value):
    """One impossible quality value is dropped; the position survives."""
    fix = parse_tpv(dict(TPV_3D, **{field: value})).fix
    assert fix is not None and fix.lat == -6.1754


def test_impossible_coordinates_are_not_a_fix():
    """Latitude beyond ±90 is not a position."""
    assert parse_tpv(dict(TPV_3D, lat=-91.0)).fix is None


@pytest.mark.parametrize("value", ["2026-03-02T03:00:04Z", "2026-03-02T03:00:04.5Z"])
def test_parse_time__valid(value):
    """gpsd's ISO times parse as aware UTC."""
    assert parse_time(value).tzinfo is timezone.utc


@pytest.mark.parametrize("value", ["", "yesterday", "2026-03-02T03:00:04", "2026-13-02T03:00:04Z", 17, None, "2026-03-02T03:00:04+07:00Z"])
def test_parse_time__invalid(value):
    """Anything else is no time."""
    assert parse_time(value) is None


def test_sky_counts_used_satellites_without_usat():
    """Older gpsd lacks uSat: count satellites flagged used."""
    sky = parse_sky({"class": "SKY", "hdop": 1.2, "satellites": [{"used": True}, {"used": False}, {"used": True}, "junk"]})
    assert sky == Sky(satellites_used=2, hdop=1.2)


@pytest.mark.parametrize("line", ["", "[]", '{"class": 3}', "{", '"TPV"', "\x00"])
def test_parse_line__invalid(line):
    """Lines that are not a gpsd report object are None."""
    assert parse_line(line) is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
tpv_like = st.fixed_dictionaries(
    {"class": st.just("TPV")},
    optional={k: json_values | st.floats(-200, 200) | st.integers(-1, 4) for k in ("mode", "lat", "lon", "altMSL", "alt", "eph", "epv", "speed", "time")},
)


@settings(max_examples=300, deadline=None)
@given(tpv_like)
def test_parse_tpv_never_raises(report):
    """Any TPV-shaped dict parses to None or a valid Tpv; a fix always has in-range coordinates."""
    tpv = parse_tpv(report)
    if tpv is not None and tpv.fix is not None:
        assert -90 <= tpv.fix.lat <= 90 and -180 <= tpv.fix.lon <= 180 and tpv.mode in (2, 3)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=10), json_values, max_size=6))
def test_parse_sky_never_raises(report):
    """Any dict parses to a Sky with sane values."""
    sky = parse_sky(report)
    assert sky.satellites_used is None or 0 <= sky.satellites_used <= 255


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode) | json_values.map(lambda v: json.dumps(v).encode()))
def test_parse_line_never_raises(raw):
    """Arbitrary bytes on the wire give a dict report or None."""
    result = parse_line(raw)
    assert result is None or isinstance(result["class"], str)
