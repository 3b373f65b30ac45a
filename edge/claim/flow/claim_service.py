"""ClaimService: camera burst → face core → decide → signed record → outbox → ledger → status board.

Every final decision becomes one signed record appended to the outbox *first* (durable when
``append`` returns), then entered in the ledger. A ``retake`` is a prompt, not a decision: it is
returned to the caller and logged, not recorded. All entry points (CLI, HTTP, MQTT commands)
go through one lock, so a roster update never interleaves with a claim.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from edge.claim.flow.decide import ClaimFacts, Decision, GpsVerdict, MatchResult, Thresholds, decide
from edge.claim.flow.evidence import seal_thumbnail, thumbnail_jpeg
from edge.claim.flow.face_engine import BurstAnalysis, FaceEngine
from edge.claim.flow.ledger import Ledger, LedgerBehind
from edge.claim.flow.officer_text import officer_message
from edge.claim.records.signed import DecisionRecord, QualityInfo, Scores, sign_record
from edge.claim.roster.installed import RosterStore
from edge.config.claim import ClaimConfig
from edge.errors import EdgeError, NotFoundError
from edge.gps.model import PositionStamp
from edge.messages import new_key
from edge.timesource import Timestamp

logger = logging.getLogger(__name__)

KIND_DECISION = "decision"
KIND_OVERRIDE = "override"
KIND_CONFLICT = "conflict"
KIND_ROSTER_ACK = "roster_ack"


class OutboxLike(Protocol):
    def append(self, kind: str, payload: Any, *, durable_class: str = "record", idempotency_key: str | None = None,
               time_source: str = "unsynchronised") -> Any: ...


class FrameSource(Protocol):
    def capture(self) -> Any: ...  # -> edge.camera.base.Frame


@dataclass(frozen=True)
class Where:
    """Position and time for one record, from the GPS and time sources."""

    position: PositionStamp
    gps: GpsVerdict
    time: Timestamp


@dataclass
class ClaimResult:
    decision: Decision
    record: DecisionRecord | None  # None for a retake prompt
    burst: BurstAnalysis | None = None

    replayed: bool = False  # True when a retried request_id returned the decision stored earlier

    def as_dict(self) -> dict[str, Any]:
        d = self.decision
        return {"outcome": d.outcome, "reason_code": d.reason_code, "recipient_id": d.recipient_id, "message": d.message,
                "flags": list(d.flags), "idempotency_key": self.record.idempotency_key if self.record else None,
                "seq": self.record.seq if self.record else None, "replayed": self.replayed,
                "record": self.record.model_dump(mode="json", by_alias=True) if self.record else None}


def request_key(device_id: str, request_id: str) -> str:
    """The idempotency key of the decision made for a client's ``request_id`` (the same on every retry)."""
    return "req-" + hashlib.sha256(f"{device_id}\n{request_id}".encode()).hexdigest()[:32]


