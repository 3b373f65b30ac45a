"""Real aligned faces for calibration and validation, cut from ``../shared/datasets``.

Faces are found with OpenCV's ``FaceDetectorYN`` (the YuNet ONNX) and aligned to the
standard 5-point ArcFace 112x112 template with a similarity transform. The labelled
person of an LFW photo is the face nearest the image centre (datasets/README.md).

The identities are split so that calibration never sees the faces used to measure
accuracy: calibration uses identities that do not occur in ``pairs.csv`` /
``pairs_sea.csv`` plus images that no pair references, from a fixed hash-selected
subset of identities; held-out validation uses the other identities only.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

# ArcFace / InsightFace 5-point template for a 112x112 crop: eyes, nose tip, mouth corners.
ARCFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float32,
)
CALIB_BUCKETS = 4  # identities with hash bucket 0 of 4 (about a quarter) may give calibration images


@dataclass(frozen=True)
class FaceSplit:
    calibration: list[Path]
    holdout: list[Path]


def _bucket(identity: str) -> int:
    return int(hashlib.sha256(identity.encode()).hexdigest(), 16) % CALIB_BUCKETS


def split_images(datasets_dir: Path) -> FaceSplit:
    """Calibration images and held-out images from disjoint identities (deterministic)."""
    faces = datasets_dir / "faces"
    paired_imgs: set[str] = set()
    paired_ids: set[str] = set()
    for name in ("pairs.csv", "pairs_sea.csv"):
        f = datasets_dir / name
        if f.exists():
            with f.open(newline="") as fh:
                for row in csv.DictReader(fh):
                    for p in (row["path_a"], row["path_b"]):
                        paired_imgs.add(p)
                        paired_ids.add(p.split("/")[1])
    calib: list[Path] = []
    hold: list[Path] = []
    for ident in sorted(p.name for p in faces.iterdir() if p.is_dir()):
        imgs = sorted((faces / ident).glob("*.jpg"), key=lambda p: (len(p.stem), p.stem))
        if ident not in paired_ids:
            calib.extend(imgs)
        elif _bucket(ident) == 0:
            calib.extend(p for p in imgs if f"faces/{ident}/{p.name}" not in paired_imgs)
        else:
            hold.extend(imgs)
    return FaceSplit(calib, hold)


def align(image_bgr: np.ndarray, landmarks5: np.ndarray) -> np.ndarray:
    """112x112 BGR crop aligned to the ArcFace template (similarity transform)."""
    import cv2

    m, _ = cv2.estimateAffinePartial2D(landmarks5.astype(np.float32), ARCFACE_TEMPLATE, method=cv2.LMEDS)
    if m is None:
        raise ValueError("could not fit an alignment transform")
    return cv2.warpAffine(image_bgr, m, (112, 112), borderMode=cv2.BORDER_CONSTANT)


class YunetAligner:
    """Detect the central face with cv2.FaceDetectorYN and align it (build-time helper)."""

    def __init__(self, yunet_onnx: Path, score: float = 0.7):
        import cv2

        self._det = cv2.FaceDetectorYN.create(str(yunet_onnx), "", (320, 320), score, 0.3, 5000)

    def __call__(self, path: Path) -> np.ndarray | None:
        import cv2

        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            return None
        h, w = img.shape[:2]
        self._det.setInputSize((w, h))
        _, faces = self._det.detect(img)
        if faces is None or len(faces) == 0:
            return None
        centres = faces[:, 0:2] + faces[:, 2:4] / 2
        i = int(np.argmin(np.sum((centres - np.array([w / 2, h / 2])) ** 2, axis=1)))
        return align(img, faces[i, 4:14].reshape(5, 2))


def aligned_faces(paths: list[Path], yunet_onnx: Path, limit: int | None = None) -> np.ndarray:
    """N x 112 x 112 x 3 RGB float32 (0..255) aligned faces; images without a face are skipped."""
    aligner = YunetAligner(yunet_onnx)
    out: list[np.ndarray] = []
    for p in paths:
        if limit is not None and len(out) >= limit:
            break
        face = aligner(p)
        if face is None:
            logger.debug("no face found in %s; skipped", p)
            continue
        out.append(face[:, :, ::-1].astype(np.float32))
    if not out:
        return np.zeros((0, 112, 112, 3), np.float32)
    return np.stack(out)


def spread(paths: list[Path], n: int) -> list[Path]:
    """Up to ``n`` paths spread evenly over the list (one image per identity first)."""
    if len(paths) <= n:
        return list(paths)
    idx = np.linspace(0, len(paths) - 1, n).round().astype(int)
    return [paths[i] for i in sorted(set(idx.tolist()))]
