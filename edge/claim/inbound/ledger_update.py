"""``cmd/ledger`` on the terminal: signed by the central key, sequenced per terminal, validated entry by entry.

Order of checks (each refusal is one log line and a counted refusal, never a traceback):
size/shape → signature present → signer trusted → signature valid → schema (≤ 200 entries, plain
strings) → addressed to this terminal → sequence (a replay is ignored; a gap is refused and a
``ledger_resync`` request is published) → per entry: recipient on the roster, roster period, sane
time, paying device not this one. Accepted entries are merged in one short transaction; conflict
records are capped per message and per hour (the rest are logged and reported on a later update).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from edge.claim.flow.ledger import Disbursement
from edge.claim.records.canonical import canonical_json
from edge.claim.records.crypto import verify
from edge.claim.records.wire import MAX_LEDGER_ENTRIES, LedgerBody, LedgerCommand, LedgerEntry, LedgerResync

logger = logging.getLogger(__name__)

SEQ_COUNTER = "ledger_seq"
EARLIEST = datetime(2020, 1, 1, tzinfo=timezone.utc)
MAX_FUTURE = timedelta(days=1)
MAX_CONFLICTS_PER_MESSAGE = 20
MAX_CONFLICTS_PER_HOUR = 100
RESYNC_EVERY_S = 30.0
KIND_LEDGER_RESYNC = "ledger_resync"


class LedgerRefused(Exception):
    """A ``cmd/ledger`` message was refused; ``code`` is machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"ledger update refused ({code}): {message}")
        self.code = code


@dataclass
class LedgerGuard:
    """Per-terminal state of the ``cmd/ledger`` checks that is not in the ledger database."""

    keys: dict[str, Ed25519PublicKey]
    conflict_times: deque[float] = field(default_factory=deque)
    last_resync: tuple[int, float] | None = None
    refused: dict[str, int] = field(default_factory=dict)

    def count(self, code: str) -> None:
        self.refused[code] = self.refused.get(code, 0) + 1

    def conflict_budget(self, now: float) -> int:
        while self.conflict_times and now - self.conflict_times[0] > 3600:
            self.conflict_times.popleft()
        return max(0, min(MAX_CONFLICTS_PER_MESSAGE, MAX_CONFLICTS_PER_HOUR - len(self.conflict_times)))


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    return f"{where}: {first['msg']} ({exc.error_count()} problem(s))"


def open_ledger(cmd: Any, keys: dict[str, Ed25519PublicKey], device_id: str) -> LedgerBody:
    """Verify the central signature and parse the body; raises :class:`LedgerRefused`. Pure."""
    if not isinstance(cmd, LedgerCommand):
        try:
            cmd = LedgerCommand.model_validate(cmd)
        except ValidationError as exc:
            raise LedgerRefused("malformed", _first_error(exc)) from None
    sig = cmd.signature
    if not sig:
        raise LedgerRefused("unsigned", "the ledger update carries no signature")
    if sig.get("alg") != "ed25519" or not isinstance(sig.get("sig"), str) or not isinstance(sig.get("key_id"), str):
        raise LedgerRefused("bad_signature", "signature must be {alg: ed25519, key_id, sig}")
    if not keys:
        raise LedgerRefused("unknown_signer", "this terminal trusts no central key (claim.central_keys / claim.issuer_keys)")
    key = keys.get(sig["key_id"])
    if key is None:
        raise LedgerRefused("unknown_signer", f"signed by key {sig['key_id'][:32]!r}, which this terminal does not trust")
    entries = cmd.ledger.get("entries")
    if isinstance(entries, list) and len(entries) > MAX_LEDGER_ENTRIES:
        raise LedgerRefused("too_many_entries", f"{len(entries)} entries, limit {MAX_LEDGER_ENTRIES} per message")
    try:
        message = canonical_json(cmd.ledger)
    except (TypeError, ValueError):
        raise LedgerRefused("malformed", "ledger is not canonicalisable JSON") from None
    if not verify(key, message, sig["sig"]):
        raise LedgerRefused("bad_signature", "signature does not match the content (tampered, or signed with another key)")
    try:
        body = LedgerBody.model_validate(cmd.ledger)
    except ValidationError as exc:
        raise LedgerRefused("malformed", _first_error(exc)) from None
    if body.device_id != device_id:
        raise LedgerRefused("wrong_device", f"addressed to {body.device_id}, this terminal is {device_id}")
    return body


