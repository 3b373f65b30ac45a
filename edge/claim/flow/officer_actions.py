"""Officer actions: override a decision (never erasing it) and confirm a first-payout enrolment.

Both take a :class:`~edge.claim.officers.accounts.SignedIn` officer (PIN verified), never a typed id.
The two-person rule (:func:`two_person_reason`): turning a reject into an accept, voiding a payout,
paying a recipient whose payout this period was voided, or accepting a liveness referral whose
head-turn check failed (:mod:`edge.claim.flow.active_check`) needs a second, different signed-in
officer, and (with ``needs_supervisor``) one of the two must be a supervisor. An override of a
referral on which the officer ran the head-turn check carries that check's result. The override record
names both officers and why two were needed. A recipient never has two payouts in force here.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np

from edge.claim.flow.active_check import check_on_file
from edge.claim.flow.claim_service import KIND_DECISION, KIND_OVERRIDE, ClaimResult, ClaimService
from edge.claim.flow.decide import Decision
from edge.claim.flow.ledger import AlreadyPaidError
from edge.claim.flow.officer_text import officer_message
from edge.claim.officers.accounts import AuthError, SignedIn
from edge.claim.records.signed import ACTIVE_CHECK_SCHEMA_VERSION, RECORD_SCHEMA_VERSION, DecisionRecord, OverrideRecord, QualityInfo, Scores
from edge.errors import EdgeError, NotFoundError

logger = logging.getLogger(__name__)

REASON_CODES = ("id_card_checked", "face_changed", "camera_fault", "poor_light", "twin_or_relative", "suspected_fraud",
                "wrong_person", "system_error", "other", "active_check_passed")


def two_person_reason(effective_outcome: str, new_outcome: str, pays_now: bool, voided_this_period: bool,
                      failed_check: bool = False) -> str | None:
    """Why this override needs two officers (``void``, ``reject_to_accept``, ``pay_after_void``,
    ``accept_after_failed_check``), or None. Pure."""
    if new_outcome == "reject":
        return "void" if pays_now else None
    if pays_now:
        return None  # already paid by this decision: the override changes nothing that pays
    if voided_this_period:
        return "pay_after_void"
    if failed_check:
        return "accept_after_failed_check"
    if effective_outcome == "reject":
        return "reject_to_accept"
    return None


def check_second_officer(reason: str | None, officer: SignedIn, second: SignedIn | None, needs_supervisor: bool) -> None:
    """Raise :class:`AuthError` (403) unless the two-person rule for ``reason`` is met."""
    if second is not None and second.officer_id == officer.officer_id:
        raise AuthError("second_officer_same", "the second officer must be a different person", 403)
    if reason is None:
        return
    what = {"void": "voiding a payout", "reject_to_accept": "turning a reject into an accept",
            "pay_after_void": "paying again after a voided payout",
            "accept_after_failed_check": "accepting after a failed head-turn check"}[reason]
    if second is None:
        raise AuthError("second_officer_required", f"{what} needs a second officer's id and PIN", 403, needs=reason)
    if needs_supervisor and "supervisor" not in (officer.role, second.role):
        raise AuthError("supervisor_required", f"{what} needs two officers, one of them a supervisor", 403, needs=reason)


def override(svc: ClaimService, original_key: str, new_outcome: Literal["accept", "reject"], reason_code: str, officer: SignedIn,
             note: str | None = None, recipient_id: str | None = None, second: SignedIn | None = None, *,
             needs_supervisor: bool = True) -> OverrideRecord:
    """Record a signed-in officer's override of a decision; the original record stays in the ledger and outbox."""
    if reason_code not in REASON_CODES:
        raise EdgeError(f"unknown override reason {reason_code!r}; use one of: {', '.join(REASON_CODES)}")
    if not isinstance(officer, SignedIn):
        raise AuthError("not_signed_in", "an override needs a signed-in officer")
    with svc.lock:
        original = svc.ledger.record(original_key)
        if original is None or original.get("schema") != "tepat.decision":
            raise NotFoundError(f"no decision with idempotency key {original_key} on this terminal")
        rid = original.get("recipient_id") or recipient_id
        if recipient_id and original.get("recipient_id") and recipient_id != original["recipient_id"]:
            raise EdgeError(f"decision {original_key} is about {original['recipient_id']}, not {recipient_id}")
        if new_outcome == "accept" and rid is None:
            raise EdgeError("the original decision names no recipient: give the recipient id to accept")
        if new_outcome == "accept" and svc.roster.recipient(rid, svc.face.model_sha256) is None:
            raise NotFoundError(f"recipient {rid} is not on the installed roster")
        period = original.get("period") or svc.roster.state().period
        earlier = svc.ledger.overrides_of(original_key)
        chain = [original_key] + [o["idempotency_key"] for o in earlier]
        paid_now = svc.ledger.active_local(chain)  # this decision (or an earlier override of it) pays, and is not voided
        effective = earlier[-1]["new_outcome"] if earlier else original["outcome"]
        voided = bool(rid and period and svc.ledger.voided_local(rid, period))
        check = check_on_file(svc, original_key)
        if reason_code == "active_check_passed" and (new_outcome != "accept" or check is None or not check.passed):
            raise EdgeError("reason active_check_passed needs an accept and a passed head-turn check on this referral "
                            "(POST /api/active-check first)")
        reason = two_person_reason(effective, new_outcome, bool(paid_now), voided, check is not None and not check.passed)
        check_second_officer(reason, officer, second, needs_supervisor)
        if new_outcome == "accept" and not paid_now:
            prior = svc.ledger.prior_claim(rid, period)
            if prior is not None:
                raise AlreadyPaidError(f"{rid} already collected in {period} on {prior.decided_at} at {prior.distribution_point} ({prior.device_id}); override refused")
        w = svc.where()
        rec = OverrideRecord(**svc.record_fields(w), original_key=original_key, original_outcome=original["outcome"], new_outcome=new_outcome,
                             reason_code=reason_code, note=note, officer_id=officer.officer_id, recipient_id=rid, period=period,
                             second_officer_id=second.officer_id if second else None, two_person_reason=reason, active_check=check,
                             schema_version=ACTIVE_CHECK_SCHEMA_VERSION if check else RECORD_SCHEMA_VERSION)
        signed = svc.emit(KIND_OVERRIDE, rec, disburse=new_outcome == "accept" and not paid_now)
        if new_outcome == "reject":
            for key in paid_now:
                svc.ledger.void(key, signed.idempotency_key)
        logger.info("Officer %s%s overrode %s (%s) to %s: %s", officer.officer_id, f" with {second.officer_id}" if second else "",
                    original_key, original["outcome"], new_outcome, reason_code)
        return signed


