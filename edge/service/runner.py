"""The service's main loop: start the parts, tell systemd READY, send WATCHDOG only while healthy.

``ServiceRunner`` is generic: it is handed components (camera, matching, outbox, GPS, MQTT
link), a status board, a health collector, a health sink and optionally the local HTTP server.
``edge run`` builds the real ones from configuration (:func:`edge.app.build_service`, the composition root); tests pass
fakes. SIGTERM/SIGINT begin a clean shutdown (STOPPING=1, parts stopped in reverse order).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence

from edge.service import notify
from edge.service.collector import HealthCollector
from edge.service.components import Component, ComponentStatus, watchdog_verdict
from edge.service.health import ALARM_TEXT, HealthSnapshot
from edge.service.http import LocalHttpServer
from edge.service.status import StatusBoard

logger = logging.getLogger(__name__)

HealthSink = Callable[[HealthSnapshot], None]


class ServiceRunner:
    def __init__(
        self,
        components: Sequence[Component],
        *,
        board: StatusBoard,
        collector: HealthCollector,
        health_sink: HealthSink | None = None,
        http: LocalHttpServer | None = None,
        loop_interval_s: float = 1.0,
        health_interval_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        uploader_restart_s: float | None = None,
    ) -> None:
        self.uploader_restart_s = uploader_restart_s  # withhold keep-alives once the uploader has been stuck this long
        self.components = list(components)
        self.board, self.collector, self.health_sink, self.http = board, collector, health_sink, http
        self.loop_interval_s, self.health_interval_s, self._clock = loop_interval_s, health_interval_s, clock
        self.stop_event = threading.Event()
        self.latest: HealthSnapshot | None = None
        self.statuses: list[ComponentStatus] = []
        self.healthy = False
        self._started: list[Component] = []
        self._last_publish = float("-inf")
        self._last_alarms: list[str] = []
        self._last_reasons: list[str] | None = None
        self._last_sink_error: str | None = None
        if http is not None and http.metrics is None:
            http.metrics = self.metrics_text

    # -- lifecycle ---------------------------------------------------------------------------
    def request_stop(self, *_args: object) -> None:
        self.stop_event.set()

    def run(self) -> int:
        """Run until SIGTERM/SIGINT or :meth:`request_stop`; returns the process exit code."""
        self._install_signals()
        try:
            self._start_all()
            notify.ready(self._status_line())
            self.board.set_states(service="running")
            logger.info("service ready: %s", ", ".join(c.name for c in self.components))
            self._loop()
        finally:
            self._shutdown()
        return 0

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)

    def _start_all(self) -> None:
        for component in self.components:
            logger.info("starting %s", component.name)
            component.start()
            self._started.append(component)
        if self.http is not None:
            self.http.start()

    def _loop(self) -> None:
        watchdog_s = notify.watchdog_interval()
        tick = self.loop_interval_s if watchdog_s is None else min(self.loop_interval_s, watchdog_s / 3)
        if watchdog_s:
            logger.info("systemd watchdog %.1f s; checking health every %.2f s", watchdog_s, tick)
        while not self.stop_event.is_set():
            self.step()
            self.stop_event.wait(tick)

    def step(self) -> bool:
        """One pass: check parts, keep-alive if healthy, refresh the board, publish health when due."""
        self.statuses = [self._check(c) for c in self.components]
        healthy, reasons = watchdog_verdict(self.statuses)
        snapshot = self.collector.collect()
        self.latest = snapshot
        stuck = snapshot.uploader_stuck_s
        if self.uploader_restart_s is not None and stuck is not None and stuck > self.uploader_restart_s and snapshot.link_state != "auth_failed":
            healthy = False
            reasons = [*reasons, f"uploader stuck: {snapshot.outbox_backlog} records waiting {stuck:.0f} s with the broker reachable"]
        self.healthy = healthy
        if healthy:
            notify.watchdog()
        if reasons != self._last_reasons:
            if reasons:
                logger.error("not healthy, withholding the watchdog keep-alive: %s", "; ".join(reasons))
            elif self._last_reasons:
                logger.warning("healthy again")
            notify.status(self._status_line())
            self._last_reasons = reasons
        self.board.set_states(
            camera=snapshot.camera_state, gps=snapshot.gps_state, link=snapshot.link_state,
            pending_uploads=snapshot.outbox_backlog, oldest_pending_age_s=snapshot.outbox_oldest_age_s,
            alarms=snapshot.alarms, service="running" if healthy else "degraded",
        )
        self._maybe_publish(snapshot)
        return healthy

    def _check(self, component: Component) -> ComponentStatus:
        try:
            return component.check()
        except Exception as exc:  # a crashing check is itself unhealthy, never a crashed loop
            logger.exception("health check of %s failed", component.name)
            return ComponentStatus(component.name, False, "error", str(exc), component.critical)

    def _maybe_publish(self, snapshot: HealthSnapshot) -> None:
        now = self._clock()
        alarms_changed = snapshot.alarms != self._last_alarms
        if alarms_changed:
            for code in set(snapshot.alarms) - set(self._last_alarms):
                logger.warning("alarm raised: %s (%s)", code, ALARM_TEXT.get(code, code))
            for code in set(self._last_alarms) - set(snapshot.alarms):
                logger.info("alarm cleared: %s", code)
            self._last_alarms = list(snapshot.alarms)
        if self.health_sink is None or not (alarms_changed or now - self._last_publish >= self.health_interval_s):
            return
        self._last_publish = now  # a failed report waits for the next interval, it is not retried every tick
        try:
            self.health_sink(snapshot)
        except Exception as exc:
            text = str(exc)
            if text != self._last_sink_error:  # one line per new reason, not one per interval while the disk is full
                logger.warning("health report not queued: %s", text)
            self._last_sink_error = text
        else:
            if self._last_sink_error is not None:
                logger.info("health reports queued again")
            self._last_sink_error = None

    def _status_line(self) -> str:
        if not self.statuses:
            return "starting"
        return ", ".join(f"{s.name} {s.state}" for s in self.statuses)

    def _shutdown(self) -> None:
        notify.stopping()
        self.board.set_states(service="stopping")
        logger.info("stopping")
        if self.http is not None:
            self.http.stop()
        for component in reversed(self._started):
            try:
                component.stop()
            except Exception as exc:
                logger.warning("%s did not stop cleanly: %s", component.name, exc)
        self._started.clear()
        logger.info("stopped")

    def metrics_text(self) -> str:
        from edge.service.health import to_prometheus

        snapshot = self.latest or self.collector.collect()
        return to_prometheus(snapshot)
