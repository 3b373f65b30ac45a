"""What the central side sends: rosters (``cmd/roster``) and ledger updates (``cmd/ledger``).

Handlers never raise into the MQTT thread: a refused roster or malformed update is logged and
answered with a ``roster_ack`` record saying why; an accepted ledger update that reveals a
double payment appends a ``conflict`` record to the outbox at once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ValidationError

from edge.claim.ledger import Disbursement
from edge.claim.records import ConflictRecord
from edge.claim.roster import RosterRejected, open_signed_roster
from edge.claim.roster_store import InstallReport
from edge.claim.service import KIND_CONFLICT, KIND_ROSTER_ACK, ClaimService
from edge.claim.wire import LedgerCommand, RosterAck, RosterCommand
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
        from edge.claim.record_verify import sign_payload

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


def apply_ledger_update(svc: ClaimService, payload: Any) -> list[ConflictRecord]:
    """``cmd/ledger`` handler: merge central disbursements; each newly found double payment becomes a signed
    ``conflict`` record in the outbox immediately. Invalid payloads are logged and ignored. Never raises."""
    try:
        cmd = payload if isinstance(payload, LedgerCommand) else LedgerCommand.model_validate(payload)
    except ValidationError as exc:
        logger.error("Ledger update refused: %s", exc.errors()[0]["msg"] if exc.errors() else exc)
        return []
    out: list[ConflictRecord] = []
    with svc.lock:
        try:
            conflicts = svc.ledger.apply_central([Disbursement(**e.model_dump(), source="central") for e in cmd.entries])
        except EdgeError as exc:
            logger.error("Ledger update not applied: %s", exc)
            return []
        for c in conflicts:
            rec = ConflictRecord(**svc.record_fields(svc.where()), recipient_id=c.recipient_id, period=c.period, local_key=c.local.idempotency_key,
                                 local_decided_at=c.local.decided_at, other_key=c.other.idempotency_key, other_device_id=c.other.device_id,
                                 other_distribution_point=c.other.distribution_point, other_decided_at=c.other.decided_at)
            try:
                out.append(svc.emit(KIND_CONFLICT, rec))
            except EdgeError as exc:
                svc.ledger.forget_conflict(c.local.idempotency_key, c.other.idempotency_key)
                logger.error("Conflict record for %s not queued (%s); it will be reported on the next ledger update", c.recipient_id, exc)
    return out




def register_claim_commands(router: Any, svc: ClaimService, trusted_keys: dict[str, Any]) -> None:
    """Route ``cmd/roster`` and ``cmd/ledger`` of an ``edge.transport.router.CommandRouter`` to this terminal's claim service."""
    router.register("roster", RosterCommand, lambda args, envelope: handle_roster_command(svc, trusted_keys, args))
    router.register("ledger", LedgerCommand, lambda args, envelope: apply_ledger_update(svc, args))
