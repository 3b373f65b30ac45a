"""A fault-injection TCP proxy on loopback: put it between a terminal and its broker to cut, stall or throttle the link.

    with FaultProxy(target=("127.0.0.1", broker_port)) as proxy:
        cfg.port = proxy.port        # the terminal connects to the proxy
        proxy.cut()                  # drop every connection and refuse new ones
        proxy.restore()              # accept again
        proxy.stall(5)               # hold all bytes for 5 s (connections stay open)
        proxy.throttle(2000)         # at most ~2000 bytes/s each way; throttle(None) lifts it
"""

from __future__ import annotations

import logging
import select
import socket
import threading
import time

logger = logging.getLogger(__name__)

CHUNK = 16384


class FaultProxy:
    """Forwards ``127.0.0.1:port`` to ``target`` with switchable faults. Context manager; thread-based."""

    def __init__(self, listen_port: int = 0, target: tuple[str, int] = ("127.0.0.1", 1883)) -> None:
        self.target = target
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", listen_port))
        self._listener.listen(64)
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._cut = False
        self._stall_until = 0.0
        self._rate: float | None = None
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self.connections = 0
        self.bytes_forwarded = 0

    # -- controls ----------------------------------------------------------
    def cut(self) -> None:
        """Drop every open connection and refuse new ones until :meth:`restore`."""
        with self._lock:
            self._cut = True
            pairs, self._pairs = self._pairs, []
        for a, b in pairs:
            _close(a)
            _close(b)
        logger.info("netfault: link cut (%d connections dropped)", len(pairs))

    def restore(self) -> None:
        """Accept and forward again; also ends a stall and a throttle."""
        with self._lock:
            self._cut = False
            self._stall_until = 0.0
            self._rate = None
        logger.info("netfault: link restored")

    def stall(self, seconds: float) -> None:
        """Hold all traffic for ``seconds`` (TCP stays open; the peers see silence)."""
        with self._lock:
            self._stall_until = time.monotonic() + seconds

    def throttle(self, bytes_per_s: float | None) -> None:
        """Limit each direction of each connection to ``bytes_per_s``; None lifts the limit."""
        with self._lock:
            self._rate = bytes_per_s if bytes_per_s else None

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> "FaultProxy":
        self._thread = threading.Thread(target=self._accept_loop, name=f"netfault-{self.port}", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()
        if self._thread is not None:
            self._thread.join(5)
        _close(self._listener)
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for a, b in pairs:
            _close(a)
            _close(b)

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- forwarding --------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except (socket.timeout, TimeoutError):
                continue
            except OSError:
                return
            if self._cut:
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError as exc:
                logger.info("netfault: cannot reach %s:%d: %s", *self.target, exc)
                _close(client)
                continue
            for s in (client, upstream):
                s.settimeout(None)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._pairs.append((client, upstream))
                self.connections += 1
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True, name="netfault-pump").start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peer = {a: b, b: a}
        try:
            while not self._closing.is_set():
                if self._cut:
                    return
                wait = self._stall_until - time.monotonic()
                if wait > 0:
                    time.sleep(min(wait, 0.05))
                    continue
                try:
                    ready, _, _ = select.select([a, b], [], [], 0.1)
                except (OSError, ValueError):
                    return
                for s in ready:
                    rate = self._rate
                    data = s.recv(min(CHUNK, int(rate)) if rate else CHUNK)
                    if not data:
                        return
                    if self._cut:
                        return
                    peer[s].sendall(data)
                    self.bytes_forwarded += len(data)
                    if rate:
                        time.sleep(len(data) / rate)
        except OSError:
            return
        finally:
            _close(a)
            _close(b)
            with self._lock:
                if (a, b) in self._pairs:
                    self._pairs.remove((a, b))


def _close(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass
