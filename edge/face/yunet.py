"""YuNet (2023mar, 320×320) output decoding, following OpenCV's FaceDetectorYN.

For stride s and grid cell (col, row): score = sqrt(clip(cls)·clip(obj));
centre = ((col + dx)·s, (row + dy)·s), size = (exp(dw)·s, exp(dh)·s);
landmark k = ((col + kx_k)·s, (row + ky_k)·s). Then greedy NMS at IoU 0.3.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

from edge.face.geometry import letterbox, nms, unletterbox
from edge.face.types import Face

INPUT = 320
STRIDES = (8, 16, 32)
NMS_IOU = 0.3
TOP_K = 50


def decode(outputs: Sequence[np.ndarray], size: int = INPUT, score_threshold: float = 0.8) -> list[Face]:
    """Faces (in input-canvas pixels) from the 12 raw outputs: cls×3, obj×3, bbox×3, kps×3 (strides 8/16/32)."""
    cls, obj, bbox, kps = outputs[0:3], outputs[3:6], outputs[6:9], outputs[9:12]
    boxes, scores, points = [], [], []
    for i, s in enumerate(STRIDES):
        cols = rows = size // s
        c = np.clip(np.asarray(cls[i]).reshape(-1), 0, 1)
        o = np.clip(np.asarray(obj[i]).reshape(-1), 0, 1)
        score = np.sqrt(c * o)
        keep = np.nonzero(score >= score_threshold)[0]
        if keep.size == 0:
            continue
        b = np.asarray(bbox[i]).reshape(-1, 4)[keep]
        k = np.asarray(kps[i]).reshape(-1, 10)[keep]
        col = (keep % cols).astype(np.float32)
        row = (keep // cols).astype(np.float32)
        assert rows * cols == c.size, "YuNet output size does not match its stride grid"
        cx, cy = (col + b[:, 0]) * s, (row + b[:, 1]) * s
        w, h = np.exp(b[:, 2]) * s, np.exp(b[:, 3]) * s
        boxes.append(np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1))
        pts = k.reshape(-1, 5, 2).copy()
        pts[:, :, 0] = (pts[:, :, 0] + col[:, None]) * s
        pts[:, :, 1] = (pts[:, :, 1] + row[:, None]) * s
        points.append(pts)
        scores.append(score[keep])
    if not boxes:
        return []
    all_boxes, all_scores, all_pts = np.concatenate(boxes), np.concatenate(scores), np.concatenate(points)
    keep_idx = nms(all_boxes, all_scores, NMS_IOU)[:TOP_K]
    return [Face(box=all_boxes[i].astype(np.float32), score=float(all_scores[i]), landmarks=all_pts[i].astype(np.float32)) for i in keep_idx]


class YuNetDetector:
    """YuNet on the TFLite runtime: letterbox any frame into 320×320 BGR 0..255, decode, map back."""

    def __init__(self, model: Callable[..., list[np.ndarray]], score_threshold: float = 0.8) -> None:
        self.model = model
        self.name = "yunet"
        self.sha256 = getattr(model, "sha256", "")
        self.score_threshold = score_threshold

    def detect(self, rgb: np.ndarray) -> list[Face]:
        canvas, scale = letterbox(rgb, INPUT)
        bgr = cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR).astype(np.float32)
        faces = decode(self.model(bgr[None]), INPUT, self.score_threshold)
        h, w = rgb.shape[:2]
        return unletterbox(faces, scale, w, h)
