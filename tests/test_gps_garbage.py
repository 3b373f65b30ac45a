"""Malformed input never crashes the GPS reader: garbage NMEA through gpsd, garbage JSON straight on the socket."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from edge.config import GpsConfig
from edge.gps.reader import GpsdReader
from tests.data.nmea import make_logs as truth
from tests.helpers import wait_until

GOOD_TPV = json.dumps({"class": "TPV", "device": "/dev/ttyAMA0", "mode": 3, "time": "2026-03-02T03:00:00.000Z",
                       "lat": truth.MONAS_LAT, "lon": truth.MONAS_LON, "altMSL": 12.5, "eph": 8.0}).encode() + b"\n"
GARBAGE = [
    b"not json at all\n",
    b'{"class":"TPV","mode":3,"lat":\n',  # truncated
    b'{"class":"TPV","mode":"3","lat":"south","lon":[]}\n',  # wrong types
    b'{"class":"TPV","mode":3,"lat":NaN,"lon":Infinity}\n',  # non-finite numbers
    b'{"class":"TPV","mode":3,"lat":-91.5,"lon":200}\n',  # out of range
    b'{"class":"TPV","mode":true,"lat":1,"lon":2}\n',  # bool is not a mode
    b'{"class":"TPV","mode":1,"lat":1,"lon":2}\n',  # coordinates without a fix are not a position
    b'{"class":"SKY","uSat":-4,"hdop":"x","satellites":[1,null,{"used":"yes"}]}\n',
    b'{"class":"TPV","mode":2,"time":"yesterday","lat":1,"lon":"2"}\n',
    b'[1,2,3]\n',
    b'{"class":42}\n',
    b"\xff\xfe\x00binary\x80\n",
    b'{"class":"TPV",' + b'"x":' + b"[" * 5000 + b"]" * 5000 + b"}\n",  # deep nesting
    b"A" * 200_000 + b"\n",  # longer than any gpsd line
    b'{"class":"TPV","mode":3,"lat":90.5,"lon":2,"speed":-5,"eph":-1,"altMSL":1e300}\n',
]


@pytest.mark.parametrize("backend", ["gpsdclient", "gpsd-py3"])
def test_garbage_nmea_through_gpsd_still_gives_fixes(gpsfake, backend):
    """Bad checksums, truncated, absurd and binary NMEA between good sentences: the reader keeps the good fixes."""
    server = gpsfake("garbage.log")
    config = GpsConfig(port=server.port, backend=backend, stale_after_s=2.0, poll_interval_s=0.3)
    with GpsdReader(config) as reader:
        stamp = wait_until(lambda: (s := reader.latest()).status == "fix" and s, 15)
        assert stamp, reader.latest()
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            stamp = reader.latest()
            if stamp.fix is not None:
                assert truth.haversine_m(stamp.fix.lat, stamp.fix.lon, truth.MONAS_LAT, truth.MONAS_LON) < 10
            time.sleep(0.1)
        assert reader.state == "connected"


def test_garbage_json_does_not_crash_gpsdclient_reader(scripted_gpsd):
    """Every kind of malformed gpsd line is skipped; the valid TPV among them still becomes the fix."""
    server = scripted_gpsd(GARBAGE + [GOOD_TPV])
    config = GpsConfig(port=server.port, stale_after_s=5.0)
    with GpsdReader(config) as reader:
        stamp = wait_until(lambda: (s := reader.latest()).status == "fix" and s, 10)
        assert stamp, reader.latest()
        time.sleep(0.5)  # several more rounds of garbage
        assert reader.state == "connected"
        assert reader._thread is not None and reader._thread.is_alive()
        assert server.clients == 1, "garbage must not force reconnects"
    assert stamp.fix.lat == pytest.approx(truth.MONAS_LAT) and stamp.fix.lon == pytest.approx(truth.MONAS_LON)
    assert stamp.fix.alt_m == 12.5 and stamp.fix.eph_m == 8.0


def test_garbage_only_never_produces_a_fix(scripted_gpsd):
    """A stream of nothing but garbage leaves the stamp at no_fix (nothing invented from bad data)."""
    server = scripted_gpsd(GARBAGE)
    with GpsdReader(GpsConfig(port=server.port)) as reader:
        assert wait_until(lambda: reader.state == "connected", 5)
        time.sleep(1.0)
        stamp = reader.latest()
    assert stamp.status == "no_fix" and stamp.last_known is None


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("backend", ["gpsdclient", "gpsd-py3"])
def test_reconnects_leak_no_sockets_or_threads(scripted_gpsd, backend):
    """Many connect/hang-up cycles leave no socket open and no thread running after close()."""
    server = scripted_gpsd([GOOD_TPV], repeat=False, linger_s=0)
    fds, threads = open_fds(), threading.active_count()
    config = GpsConfig(port=server.port, backend=backend, reconnect_min_s=0.01, reconnect_max_s=0.02)
    with GpsdReader(config) as reader:
        assert wait_until(lambda: reader.failures >= 10, 10), reader.failures
    assert wait_until(lambda: open_fds() <= fds and threading.active_count() <= threads, 2), (open_fds(), fds)


@pytest.mark.parametrize("backend", ["gpsdclient", "gpsd-py3"])
def test_server_that_is_not_gpsd_is_retried_with_backoff(scripted_gpsd, backend):
    """A server greeting with something other than gpsd's VERSION is dropped and retried, without crashing."""
    server = scripted_gpsd([b"hello\n"], banner=b"SSH-2.0-OpenSSH_9.2\r\n")
    config = GpsConfig(port=server.port, backend=backend, reconnect_min_s=0.1, reconnect_max_s=0.2, connect_timeout_s=0.5)
    with GpsdReader(config) as reader:
        assert wait_until(lambda: reader.failures >= 3, 10), reader.failures
        assert reader.state in ("reconnecting", "connected")
        assert reader.latest().status == "no_fix"


