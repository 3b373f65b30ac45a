"""A TCP server with a fixed pool of worker threads and a cap on waiting connections.

``socketserver.ThreadingMixIn`` starts one thread per connection, so 2,000 clients that open a
connection and never finish their request hold 2,000 threads (and their descriptors) forever.
Here a fixed number of long-lived workers serve connections from a bounded queue; a
connection that arrives while the queue is full is closed at once (the client sees a reset,
the server logs one line per burst); every accepted socket gets a timeout, so a half-sent
request frees its worker after ``timeout_s``. Client disconnects, resets and timeouts are one
debug line, never a traceback.
"""

from __future__ import annotations

import logging
import queue
import socket
import socketserver
import threading
import time
from typing import Any

logger = logging.getLogger(__name__)

QUIET_ERRORS = (ConnectionError, TimeoutError, socket.timeout, OSError)


class PooledTCPServer(socketserver.TCPServer):
    """``serve_forever`` accepts; ``workers`` threads handle; at most ``max_waiting`` connections queue."""

    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], handler: type, *, workers: int = 8, max_waiting: int = 32,
                 timeout_s: float = 10.0) -> None:
        self.workers, self.max_waiting, self.timeout_s = workers, max_waiting, timeout_s
        self._queue: queue.Queue[tuple[Any, Any] | None] = queue.Queue(maxsize=max_waiting)
        self._threads: list[threading.Thread] = []
        self.refused = 0
        self.client_errors = 0
        self._last_refusal_log = 0.0
        super().__init__(address, handler)

    def start_workers(self) -> None:
        for i in range(self.workers):
            t = threading.Thread(target=self._work, name=f"http-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def process_request(self, request: Any, client_address: Any) -> None:
        try:
            request.settimeout(self.timeout_s)
            self._queue.put_nowait((request, client_address))
        except queue.Full:
            self.refused += 1
            now = time.monotonic()
            if now - self._last_refusal_log > 10.0:
                logger.warning("status page busy: %d connections waiting, refusing new ones (%d refused so far)",
                               self.max_waiting, self.refused)
                self._last_refusal_log = now
            self.shutdown_request(request)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            request, client_address = item
            try:
                self.finish_request(request, client_address)
            except Exception as exc:  # noqa: BLE001 - one connection's failure never ends a worker
                self.handle_error(request, client_address, exc)
            finally:
                self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any, exc: BaseException | None = None) -> None:  # type: ignore[override]
        """One line, never a traceback: clients that vanish or stall are routine on a counter's network."""
        import sys

        exc = exc or sys.exc_info()[1]
        self.client_errors += 1
        peer = client_address[0] if isinstance(client_address, tuple) else client_address
        if isinstance(exc, QUIET_ERRORS):
            logger.debug("http client %s went away: %s", peer, type(exc).__name__)
        else:
            logger.warning("http request from %s failed: %s: %s", peer, type(exc).__name__, exc)

    def server_close(self) -> None:
        super().server_close()
        for _ in self._threads:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                break
        for t in self._threads:
            t.join(timeout=2)
        # connections still waiting are closed rather than served after shutdown
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                self.shutdown_request(item[0])
        self._threads.clear()
