"""The decision: pure rules over plain data, no I/O, no clock (``now`` is passed in).

Rule order, 1:1 (claimant gives an id): roster → known → eligible → not yet paid → template
available → GPS → quality → clear face mismatch (reject) → liveness → score.
Rule order, 1:N (no id): roster → GPS → quality → nobody recognised (reject) → liveness →
identification (threshold and runner-up margin) → eligible → not yet paid.

A clear face mismatch (score below ``refer``) is a reject whatever the liveness check says: a
photo of the wrong person is still the wrong person. A failed liveness check on a face that
matches (or nearly matches) asks for one ``retake`` (``liveness_retake``: look straight at the
camera, nothing held up), then refers to the officer (``liveness_failed``). Scores between
``refer`` and ``accept`` go to the officer (``refer``); a burst with no usable frame asks for a
``retake`` until ``max_attempts``, then refers.

Every decision names the check that gave it (:attr:`Decision.check`); :func:`shown_score` picks
the score that belongs with the reason, so a liveness reason is never shown with a face score.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from edge.claim.flow.officer_text import officer_message
from edge.claim.roster.document import RecipientInfo, RosterState
from edge.face.types import LivenessResult

Outcome = Literal["accept", "reject", "refer", "retake"]


@dataclass(frozen=True)
class PriorClaim:
    decided_at: str
    distribution_point: str
    device_id: str
    source: str = "local"  # "central": another terminal's payout relayed by the central side (cmd/ledger)
    key: str | None = None


@dataclass(frozen=True)
class QualityResult:
    passed: bool
    reason: str | None = None  # e.g. face_too_small; the commonest failure across the burst
    frames_ok: int = 0
    frames_total: int = 0


@dataclass(frozen=True)
class MatchResult:
    top_id: str | None
    top_score: float | None
    runner_up_id: str | None = None
    runner_up_score: float | None = None


@dataclass(frozen=True)
class Thresholds:
    accept: float
    refer: float
    margin: float = 0.0

    def __post_init__(self) -> None:
        if self.refer > self.accept:
            raise ValueError(f"refer threshold {self.refer} above accept threshold {self.accept}")


@dataclass(frozen=True)
class GpsVerdict:
    allowed: bool = True
    flag: str | None = None  # e.g. "no_fix", "stale_fix": recorded, not blocking


@dataclass(frozen=True)
class ClaimFacts:
    """Everything the rules look at for one claim attempt."""

    mode: Literal["1:1", "1:N"]
    now: datetime
    roster: RosterState
    claimed_id: str | None = None
    recipient: RecipientInfo | None = None  # 1:1: the claimed id's entry; 1:N: the identified one's
    prior: PriorClaim | None = None
    quality: QualityResult | None = None
    liveness: LivenessResult | None = None
    match: MatchResult | None = None
    thresholds: Thresholds | None = None
    gps: GpsVerdict = GpsVerdict()
    attempt: int = 1
    max_attempts: int = 3


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reason_code: str
    recipient_id: str | None
    message: dict[str, str]
    flags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def final(self) -> bool:
        return self.outcome != "retake"

    @property
    def check(self) -> str:
        """Which check gave this decision: ``face``, ``liveness``, ``quality`` or ``claim`` (roster, entitlement, GPS)."""
        return check_of(self.reason_code)


FACE_CODES = frozenset({"match", "identified", "borderline_match", "ambiguous_match", "face_mismatch", "not_recognised"})
LIVENESS_CODES = frozenset({"liveness_retake", "liveness_failed"})
QUALITY_CODES = frozenset({"quality_failed", "no_face", "face_too_small", "too_dark", "head_turned", "multiple_faces",
                           "too_blurred", "overexposed", "face_cut_at_edge"})


def check_of(reason_code: str) -> str:
    if reason_code in FACE_CODES:
        return "face"
    if reason_code in LIVENESS_CODES:
        return "liveness"
    if reason_code in QUALITY_CODES:
        return "quality"
    return "claim"


def shown_score(d: Decision, *, face_score: float | None, liveness_score: float | None) -> tuple[str, float] | None:
    """``(check, score)`` to show beside the decision's reason, or None when the deciding check has no score."""
    score = {"face": face_score, "liveness": liveness_score}.get(d.check)
    return (d.check, float(score)) if score is not None else None


