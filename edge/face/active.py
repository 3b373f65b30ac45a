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

Pure logic (:func:`judge_head_turn`) is separate from running the detector (:func:`head_turn_check`).
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
