"""What the reader needs from a gpsd client library: connect, stream reports, abort, close."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any, Protocol

MAX_LINE = 64 * 1024  # gpsd's longest reports (SKY with ~100 satellites) are ~20 KiB


class GpsdSession(Protocol):
    """One connection to gpsd through one client library."""

    name: str

    def open(self) -> None:
        """Connect (bounded by the configured timeout); raises OSError when gpsd is unreachable."""

    def reports(self) -> Iterator[dict[str, Any]]:
        """Decoded gpsd reports until the connection ends (raises OSError) or :meth:`abort` is called."""

    def abort(self) -> None:
        """From another thread: make :meth:`reports` return promptly."""

    def close(self) -> None:
        """Release the socket; safe to call twice."""


def enable_keepalive(sock: socket.socket, idle_s: int = 10, interval_s: int = 5, count: int = 3) -> None:
    """Detect a vanished gpsd host (no FIN/RST) within about idle + interval*count seconds."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (("TCP_KEEPIDLE", idle_s), ("TCP_KEEPINTVL", interval_s), ("TCP_KEEPCNT", count)):
        if hasattr(socket, name):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)


def shutdown_quietly(sock: socket.socket | None) -> None:
    """Wake any thread blocked on ``sock`` and close it, ignoring errors from an already dead socket."""
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