def _d(outcome: Outcome, code: str, facts: ClaimFacts, rid: str | None, **details: object) -> Decision:
    name = facts.recipient.display_name if facts.recipient else None
    flags = (f"gps_{facts.gps.flag}",) if facts.gps.flag else ()
    return Decision(outcome, code, rid, officer_message(code, recipient_id=rid, name=name, **details), flags)


def _roster_check(f: ClaimFacts) -> Decision | None:
    if not f.roster.installed:
        return _d("reject", "no_roster", f, f.claimed_id)
    if f.roster.valid_until is not None and f.now >= f.roster.valid_until:
        return _d("reject", "roster_expired", f, f.claimed_id, valid_until=f.roster.valid_until.isoformat())
    return None


def _entitlement_check(f: ClaimFacts, rid: str | None) -> Decision | None:
    r = f.recipient
    if r is None:
        return _d("reject", "unknown_recipient", f, rid)
    if not r.eligible:
        return _d("reject", "ineligible", f, rid, why=r.ineligible_reason or "not eligible")
    if r.entitlement_period and f.roster.period and r.entitlement_period != f.roster.period:
        return _d("reject", "ineligible", f, rid, why=f"entitlement is for {r.entitlement_period}")
    if f.prior is not None:
        # Paid elsewhere per the central ledger: a supervisor sees the entry and decides; never a silent refusal.
        code = "paid_elsewhere" if f.prior.source == "central" else "already_claimed"
        return _d("refer" if code == "paid_elsewhere" else "reject", code, f, rid, first_at=f.prior.decided_at,
                  first_place=f"{f.prior.distribution_point} ({f.prior.device_id})", entry=f.prior.key)
    return None


def _capture_check(f: ClaimFacts, rid: str | None) -> Decision | None:
    if not f.gps.allowed:
        return _d("reject", "no_gps_fix", f, rid)
    q = f.quality
    if q is None or not q.passed:
        reason = (q.reason if q else None) or "no_face"
        if f.attempt < f.max_attempts:
            return _d("retake", reason, f, rid)
        return _d("refer", "quality_failed", f, rid)
    return None


def _liveness_check(f: ClaimFacts, rid: str | None) -> Decision | None:
    """A failed liveness check on a face that was not clearly rejected: one retake, then the officer."""
    if f.liveness is None or f.liveness.is_live:
        return None
    if f.attempt == 1 and f.attempt < f.max_attempts:
        return _d("retake", "liveness_retake", f, rid)
    return _d("refer", "liveness_failed", f, rid)


def decide(f: ClaimFacts) -> Decision:
    """Apply the rules in order; the first that fires decides."""
    return decide_1to1(f) if f.mode == "1:1" else decide_1toN(f)


def decide_1to1(f: ClaimFacts) -> Decision:
    rid = f.claimed_id
    early = _roster_check(f) or _entitlement_check(f, rid)
    if early:
        return early
    assert f.recipient is not None
    if not f.recipient.has_template:
        code = "enrolment_required" if f.roster.enrolment_allowed else "no_template"
        return _d("refer", code, f, rid)
    cap = _capture_check(f, rid)
    if cap:
        return cap
    m, t = f.match, f.thresholds
    if m is None or m.top_score is None or t is None:
        return _d("refer", "no_template", f, rid)
    if m.top_score < t.refer:
        return _d("reject", "face_mismatch", f, rid)
    live = _liveness_check(f, rid)
    if live:
        return live
    if m.top_score >= t.accept:
        return _d("accept", "match", f, rid)
    return _d("refer", "borderline_match", f, rid)


def decide_1toN(f: ClaimFacts) -> Decision:
    early = _roster_check(f) or _capture_check(f, None)
    if early:
        return early
    m, t = f.match, f.thresholds
    if m is None or m.top_id is None or m.top_score is None or t is None or m.top_score < t.refer:
        return _d("reject", "not_recognised", f, None)
    live = _liveness_check(f, m.top_id)
    if live:
        return live
    margin = m.top_score - (m.runner_up_score if m.runner_up_score is not None else -1.0)
    if m.top_score < t.accept or margin < t.margin:
        return _d("refer", "ambiguous_match" if margin < t.margin else "borderline_match", f, m.top_id)
    ent = _entitlement_check(f, m.top_id)
    if ent:
        return ent
    return _d("accept", "identified", f, m.top_id)
