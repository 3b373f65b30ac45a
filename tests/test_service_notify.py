"""sd_notify over a real AF_UNIX datagram socket, and the watchdog interval from the environment."""

from __future__ import annotations

import os
import socket
import uuid

import pytest

from edge.service import notify


def test_ready_and_watchdog_reach_the_socket(notify_socket) -> None:
    """ready(), watchdog(), status() and stopping() send the sd_notify assignments systemd expects."""
    assert notify.ready("camera ok")
    assert notify.watchdog()
    assert notify.status("two\nlines")
    assert notify.stopping()
    assert notify_socket.drain(0.5) == ["READY=1\nSTATUS=camera ok", "WATCHDOG=1", "STATUS=two lines", "STOPPING=1"]


def test_abstract_namespace_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    """A NOTIFY_SOCKET starting with '@' is an abstract-namespace socket."""
    name = f"tepat-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert notify.watchdog()
        assert sock.recv(100) == b"WATCHDOG=1"


def test_no_op_without_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside systemd every call is a harmless no-op returning False."""
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify.ready() is False and notify.watchdog() is False


def test_unreachable_socket_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch, tmp_path, caplog) -> None:
    """A NOTIFY_SOCKET nobody listens on logs a warning and returns False."""
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone"))
    assert notify.ready() is False
    assert "cannot notify systemd" in caplog.text


@pytest.mark.parametrize(
    "env,expected",
    [
        ({"WATCHDOG_USEC": "3000000"}, 3.0),
        ({"WATCHDOG_USEC": "3000000", "WATCHDOG_PID": str(os.getpid())}, 3.0),
        ({"WATCHDOG_USEC": "3000000", "WATCHDOG_PID": "1"}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
        ({}, None),
    ],
)
def test_watchdog_interval(env: dict[str, str], expected: float | None) -> None:
    """WATCHDOG_USEC gives the timeout in seconds, only for the process WATCHDOG_PID names."""
    assert notify.watchdog_interval(env) == expected


def test_full_socket_queue_does_not_block(notify_socket, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the reader stops reading and its queue fills, notify gives up after the send timeout instead of hanging."""
    import time

    monkeypatch.setattr(notify, "SEND_TIMEOUT_S", 0.02)
    start = time.monotonic()
    results = [notify.watchdog() for _ in range(40)]  # Linux queues 10 datagrams (net.unix.max_dgram_qlen) by default
    assert results[0] is True and results[-1] is False
    assert time.monotonic() - start < 5
