"""Assemble a :class:`ClaimService` from the configuration (keys, databases, outbox, face core, GPS, clock)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from edge.claim.context import make_where
from edge.claim.face_engine import FaceEngine
from edge.claim.keys import claim_paths, device_key, ensure_keys, template_box
from edge.claim.ledger import Ledger
from edge.claim.outbox_access import PerThreadOutbox
from edge.claim.roster_store import RosterStore
from edge.claim.service import ClaimResult, ClaimService
from edge.config import EdgeConfig
from edge.timesource import Timestamp


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
    from edge.gps.source import make_position_source
    from edge.store.outbox import Outbox
    from edge.timesource import LinuxClock, TimeSource

    paths = claim_paths(cfg)
    ensure_keys(cfg)
    key, box = device_key(cfg), template_box(cfg)
    if face is None:
        from edge.claim.face_adapter import make_face_engine

        face = make_face_engine(cfg)
    with contextlib.ExitStack() as stack:
        if position_source is None:
            position_source = stack.enter_context(make_position_source(cfg.gps))  # entering starts it
        roster = stack.enter_context(RosterStore(paths.roster, box))
        ledger = stack.enter_context(Ledger(paths.ledger, cfg.device.device_id, cfg.device.distribution_point))
        outbox = stack.enter_context(PerThreadOutbox(lambda: Outbox(
            cfg.outbox_path, cfg.device.device_id, synchronous=cfg.store.synchronous,
            min_free_mb=cfg.store.min_free_mb, telemetry_max_rows=cfg.store.telemetry_max_rows)))
        if clock is None:
            system = LinuxClock()
            clock = TimeSource(position_source, clock=system, not_before=ledger.latest_time(system.boot_id())).now
        yield ClaimService(device_id=cfg.device.device_id, distribution_point=cfg.device.distribution_point, config=cfg.claim,
                           face=face, roster=roster, ledger=ledger, outbox=outbox, signing_key=key,
                           where=make_where(position_source, cfg.gps, clock), camera=camera,
                           burst_frames=cfg.face.burst_frames, on_decision=on_decision)
