"""GPS fixtures: a real gpsd fed by gpsfake on a loopback port, and a scripted gpsd-speaking server."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from tests.helpers import wait_until

from tests.conftest import require_binary

NMEA_DIR = Path(__file__).parent / "data" / "nmea"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gpsfake:
    """``gpsfake -n -c CYCLE -P PORT LOG`` in its own process group (gpsd is in that group too)."""

    def __init__(self, log: Path, port: int, cycle_s: float = 0.1) -> None:
        self.binary = require_binary("gpsfake")
        self.log, self.port, self.cycle_s = Path(log), port, cycle_s
        self.tmpdir = tempfile.mkdtemp(prefix="gf")  # short: the gpsd control socket lives here
        self.proc: subprocess.Popen[bytes] | None = None
        self.stderr_path = Path(self.tmpdir) / "gpsfake.err"

    def start(self) -> "Gpsfake":
        env = dict(os.environ, TMPDIR=self.tmpdir)
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(
                [self.binary, "-n", "-c", str(self.cycle_s), "-P", str(self.port), str(self.log)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                start_new_session=True, env=env, cwd=self.tmpdir,
            )
        if not wait_until(self._listening, 15):
            self.stop()
            pytest.fail(f"gpsfake did not start gpsd on 127.0.0.1:{self.port}: {self.stderr_path.read_text()[-2000:]}")
        return self

    def _listening(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
            return True
        return False

    def stop(self) -> None:
        """Stop gpsfake and its gpsd by signalling the process group; waits until the port is closed."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        # gpsd may outlive gpsfake by a moment; make sure nothing in the group survives.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        wait_until(lambda: not self._listening(), 5)
        self.proc = None

    def control(self, command: str) -> None:
        """Send ``+/dev/pts/N`` (add) or ``-/dev/pts/N`` (remove) to gpsd's control socket."""
        assert self.proc is not None
        path = Path(self.tmpdir) / f"gpsfake-{self.proc.pid}.sock"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(path))
            sock.sendall(f"{command}\r\n\x00".encode())
            answer = sock.recv(12)
        assert answer.startswith(b"OK"), f"gpsd control {command!r} answered {answer!r}"

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.tmpdir, ignore_errors=True)


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