def entry_problem(e: LedgerEntry, *, on_roster: bool, roster_period: str | None, device_id: str, now: datetime) -> str:
    """Why one entry cannot be applied ('' when it can). Pure."""
    if e.device_id == device_id:
        return ""  # our own payout echoed back: harmless, skipped by the ledger
    if not on_roster:
        return f"recipient {e.recipient_id} is not on this terminal's roster"
    if roster_period is not None and e.period != roster_period:
        return f"period {e.period} is not the roster period {roster_period}"
    if e.decided_at < EARLIEST or e.decided_at > now + MAX_FUTURE:
        return f"decided_at {e.decided_at.isoformat()} is not a plausible time"
    return ""


def request_resync(svc: Any, guard: LedgerGuard, from_seq: int, seen_seq: int) -> None:
    """Queue an ``event/ledger_resync`` record (at most one per ``from_seq`` every 30 s)."""
    now = time.monotonic()
    if guard.last_resync and guard.last_resync[0] == from_seq and now - guard.last_resync[1] < RESYNC_EVERY_S:
        return
    guard.last_resync = (from_seq, now)
    ask = LedgerResync(device_id=svc.device_id, from_seq=from_seq, seen_seq=seen_seq, at=datetime.now(timezone.utc).isoformat())
    try:
        svc.outbox.append(KIND_LEDGER_RESYNC, ask.model_dump(mode="json", by_alias=True), durable_class="record")
        logger.warning("Ledger updates %d..%d missing: asked the central side to resend from %d", from_seq, seen_seq - 1, from_seq)
    except Exception as exc:  # noqa: BLE001 - a full outbox must not break command handling
        logger.error("Ledger resync request not queued: %s", exc)


def check_signed_ledger(svc: Any, guard: LedgerGuard, cmd: LedgerCommand | dict[str, Any],
                        now: datetime | None = None) -> tuple[int, list[Disbursement], int]:
    """Check one ``cmd/ledger``; returns (its sequence, entries to merge, entries refused) or raises :class:`LedgerRefused`.
    The caller merges the entries and the sequence in one transaction (:func:`edge.claim.inbound.handlers.apply_ledger_update`)."""
    now = now or datetime.now(timezone.utc)
    body = open_ledger(cmd, guard.keys, svc.device_id)
    last = svc.ledger.counter(SEQ_COUNTER)
    if body.seq <= last:
        raise LedgerRefused("replay", f"sequence {body.seq} already applied (last {last})")
    if body.seq > last + 1:
        request_resync(svc, guard, last + 1, body.seq)
        raise LedgerRefused("gap", f"sequence {body.seq} arrived but {last + 1} is next; resync requested")
    state = svc.roster.state()
    sha = svc.face.model_sha256
    good: list[Disbursement] = []
    bad = 0
    for e in body.entries:
        problem = entry_problem(e, on_roster=svc.roster.recipient(e.recipient_id, sha) is not None, roster_period=state.period,
                                device_id=svc.device_id, now=now)
        if problem:
            bad += 1
            guard.count("entry_refused")
            logger.warning("Ledger entry %s from the central side ignored: %s", e.idempotency_key, problem)
            continue
        good.append(Disbursement(idempotency_key=e.idempotency_key, recipient_id=e.recipient_id, period=e.period,
                                 device_id=e.device_id, distribution_point=e.distribution_point,
                                 decided_at=e.decided_at.isoformat(), source="central"))
    return body.seq, good, bad
