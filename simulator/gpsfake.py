"""A real gpsd fed by ``gpsfake`` (Debian ``gpsd-clients``) replaying an NMEA log on a loopback port.

The terminal then reads it with the product's own gpsd reader (``edge.gps.reader.GpsdReader``),
so the whole GPS path is real; only the receiver is a recording.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from edge.errors import EdgeError
from simulator.broker import free_port

logger = logging.getLogger(__name__)


class GpsfakeUnavailable(EdgeError):
    """gpsfake is not installed or did not start."""


class Gpsfake:
    """Context manager: ``gpsfake -n -c CYCLE -P PORT LOG`` in its own process group (gpsd included)."""

    def __init__(self, log: Path, cycle_s: float = 0.2) -> None:
        self.log, self.cycle_s = Path(log).resolve(), cycle_s
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._tmp = tempfile.mkdtemp(prefix="gf")  # short path: gpsd's control socket lives here

    def __enter__(self) -> "Gpsfake":
        binary = shutil.which("gpsfake")
        if binary is None:
            raise GpsfakeUnavailable("gps kind 'gpsd' needs gpsfake and gpsd (apt install gpsd gpsd-clients)")
        if not self.log.is_file():
            raise GpsfakeUnavailable(f"NMEA log not found: {self.log}")
        self.proc = subprocess.Popen([binary, "-n", "-c", str(self.cycle_s), "-P", str(self.port), str(self.log)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True, env=dict(os.environ, TMPDIR=self._tmp), cwd=self._tmp)
        end = time.monotonic() + 15
        while time.monotonic() < end and self.proc.poll() is None:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.3):
                logger.info("gpsfake: gpsd on 127.0.0.1:%d replaying %s", self.port, self.log.name)
                return self
            time.sleep(0.1)
        self.__exit__()
        raise GpsfakeUnavailable(f"gpsfake did not start gpsd on 127.0.0.1:{self.port} with {self.log}")

    def __exit__(self, *exc: object) -> None:
        if self.proc is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=5)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # gpsd may outlive gpsfake by a moment
        self.proc = None
        shutil.rmtree(self._tmp, ignore_errors=True)
