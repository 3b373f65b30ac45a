"""Gather a :class:`HealthSnapshot` from injected sources, so it depends on no other part directly."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from edge.service import sysinfo
from edge.service.health import HealthLimits, HealthSnapshot, alarms, decode_throttled

logger = logging.getLogger(__name__)

OutboxStatsFn = Callable[[], tuple]  # (backlog, oldest_age_s) or (backlog, oldest_age_s, quarantined)
StateFn = Callable[[], str]


def _safe_state(fn: StateFn | None, name: str) -> str:
    if fn is None:
        return "unknown"
    try:
        return str(fn())
    except Exception as exc:  # one broken source must not stop health reporting
        logger.warning("health: cannot read %s state: %s", name, exc)
        return "error"


@dataclass
class HealthCollector:
    """Builds snapshots. Sources are plain callables: ``outbox_stats() -> (backlog, oldest_age_s)``,
    ``gps_state()``, ``camera_state()``, ``link_state()`` -> str. Missing sources read as unknown."""

    device_id: str
    version: str
    state_dir: Path
    limits: HealthLimits = field(default_factory=HealthLimits)
    model_sha256: str | None = None
    outbox_stats: OutboxStatsFn | None = None
    gps_state: StateFn | None = None
    camera_state: StateFn | None = None
    link_state: StateFn | None = None
    broker_reachable: Callable[[], bool] | None = None  # a TCP probe of the broker, asked only while records wait and the link is down
    read_cpu_temp: Callable[[], float | None] = sysinfo.cpu_temp_c
    read_throttled: Callable[[], int | None] = sysinfo.throttled_raw
    clock: Callable[[], float] = time.monotonic
    started_at: float = field(default_factory=time.monotonic)
    firmware_every_s: float = 10.0  # throttling may need a vcgencmd process: read it at most this often
    _firmware: tuple[float, int | None] | None = field(default=None, init=False, repr=False)
    _stuck_since: float | None = field(default=None, init=False, repr=False)

    def _uploader_stuck(self, backlog: int | None, link: str) -> float | None:
        """Seconds that records have waited while the broker answers TCP but the publisher is not connected."""
        stuck = bool(backlog) and link not in ("up", "disabled", "unknown") and self.broker_reachable is not None
        if stuck:
            try:
                stuck = bool(self.broker_reachable())
            except Exception:  # noqa: BLE001 - a probe failure means "not reachable"
                stuck = False
        now = self.clock()
        if not stuck:
            self._stuck_since = None
            return None
        if self._stuck_since is None:
            self._stuck_since = now
        return now - self._stuck_since

    def _throttled(self) -> int | None:
        now = self.clock()
        if self._firmware is None or now - self._firmware[0] >= self.firmware_every_s:
            self._firmware = (now, self.read_throttled())
        return self._firmware[1]

    def collect(self) -> HealthSnapshot:
        backlog: int | None = None
        oldest: float | None = None
        quarantined: int | None = None
        if self.outbox_stats is not None:
            try:
                backlog, oldest, *rest = self.outbox_stats()
                quarantined = rest[0] if rest else None
            except Exception as exc:
                logger.warning("health: cannot read outbox statistics: %s", exc)
        snapshot = HealthSnapshot(
            device_id=self.device_id,
            uptime_s=max(0.0, self.clock() - self.started_at),
            cpu_temp_c=self.read_cpu_temp(),
            throttled=decode_throttled(self._throttled()),
            disk_free_mb=sysinfo.disk_free_mb(self.state_dir),
            outbox_backlog=backlog,
            outbox_oldest_age_s=oldest,
            gps_state=_safe_state(self.gps_state, "GPS"),
            camera_state=_safe_state(self.camera_state, "camera"),
            link_state=(link := _safe_state(self.link_state, "link")),
            outbox_quarantined=quarantined,
            open_fds=sysinfo.open_fds(),
            threads=sysinfo.thread_count(),
            model_sha256=self.model_sha256,
            version=self.version,
        )
        snapshot.uploader_stuck_s = self._uploader_stuck(backlog, link)
        snapshot.alarms = alarms(snapshot, self.limits)
        return snapshot
