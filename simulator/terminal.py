"""One simulated terminal: the product's real claim service, outbox, MQTT publisher and command
router, fed by the simulated camera and GPS, talking to the broker through a fault proxy.

Nothing of the terminal is wired here: the composition root (``edge.app.build_terminal``) builds it from
its configuration exactly as ``edge run`` does, with the simulator's camera, GPS and face engine passed in
and ``mqtt`` pointed at the fault proxy. Only the service runner's loop (watchdog, health) is left out.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path
from typing import Any

from edge.config import EdgeConfig
from simulator.broker import Endpoint
from simulator.camera import FolderCamera
from simulator.central import REGION
from simulator.scenario import FixedGps, GpsdGps, NoGps, RouteGps, Terminal

logger = logging.getLogger(__name__)

GPS_LOSS_JUMP_S = 900.0  # a simulated loss of fix is taken to have lasted this long (older than any max_fix_age_s default)


class SkewClock:
    """Monotonic seconds plus an offset the simulator can jump forward (simulated time passing)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


def make_gps(spec: Terminal, clock: SkewClock, gpsd_port: int | None = None) -> Any:
    """The position source for this terminal, not started: ``simulator.gps`` or the real gpsd reader."""
    from simulator import gps

    g = spec.gps
    if isinstance(g, GpsdGps):
        from edge.config.gps import GpsConfig
        from edge.gps.source import make_position_source

        return make_position_source(GpsConfig(port=gpsd_port or 2947, no_fix_policy=spec.no_fix_policy,
                                              max_fix_age_s=spec.max_fix_age_s, reconnect_min_s=0.2, reconnect_max_s=1.0))
    if isinstance(g, FixedGps):
        return gps.FixedPoint(g.lat, g.lon, alt_m=g.alt_m, monotonic=clock)
    if isinstance(g, RouteGps):
        return gps.RouteSource(g.file, g.speed_mps, loop=True, monotonic=clock)
    assert isinstance(g, NoGps)
    from edge.gps.source import DisabledSource

    return DisabledSource()


def with_environment(data: dict[str, Any]) -> EdgeConfig:
    """``data`` plus the user's ``TEPAT__SECTION__KEY`` overrides (e.g. ``TEPAT__FACE__EMBEDDER=fp32``), validated."""
    from edge.config import _env_overrides, _merge

    return EdgeConfig.model_validate(_merge(data, _env_overrides(os.environ)))


def terminal_config(spec: Terminal, state_dir: Path, link_port: int, endpoint: Endpoint, issuer_pub: Path,
                    models_dir: Path | None = None, central_pub: Path | None = None) -> EdgeConfig:
    """The terminal's configuration: its own state folder, the proxy as its broker, quick reconnects."""
    data: dict[str, Any] = {
        "device": {"device_id": spec.id, "region": REGION, "distribution_point": spec.distribution_point,
                   "state_dir": str(state_dir), "log_format": "text"},
        "mqtt": {"host": "127.0.0.1", "port": link_port, "protocol": endpoint.protocol, "keepalive_s": 5,
                 "reconnect_min_s": 0.2, "reconnect_max_s": 1.0},
        "gps": {"no_fix_policy": spec.no_fix_policy, "max_fix_age_s": spec.max_fix_age_s},
        "claim": {"issuer_keys": [str(issuer_pub)], "central_keys": [str(central_pub)] if central_pub else []},
        "service": {"http_enabled": False},  # the simulator signs the desk officer in directly, not over HTTP
    }
    if models_dir:
        data["face"] = {"models_dir": str(models_dir)}
    cfg = with_environment(data)
    # The simulator owns these: an override must not point the terminal at another broker or state folder.
    cfg.device.state_dir, cfg.device.device_id, cfg.mqtt.host, cfg.mqtt.port = state_dir, spec.id, "127.0.0.1", link_port
    cfg.service.http_enabled = False
    return cfg


