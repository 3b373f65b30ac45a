"""Alignment onto the 112×112 ArcFace template (reproduces OpenCV's FaceRecognizerSF.alignCrop)."""

from __future__ import annotations

import cv2
import numpy as np

from edge.errors import ImageError

TEMPLATE_5 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float32,
)
# BlazeFace has no mouth corners: eyes, nose tip and the mouth centre (mean of the template's corners).
TEMPLATE_4 = np.vstack([TEMPLATE_5[:3], TEMPLATE_5[3:].mean(0, keepdims=True)]).astype(np.float32)
SIZE = 112


def similarity_matrix(landmarks: np.ndarray) -> np.ndarray:
    """2×3 similarity transform taking 5 (or 4) landmarks onto the template."""
    pts = np.asarray(landmarks, dtype=np.float32).reshape(-1, 2)
    template = TEMPLATE_5 if len(pts) == 5 else TEMPLATE_4 if len(pts) == 4 else None
    if template is None:
        raise ValueError(f"alignment needs 4 or 5 landmarks, got {len(pts)}")
    m, _ = cv2.estimateAffinePartial2D(pts, template, method=cv2.LMEDS)
    if m is None:
        raise ImageError("face landmarks are degenerate; cannot align the face")
    return m


def align(rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The 112×112 RGB uint8 face crop the embedder expects."""
    return cv2.warpAffine(rgb, similarity_matrix(landmarks), (SIZE, SIZE), flags=cv2.INTER_LINEAR)
