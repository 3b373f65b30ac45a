"""``edge run``: the terminal (:func:`edge.app.terminal.build_terminal`) under the service runner, with the
health collector (outbox backlog, camera/GPS/link states, the configured embedder) and its MQTT sink."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Sequence

from edge import __version__
from edge.app.terminal import build_terminal
from edge.config import EdgeConfig
from edge.errors import ConfigError, EdgeError, ModelError
from edge.face.embed import configured_embedder
from edge.face.seal import check_sealed
from edge.service.collector import HealthCollector
from edge.service.components import Component
from edge.service.health import HealthLimits, HealthSnapshot
from edge.service.http import Handler
from edge.service.runner import ServiceRunner
from edge.store.outbox import Outbox

logger = logging.getLogger(__name__)

Route = tuple[str, str, Handler]


def outbox_stats_reader(outbox: Outbox) -> Callable[[], tuple[int, float | None, int]]:
    """``Outbox.stats()`` as the collector wants it: ``(backlog, oldest_age_s, quarantined)``."""

    def read() -> tuple[int, float | None, int]:
        stats = outbox.stats()
        return stats.pending, stats.oldest_pending_age_s, stats.quarantined

    return read


def broker_probe(host: str, port: int, timeout_s: float = 1.0) -> Callable[[], bool]:
    """True when the broker accepts a TCP connection (asked only while records wait and the link is down)."""

    def probe() -> bool:
        try:
            socket.create_connection((host, port), timeout=timeout_s).close()
            return True
        except OSError:
            return False

    return probe


def health_collector(cfg: EdgeConfig, outbox: Outbox | None = None) -> HealthCollector:
    """Machine vitals, the outbox backlog (when ``outbox`` is given) and the configured embedder's sha256."""
    sv = cfg.service
    try:
        model_sha: str | None = configured_embedder(cfg.face.models_dir, cfg.face.embedder)[1].sha256
    except ModelError:  # no embedder in the manifest: matching's own check reports it
        model_sha = None
    collector = HealthCollector(
        device_id=cfg.device.device_id, version=__version__, state_dir=cfg.device.state_dir,
        limits=HealthLimits(backlog_max_age_s=sv.backlog_alarm_age_s, disk_low_mb=sv.disk_alarm_mb, cpu_hot_c=sv.cpu_hot_c,
                            uploader_stuck_s=sv.uploader_stuck_alarm_s),
        model_sha256=model_sha,
    )
    if outbox is not None:
        collector.outbox_stats = outbox_stats_reader(outbox)
    return collector


def build_service(cfg: EdgeConfig, *, extra_components: Sequence[Component] = (), routes: Sequence[Route] = ()) -> ServiceRunner:
    """The runner with the real camera, outbox, claim flow, MQTT publisher, GPS reader, health and status page."""
    try:
        check_sealed(cfg.face.models_dir)  # models, thresholds.json and manifest.json as released (docs/SECURITY.md)
    except EdgeError as exc:
        raise ConfigError(f"face.models_dir: {exc}") from None
    terminal = build_terminal(cfg)
    components = [*terminal.components, *extra_components]
    collector = health_collector(cfg, terminal.outbox)
    collector.gps_state, collector.link_state = terminal.gps_state, terminal.link_state
    collector.camera_state = lambda: terminal.camera.state
    if cfg.mqtt.enabled:
        collector.broker_reachable = broker_probe(cfg.mqtt.host, cfg.mqtt.port)

    def health_sink(snapshot: HealthSnapshot) -> None:
        terminal.outbox.append("health", snapshot, durable_class="telemetry")  # published retained on …/health

    if terminal.http is not None:
        for method, path, handler in routes:
            terminal.http.add_route(method, path, handler)
    sv = cfg.service
    return ServiceRunner(components, board=terminal.board, collector=collector, health_sink=health_sink, http=terminal.http,
                         loop_interval_s=sv.loop_interval_s, health_interval_s=sv.health_interval_s,
                         uploader_restart_s=sv.uploader_stuck_restart_s if cfg.mqtt.enabled else None)
