"""A small sd_notify: tell systemd we are ready, alive, stopping, or what we are doing.

Messages go as AF_UNIX datagrams to ``$NOTIFY_SOCKET`` (a path, or ``@name`` for the
abstract namespace). Every function is a no-op returning ``False`` when the process is not
run by systemd with ``Type=notify``, so the same code runs on a developer laptop.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

logger = logging.getLogger(__name__)

SEND_TIMEOUT_S = 0.5


def _address(environ: Mapping[str, str]) -> str | None:
    path = environ.get("NOTIFY_SOCKET")
    if not path:
        return None
    if path.startswith("@"):
        return "\0" + path[1:]
    if not path.startswith("/"):
        logger.warning("NOTIFY_SOCKET=%r is neither a path nor an abstract socket; not notifying systemd", path)
        return None
    return path


def notify(state: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send ``state`` (e.g. ``"READY=1"``, newline-separated assignments); True if it was sent."""
    address = _address(os.environ if environ is None else environ)
    if address is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            # Never let a reader that stopped reading (a full datagram queue) stall the main loop.
            sock.settimeout(SEND_TIMEOUT_S)
            sock.connect(address)
            sock.sendall(state.encode("utf-8"))
    except OSError as exc:  # includes TimeoutError
        logger.warning("cannot notify systemd (%s): %s", state.split("=", 1)[0], exc)
        return False
    return True


def ready(status_text: str | None = None) -> bool:
    """Start-up finished: systemd marks the unit active."""
    return notify("READY=1" + (f"\nSTATUS={status_text}" if status_text else ""))


def watchdog() -> bool:
    """Keep-alive: the service is healthy (systemd restarts us when these stop for WatchdogSec)."""
    return notify("WATCHDOG=1")


def status(text: str) -> bool:
    """A one-line status shown by ``systemctl status``."""
    return notify("STATUS=" + text.replace("\n", " "))


def stopping() -> bool:
    """Shutdown has begun."""
    return notify("STOPPING=1")


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """The watchdog timeout in seconds if systemd enabled one for this process, else None.

    Keep-alives should be sent at least twice per interval (the runner uses a third).
    """
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC")
    if not usec:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 1_000_000 if value > 0 else None
