"""Fixtures for the service tests: a real AF_UNIX datagram socket standing in for systemd's notify socket."""

from __future__ import annotations

import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


class NotifySocket:
    """A bound ``NOTIFY_SOCKET``; ``messages()`` returns what the service sent, in order."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.received: list[tuple[float, str]] = []

    def drain(self, timeout: float = 0.0) -> list[str]:
        """Read every datagram that arrives within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        got: list[str] = []
        while True:
            self.sock.settimeout(max(0.0, deadline - time.monotonic()) or 0.001)
            try:
                data = self.sock.recv(4096).decode()
            except (TimeoutError, BlockingIOError):
                break
            self.received.append((time.monotonic(), data))
            got.append(data)
        return got

    def wait_for(self, predicate, timeout: float) -> str:
        """Block until a message satisfying ``predicate`` arrives; fail the test otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for msg in self.drain(min(0.2, max(0.0, deadline - time.monotonic()))):
                if predicate(msg):
                    return msg
        pytest.fail(f"no matching notify message within {timeout} s; got {[m for _, m in self.received][-10:]}")

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def notify_socket(monkeypatch: pytest.MonkeyPatch) -> Iterator[NotifySocket]:
    """A real notify socket (short path: AF_UNIX paths are limited to 108 bytes), exported as NOTIFY_SOCKET."""
    with tempfile.TemporaryDirectory(prefix="tepat-ns-") as tmp:
        sock = NotifySocket(Path(tmp) / "notify")
        monkeypatch.setenv("NOTIFY_SOCKET", str(sock.path))
        monkeypatch.delenv("WATCHDOG_USEC", raising=False)
        monkeypatch.delenv("WATCHDOG_PID", raising=False)
        try:
            yield sock
        finally:
            sock.close()