def test_silent_server_times_out_the_greeting(scripted_gpsd):
    """A server that accepts but never speaks is given up after connect_timeout_s and retried."""
    server = scripted_gpsd([], banner=b"", repeat=False)
    config = GpsConfig(port=server.port, reconnect_min_s=0.1, reconnect_max_s=0.2, connect_timeout_s=0.3)
    with GpsdReader(config) as reader:
        assert wait_until(lambda: reader.failures >= 2, 5), reader.failures
    assert server.clients >= 2


@pytest.mark.parametrize("backend", ["gpsdclient", "gpsd-py3"])
def test_close_is_prompt_while_gpsd_is_silent(scripted_gpsd, backend):
    """A gpsd that greets and then says nothing (no receiver) neither trips reconnects nor delays close()."""
    server = scripted_gpsd([], repeat=False)
    reader = GpsdReader(GpsConfig(port=server.port, backend=backend, connect_timeout_s=5.0))
    reader.start()
    assert wait_until(lambda: server.clients >= 1, 5)
    time.sleep(1.0)
    started = time.monotonic()
    reader.close()
    assert time.monotonic() - started < 1.0
    assert reader.state == "disabled" and reader.latest().status == "no_fix"
    if backend == "gpsdclient":
        assert server.clients == 1 and reader.failures == 0


def test_receiver_removal_is_logged(scripted_gpsd, caplog):
    """gpsd's DEVICE deactivation message becomes one supervisor-readable warning naming the device."""
    server = scripted_gpsd([b'{"class":"DEVICE","path":"/dev/serial0","activated":0}\n'], repeat=False)
    with caplog.at_level("WARNING", logger="edge.gps.reader"), GpsdReader(GpsConfig(port=server.port)) as reader:
        assert wait_until(lambda: "disconnected" in caplog.text, 5), caplog.text
        assert reader.state == "connected"
    assert "/dev/serial0" in caplog.text


def test_flapping_gpsd_keeps_backing_off(scripted_gpsd):
    """A gpsd that greets and hangs up at once is retried with growing delays, not hammered."""
    server = scripted_gpsd([], repeat=False, linger_s=0)
    config = GpsConfig(port=server.port, reconnect_min_s=0.05, reconnect_max_s=0.4)
    with GpsdReader(config) as reader:
        time.sleep(2.0)
    # Growing delays (0.05, 0.1, 0.2, 0.4, 0.4 ...) allow about 8 connections in 2 s; a reset after
    # every greeting would allow about 35.
    assert 3 <= server.clients <= 14, server.clients
    assert reader.failures >= 3