def enrol(svc: ClaimService, recipient_id: str, officer: SignedIn, frames: list[np.ndarray] | None = None) -> ClaimResult:
    """First payout: the officer has checked the ID; record the face as the recipient's template and pay.

    Allowed only when the roster allows enrolment and the recipient has no template for the current
    embedder. Returns a ``retake`` prompt if the burst holds no usable face.
    """
    if not isinstance(officer, SignedIn):
        raise AuthError("not_signed_in", "enrolment needs a signed-in officer")
    officer_id = officer.officer_id
    with svc.lock:
        sha = svc.face.model_sha256
        state = svc.roster.state()
        info = svc.roster.recipient(recipient_id, sha)
        if info is None:
            raise NotFoundError(f"recipient {recipient_id} is not on the installed roster")
        if not state.enrolment_allowed:
            raise EdgeError("this roster does not allow enrolment at the terminal")
        if info.has_template:
            raise EdgeError(f"{recipient_id} already has a reference template; use a normal claim")
        prior = svc.ledger.claim_blocker(recipient_id, state.period) if state.period else None
        if prior is not None:
            raise AlreadyPaidError(f"{recipient_id} already collected in {state.period} on {prior.decided_at} at {prior.distribution_point}")
        burst = svc.face.analyse(frames if frames is not None else svc.capture_burst())
        if not burst.embeddings or (burst.liveness is not None and not burst.liveness.is_live):
            code = "liveness_failed" if burst.embeddings else (burst.quality.reason or "no_face")
            return ClaimResult(Decision("retake", code, recipient_id, officer_message(code)), None, burst)
        svc.roster.add_template(recipient_id, sha, burst.embeddings[0], source=f"enrolment:{officer_id}")
        w = svc.where()
        d = Decision("accept", "enrolled", recipient_id, officer_message("enrolled", name=info.display_name), (f"gps_{w.gps.flag}",) if w.gps.flag else ())
        q = burst.quality
        rec = DecisionRecord(**svc.record_fields(w), outcome="accept", reason_code="enrolled", message=d.message, recipient_id=recipient_id,
                             claimed_id=recipient_id, period=state.period, roster_version=svc.roster.installed().version,
                             officer_id=officer_id, scores=Scores(mode="none", live=burst.liveness.is_live if burst.liveness else None,
                                                                  liveness_score=burst.liveness.live_score if burst.liveness else None),
                             quality=QualityInfo(passed=q.passed, reason=q.reason, frames_ok=q.frames_ok, frames_total=q.frames_total),
                             model_sha256=sha, flags=list(d.flags), entitlement=svc.roster.entitlement(recipient_id))
        signed = svc.emit(KIND_DECISION, rec, disburse=True)
        logger.info("Officer %s enrolled %s and paid (%s)", officer_id, recipient_id, signed.idempotency_key)
        return ClaimResult(d, signed, burst)