class SimTerminal:
    """Context manager: on enter, the terminal is running (publisher connected or retrying)."""

    def __init__(self, spec: Terminal, *, work_dir: Path, endpoint: Endpoint, issuer_pub: Path, face: Any,
                 models_dir: Path | None = None, central: Any = None) -> None:
        self.spec = spec
        self.central = central  # simulator.central.CentralOffice: trusts its key, registers with it before going online
        self.id = spec.id
        self.state_dir = work_dir / spec.id
        self.endpoint = endpoint
        self.issuer_pub = issuer_pub
        self.face = face
        self.models_dir = models_dir
        self.clock = SkewClock()
        self.camera = FolderCamera()
        self.gps: Any = None
        self.proxy: Any = None
        self.cfg: EdgeConfig | None = None
        self.terminal: Any = None  # edge.app.Terminal, built by the composition root
        self._stack = contextlib.ExitStack()
        self.gps_lost = False
        self.sessions: Any = None
        self._desk: tuple[str, str] | None = None  # (officer id, PIN) of the officer at the desk
        self._token: str | None = None

    def __enter__(self) -> "SimTerminal":
        try:
            self._open()
        except BaseException:
            self._stack.close()
            raise
        return self

    def _open(self) -> None:
        from edge.app import build_terminal
        from simulator.netfault import FaultProxy

        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.proxy = self._stack.enter_context(FaultProxy(target=(self.endpoint.host, self.endpoint.port)))
        cfg = self.cfg = terminal_config(self.spec, self.state_dir, self.proxy.port, self.endpoint, self.issuer_pub, self.models_dir,
                                         self.central.public_key_file if self.central is not None else None)
        gpsd_port = None
        if isinstance(self.spec.gps, GpsdGps):
            from simulator.gpsfake import Gpsfake

            gpsd_port = self._stack.enter_context(Gpsfake(self.spec.gps.nmea)).port
        self.gps = make_gps(self.spec, self.clock, gpsd_port)
        if self.central is not None:  # the device registry knows this terminal's key before its first message
            from edge.claim.keys import claim_paths, ensure_keys

            ensure_keys(cfg)  # what the claim flow does at start; idempotent
            self.central.register(self.id, cfg.device.region, self.spec.distribution_point,
                                  claim_paths(cfg).device_pub.read_text(encoding="ascii"))
        self.terminal = self._stack.enter_context(build_terminal(cfg, camera=self.camera, gps=self.gps, face=self.face))
        if gpsd_port is not None:
            self._wait_fix(15.0)

    # --- the terminal's parts, as the composition root built them ---------------------------------
    @property
    def service(self) -> Any:
        return self.terminal.service

    @property
    def publisher(self) -> Any:
        return self.terminal.publisher

    @property
    def router(self) -> Any:
        return self.terminal.router if self.terminal is not None else None

    @property
    def trusted(self) -> dict[str, Any]:
        return self.terminal.claim.trusted

    @property
    def officers(self) -> Any:
        """The terminal's officer store."""
        return self.terminal.claim.officers

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _wait_fix(self, timeout_s: float) -> None:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end and self.gps.latest().status != "fix":
            time.sleep(0.05)
        if self.gps.latest().status != "fix":
            logger.warning("%s: no fix from gpsd after %.0f s; claims will carry no_fix", self.id, timeout_s)

    # --- what the simulator does to the terminal ---------------------------------------------
    def install_roster(self, signed: dict[str, Any]) -> Any:
        """Import the signed roster the way ``edge roster import`` does (verify, compute templates)."""
        from edge.claim.inbound.handlers import import_roster

        return import_roster(self.service, signed, self.trusted)

    def install_officers(self, signed: dict[str, Any], officer_id: str, pin: str) -> Any:
        """Import the signed officer list the way ``edge officers import`` does, and sign the desk officer in with their PIN."""
        from edge.claim.officers.sessions import SessionManager

        assert self.cfg is not None
        if self.sessions is None:
            self.sessions = SessionManager(idle_s=self.cfg.claim.session_idle_s, max_s=self.cfg.claim.session_max_s)
        doc = self.officers.install(signed)
        self._desk = (officer_id, pin)
        self._token = None
        self.signed_in()
        return doc

    def signed_in(self) -> Any:
        """The desk officer's live session (signing in again with the PIN when it has timed out)."""
        from edge.errors import EdgeError

        if self._desk is None:
            raise EdgeError(f"{self.id}: no officer signed in (install_officers first)")
        session = self.sessions.get(self._token)
        if session is None:
            self._token, session = self.sessions.create(self.officers.authenticate(*self._desk))
        return session.officer

    def claim(self, claimed_id: str | None, attempt: int) -> Any:
        """One claim attempt through the product's ClaimService, as the signed-in desk officer; the publisher is nudged afterwards."""
        result = self.service.claim(claimed_id, attempt=attempt, officer_id=self.signed_in().officer_id)
        self.publisher.wake()
        return result

    def set_gps_lost(self, lost: bool) -> None:
        """Lose or regain the fix. A loss is simulated as long (the source's clock jumps ahead)."""
        if lost == self.gps_lost or not hasattr(self.gps, "set_outage"):
            return
        self.gps.set_outage("no_fix" if lost else None)
        self.clock.offset += GPS_LOSS_JUMP_S if lost else 1.5  # regain: a fresh report is due at once
        self.gps_lost = lost

    @property
    def ledger_seq(self) -> int:
        """The last central ledger message (cmd/ledger sequence) this terminal applied."""
        from edge.claim.inbound.ledger_update import SEQ_COUNTER

        with self.service.lock:
            return self.service.ledger.counter(SEQ_COUNTER)

    @property
    def commands_handled(self) -> int:
        """Inbound commands (cmd/ledger, cmd/roster) this terminal has handled so far."""
        return int(self.router.stats.handled) if self.router is not None else 0

    @property
    def link_state(self) -> str:
        return str(self.publisher.link_state)

    def outbox_keys(self) -> tuple[set[str], int]:
        """(keys of every record this terminal committed, records still pending)."""
        from edge.store.outbox import Outbox

        assert self.cfg is not None
        with Outbox(self.cfg.outbox_path, self.id) as ob:
            rows = [i for i in ob.items(limit=10_000_000) if i.durable_class == "record"]
        return {i.key for i in rows}, sum(1 for i in rows if i.state == "pending")
