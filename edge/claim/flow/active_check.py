"""The officer's active liveness check on a referral: the claimant turns the head, the terminal measures it.

When a claim was referred because the passive check failed on a matching face (``liveness_failed``,
after the retake), the signed-in officer can run :func:`run_active_check`: the counter asks the
claimant to turn the head slowly left and right, the terminal captures ``claim.active_check_frames``
frames over ``claim.active_check_seconds`` and measures the yaw of the face from the detector's
landmarks, counting only frames whose face matches the recipient (the face engine's ``recipient_turn``:
``edge.face.active.judge_recipient_turn``).

The result is kept on the service for the referral (:func:`check_on_file`, for :data:`KEEP_S`
seconds; a restart forgets it and the officer runs it again) and goes into the officer's override record
(``OverrideRecord.active_check``, signed, through the outbox). A passed check allows the override
reason ``active_check_passed``; accepting after a *failed* check needs a second officer
(:func:`edge.claim.flow.officer_actions.two_person_reason`). The check itself decides nothing and records nothing
on its own: the officer's decision does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge.claim.flow.officer_text import officer_message
from edge.claim.officers.accounts import AuthError, SignedIn
from edge.claim.records.signed import ActiveCheckInfo
from edge.errors import EdgeError, NotFoundError

logger = logging.getLogger(__name__)

CHECKED_REASON = "liveness_failed"  # the referral the check is for
KEEP_S = 30 * 60  # a check older than this is not attached to an override


@dataclass(frozen=True)
class HeldCheck:
    info: ActiveCheckInfo
    code: str
    recipient_id: str
    at_monotonic: float


def forget_expired(held: dict[str, HeldCheck], now: float) -> dict[str, HeldCheck]:
    """Drop the checks older than :data:`KEEP_S` (no longer attachable), so the service's memory stays flat."""
    for key in [k for k, h in held.items() if now - h.at_monotonic > KEEP_S]:
        del held[key]
    return held


def check_on_file(svc: Any, original_key: str, now: Callable[[], float] = time.monotonic) -> ActiveCheckInfo | None:
    """The latest active check run on the referral ``original_key`` (within :data:`KEEP_S`), else None."""
    held = getattr(svc, "active_checks", {}).get(original_key)
    if held is None or now() - held.at_monotonic > KEEP_S:
        return None
    return held.info


def referral_of(svc: Any, original_key: str) -> dict[str, Any]:
    """The stored liveness referral ``original_key``, still unresolved; NotFoundError / EdgeError otherwise."""
    original = svc.ledger.record(original_key)
    if original is None or original.get("schema") != "tepat.decision":
        raise NotFoundError(f"no decision with idempotency key {original_key} on this terminal")
    if original.get("outcome") != "refer" or original.get("reason_code") != CHECKED_REASON:
        raise EdgeError(f"the head-turn check is for claims referred for liveness ({CHECKED_REASON}); "
                        f"{original_key} is {original.get('outcome')} ({original.get('reason_code')})")
    if svc.ledger.overrides_of(original_key):
        raise EdgeError(f"referral {original_key} was already decided by an officer")
    if not original.get("recipient_id"):
        raise EdgeError(f"referral {original_key} names no recipient to compare the face with")
    return original


def capture_turn(camera: Any, frames: int, seconds: float, sleep: Callable[[float], None] = time.sleep) -> list[np.ndarray]:
    """``frames`` RGB frames spread evenly over ``seconds`` (the claimant turns meanwhile)."""
    if camera is None:
        raise EdgeError("no camera configured for claims")
    gap = seconds / max(1, frames - 1)
    out = []
    for i in range(frames):
        if i and gap > 0:
            sleep(gap)
        out.append(camera.capture().rgb)
    return out


def run_active_check(svc: Any, original_key: str, officer: SignedIn, frames: list[np.ndarray] | None = None, *,
                     sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """Capture (or take) a burst of the claimant turning, judge it, keep it for the referral; the answer for the officer."""
    if not isinstance(officer, SignedIn):
        raise AuthError("not_signed_in", "the head-turn check needs a signed-in officer")
    if not hasattr(svc.face, "recipient_turn"):
        raise EdgeError("this face engine cannot run the head-turn check")
    cfg = svc.cfg
    with svc.lock:
        original = referral_of(svc, original_key)
        rid = original["recipient_id"]
        sha = svc.face.model_sha256
        templates = svc.roster.templates(rid, sha)
        if not len(templates):
            raise EdgeError(f"recipient {rid} has no reference template for this face model")
        mode = (original.get("scores") or {}).get("mode")
        threshold = svc.thresholds("1:N" if mode == "1:N" else "1:1").refer
        if frames is None:
            frames = capture_turn(svc.camera, cfg.active_check_frames, cfg.active_check_seconds, sleep)
        verdict = svc.face.recipient_turn(frames, templates, threshold, cfg.active_check_min_turn_deg)
        info = ActiveCheckInfo(passed=verdict.passed, turn_deg=verdict.turn_deg, min_turn_deg=verdict.min_turn_deg,
                               frames_total=verdict.frames_total, frames_with_face=verdict.frames_with_face,
                               frames_matched=verdict.frames_matched, best_match_score=verdict.best_score,
                               officer_id=officer.officer_id, checked_at=svc.where().time.wall.isoformat(), reason=verdict.reason)
        held = forget_expired(svc.active_checks, time.monotonic())
        held[original_key] = HeldCheck(info, verdict.code, rid, time.monotonic())
    logger.info("Officer %s ran the head-turn check on %s (%s): %s, turn %.0f deg over %d/%d frames (%s)", officer.officer_id,
                original_key, rid, "passed" if info.passed else "failed", info.turn_deg, info.frames_matched, info.frames_total,
                verdict.reason)
    return {"original_key": original_key, "recipient_id": rid, "code": verdict.code,
            "message": officer_message(verdict.code, recipient_id=rid, turn=f"{info.turn_deg:.0f}", need=f"{info.min_turn_deg:.0f}"),
            "prompt": officer_message("active_check_prompt"), **info.model_dump(mode="json")}
