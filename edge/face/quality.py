"""Quality gate: each failure is a named reason a field officer can act on.

Checks, in order: ``no_face``; ``multiple_faces`` (a second face at least
``MULTI_FACE_RATIO`` × the chosen face's size); ``face_too_small``; ``face_cut_at_edge``;
``head_turned`` (yaw/pitch estimated from landmarks); then on the aligned crop
``too_dark`` / ``overexposed`` (mean luminance) and ``too_blurred`` (variance of the Laplacian).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from edge.config.face import QualityConfig
from edge.face.types import ADVICE, Face, QualityReport  # noqa: F401 - ADVICE re-exported

MULTI_FACE_RATIO = 0.6
# Nose-tip depth relative to the inter-ocular distance, and the frontal nose position between
# the eye line and the mouth line, for the ArcFace template geometry.
_NOSE_DEPTH = 0.5
_FRONTAL_NOSE_T = 0.494


def choose_face(faces: list[Face], frame_shape: tuple[int, ...]) -> Face | None:
    """The face nearest the frame centre among faces at least half the size of the largest.

    News photos (and the counter) put the person of interest in the middle; the size floor
    keeps a tiny background face at the centre from winning over the claimant.
    """
    if not faces:
        return None
    largest = max(f.size for f in faces)
    big = [f for f in faces if f.size >= 0.5 * largest]
    cy, cx = frame_shape[0] / 2, frame_shape[1] / 2
    return min(big, key=lambda f: (f.centre[0] - cx) ** 2 + (f.centre[1] - cy) ** 2)


def head_pose(landmarks: np.ndarray) -> tuple[float, float]:
    """Rough (yaw, pitch) in degrees from eyes, nose tip and mouth (corners or centre)."""
    lm = np.asarray(landmarks, dtype=np.float64)
    eyes = lm[:2]
    nose = lm[2]
    mouth = lm[3:].mean(0)
    eye_mid = eyes.mean(0)
    axis = eyes[1] - eyes[0]
    iod = float(np.hypot(*axis)) or 1e-6
    ux = axis / iod
    uy = np.array([-ux[1], ux[0]])
    offset = float(np.dot(nose - eye_mid, ux)) / iod
    yaw = math.degrees(math.atan2(offset, _NOSE_DEPTH))
    down = float(np.dot(mouth - eye_mid, uy)) or 1e-6
    t = float(np.dot(nose - eye_mid, uy)) / down
    pitch = math.degrees(math.atan2(t - _FRONTAL_NOSE_T, _NOSE_DEPTH))
    return yaw, pitch


def check_geometry(faces: list[Face], face: Face | None, frame_shape: tuple[int, ...], cfg: QualityConfig) -> QualityReport:
    """Checks that need only the detections: presence, count, size, position, pose."""
    report = QualityReport()
    if face is None:
        report.reasons.append("no_face")
        return report
    others = [f for f in faces if f is not face and f.size >= MULTI_FACE_RATIO * face.size]
    report.measures["faces"] = float(len(faces))
    if others:
        report.reasons.append("multiple_faces")
    report.measures["face_px"] = face.size
    if face.size < cfg.min_face_px:
        report.reasons.append("face_too_small")
    h, w = frame_shape[:2]
    x1, y1, x2, y2 = (float(v) for v in face.box)
    m = cfg.edge_margin_px
    if x1 < m or y1 < m or x2 > w - m or y2 > h - m:
        report.reasons.append("face_cut_at_edge")
    yaw, pitch = head_pose(face.landmarks)
    report.measures["yaw_deg"] = round(yaw, 1)
    report.measures["pitch_deg"] = round(pitch, 1)
    if abs(yaw) > cfg.max_yaw_deg or abs(pitch) > cfg.max_pitch_deg:
        report.reasons.append("head_turned")
    return report


def check_crop(aligned_rgb: np.ndarray, cfg: QualityConfig, report: QualityReport) -> QualityReport:
    """Checks on the aligned 112×112 crop: exposure and sharpness (centre 80×80 skin region)."""
    gray = cv2.cvtColor(aligned_rgb, cv2.COLOR_RGB2GRAY)
    core = gray[24:104, 16:96]
    brightness = float(core.mean())
    sharpness = float(cv2.Laplacian(core, cv2.CV_64F).var())
    report.measures["brightness"] = round(brightness, 1)
    report.measures["sharpness"] = round(sharpness, 1)
    if brightness < cfg.min_brightness:
        report.reasons.append("too_dark")
    elif brightness > cfg.max_brightness:
        report.reasons.append("overexposed")
    if sharpness < cfg.min_sharpness:
        report.reasons.append("too_blurred")
    return report


def quality_score(report: QualityReport) -> float:
    """Ranks usable frames within a burst: sharper, larger, more frontal is better."""
    m = report.measures
    sharp = min(m.get("sharpness", 0.0), 1000.0) / 1000.0
    size = min(m.get("face_px", 0.0), 300.0) / 300.0
    pose = 1.0 - min(abs(m.get("yaw_deg", 90.0)) + abs(m.get("pitch_deg", 90.0)), 90.0) / 90.0
    return sharp + size + pose
