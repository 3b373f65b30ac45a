"""Optional audit thumbnail: a small face JPEG kept encrypted beside the decision, never published."""

from __future__ import annotations

import cv2
import numpy as np

from edge.claim.records.crypto import SecretBox


def thumbnail_jpeg(face_rgb: np.ndarray, side_px: int, max_bytes: int) -> bytes | None:
    """The face scaled to ``side_px`` (long side), JPEG-encoded at the best quality that fits ``max_bytes``; None if none fits."""
    h, w = face_rgb.shape[:2]
    scale = side_px / max(h, w, 1)
    small = cv2.resize(face_rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    bgr = cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_RGB2BGR)
    for quality in (85, 70, 55, 40, 25):
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok and buf.size <= max_bytes:
            return buf.tobytes()
    return None


def seal_thumbnail(box: SecretBox, record_key: str, jpeg: bytes) -> bytes:
    return box.seal(jpeg, f"evidence|{record_key}".encode())


def open_thumbnail(box: SecretBox, record_key: str, blob: bytes) -> bytes:
    return box.open(blob, f"evidence|{record_key}".encode())
