"""The claim flow from the configuration: keys, roster, ledger, outbox, face engine, GPS and clock around a
:class:`ClaimService`, and the component that puts it behind the HTTP API and the MQTT commands."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

from edge.app.face_adapter import make_face_engine
from edge.claim.api.claim_routes import register_routes
from edge.claim.api.sign_in import make_auth
from edge.claim.flow.claim_service import ClaimResult, ClaimService, Where
from edge.claim.flow.decide import GpsVerdict
from edge.claim.flow.face_engine import FaceEngine
from edge.claim.flow.ledger import Ledger
from edge.claim.flow.outbox_access import SharedOutbox
from edge.claim.inbound.handlers import register_claim_commands
from edge.claim.keys import claim_paths, device_key, ensure_keys, template_box, trusted_issuer_keys
from edge.claim.officers.accounts import OfficerStore, open_officer_store
from edge.claim.roster.installed import RosterStore
from edge.config import EdgeConfig
from edge.counter.routes import register_counter
from edge.gps.policy import GeoPolicy, evaluate
from edge.gps.source import make_position_source
from edge.service.components import ComponentStatus
from edge.service.http import LocalHttpServer
from edge.service.status import StatusBoard
from edge.store.outbox import Outbox
from edge.timesource import LinuxClock, Timestamp, TimeSource
from edge.transport.router import CommandRouter

logger = logging.getLogger(__name__)


def make_where(position_source: object, policy: GeoPolicy, clock: Callable[[], Timestamp]) -> Callable[[], Where]:
    """A ``where()`` for :class:`ClaimService`: ``position_source.latest()`` judged by the GPS policy, plus ``clock()``
    (normally ``edge.timesource.TimeSource(position_source).now``)."""

    def where() -> Where:
        stamp = position_source.latest()  # type: ignore[attr-defined]
        geo = evaluate(stamp, policy)
        return Where(position=stamp, gps=GpsVerdict(allowed=geo.allowed, flag=geo.flag), time=clock())

    return where


def open_outbox(cfg: EdgeConfig) -> Outbox:
    """The terminal's outbox as the configuration sets it up (one connection; the claim flow opens one per thread)."""
    return Outbox(cfg.outbox_path, cfg.device.device_id, synchronous=cfg.store.synchronous,
                  min_free_mb=cfg.store.min_free_mb, telemetry_max_rows=cfg.store.telemetry_max_rows)


@contextlib.contextmanager
def open_claim_service(
    cfg: EdgeConfig,
    *,
    face: FaceEngine | None = None,
    camera: Any = None,
    position_source: Any = None,
    clock: Callable[[], Timestamp] | None = None,
    on_decision: Callable[[ClaimResult], None] | None = None,
) -> Iterator[ClaimService]:
    """A ready service whose databases and outbox close on exit. ``face`` defaults to the configured
    pipeline; ``position_source`` to the configured gpsd reader (started and closed here); ``clock`` to
    a :class:`edge.timesource.TimeSource` fed by that position source."""
    paths = claim_paths(cfg)
    ensure_keys(cfg)
    key, box = device_key(cfg), template_box(cfg)
    if face is None:
        face = make_face_engine(cfg)
    with contextlib.ExitStack() as stack:
        if position_source is None:
            position_source = stack.enter_context(make_position_source(cfg.gps))  # entering starts it
        roster = stack.enter_context(RosterStore(paths.roster, box))
        ledger = stack.enter_context(Ledger(paths.ledger, cfg.device.device_id, cfg.device.distribution_point))
        outbox = stack.enter_context(SharedOutbox(lambda: open_outbox(cfg)))
        if clock is None:
            system = LinuxClock()
            clock = TimeSource(position_source, clock=system, not_before=ledger.latest_time(system.boot_id())).now
        yield ClaimService(device_id=cfg.device.device_id, distribution_point=cfg.device.distribution_point, config=cfg.claim,
                           face=face, roster=roster, ledger=ledger, outbox=outbox, signing_key=key,
                           where=make_where(position_source, cfg.gps, clock), camera=camera,
                           burst_frames=cfg.face.burst_frames, on_decision=on_decision)


class ClaimComponent:
    """The claim flow (camera burst → match → decide → ledger → outbox) behind the HTTP API (``claim.http_api``,
    when the status server runs) and the ``cmd/roster`` / ``cmd/ledger`` MQTT commands (``claim.mqtt_commands``).

    Opened at start (keys, roster, ledger, outbox, officer list), closed at stop; decisions go to the status board.
    """

    name = "claim"
    critical = False

    def __init__(self, cfg: EdgeConfig, *, camera: Any, gps: Any, board: StatusBoard, router: CommandRouter,
                 http: LocalHttpServer | None, face: FaceEngine | None = None) -> None:
        self.cfg, self.camera, self.gps, self.board, self.router, self.http = cfg, camera, gps, board, router, http
        self.face = face
        self.service: ClaimService | None = None
        self.officers: OfficerStore | None = None
        self.trusted: dict[str, Any] = {}
        self._stack: contextlib.ExitStack | None = None

    def start(self) -> None:
        self.trusted = trusted_issuer_keys(self.cfg)
        with contextlib.ExitStack() as stack:
            svc = stack.enter_context(open_claim_service(
                self.cfg, face=self.face, camera=self.camera, position_source=self.gps,
                on_decision=lambda result: self.board.show_decision(result.decision)))
            officers = stack.enter_context(open_officer_store(self.cfg, self.trusted))
            self._stack = stack.pop_all()
        self.service, self.officers = svc, officers
        if self.cfg.claim.mqtt_commands:
            register_claim_commands(self.router, svc, self.trusted)
        if self.cfg.claim.http_api and self.http is not None:
            if officers.current() is None:
                logger.warning("No officer list installed (edge officers import): nobody can sign in to make claims")
            auth = make_auth(self.cfg, officers)
            register_routes(self.http, svc, auth)
            register_counter(self.http, svc, auth, self.trusted, self.board)  # the officer's counter app (docs/COUNTER.md)

    def check(self) -> ComponentStatus:
        return ComponentStatus(self.name, self._stack is not None, "ok" if self._stack else "stopped", critical=False)

    def stop(self) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()
