"""Letterboxing and non-maximum suppression for the detectors (pure numpy)."""

from __future__ import annotations

import cv2
import numpy as np


def letterbox(img: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """Resize ``img`` to fit a ``size``×``size`` canvas, top-left aligned, zero padded.

    Returns the canvas and the scale; a point p in the canvas is p / scale in ``img``.
    """
    h, w = img.shape[:2]
    scale = min(size / w, size / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    canvas = np.zeros((size, size, img.shape[2]), dtype=img.dtype)
    canvas[:nh, :nw] = cv2.resize(img, (nw, nh), interpolation=interp)
    return canvas, scale


def unletterbox(faces: list, scale: float, width: int, height: int) -> list:
    """Map faces detected on a letterboxed canvas back to frame pixels (boxes clipped to the frame)."""
    for f in faces:
        f.box = f.box / scale
        f.landmarks = f.landmarks / scale
        f.box[[0, 2]] = np.clip(f.box[[0, 2]], 0, width)
        f.box[[1, 3]] = np.clip(f.box[[1, 3]], 0, height)
    return faces


def iou_one_to_many(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one xyxy box with each row of ``boxes``."""
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[int]:
    """Greedy NMS (as cv2.dnn.NMSBoxes): indices kept, best score first."""
    order = list(np.argsort(-scores, kind="stable"))
    keep: list[int] = []
    while order:
        i = order.pop(0)
        keep.append(int(i))
        if not order:
            break
        rest = np.asarray(order)
        ious = iou_one_to_many(boxes[i], boxes[rest])
        order = [int(j) for j, v in zip(rest, ious) if v <= iou_threshold]
    return keep


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, points: np.ndarray, iou_threshold: float) -> list[tuple[np.ndarray, float, np.ndarray]]:
    """MediaPipe's weighted NMS: overlapping candidates are averaged, weighted by score.

    Returns (box, score, points) per kept cluster, best first.
    """
    order = np.argsort(-scores, kind="stable")
    remaining = list(order)
    out = []
    while remaining:
        i = remaining[0]
        rest = np.asarray(remaining)
        ious = iou_one_to_many(boxes[i], boxes[rest])
        cluster = rest[ious > iou_threshold]
        if cluster.size == 0:
            cluster = np.asarray([i])
        w = scores[cluster][:, None]
        box = (boxes[cluster] * w).sum(0) / w.sum()
        pts = (points[cluster] * w[:, :, None]).sum(0) / w.sum()
        out.append((box, float(scores[i]), pts))
        remaining = [int(j) for j, v in zip(rest, ious) if v <= iou_threshold]
    return out
