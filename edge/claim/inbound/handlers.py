"""What the central side sends: rosters (``cmd/roster``) and ledger updates (``cmd/ledger``).

Handlers never raise into the MQTT thread: a refused roster is logged and answered with a
``roster_ack`` record saying why; a ``cmd/ledger`` must be signed by a trusted central key and
carry this terminal's next sequence number (see :mod:`edge.claim.inbound.ledger_update`); an accepted ledger
update that reveals a double payment appends a ``conflict`` record to the outbox at once.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel

from edge.claim.flow.claim_service import KIND_CONFLICT, KIND_ROSTER_ACK, ClaimService
from edge.claim.inbound.ledger_update import (
    MAX_CONFLICTS_PER_HOUR, MAX_CONFLICTS_PER_MESSAGE, SEQ_COUNTER, LedgerGuard, LedgerRefused, check_signed_ledger,
)
from edge.claim.records.crypto import load_public_key, public_key_id
from edge.claim.records.signed import ConflictRecord
from edge.claim.records.wire import LedgerCommand, RosterAck, RosterCommand
from edge.claim.roster.document import RosterRejected, open_signed_roster
from edge.claim.roster.installed import InstallReport
from edge.errors import EdgeError

logger = logging.getLogger(__name__)


def import_roster(svc: ClaimService, data: bytes | str | dict[str, Any], trusted_keys: dict[str, Any], now: datetime | None = None,
                  recompute: bool = True) -> InstallReport:
    """Verify and install a signed roster; raises :class:`RosterRejected` with the reason. Templates of another
    embedder are re-computed from the roster's photos (``recompute``) or flagged."""
    with svc.lock:
        now = now or datetime.now(timezone.utc)
        roster = open_signed_roster(data, trusted_keys, svc.roster.installed(), now, svc.point)
        return svc.roster.install(roster, svc.face.model_sha256, svc.face.embed_photo if recompute else None)


def handle_roster_command(svc: ClaimService, trusted_keys: dict[str, Any], payload: Any, now: datetime | None = None) -> RosterAck:
    """``cmd/roster`` handler: install or refuse, then publish a ``roster_ack``. Never raises."""
    at = (now or datetime.now(timezone.utc)).isoformat()
    try:
        doc = payload.model_dump() if isinstance(payload, BaseModel) else payload
        report = import_roster(svc, doc, trusted_keys, now)
        ack = RosterAck(device_id=svc.device_id, version=report.version, accepted=True, code="installed",
                        detail=f"{report.kind} roster v{report.version}", recipients=report.recipients, flagged=len(report.flagged), at=at)
    except RosterRejected as exc:
        logger.error("Roster from the central side refused: %s", exc)
        version = _version_of(payload)
        ack = RosterAck(device_id=svc.device_id, version=version, accepted=False, code=exc.code, detail=str(exc), at=at)
    except EdgeError as exc:
        logger.error("Roster could not be installed: %s", exc)
        ack = RosterAck(device_id=svc.device_id, version=_version_of(payload), accepted=False, code="install_failed", detail=str(exc), at=at)
    try:
        from edge.claim.records.row_check import sign_payload

        svc.outbox.append(KIND_ROSTER_ACK, sign_payload(ack.model_dump(mode="json", by_alias=True), svc.key), durable_class="record")
    except EdgeError as exc:
        logger.error("Roster acknowledgement not queued: %s", exc)
    return ack


def _version_of(payload: Any) -> int | None:
    try:
        v = (payload.roster if isinstance(payload, RosterCommand) else payload["roster"]).get("version")
        return v if isinstance(v, int) and not isinstance(v, bool) and 0 < v < 2**62 else None
    except Exception:
        return None


def apply_ledger_update(svc: ClaimService, payload: Any, guard: LedgerGuard | None = None, now: datetime | None = None) -> list[ConflictRecord]:
    """``cmd/ledger`` handler: verify the central signature and sequence, validate each entry, merge; each newly found
    double payment becomes a signed ``conflict`` record (capped per message and per hour). Refusals are logged and
    counted; never raises."""
    guard = guard or LedgerGuard(keys={})
    out: list[ConflictRecord] = []
    with svc.lock:
        try:
            seq, entries, _bad = check_signed_ledger(svc, guard, payload, now)
            conflicts = svc.ledger.apply_central(entries, counter=(SEQ_COUNTER, seq))
        except LedgerRefused as exc:
            guard.count(exc.code)
            (logger.info if exc.code == "replay" else logger.error)("%s", exc)
            return []
        except EdgeError as exc:
            logger.error("Ledger update not applied: %s", exc)
            return []
        budget = guard.conflict_budget(time.monotonic())
        for i, c in enumerate(conflicts):
            if i >= budget:
                svc.ledger.forget_conflict(c.local.idempotency_key, c.other.idempotency_key)
                continue
            rec = ConflictRecord(**svc.record_fields(svc.where()), recipient_id=c.recipient_id, period=c.period, local_key=c.local.idempotency_key,
                                 local_decided_at=c.local.decided_at, other_key=c.other.idempotency_key, other_device_id=c.other.device_id,
                                 other_distribution_point=c.other.distribution_point, other_decided_at=c.other.decided_at)
            try:
                out.append(svc.emit(KIND_CONFLICT, rec))
                guard.conflict_times.append(time.monotonic())
            except EdgeError as exc:
                svc.ledger.forget_conflict(c.local.idempotency_key, c.other.idempotency_key)
                logger.error("Conflict record for %s not queued (%s); it will be reported on the next ledger update", c.recipient_id, exc)
        if len(conflicts) > budget:
            guard.count("conflicts_capped")
            logger.warning("%d double payment(s) not recorded here: conflict records are capped (%d per message, %d per hour); "
                           "the central side has recorded them, and a resent ledger update reports them here again",
                           len(conflicts) - budget, MAX_CONFLICTS_PER_MESSAGE, MAX_CONFLICTS_PER_HOUR)
    return out


def central_keys(svc: ClaimService, trusted_keys: dict[str, Any]) -> dict[str, Any]:
    """Keys trusted to sign ``cmd/ledger``: ``claim.central_keys`` when set, else the roster issuers' keys."""
    paths = getattr(svc.cfg, "central_keys", None) or []
    if not paths:
        return dict(trusted_keys)
    keys = [load_public_key(p) for p in paths]
    return {public_key_id(k): k for k in keys}


def register_claim_commands(router: Any, svc: ClaimService, trusted_keys: dict[str, Any]) -> LedgerGuard:
    """Route ``cmd/roster`` and ``cmd/ledger`` of an ``edge.transport.router.CommandRouter`` to this terminal's claim service."""
    guard = LedgerGuard(keys=central_keys(svc, trusted_keys))
    router.register("roster", RosterCommand, lambda args, envelope: handle_roster_command(svc, trusted_keys, args))
    router.register("ledger", LedgerCommand, lambda args, envelope: apply_ledger_update(svc, args, guard))
    return guard
