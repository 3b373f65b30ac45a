"""The gpsd reader against a real gpsd fed by gpsfake on loopback, for both client backends."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from edge.config import GpsConfig
from edge.gps.model import PositionStamp
from edge.gps.reader import GpsdReader
from tests.data.nmea import make_logs as truth
from tests.helpers import wait_until

BACKENDS = ["gpsdclient", "gpsd-py3"]
FIRST_FIX_S = 15.0


def reader_for(port: int, backend: str, **overrides: object) -> GpsdReader:
    settings: dict[str, object] = {"port": port, "backend": backend, "stale_after_s": 2.0, "reconnect_min_s": 0.2,
                                   "reconnect_max_s": 1.0, "poll_interval_s": 0.3}
    settings.update(overrides)
    return GpsdReader(GpsConfig(**settings))


def wait_for_status(reader: GpsdReader, status: str, timeout_s: float) -> PositionStamp | None:
    def check() -> PositionStamp | None:
        stamp = reader.latest()
        return stamp if stamp.status == status else None

    return wait_until(check, timeout_s)  # type: ignore[return-value]


@pytest.mark.parametrize("backend", BACKENDS)
def test_fixed_point_within_10_m(gpsfake, backend):
    """A receiver at Monas yields a 3D fix within 10 m of the NMEA position, with quality fields."""
    server = gpsfake("fixed_monas.log")
    with reader_for(server.port, backend) as reader:
        stamp = wait_for_status(reader, "fix", FIRST_FIX_S)
        assert stamp is not None, f"no fix from gpsd ({backend}): {reader.latest()}"
        # SKY (satellites, HDOP) may arrive one report after the first TPV; a gpsd-py3 POLL can land
        # mid-cycle, before the GGA with the altitude (then alt_m is None, never gpsd-py3's 0.0).
        altitudes = set()

        def complete() -> PositionStamp | None:
            s = reader.latest()
            if s.fix is not None:
                altitudes.add(s.fix.alt_m)
            return s if s.fix and s.fix.satellites_used and s.fix.alt_m is not None else None

        stamp = wait_until(complete, 8) or stamp
    assert 0.0 not in altitudes
    fix = stamp.fix
    assert truth.haversine_m(fix.lat, fix.lon, truth.MONAS_LAT, truth.MONAS_LON) < 10
    assert fix.mode == "3d"
    assert fix.alt_m == pytest.approx(truth.MONAS_ALT_M, abs=0.5)
    assert fix.satellites_used == 9
    assert fix.hdop == pytest.approx(0.9)
    assert fix.eph_m is not None and fix.eph_m > 0
    assert fix.fix_time is not None and fix.fix_time.date() == truth.START.date()
    assert stamp.source == backend and stamp.age_s is not None and stamp.age_s < 2.0
    assert reader.state == "disabled"  # closed by the with-block


@pytest.mark.parametrize("backend", BACKENDS)
def test_route_positions_match_nmea(gpsfake, backend):
    """While driving, every fix is within 10 m of the route point the log gave for that second."""
    server = gpsfake("route_jakarta.log")
    points = list(truth.route_points())
    checked = []
    with reader_for(server.port, backend) as reader:
        assert wait_for_status(reader, "fix", FIRST_FIX_S) is not None
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            fix = reader.latest().fix
            if fix is not None and fix.fix_time is not None:
                index = int((fix.fix_time - truth.START).total_seconds())
                lat, lon, _ = points[index]
                checked.append(truth.haversine_m(fix.lat, fix.lon, lat, lon))
                assert fix.speed_mps == pytest.approx(truth.ROUTE_SPEED_MPS, abs=0.05) or index == len(points) - 1
            time.sleep(0.2)
    assert len(checked) >= 10
    assert max(checked) < 10, checked


@pytest.mark.parametrize("backend", BACKENDS)
def test_fix_loss_reports_no_fix_with_last_known(gpsfake, backend):
    """When the receiver loses the sky, stamps say no_fix and carry the last known position and its age."""
    server = gpsfake("fix_loss.log")
    with reader_for(server.port, backend) as reader:
        assert wait_for_status(reader, "fix", FIRST_FIX_S) is not None
        stamp = wait_for_status(reader, "no_fix", 15)
        assert stamp is not None, reader.latest()
        time.sleep(0.6)
        later = reader.latest()
    assert stamp.fix is None and stamp.age_s is None
    assert stamp.last_known is not None
    assert truth.haversine_m(stamp.last_known.lat, stamp.last_known.lon, truth.MONAS_LAT, truth.MONAS_LON) < 10
    assert later.status == "no_fix" and later.last_known_age_s > stamp.last_known_age_s
    assert later.gps_time is not None  # the receiver still reports time without a position


@pytest.mark.parametrize("backend", BACKENDS)
def test_time_only_receiver(gpsfake, backend):
    """A receiver that reports only time gives GPS time in every stamp but never a position."""
    server = gpsfake("time_only.log")
    with reader_for(server.port, backend) as reader:
        stamp = wait_until(lambda: (s := reader.latest()).gps_time and s, FIRST_FIX_S)
        assert stamp, reader.latest()
        time.sleep(1.0)
        stamp = reader.latest()
    assert stamp.status == "no_fix" and stamp.fix is None and stamp.last_known is None
    assert truth.START <= stamp.gps_time <= truth.START + timedelta(seconds=60)
    assert stamp.gps_time_age_s is not None and stamp.gps_time_age_s < 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_gpsd_restart_reconnects_and_never_blocks(gpsfake, backend):
    """gpsd killed and restarted: stamps go stale with the last position, latest() stays instant, the reader reconnects."""
    server = gpsfake("fixed_monas.log")
    with reader_for(server.port, backend, stale_after_s=1.0) as reader:
        assert wait_for_status(reader, "fix", FIRST_FIX_S) is not None
        server.stop()
        slowest = 0.0
        seen: set[str] = set()
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            started = time.perf_counter()
            stamp = reader.latest()
            slowest = max(slowest, time.perf_counter() - started)
            seen.add(stamp.status)
            time.sleep(0.01)
        assert reader.state == "reconnecting"
        assert stamp.status == "stale" and stamp.last_known is not None and stamp.last_known_age_s >= 1.0
        assert slowest < 0.05, f"latest() took {slowest * 1000:.1f} ms while gpsd was down"
        server.start()
        assert wait_for_status(reader, "fix", FIRST_FIX_S) is not None, reader.latest()
        assert reader.state == "connected" and reader.connects >= 2
    assert seen <= {"fix", "stale"}


@pytest.mark.parametrize("backend", BACKENDS)
def test_receiver_unplugged_and_replugged(gpsfake, backend):
    """The receiver removed from gpsd (gpsd still up): the fix goes stale; put back, the fix returns."""
    server = gpsfake("fixed_monas.log")
    with reader_for(server.port, backend) as reader:
        assert wait_for_status(reader, "fix", FIRST_FIX_S) is not None
        device = _device_path(server.port)
        server.control(f"-{device}")
        stale = wait_for_status(reader, "stale", 6)
        assert stale is not None and stale.last_known is not None, reader.latest()
        assert reader.state == "connected"  # gpsd itself never went away
        server.control(f"+{device}")
        assert wait_for_status(reader, "fix", FIRST_FIX_S) is not None, reader.latest()


def _device_path(port: int) -> str:
    """The pty gpsfake feeds, as gpsd names it in its DEVICES report."""
    import json
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b'?DEVICES;\n')
        buf = b""
        while b'"class":"DEVICES"' not in buf or not buf.endswith(b"\n"):
            buf += sock.recv(65536)
    for line in buf.splitlines():
        report = json.loads(line)
        if report.get("class") == "DEVICES" and report["devices"]:
            return report["devices"][0]["path"]
    raise AssertionError(f"gpsd reported no device: {buf!r}")


def test_unreachable_gpsd_never_blocks_start_or_latest():
    """With nothing listening, start() and latest() return at once and stamps say no_fix."""
    from tests.support.net import free_port

    reader = reader_for(free_port(), "gpsdclient")
    started = time.perf_counter()
    with reader:
        stamp = reader.latest()
        elapsed = time.perf_counter() - started
        time.sleep(0.5)
        assert reader.state == "reconnecting" and reader.failures >= 1
    assert stamp.status == "no_fix" and stamp.last_known is None
    assert elapsed < 0.05
