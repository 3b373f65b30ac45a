"""Active liveness (head turn over a burst): pure judgement on yaw lists, and the real detector on real photos."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge.face.active import FrameLook, head_turn_check, judge_head_turn, judge_recipient_turn


@pytest.mark.parametrize("yaws,passed", [
    ([2.0, 10.0, 24.0, 9.0, 1.0], True),
    ([-3.0, -15.0, -28.0, -4.0], True),
    ([4.0, 5.0, 3.0, 6.0, 5.0], False),
    ([2.0, None, None, 40.0, None], False),  # a face in too few frames is not judged a turn
])
def test_judge_head_turn(yaws, passed):
    """A yaw spread of 20 degrees or more over at least three frames with a face is a head turn."""
    r = judge_head_turn(yaws)
    assert r.passed is passed and r.reason
    assert r.frames_total == len(yaws)


def _rgb(path):
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def test_a_flat_photo_moved_about_does_not_turn(face_pipeline, datasets_dir):
    """A printed photo tilted, rotated and squeezed in front of the camera keeps its yaw: the check fails."""
    rgb = _rgb(datasets_dir / "hard" / "expression" / "happy.png")
    h, w = rgb.shape[:2]
    frames = [rgb]
    for angle, squeeze, shear in ((8, 0.8, 0.0), (-10, 0.65, 0.08), (5, 0.9, -0.1), (0, 0.7, 0.0)):
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        m[0, :] *= squeeze
        m[0, 1] += shear
        m[0, 2] += w * (1 - squeeze) / 2
        frames.append(cv2.warpAffine(rgb, m, (w, h), borderMode=cv2.BORDER_REPLICATE))
    r = head_turn_check(face_pipeline.detector, frames)
    assert r.frames_with_face >= 4 and not r.passed and r.turn_deg < 10


def test_a_real_head_turn_passes(face_pipeline, datasets_dir):
    """Frontal, then turned left and right (real photos of turned heads): the check passes."""
    hard = datasets_dir / "hard"
    frames = [_rgb(hard / "expression" / "happy.png"), _rgb(hard / "profile" / "left_face.jpg"),
              _rgb(hard / "profile" / "right_face.jpg"), _rgb(hard / "expression" / "sad.png")]
    r = head_turn_check(face_pipeline.detector, frames)
    assert r.passed and r.turn_deg >= 20, r


# --- the officer's check: the turn counted only over frames of the recipient's face ------------------------------

MATCH = 0.30  # the referral threshold the check compares each frame's face score with


@pytest.mark.parametrize("looks,code", [
    # the recipient turning left and right
    ([FrameLook(0, 0.8), FrameLook(-14, 0.7), FrameLook(-25, 0.6), FrameLook(3, 0.8), FrameLook(21, 0.6)], "active_check_passed"),
    # a photo of the recipient held still, or moved flat: the yaw stays put
    ([FrameLook(-9.2, 1.0)] * 12, "active_check_no_turn"),
    # the recipient's photo frontal, someone else turning: the other face's frames are not counted
    ([FrameLook(2, 0.9), FrameLook(3, 0.9), FrameLook(2, 0.9), FrameLook(-30, 0.05), FrameLook(28, 0.1)], "active_check_no_turn"),
    # someone else turning, the recipient never in view
    ([FrameLook(-30, 0.05), FrameLook(0, 0.1), FrameLook(28, 0.12), FrameLook(5, 0.2)], "active_check_no_match"),
    # a face in too few frames
    ([FrameLook(None), FrameLook(-20, 0.8), FrameLook(None), FrameLook(20, 0.8)], "active_check_no_face"),
    # a face that was never scored (no templates) does not count as the recipient
    ([FrameLook(-20, None), FrameLook(0, None), FrameLook(20, None)], "active_check_no_match"),
])
def test_judge_recipient_turn(looks, code):
    r = judge_recipient_turn(looks, MATCH)
    assert r.code == code and r.passed is (code == "active_check_passed"), r
    assert r.frames_total == len(looks) and r.reason


def test_recipient_turn_counts_and_notes_other_faces():
    looks = [FrameLook(-22, 0.7), FrameLook(0, 0.8), FrameLook(21, 0.6), FrameLook(40, 0.1)]
    r = judge_recipient_turn(looks, MATCH, min_turn_deg=20)
    assert r.passed and r.turn_deg == 43.0 and (r.frames_with_face, r.frames_matched, r.best_score) == (4, 3, 0.8)
    assert "1 frame(s) with another face were not counted" in r.reason
    assert not judge_recipient_turn(looks, MATCH, min_turn_deg=50).passed  # the threshold is a parameter, not a constant
