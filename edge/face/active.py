"""Active liveness: a head turn asked on screen, measured over the burst from the detector's landmarks.

Use: when the passive check refers a claim (``liveness_failed``), the terminal can ask the claimant
to *turn the head slowly to one side and back* while it captures a burst, and show the officer the
result before they decide.

Why landmarks can tell: the yaw estimate of :func:`edge.face.quality.head_pose` is the nose-tip
offset along the eye line divided by the inter-ocular distance. For a **flat** picture (a print or
a screen) tilted, turned or moved in front of the camera, the image of the face is an affine (near
enough, for a small picture) transform of the original, and an affine transform preserves ratios
along a line: the estimate stays put. A real head turning moves the nose tip out of the eye plane
and the ratio changes by tens of degrees. A *video* of someone turning their head defeats this;
the officer remains the control.

Pure logic (:func:`judge_head_turn`, :func:`judge_recipient_turn`) is separate from running the
detector (:func:`head_turn_check`, :func:`look_at_frames`).

The officer's check (:mod:`edge.claim.flow.active_check`) measures the turn only over frames whose face
matches the recipient (:func:`judge_recipient_turn`): holding up the recipient's photo and letting
someone else turn their head does not pass, since the other person's frames are not counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MIN_TURN_DEG = 20.0  # spread of yaw over the burst that counts as a head turn
MIN_FRAMES = 3  # frames with a face needed to judge


@dataclass(frozen=True)
class HeadTurnResult:
    passed: bool
    turn_deg: float  # max - min yaw over the frames with a face
    yaws: list[float] = field(default_factory=list)
    frames_with_face: int = 0
    frames_total: int = 0
    reason: str = ""


def judge_head_turn(yaws: Sequence[float | None], min_turn_deg: float = MIN_TURN_DEG, min_frames: int = MIN_FRAMES) -> HeadTurnResult:
    """Pass when the yaw over the frames (None = no face in that frame) spans at least ``min_turn_deg``."""
    seen = [float(y) for y in yaws if y is not None]
    total = len(yaws)
    if len(seen) < min_frames:
        return HeadTurnResult(False, 0.0, seen, len(seen), total,
                              f"face found in {len(seen)} of {total} frames (need {min_frames}): ask the claimant to stay in view and retry")
    turn = max(seen) - min(seen)
    if turn >= min_turn_deg:
        return HeadTurnResult(True, round(turn, 1), seen, len(seen), total, f"head turned {turn:.0f} degrees: a live head")
    return HeadTurnResult(False, round(turn, 1), seen, len(seen), total,
                          f"head turned only {turn:.0f} degrees (need {min_turn_deg:.0f}): a flat photo or screen cannot turn; "
                          "retry once, then the officer decides")


def head_turn_check(detector: Any, frames: Sequence[np.ndarray], min_turn_deg: float = MIN_TURN_DEG) -> HeadTurnResult:
    """Run the detector on every RGB frame, take the claimant's face (nearest the centre) and judge its yaw spread."""
    from edge.face.quality import choose_face, head_pose

    yaws: list[float | None] = []
    for rgb in frames:
        face = choose_face(detector.detect(rgb), rgb.shape)
        yaws.append(None if face is None else head_pose(face.landmarks)[0])
    return judge_head_turn(yaws, min_turn_deg)


@dataclass(frozen=True)
class FrameLook:
    """One frame of the check: the claimant's face yaw (None: no face) and its score against the recipient (None: not scored)."""

    yaw: float | None
    score: float | None = None


@dataclass(frozen=True)
class RecipientTurn:
    passed: bool
    code: str  # active_check_passed | active_check_no_face | active_check_no_match | active_check_no_turn
    turn_deg: float
    min_turn_deg: float
    frames_total: int
    frames_with_face: int
    frames_matched: int
    best_score: float | None
    reason: str


def judge_recipient_turn(looks: Sequence[FrameLook], match_threshold: float, min_turn_deg: float = MIN_TURN_DEG,
                         min_frames: int = MIN_FRAMES) -> RecipientTurn:
    """Head turn measured over the frames whose face matches the recipient (``score >= match_threshold``). Pure."""
    with_face = [lk for lk in looks if lk.yaw is not None]
    matched = [lk.yaw if lk.yaw is not None and lk.score is not None and lk.score >= match_threshold else None for lk in looks]
    n_matched = sum(y is not None for y in matched)
    scores = [lk.score for lk in with_face if lk.score is not None]
    best = round(max(scores), 4) if scores else None
    turn = judge_head_turn(matched, min_turn_deg, min_frames)
    spread = turn.turn_deg
    if len(with_face) < min_frames:
        code = "active_check_no_face"
        reason = f"a face in {len(with_face)} of {len(looks)} frames (need {min_frames}): the claimant must stay in view"
    elif n_matched < min_frames:
        code = "active_check_no_match"
        reason = (f"the face matched the recipient in {n_matched} of {len(with_face)} frames with a face (need {min_frames}, "
                  f"score >= {match_threshold:.3f}): not the recipient turning")
    elif turn.passed:
        code, reason = "active_check_passed", f"head turned {spread:.0f} degrees over {n_matched} frames of the recipient's face"
    else:
        code = "active_check_no_turn"
        reason = f"head turned only {spread:.0f} degrees (need {min_turn_deg:.0f}): a flat photo or screen cannot turn"
    if n_matched < len(with_face) and code != "active_check_no_match":
        reason += f"; {len(with_face) - n_matched} frame(s) with another face were not counted"
    return RecipientTurn(code == "active_check_passed", code, spread, float(min_turn_deg), len(looks), len(with_face), n_matched,
                         best, reason)


def look_at_frames(pipeline: Any, frames: Sequence[np.ndarray], templates: np.ndarray) -> list[FrameLook]:
    """Yaw (detector landmarks) and face score against ``templates`` for the claimant's face in every RGB frame.

    Uses the pipeline's public :meth:`analyse` with ``gate=False``: a turned head fails the quality
    gate (``head_turned``) by design, but must still be measured and compared here.
    """
    from edge.face.match import best_score
    from edge.face.quality import head_pose

    tmpl = np.asarray(templates, dtype=np.float32)
    looks: list[FrameLook] = []
    for rgb in frames:
        r = pipeline.analyse(rgb, gate=False)
        if r.face is None:
            looks.append(FrameLook(None, None))
            continue
        score = best_score(r.embedding, tmpl) if r.embedding is not None and tmpl.size else None
        looks.append(FrameLook(float(head_pose(r.face.landmarks)[0]), score))
    return looks