class ClaimService:
    def __init__(
        self,
        *,
        device_id: str,
        distribution_point: str,
        config: ClaimConfig,
        face: FaceEngine,
        roster: RosterStore,
        ledger: Ledger,
        outbox: OutboxLike,
        signing_key: Any,
        where: Callable[[], Where],
        camera: FrameSource | None = None,
        burst_frames: int = 5,
        on_decision: Callable[[ClaimResult], None] | None = None,
    ) -> None:
        self.device_id, self.point, self.cfg = device_id, distribution_point, config
        self.face, self.roster, self.ledger, self.outbox = face, roster, ledger, outbox
        self.key, self.where, self.camera, self.burst_frames = signing_key, where, camera, burst_frames
        self.on_decision = on_decision
        self.lock = threading.RLock()
        self._behind: list[LedgerBehind] = []
        self._request_key: str | None = None  # records the outbox holds but the ledger could not commit yet
        self.active_checks: dict[str, Any] = {}  # referral key -> the officer's latest head-turn check (edge.claim.flow.active_check)

    # --- helpers -----------------------------------------------------------------------------
    def thresholds(self, mode: str) -> Thresholds:
        accept, margin = self.face.thresholds(mode)
        return Thresholds(accept=accept, refer=max(-1.0, accept - self.cfg.refer_band), margin=margin)

    def capture_burst(self) -> list[np.ndarray]:
        if self.camera is None:
            raise EdgeError("no camera configured for claims")
        return [self.camera.capture().rgb for _ in range(self.burst_frames)]

    def emit(self, kind: str, record: Any, *, disburse: bool = False) -> Any:
        """Sign and record durably; returns the signed record.

        The record's sequence number is allocated in the outbox transaction that stores it (no gaps
        when a kill lands mid-claim); the ledger holds its transaction open around that append, so a
        refused payout (already paid here, disk full) is refused before anything is published.
        """
        self.catch_up()
        signed_holder: list[Any] = []

        def build(seq: int) -> dict[str, Any]:
            signed = sign_record(record.model_copy(update={"seq": seq}), self.key)
            signed_holder.append(signed)
            return signed.model_dump(mode="json", by_alias=True)

        def make_durable() -> dict[str, Any]:
            item = self.outbox.append(kind, build, durable_class="record", idempotency_key=record.idempotency_key,
                                      time_source=record.time.source)
            if not signed_holder:  # this key was stored before (a retried request): keep the stored record
                signed_holder.append(type(record).model_validate(item.envelope().payload))
            return signed_holder[-1].model_dump(mode="json", by_alias=True)

        draft = record.model_dump(mode="json", by_alias=True)
        try:
            self.ledger.record_with(draft, disburse, make_durable)
        except LedgerBehind as behind:
            self._behind.append(behind)
        return signed_holder[-1]

    def catch_up(self) -> None:
        """Enter records the ledger missed (its commit failed after the outbox stored them)."""
        while self._behind:
            b = self._behind[0]
            self.ledger.catch_up(b.record, b.disburse)
            self._behind.pop(0)

    def record_fields(self, w: Where) -> dict[str, Any]:
        """The fields every record shares: a fresh idempotency key, device, place, time; ``seq`` is set when stored."""
        return {"idempotency_key": new_key(), "seq": 1, "device_id": self.device_id,
                "distribution_point": self.point, "time": w.time, "position": w.position}

    def replay(self, key: str) -> ClaimResult | None:
        """The decision already recorded under ``key`` (ledger, else outbox), for a retried request; None if none."""
        from edge.claim.flow.decide import Decision

        stored = self.ledger.record(key)
        if stored is None:
            item = self.outbox.get(key) if hasattr(self.outbox, "get") else None
            if item is None:
                return None
            stored = item.envelope().payload
            self.ledger.catch_up(stored, stored.get("outcome") == "accept")  # the crash came between outbox and ledger
        rec = DecisionRecord.model_validate(stored)
        d = Decision(rec.outcome, rec.reason_code, rec.recipient_id, rec.message, tuple(rec.flags))
        return ClaimResult(d, rec, None, replayed=True)

    # --- the claim ---------------------------------------------------------------------------
    def claim(self, recipient_id: str | None = None, *, officer_id: str | None = None, attempt: int = 1,
              frames: list[np.ndarray] | None = None, request_id: str | None = None) -> ClaimResult:
        """Run one claim attempt (1:1 with ``recipient_id``, else 1:N) and record the decision.

        With a client ``request_id`` a retry returns the decision recorded for it instead of deciding again.
        """
        with self.lock:
            self.catch_up()
            key = request_key(self.device_id, request_id) if request_id else None
            if key is not None:
                earlier = self.replay(key)
                if earlier is not None:
                    logger.info("Claim request %s was already decided (%s): returning the stored decision", request_id, key)
                    return earlier
            self._request_key = key
            mode = "1:1" if recipient_id else "1:N"
            sha = self.face.model_sha256
            state = self.roster.state()
            w = self.where()
            facts = ClaimFacts(mode=mode, now=w.time.wall, roster=state, claimed_id=recipient_id, gps=w.gps,
                               attempt=attempt, max_attempts=self.cfg.max_attempts)
            if recipient_id:
                facts = _with(facts, recipient=self.roster.recipient(recipient_id, sha),
                              prior=self.ledger.claim_blocker(recipient_id, state.period) if state.period else None)
                pre = decide(facts)  # refusals that need no camera: unknown, ineligible, already paid, no template
                if pre.outcome in ("reject", "refer"):
                    return self._finish(pre, facts, w, None, officer_id, mode, sha)
            burst = self.face.analyse(frames if frames is not None else self.capture_burst())
            match: MatchResult | None = None
            if burst.embeddings:
                if recipient_id:
                    tmpl = self.roster.templates(recipient_id, sha)
                    match = MatchResult(recipient_id, self.face.verify(burst, tmpl)) if len(tmpl) else None
                else:
                    match = self.face.identify(burst, self.roster.gallery(sha))
            facts = _with(facts, quality=burst.quality, liveness=burst.liveness, match=match, thresholds=self.thresholds(mode))
            if not recipient_id and match and match.top_id:
                facts = _with(facts, recipient=self.roster.recipient(match.top_id, sha),
                              prior=self.ledger.claim_blocker(match.top_id, state.period) if state.period else None)
            return self._finish(decide(facts), facts, w, burst, officer_id, mode, sha)

    def _finish(self, d: Decision, f: ClaimFacts, w: Where, burst: BurstAnalysis | None, officer_id: str | None, mode: str, sha: str) -> ClaimResult:
        if not d.final:
            logger.info("Claim attempt %d: retake (%s)", f.attempt, d.reason_code)
            result = ClaimResult(d, None, burst)
        else:
            m, t, q = f.match, f.thresholds, f.quality
            scores = Scores(mode=mode if (m or t) else "none", top_id=m.top_id if m else None, top_score=m.top_score if m else None,
                            runner_up_id=m.runner_up_id if m else None, runner_up_score=m.runner_up_score if m else None,
                            accept_threshold=t.accept if t else None, refer_threshold=t.refer if t else None,
                            margin=t.margin if t else None, liveness_score=f.liveness.live_score if f.liveness else None,
                            live=f.liveness.is_live if f.liveness else None)
            inst = self.roster.installed()
            fields = self.record_fields(w)
            if self._request_key:
                fields["idempotency_key"] = self._request_key
                self._request_key = None
            rec = DecisionRecord(
                **fields, outcome=d.outcome, reason_code=d.reason_code, message=d.message,
                recipient_id=d.recipient_id, claimed_id=f.claimed_id, period=f.roster.period,
                roster_version=inst.version if inst else None, officer_id=officer_id, scores=scores,
                quality=QualityInfo(passed=q.passed, reason=q.reason, frames_ok=q.frames_ok, frames_total=q.frames_total) if q else None,
                model_sha256=sha, flags=list(d.flags), attempt=f.attempt,
                entitlement=self.roster.entitlement(d.recipient_id) if d.recipient_id and d.outcome == "accept" else None)
            signed = self.emit(KIND_DECISION, rec, disburse=d.outcome == "accept")
            self._keep_evidence(signed.idempotency_key, burst)
            logger.info("Claim %s: %s (%s) recipient=%s", signed.idempotency_key, d.outcome, d.reason_code, d.recipient_id or "-")
            result = ClaimResult(d, signed, burst)
        if self.on_decision:
            try:
                self.on_decision(result)
            except Exception:  # the status board must never undo a recorded decision
                logger.exception("status update after a decision failed")
        return result

    def _keep_evidence(self, key: str, burst: BurstAnalysis | None) -> None:
        if not self.cfg.evidence_thumbnail or burst is None or burst.best_face_rgb is None:
            return
        jpeg = thumbnail_jpeg(burst.best_face_rgb, self.cfg.thumbnail_px, self.cfg.thumbnail_max_bytes)
        if jpeg is None:
            logger.warning("Evidence thumbnail for %s dropped: larger than %d bytes", key, self.cfg.thumbnail_max_bytes)
            return
        self.ledger.save_evidence(key, seal_thumbnail(self.roster.box, key, jpeg))

    def ledger_view(self, recipient_id: str) -> dict[str, Any]:
        with self.lock:
            view = self.ledger.history(recipient_id)
            state = self.roster.state()
            info = self.roster.recipient(recipient_id, self.face.model_sha256)
            if info is None and not view["disbursements"] and not view["decisions"]:
                raise NotFoundError(f"recipient {recipient_id} is not on the roster and has no ledger entries")
            view["on_roster"] = info is not None
            view["period"] = state.period
            prior = self.ledger.prior_claim(recipient_id, state.period) if state.period else None
            view["paid_this_period"] = prior.__dict__ if prior else None
            return view


def _with(f: ClaimFacts, **changes: Any) -> ClaimFacts:
    return replace(f, **changes)


__all__ = ["ClaimService", "ClaimResult", "Where", "officer_message"]
