"""gpsd through the ``gpsdclient`` library (the default backend).

gpsdclient does the protocol (WATCH, checks the VERSION banner, repairs trailing commas);
its socket reading is replaced here so that lines are bounded in length, a silent gpsd
(no receiver attached) does not look like a dead one, and :meth:`abort` is noticed
within a fraction of a second.
"""

from __future__ import annotations

import itertools
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from edge.gps.parse import parse_line
from edge.gps.session import MAX_LINE, enable_keepalive, shutdown_quietly

logger = logging.getLogger(__name__)

RECV_TICK_S = 0.25
WATCH = b'?WATCH={"enable":true,"json":true}\n'


def _client_class() -> type:
    from gpsdclient import GPSDClient

    class BoundedClient(GPSDClient):
        """GPSDClient whose line source is bounded, interruptible and tolerant of silence."""

        def __init__(self, host: str, port: int, timeout: float, stop: threading.Event) -> None:
            super().__init__(host=host, port=port, timeout=timeout)
            self._stop = stop
            self.oversized = 0

        def gpsd_lines(self) -> Iterator[str]:
            self.close()
            sock = socket.create_connection((self.host, int(self.port)), timeout=self.timeout)
            self.sock = sock
            enable_keepalive(sock)
            sock.settimeout(RECV_TICK_S)
            sock.sendall(WATCH)
            buf = bytearray()
            skipping = False
            banner_deadline = time.monotonic() + self.timeout
            while not self._stop.is_set():
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    if banner_deadline and time.monotonic() > banner_deadline:
                        raise TimeoutError(f"no greeting from {self.host}:{self.port} within {self.timeout:g} s") from None
                    continue
                banner_deadline = 0.0
                if not chunk:
                    raise ConnectionError("gpsd closed the connection")
                buf += chunk
                while (end := buf.find(b"\n")) >= 0:
                    line = bytes(buf[:end])
                    del buf[: end + 1]
                    if skipping:
                        skipping = False
                        continue
                    yield line.decode("utf-8", "replace")
                if len(buf) > MAX_LINE:
                    self.oversized += 1
                    buf.clear()
                    skipping = True

        def __del__(self) -> None:  # the base closes in __del__; keep that quiet at interpreter exit
            try:
                self.close()
            except Exception:
                pass

    return BoundedClient


class GpsdclientSession:
    """A streaming gpsd connection through gpsdclient."""

    name = "gpsdclient"

    def __init__(self, host: str, port: int, *, connect_timeout_s: float = 3.0) -> None:
        self.host, self.port = host, port
        self._stop = threading.Event()
        self._client = _client_class()(host, port, connect_timeout_s, self._stop)
        self.garbage_lines = 0
        self._lines: Iterator[str] | None = None
        self._banner: str | None = None

    def open(self) -> None:
        """Connect, enable watching and read gpsd's VERSION banner (gpsdclient checks it)."""
        self._lines = iter(self._client.json_stream())
        try:
            self._banner = next(self._lines)
        except StopIteration:
            raise ConnectionError("stopped while connecting") from None

    def reports(self) -> Iterator[dict[str, Any]]:
        if self._lines is None:
            raise RuntimeError("open() first")
        pending = [self._banner] if self._banner is not None else []
        for line in itertools.chain(pending, self._lines):
            report = parse_line(line)
            if report is None:
                self.garbage_lines += 1
                if self.garbage_lines in (1, 10, 100, 1000):
                    logger.warning("gpsd at %s:%s sent %d unreadable line(s); ignoring them", self.host, self.port, self.garbage_lines)
                continue
            yield report

    def abort(self) -> None:
        self._stop.set()
        shutdown_quietly(self._client.sock)

    def close(self) -> None:
        self._client.close()
