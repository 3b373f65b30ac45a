"""Build the real service from configuration: what ``edge run`` runs on the terminal.

Every part is imported here, lazily, so ``edge --help`` stays fast and a part that is
missing from a build gives one clear error naming it.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from edge import __version__
from edge.camera import make_camera
from edge.config import EdgeConfig
from edge.errors import ConfigError, EdgeError
from edge.service.collector import HealthCollector
from edge.service.components import CameraComponent, CheckComponent, Component, ComponentStatus, StatefulComponent
from edge.service.health import HealthLimits, HealthSnapshot
from edge.service.http import Handler, LocalHttpServer
from edge.service.runner import ServiceRunner
from edge.service.status import StatusBoard
from edge.service.sysinfo import file_sha256

logger = logging.getLogger(__name__)

Route = tuple[str, str, Handler]


def _need(module: str, what: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise EdgeError(f"this build cannot run the service: {what} ({module}) is missing: {exc}") from None


def outbox_stats_reader(outbox: Any) -> Callable[[], tuple[int, float | None]]:
    """Adapt ``Outbox.stats()`` to ``(backlog, oldest_age_s, quarantined)``."""

    def read() -> tuple[int, float | None, int]:
        stats = outbox.stats()
        pending = next((getattr(stats, n) for n in ("pending", "pending_count", "backlog") if hasattr(stats, n)), 0)
        oldest = next((getattr(stats, n) for n in ("oldest_pending_age_s", "oldest_age_s") if hasattr(stats, n)), None)
        return int(pending), (None if oldest is None else float(oldest)), int(getattr(stats, "quarantined", 0) or 0)

    return read


def embedder_sha256(cfg: EdgeConfig) -> tuple[str | None, Path | None]:
    """The configured embedder's sha256 per the manifest, and its file (None when the manifest lists none)."""
    from edge.face.models import load_manifest

    manifest = load_manifest(cfg.face.models_dir)
    embedders = {name: e for name, e in manifest.models.items() if e.kind == "embedder"}
    chosen = next((e for name, e in embedders.items() if cfg.face.embedder in name), None) or next(iter(embedders.values()), None)
    if chosen is None:
        return None, None
    return chosen.sha256, Path(cfg.face.models_dir) / chosen.file


def model_check(cfg: EdgeConfig) -> Callable[[], tuple[bool, str]]:
    """Matching is healthy while every model file the manifest lists is present with its recorded hash.

    Hashes are verified once at start-up and re-verified when a file's size or mtime changes.
    """
    from edge.face.models import load_manifest

    manifest = load_manifest(cfg.face.models_dir)
    seen: dict[Path, tuple[int, int, bool]] = {}

    def check() -> tuple[bool, str]:
        for name, entry in manifest.models.items():
            path = Path(cfg.face.models_dir) / entry.file
            try:
                st = path.stat()
            except OSError:
                return False, f"model {name} missing: {path}"
            key = (st.st_size, st.st_mtime_ns)
            cached = seen.get(path)
            if cached is None or cached[:2] != key:
                seen[path] = (*key, file_sha256(path) == entry.sha256)
            if not seen[path][2]:
                return False, f"model {name} ({path}) does not match its manifest sha256"
        return True, ""

    return check


