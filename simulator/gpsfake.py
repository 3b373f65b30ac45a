"""A real gpsd fed by ``gpsfake`` (Debian ``gpsd-clients``) replaying an NMEA log on a loopback port.

The terminal then reads it with the product's own gpsd reader (``edge.gps.reader.GpsdReader``),
so the whole GPS path is real; only the receiver is a recording. This is the one gpsfake
wrapper: the simulator uses it as a context manager, the tests through ``tests.support.gps``
(``start()``/``stop()`` to take gpsd down and up again on the same port, ``control()`` to
unplug and replug the receiver).
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
from simulator.mosquitto import free_port

logger = logging.getLogger(__name__)


class GpsfakeUnavailable(EdgeError):
    """gpsfake is not installed or did not start."""


class Gpsfake:
    """``gpsfake -n -c CYCLE -P PORT LOG`` in its own process group (gpsd included).

    Context manager (start, then stop and remove the work folder), or ``start()``/``stop()``/``cleanup()``.
    """

    def __init__(self, log: Path, cycle_s: float = 0.2, *, port: int | None = None, binary: str | None = None) -> None:
        self.log, self.cycle_s = Path(log).resolve(), cycle_s
        self.port = port or free_port()
        self.binary = binary
        self.proc: subprocess.Popen[bytes] | None = None
        self.tmpdir = tempfile.mkdtemp(prefix="gf")  # short path: gpsd's control socket lives here
        self.stderr_path = Path(self.tmpdir) / "gpsfake.err"

    def __enter__(self) -> "Gpsfake":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    def start(self, timeout_s: float = 15.0) -> "Gpsfake":
        """Start gpsfake and wait until gpsd accepts connections; :class:`GpsfakeUnavailable` otherwise."""
        binary = self.binary or shutil.which("gpsfake")
        if binary is None:
            raise GpsfakeUnavailable("gps kind 'gpsd' needs gpsfake and gpsd (apt install gpsd gpsd-clients)")
        if not self.log.is_file():
            raise GpsfakeUnavailable(f"NMEA log not found: {self.log}")
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen([binary, "-n", "-c", str(self.cycle_s), "-P", str(self.port), str(self.log)],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                         start_new_session=True, env=dict(os.environ, TMPDIR=self.tmpdir), cwd=self.tmpdir)
        end = time.monotonic() + timeout_s
        while time.monotonic() < end and self.proc.poll() is None:
            if self.listening():
                logger.info("gpsfake: gpsd on 127.0.0.1:%d replaying %s", self.port, self.log.name)
                return self
            time.sleep(0.05)
        tail = self.stderr_text()[-2000:]
        self.stop()
        raise GpsfakeUnavailable(f"gpsfake did not start gpsd on 127.0.0.1:{self.port} with {self.log}: {tail.strip() or 'no output'}")

    def listening(self) -> bool:
        """True while gpsd accepts connections on the port."""
        if self.proc is not None and self.proc.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.3):
            return True
        return False

    def stop(self) -> None:
        """Stop gpsfake and its gpsd by signalling the process group; waits until the port is closed."""
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
        end = time.monotonic() + 5
        while time.monotonic() < end and self.listening():
            time.sleep(0.05)
        self.proc = None

    def control(self, command: str) -> None:
        """Send ``+/dev/pts/N`` (add) or ``-/dev/pts/N`` (remove) to gpsd's control socket."""
        if self.proc is None:
            raise GpsfakeUnavailable("gpsfake is not running")
        path = Path(self.tmpdir) / f"gpsfake-{self.proc.pid}.sock"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(path))
            sock.sendall(f"{command}\r\n\x00".encode())
            answer = sock.recv(12)
        if not answer.startswith(b"OK"):
            raise GpsfakeUnavailable(f"gpsd control {command!r} answered {answer!r}")

    def stderr_text(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def cleanup(self) -> None:
        """Stop and remove the work folder."""
        self.stop()
        shutil.rmtree(self.tmpdir, ignore_errors=True)
