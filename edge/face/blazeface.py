"""MediaPipe BlazeFace short-range (128×128, 896 anchors) decoding.

Anchors: SSD layout with strides 8, 16, 16, 16 on a 128-px input, offset 0.5, fixed size 1,
two anchors per cell per layer (16·16·2 + 8·8·6 = 896). Each regressor row is box (cx, cy, w, h)
then 6 keypoints (x, y), all in input pixels relative to the anchor centre; score =
sigmoid(clip(logit, -100, 100)); weighted NMS at IoU 0.3.

The pipeline keeps 4 points: the two eyes (sorted image-left first), the nose tip and the
mouth centre; alignment then uses a 4-point template (mouth centre = mean of the ArcFace
template's mouth corners).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np

from edge.face.geometry import letterbox, weighted_nms, unletterbox
from edge.face.types import Face

INPUT = 128
STRIDES = (8, 16, 16, 16)
NMS_IOU = 0.3


@lru_cache(maxsize=1)
def anchors(size: int = INPUT) -> np.ndarray:
    """(896, 2) anchor centres in 0..1 units, in the model's output order."""
    out = []
    i = 0
    while i < len(STRIDES):
        stride = STRIDES[i]
        per_cell = 0
        while i < len(STRIDES) and STRIDES[i] == stride:
            per_cell += 2
            i += 1
        cells = int(np.ceil(size / stride))
        for y in range(cells):
            for x in range(cells):
                for _ in range(per_cell):
                    out.append(((x + 0.5) / cells, (y + 0.5) / cells))
    return np.asarray(out, dtype=np.float32)


def decode(regressors: np.ndarray, logits: np.ndarray, size: int = INPUT, score_threshold: float = 0.5) -> list[Face]:
    """Faces in input-canvas pixels from raw (896, 16) regressors and (896, 1) logits."""
    reg = np.asarray(regressors, dtype=np.float32).reshape(-1, 16)
    score = 0.5 * (1 + np.tanh(np.clip(np.asarray(logits, dtype=np.float32).reshape(-1), -100, 100) / 2))  # overflow-free sigmoid
    anc = anchors(size) * size
    if anc.shape[0] != reg.shape[0]:
        raise ValueError(f"BlazeFace output has {reg.shape[0]} rows, expected {anc.shape[0]} anchors")
    keep = np.nonzero(score >= score_threshold)[0]
    if keep.size == 0:
        return []
    r, a = reg[keep], anc[keep]
    cx, cy = r[:, 0] + a[:, 0], r[:, 1] + a[:, 1]
    w, h = r[:, 2], r[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)
    pts = r[:, 4:16].reshape(-1, 6, 2) + a[:, None, :]
    faces = []
    for box, s, p in weighted_nms(boxes, score[keep], pts, NMS_IOU):
        eyes = p[:2][np.argsort(p[:2, 0])]
        lm = np.vstack([eyes, p[2:4]]).astype(np.float32)
        faces.append(Face(box=box.astype(np.float32), score=s, landmarks=lm))
    return faces


class BlazeFaceDetector:
    """BlazeFace short range on the TFLite runtime: letterbox to 128×128 RGB in -1..1, decode, map back."""

    def __init__(self, model: Callable[..., list[np.ndarray]], score_threshold: float = 0.75) -> None:
        self.model = model
        self.name = "blazeface"
        self.sha256 = getattr(model, "sha256", "")
        self.score_threshold = score_threshold

    def detect(self, rgb: np.ndarray) -> list[Face]:
        canvas, scale = letterbox(rgb, INPUT)
        x = canvas.astype(np.float32) / 127.5 - 1.0
        reg, cls = self.model(x[None])
        faces = decode(reg, cls, INPUT, self.score_threshold)
        h, w = rgb.shape[:2]
        return unletterbox(faces, scale, w, h)