class ClaimComponent:
    """The claim flow (camera burst → match → decide → ledger → outbox) behind the HTTP API and MQTT commands.

    Opened at start (keys, roster, ledger, outbox), closed at stop; decisions go to the status board.
    """

    name = "claim"
    critical = False

    def __init__(self, cfg: EdgeConfig, *, camera: Any, gps: Any, board: StatusBoard, router: Any, http: LocalHttpServer | None) -> None:
        self.cfg, self.camera, self.gps, self.board, self.router, self.http = cfg, camera, gps, board, router, http
        self._stack: contextlib.ExitStack | None = None

    def start(self) -> None:
        from edge.claim.build import open_claim_service
        from edge.claim.central import register_claim_commands
        from edge.claim.http_api import register_routes
        from edge.claim.keys import trusted_issuer_keys

        trusted = trusted_issuer_keys(self.cfg)
        stack = contextlib.ExitStack()
        try:
            svc = stack.enter_context(open_claim_service(
                self.cfg, camera=self.camera, position_source=self.gps,
                on_decision=lambda result: self.board.show_decision(result.decision)))
        except ImportError as exc:
            stack.close()
            raise EdgeError(f"this build cannot serve claims ({exc}); set claim.http_api = false to run without the claim API") from None
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        register_claim_commands(self.router, svc, trusted)
        if self.http is not None:
            from edge.claim.officer_setup import make_auth, open_officer_store

            store = stack.enter_context(open_officer_store(self.cfg, trusted))
            if store.current() is None:
                logger.warning("No officer list installed (edge officers import): nobody can sign in to make claims")
            auth = make_auth(self.cfg, store)
            register_routes(self.http, svc, auth)
            from edge.counter.routes import register_counter  # the officer's counter app (docs/COUNTER.md)

            register_counter(self.http, svc, auth, trusted, self.board)

    def check(self) -> ComponentStatus:
        return ComponentStatus(self.name, self._stack is not None, "ok" if self._stack else "stopped", critical=False)

    def stop(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()


def build_service(cfg: EdgeConfig, *, extra_components: Sequence[Component] = (), routes: Sequence[Route] = ()) -> ServiceRunner:
    """The runner with the real camera, outbox, MQTT publisher, GPS reader, health and status page."""
    device = cfg.device
    board = StatusBoard(device.device_id, device.distribution_point)
    components: list[Component] = []

    camera = make_camera(cfg.camera)
    components.append(CameraComponent(camera, probe_s=cfg.service.camera_probe_s, grace_s=cfg.service.camera_grace_s))

    gps_mod = _need("edge.gps.source", "the GPS reader")
    gps = gps_mod.make_position_source(cfg.gps)
    components.append(StatefulComponent("gps", gps))

    def gps_state() -> str:
        state = str(gps.state)
        return str(gps.latest().status) if state == "connected" else state

    try:
        from edge.face.seal import check_sealed

        check_sealed(cfg.face.models_dir)  # models, thresholds.json and manifest.json as released (docs/SECURITY.md)
        components.append(CheckComponent("matching", model_check(cfg)))
        model_sha, _ = embedder_sha256(cfg)
    except EdgeError as exc:
        raise ConfigError(f"face.models_dir: {exc}") from None

    outbox_mod = _need("edge.store.outbox", "the outbox")
    device.state_dir.mkdir(parents=True, exist_ok=True)
    outbox = outbox_mod.Outbox(
        cfg.outbox_path, device.device_id, synchronous=cfg.store.synchronous,
        min_free_mb=cfg.store.min_free_mb, telemetry_max_rows=cfg.store.telemetry_max_rows,
    )
    stats = outbox_stats_reader(outbox)
    if hasattr(outbox, "integrity_ok") and not outbox.integrity_ok():
        raise EdgeError(f"outbox {cfg.outbox_path} failed its integrity check; the file is kept: see `edge outbox salvage` (docs/MQTT.md)")
    components.append(CheckComponent("outbox", lambda: (stats(), True)[1], stop=getattr(outbox, "close", None)))

    sv = cfg.service
    http = LocalHttpServer(sv.http_host, sv.http_port, board=board, tls_cert=sv.http_tls_cert, tls_key=sv.http_tls_key,
                           server_names=sv.http_server_names) if sv.http_enabled else None
    router = _need("edge.transport.router", "the MQTT command router").CommandRouter(max_bytes=cfg.mqtt.max_inbound_bytes)
    if cfg.claim.http_api:  # the service's claim flow is its HTTP API (+ the roster/ledger commands it needs)
        components.append(ClaimComponent(cfg, camera=camera, gps=gps, board=board, router=router, http=http))

    link_state: Callable[[], str] = lambda: "disabled"
    reachable: Callable[[], bool] | None = None
    if cfg.mqtt.enabled:
        reachable = broker_probe(cfg.mqtt.host, cfg.mqtt.port)
        mqtt_mod = _need("edge.transport.mqtt", "the MQTT publisher")
        from edge.claim.record_verify import verifier_for_config

        publisher = mqtt_mod.MqttPublisher(cfg.mqtt, device, cfg.outbox_path, on_command=router.handle, store=cfg.store,
                                           row_verifier=verifier_for_config(cfg))
        components.append(StatefulComponent("link", publisher, state_attr="link_state"))
        link_state = lambda: str(publisher.link_state)

    components.extend(extra_components)
    collector = HealthCollector(
        device_id=device.device_id, version=__version__, state_dir=device.state_dir,
        limits=HealthLimits(backlog_max_age_s=sv.backlog_alarm_age_s, disk_low_mb=sv.disk_alarm_mb, cpu_hot_c=sv.cpu_hot_c,
                            uploader_stuck_s=sv.uploader_stuck_alarm_s),
        model_sha256=model_sha, outbox_stats=stats, gps_state=gps_state,
        camera_state=lambda: camera.state, link_state=link_state, broker_reachable=reachable,
    )

    def health_sink(snapshot: HealthSnapshot) -> None:
        outbox.append("health", snapshot, durable_class="telemetry")  # published retained on …/health

    if http is not None:
        for method, path, handler in routes:
            http.add_route(method, path, handler)
    return ServiceRunner(components, board=board, collector=collector, health_sink=health_sink, http=http,
                         loop_interval_s=sv.loop_interval_s, health_interval_s=sv.health_interval_s,
                         uploader_restart_s=sv.uploader_stuck_restart_s if cfg.mqtt.enabled else None)


def broker_probe(host: str, port: int, timeout_s: float = 1.0) -> Callable[[], bool]:
    """True when the broker accepts a TCP connection (asked only while records wait and the link is down)."""
    import socket

    def probe() -> bool:
        try:
            socket.create_connection((host, port), timeout=timeout_s).close()
            return True
        except OSError:
            return False

    return probe
