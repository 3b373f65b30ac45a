"""The service runner: READY, WATCHDOG only while healthy, board updates, health reports, clean shutdown."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from edge.camera import CameraError, Frame
from edge.service.collector import HealthCollector
from edge.service.components import CameraComponent, CheckComponent, ComponentStatus, StatefulComponent, watchdog_verdict
from edge.service.health import HealthLimits
from edge.service.http import LocalHttpServer
from edge.service.runner import ServiceRunner
from edge.service.status import StatusBoard


class FlakyCamera:
    """A test camera (no hardware here) whose frames fail while ``broken`` is set."""

    def __init__(self) -> None:
        self.broken = False
        self._state = "stopped"
        self.captures = 0
        self.closed = False

    @property
    def state(self) -> str:
        return self._state

    def start(self) -> None:
        self._state = "ok"

    def capture(self) -> Frame:
        self.captures += 1
        if self.broken:
            self._state = "recovering"
            raise CameraError("camera unplugged")
        self._state = "ok"
        return Frame(np.zeros((8, 8, 3), np.uint8), time.monotonic_ns())

    def stop(self) -> None:
        self._state = "stopped"

    def close(self) -> None:
        self.closed = True
        self._state = "stopped"

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def parts(tmp_path: Path):
    """A runner over a flaky camera, a switchable outbox check and a GPS object, with a hand-driven clock."""
    clock = Clock()
    camera = FlakyCamera()
    outbox_ok = {"ok": True}
    gps = type("Gps", (), {"state": "connected", "stopped": False, "close": lambda self: setattr(self, "stopped", True)})()
    board = StatusBoard("dev-1", "pos-7")
    sent: list = []
    components = [
        CameraComponent(camera, probe_s=5, grace_s=30, clock=clock),
        CheckComponent("matching", lambda: True),
        CheckComponent("outbox", lambda: (outbox_ok["ok"], "" if outbox_ok["ok"] else "database is malformed")),
        StatefulComponent("gps", gps),
    ]
    collector = HealthCollector(device_id="dev-1", version="t", state_dir=tmp_path, limits=HealthLimits(backlog_max_age_s=100),
                                outbox_stats=lambda: (2, 10.0), camera_state=lambda: camera.state, gps_state=lambda: gps.state,
                                link_state=lambda: "down", clock=clock, started_at=0.0)
    runner = ServiceRunner(components, board=board, collector=collector, health_sink=sent.append,
                           health_interval_s=60, clock=clock)
    return type("Parts", (), dict(runner=runner, camera=camera, outbox_ok=outbox_ok, clock=clock, board=board, sent=sent, gps=gps))


def test_watchdog_verdict_ignores_non_critical() -> None:
    """Only critical components gate keep-alives, and the reasons name them."""
    ok, reasons = watchdog_verdict([ComponentStatus("gps", False, "reconnecting", critical=False), ComponentStatus("camera", True, "ok")])
    assert ok and reasons == []
    ok, reasons = watchdog_verdict([ComponentStatus("outbox", False, "failed", "disk I/O error")])
    assert not ok and reasons == ["outbox failed: disk I/O error"]


def test_keepalive_only_while_healthy(parts, notify_socket) -> None:
    """WATCHDOG=1 is sent on healthy steps and withheld while the outbox check fails."""
    runner = parts.runner
    runner._start_all()
    assert runner.step() is True
    assert "WATCHDOG=1" in notify_socket.drain(0.3)
    parts.outbox_ok["ok"] = False
    assert runner.step() is False
    msgs = notify_socket.drain(0.3)
    assert "WATCHDOG=1" not in msgs and any("outbox failed" in m for m in msgs)
    assert parts.board.snapshot().service_state == "degraded"
    parts.outbox_ok["ok"] = True
    assert runner.step() is True and "WATCHDOG=1" in notify_socket.drain(0.3)
    runner._shutdown()


def test_camera_grace_then_watchdog_stops(parts, notify_socket) -> None:
    """An unplugged camera is tolerated for grace_s while it recovers, then keep-alives stop."""
    runner, clock = parts.runner, parts.clock
    runner._start_all()
    parts.camera.broken = True
    clock.now = 5.0  # probe due
    assert runner.step() is True  # recovering, within grace
    assert parts.board.snapshot().camera_state == "recovering"
    assert "WATCHDOG=1" in notify_socket.drain(0.3)
    clock.now = 36.0
    assert runner.step() is False
    assert "WATCHDOG=1" not in notify_socket.drain(0.3)
    parts.camera.broken = False
    clock.now = 41.0
    assert runner.step() is True
    runner._shutdown()


def test_board_and_health_reports(parts) -> None:
    """Each step refreshes the officer's board; health goes to the sink at start, on alarm changes and every interval."""
    runner, clock = parts.runner, parts.clock
    runner._start_all()
    runner.step()
    view = parts.board.snapshot()
    assert (view.camera_state, view.gps_state, view.link_state, view.pending_uploads) == ("ok", "connected", "down", 2)
    assert len(parts.sent) == 1
    clock.now = 30.0
    runner.step()
    assert len(parts.sent) == 1  # not due yet, no alarm change
    parts.gps.state = "reconnecting"
    parts.camera.broken = True
    clock.now = 31.0
    runner.step()
    assert len(parts.sent) == 1 and parts.board.snapshot().gps_state == "reconnecting"
    clock.now = 61.0
    runner.step()
    assert len(parts.sent) == 2 and parts.sent[-1].gps_state == "reconnecting"
    runner._shutdown()


def test_run_sends_ready_and_stopping_and_stops_in_reverse(parts, notify_socket) -> None:
    """run() sends READY=1 after starting every part, STOPPING=1 on stop, and closes the camera and GPS."""
    runner = parts.runner
    runner.loop_interval_s = 0.05
    thread = threading.Thread(target=runner.run)
    thread.start()
    notify_socket.wait_for(lambda m: m.startswith("READY=1"), 5)
    notify_socket.wait_for(lambda m: m == "WATCHDOG=1", 5)
    runner.request_stop()
    thread.join(5)
    assert not thread.is_alive()
    notify_socket.wait_for(lambda m: m == "STOPPING=1", 2)
    assert parts.camera.closed and parts.gps.stopped
    assert parts.board.snapshot().service_state == "stopping"


def test_metrics_served_from_latest_snapshot(parts) -> None:
    """The runner wires /metrics on its HTTP server to the latest health snapshot."""
    http = LocalHttpServer("127.0.0.1", 0, board=parts.board)
    parts.runner.http = http
    runner = ServiceRunner(parts.runner.components, board=parts.board, collector=parts.runner.collector, http=http)
    runner._start_all()
    try:
        runner.step()
        with urllib.request.urlopen(f"{http.url}/metrics", timeout=5) as resp:
            text = resp.read().decode()
            assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert 'tepat_outbox_backlog{device_id="dev-1"} 2' in text
        with urllib.request.urlopen(f"{http.url}/api/status", timeout=5) as resp:
            assert json.load(resp)["pending_uploads"] == 2
    finally:
        runner._shutdown()
