"""GPS fixtures: a real gpsd fed by gpsfake on a loopback port, and a scripted gpsd-speaking server.

``Gpsfake`` (tests.support.gps) and ``free_port`` stay importable from here.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from tests.support.gps import NMEA_DIR, Gpsfake
from tests.support.net import free_port

__all__ = ["NMEA_DIR", "Gpsfake", "ScriptedGpsd", "free_port"]


@pytest.fixture
def gpsfake() -> Iterator[Callable[..., Gpsfake]]:
    """Factory: ``gpsfake("fixed_monas.log")`` starts gpsd fed by that NMEA log on a free loopback port."""
    started: list[Gpsfake] = []

    def start(log: str | Path, port: int | None = None, cycle_s: float = 0.1) -> Gpsfake:
        path = Path(log) if Path(log).is_absolute() else NMEA_DIR / log
        server = Gpsfake(path, port or free_port(), cycle_s)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.cleanup()


class ScriptedGpsd:
    """A loopback TCP server that greets like gpsd and then sends the given lines (bytes) to each client."""

    def __init__(self, lines: Sequence[bytes], *, banner: bytes = b'{"class":"VERSION","release":"3.22","proto_major":3,"proto_minor":14}\n',
                 repeat: bool = True, pause_s: float = 0.01, linger_s: float = 30.0) -> None:
        """``repeat=False``: send the lines once, then keep the connection open ``linger_s`` and hang up."""
        self.lines, self.banner, self.repeat, self.pause_s, self.linger_s = list(lines), banner, repeat, pause_s, linger_s
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.clients = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.clients += 1
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.sendall(self.banner)
            while not self._stop.is_set():
                for line in self.lines:
                    if self._stop.is_set():
                        return
                    conn.sendall(line)
                    time.sleep(self.pause_s)
                if not self.repeat:
                    self._stop.wait(self.linger_s)
                    return

    def close(self) -> None:
        self._stop.set()
        self.listener.close()
        self._thread.join(timeout=2)


@pytest.fixture
def scripted_gpsd() -> Iterator[Callable[..., ScriptedGpsd]]:
    """Factory for :class:`ScriptedGpsd` servers (malformed-protocol tests); all closed afterwards."""
    servers: list[ScriptedGpsd] = []

    def start(lines: Sequence[bytes], **kwargs: object) -> ScriptedGpsd:
        server = ScriptedGpsd(lines, **kwargs)  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()
