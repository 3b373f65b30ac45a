"""The real position source: a background thread reading gpsd, reconnecting when it goes away.

``latest()`` only takes a lock and does arithmetic; all socket work happens on the reader
thread, so capture and decisions never wait for gpsd.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType

from edge.config.gps import GpsConfig
from edge.errors import ConfigError
from edge.gps.backoff import Backoff
from edge.gps.model import PositionStamp, SourceState
from edge.gps.session import GpsdSession
from edge.gps.tracker import FixTracker

logger = logging.getLogger(__name__)

BACKENDS = ("gpsdclient", "gpsd-py3")
STABLE_NS = 10_000_000_000  # a connection up this long resets the retry delay
LIBRARIES = {"gpsdclient": "gpsdclient", "gpsd-py3": "gpsd"}


def open_session(backend: str, config: GpsConfig) -> GpsdSession:
    """A new, unconnected session for ``backend``."""
    if backend == "gpsdclient":
        from edge.gps.backend_gpsdclient import GpsdclientSession

        return GpsdclientSession(config.host, config.port, connect_timeout_s=config.connect_timeout_s)
    if backend == "gpsd-py3":
        from edge.gps.backend_gpsdpy3 import GpsdPy3Session

        return GpsdPy3Session(config.host, config.port, connect_timeout_s=config.connect_timeout_s,
                              poll_interval_s=config.poll_interval_s)
    raise ValueError(f"unknown gpsd backend {backend!r} (expected one of {', '.join(BACKENDS)})")


class GpsdReader:
    """Keeps the latest fix from gpsd in the background; see :class:`edge.gps.source.PositionSource`."""

    def __init__(self, config: GpsConfig, *, backend: str | None = None,
                 monotonic_ns: Callable[[], int] = time.monotonic_ns) -> None:
        self.config = config
        self.backend = backend or config.backend
        if self.backend not in BACKENDS:
            raise ValueError(f"GpsdReader needs backend gpsdclient or gpsd-py3, not {self.backend!r}")
        module = LIBRARIES[self.backend]
        if importlib.util.find_spec(module) is None:  # fail at start-up, not in the reader thread
            raise ConfigError(f"gps.backend {self.backend!r} needs the Python package that provides "
                              f"'{module}': pip install {self.backend}")
        self._now = monotonic_ns
        self._lock = threading.Lock()
        self._tracker = FixTracker(self.backend, stale_after_s=config.stale_after_s)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._session: GpsdSession | None = None
        self._state: SourceState = "reconnecting"
        self.connects = 0
        self.failures = 0

    @property
    def where(self) -> str:
        return f"gpsd at {self.config.host}:{self.config.port}"

    @property
    def state(self) -> SourceState:
        return self._state

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"gps-{self.backend}", daemon=True)
        self._thread.start()

    def latest(self) -> PositionStamp:
        with self._lock:
            return self._tracker.stamp(self._now())

    def close(self) -> None:
        self._stop.set()
        session = self._session
        if session is not None:
            session.abort()
        if self._thread is not None:
            self._thread.join(timeout=self.config.connect_timeout_s + 2)
            if self._thread.is_alive():
                logger.warning("GPS reader for %s did not stop in time; leaving it to exit on its own", self.where)
            self._thread = None
        self._state = "disabled"

    def __enter__(self) -> "GpsdReader":
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # -- reader thread -------------------------------------------------------------------
    def _run(self) -> None:
        backoff = Backoff(self.config.reconnect_min_s, self.config.reconnect_max_s)
        while not self._stop.is_set():
            problem = self._one_connection(backoff)
            if self._stop.is_set():
                break
            was_connected = self._state == "connected"
            self._state = "reconnecting"
            self.failures += 1
            delay = backoff.next()
            if was_connected or self.failures == 1:
                logger.warning("GPS: lost %s (%s); records carry the last known position until it is back. Retrying in %.1f s",
                               self.where, problem, delay)
            else:
                logger.debug("GPS: %s still unavailable (%s); retry %d in %.1f s", self.where, problem, backoff.attempts, delay)
            self._stop.wait(delay)

    def _one_connection(self, backoff: Backoff) -> str:
        """Read until the connection ends; returns what ended it."""
        try:
            session = open_session(self.backend, self.config)
        except Exception as exc:  # a broken client library must not kill the thread
            logger.error("GPS: cannot create %s session: %s", self.backend, exc)
            return str(exc)
        self._session = session
        try:
            if self._stop.is_set():
                return "stopping"
            session.open()
            self.connects += 1
            self._state = "connected"
            if backoff.attempts:
                logger.info("GPS: %s is back after %d retries", self.where, backoff.attempts)
            else:
                logger.info("GPS: connected to %s (%s)", self.where, self.backend)
            opened_ns = self._now()
            for report in session.reports():
                now = self._now()
                with self._lock:
                    self._tracker.on_report(report, now)
                if backoff.attempts and now - opened_ns >= STABLE_NS:
                    backoff.reset()  # only a connection that lasts counts: a flapping gpsd keeps backing off
                if report.get("class") == "DEVICE":
                    _log_device(report)
            return "connection ended"
        except OSError as exc:
            return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        except Exception as exc:  # never let the reader thread die
            logger.exception("GPS: unexpected error reading %s", self.where)
            return f"{type(exc).__name__}: {exc}"
        finally:
            self._session = None
            session.close()


def _log_device(report: dict) -> None:
    """gpsd announces receivers coming and going (USB unplugged, serial device gone)."""
    path, activated = report.get("path", "?"), report.get("activated")
    if activated == 0:
        logger.warning("GPS: receiver %s disconnected from gpsd; records carry the last known position", path)
    elif isinstance(activated, str) and report.get("driver"):
        logger.info("GPS: receiver %s attached (%s)", path, report.get("driver"))
