"""One terminal from the configuration: camera, GPS, face models check, outbox, claim flow, command router,
MQTT publisher and the status server, as :class:`Terminal` (its parts and their start order).

``edge run`` hands the parts to :class:`edge.service.runner.ServiceRunner` (:func:`edge.app.service.build_service`);
the simulator passes its own camera, GPS and face engine in, points ``mqtt`` at its fault proxy and uses the
terminal as a context manager.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.app.claim import ClaimComponent, open_outbox
from edge.camera import make_camera
from edge.claim.flow.face_engine import FaceEngine
from edge.claim.records.row_check import verifier_for_config
from edge.config import EdgeConfig
from edge.errors import ConfigError, EdgeError
from edge.face.models import load_manifest
from edge.gps.source import make_position_source
from edge.service.components import CameraComponent, CheckComponent, Component, StatefulComponent
from edge.service.http import LocalHttpServer
from edge.service.status import StatusBoard
from edge.service.sysinfo import file_sha256
from edge.store.outbox import Outbox
from edge.transport.mqtt import MqttPublisher
from edge.transport.router import CommandRouter

logger = logging.getLogger(__name__)


def model_check(cfg: EdgeConfig):  # noqa: ANN201 - returns a CheckComponent callable
    """Matching is healthy while every model file the manifest lists is present with its recorded hash.

    Hashes are verified at the first check and re-verified when a file's size or mtime changes.
    """
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


@dataclass
class Terminal:
    """The built parts. ``components`` are in start order (stopped in reverse); ``claim`` is None when both
    ``claim.http_api`` and ``claim.mqtt_commands`` are off (monitoring only); ``publisher`` is None when
    ``mqtt.enabled`` is false; ``http`` is None when ``service.http_enabled`` is false."""

    cfg: EdgeConfig
    camera: Any
    gps: Any
    board: StatusBoard
    outbox: Outbox
    router: CommandRouter
    claim: ClaimComponent | None
    publisher: MqttPublisher | None
    http: LocalHttpServer | None
    components: list[Component] = field(default_factory=list)
    _started: list[Component] = field(default_factory=list)

    @property
    def service(self) -> Any:
        """The running :class:`edge.claim.flow.claim_service.ClaimService` (after start)."""
        if self.claim is None or self.claim.service is None:
            raise EdgeError("the claim flow is not running (claim.http_api and claim.mqtt_commands are both off, or not started)")
        return self.claim.service

    def link_state(self) -> str:
        return "disabled" if self.publisher is None else str(self.publisher.link_state)

    def gps_state(self) -> str:
        state = str(self.gps.state)
        return str(self.gps.latest().status) if state == "connected" else state

    # -- lifecycle without the service runner (the simulator, tests) ------------------------------
    def start(self) -> "Terminal":
        for component in self.components:
            component.start()
            self._started.append(component)
        if self.http is not None:
            self.http.start()
        return self

    def stop(self) -> None:
        if self.http is not None:
            self.http.stop()
        while self._started:
            component = self._started.pop()
            try:
                component.stop()
            except Exception as exc:
                logger.warning("%s did not stop cleanly: %s", component.name, exc)

    def __enter__(self) -> "Terminal":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


def build_terminal(cfg: EdgeConfig, *, camera: Any = None, gps: Any = None, face: FaceEngine | None = None) -> Terminal:
    """Build (not start) the terminal ``cfg`` describes. ``camera``, ``gps`` (a position source) and ``face``
    default to the configured ones; the network is ``cfg.mqtt``."""
    device = cfg.device
    board = StatusBoard(device.device_id, device.distribution_point)
    components: list[Component] = []

    camera = make_camera(cfg.camera) if camera is None else camera
    components.append(CameraComponent(camera, probe_s=cfg.service.camera_probe_s, grace_s=cfg.service.camera_grace_s))
    gps = make_position_source(cfg.gps) if gps is None else gps
    components.append(StatefulComponent("gps", gps))
    try:
        components.append(CheckComponent("matching", model_check(cfg)))
    except EdgeError as exc:
        raise ConfigError(f"face.models_dir: {exc}") from None

    device.state_dir.mkdir(parents=True, exist_ok=True)
    outbox = open_outbox(cfg)
    if not outbox.integrity_ok():
        outbox.close()
        raise EdgeError(f"outbox {cfg.outbox_path} failed its integrity check; the file is kept: see `edge outbox salvage` (docs/MQTT.md)")
    components.append(CheckComponent("outbox", lambda: (outbox.stats(), True)[1], stop=outbox.close))

    try:
        sv = cfg.service
        http = LocalHttpServer(sv.http_host, sv.http_port, board=board, tls_cert=sv.http_tls_cert, tls_key=sv.http_tls_key,
                               server_names=sv.http_server_names) if sv.http_enabled else None
        router = CommandRouter(max_bytes=cfg.mqtt.max_inbound_bytes)
        claim = None
        if cfg.claim.http_api or cfg.claim.mqtt_commands:
            claim = ClaimComponent(cfg, camera=camera, gps=gps, board=board, router=router, http=http, face=face)
            components.append(claim)
        publisher = None
        if cfg.mqtt.enabled:
            publisher = MqttPublisher(cfg.mqtt, device, cfg.outbox_path, on_command=router.handle, store=cfg.store,
                                      row_verifier=verifier_for_config(cfg))  # records checked before they are published
            components.append(StatefulComponent("link", publisher, state_attr="link_state"))
    except BaseException:
        outbox.close()
        raise
    return Terminal(cfg=cfg, camera=camera, gps=gps, board=board, outbox=outbox, router=router, claim=claim,
                    publisher=publisher, http=http, components=components)
