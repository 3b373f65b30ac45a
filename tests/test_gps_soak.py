"""Soak: the reader survives many gpsd restarts with a steady footprint (run by `make soak`)."""

from __future__ import annotations

import os
import threading
import time

import pytest

from edge.config import GpsConfig
from edge.gps.reader import GpsdReader
from tests.helpers import wait_until

RESTARTS = 8


@pytest.mark.soak
@pytest.mark.parametrize("backend", ["gpsdclient", "gpsd-py3"])
def test_many_gpsd_restarts(gpsfake, backend):
    """Eight gpsd kill/restart cycles: a fix comes back every time, latest() stays instant, fds and threads steady."""
    server = gpsfake("fixed_monas.log")
    config = GpsConfig(port=server.port, backend=backend, stale_after_s=1.0, reconnect_min_s=0.2, reconnect_max_s=1.0,
                       poll_interval_s=0.3)
    with GpsdReader(config) as reader:
        assert wait_until(lambda: reader.latest().status == "fix", 15)
        fds, threads = len(os.listdir("/proc/self/fd")), threading.active_count()
        slowest = 0.0
        for _ in range(RESTARTS):
            server.stop()
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline:
                started = time.perf_counter()
                reader.latest()
                slowest = max(slowest, time.perf_counter() - started)
                time.sleep(0.01)
            server.start()
            assert wait_until(lambda: reader.latest().status == "fix", 15), reader.latest()
        assert reader.connects >= RESTARTS + 1
        assert slowest < 0.05
        assert len(os.listdir("/proc/self/fd")) <= fds + 2 and threading.active_count() <= threads
