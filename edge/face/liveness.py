"""Presentation-attack (liveness) check: is the face in front of the camera a live person,
or a printed photo / a photo or video shown on a screen?

Two MiniFASNet classifiers from minivision-ai/Silent-Face-Anti-Spoofing (Apache-2.0), converted
to TFLite by ``model_build.liveness``, each look at the face with a different amount of
surrounding context (the face box enlarged 2.7x and 4.0x). Each gives a probability of class 1
("real face"); the live score fuses the two, by default the **lower** of the two (``min``: live
only when both models say so; upstream averages them, ``mean``). See
:mod:`edge.face.liveness_calibration`.

The crop rule is upstream's ``CropImage``: enlarge the box about its centre, but never beyond
the frame (the scale is reduced until the box fits), then shift the box inside the frame.
See docs/LIVENESS.md for the measurements behind the threshold and the known limits.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.errors import ImageError
from edge.face.types import LivenessResult

logger = logging.getLogger(__name__)

INPUT_SIZE = 80
REAL_CLASS = 1
# Fused live score at or above which a face counts as live, and the fusion rule. Chosen from
# genuine photos at a 3 % false-refusal rate (overall and South-East-Asian identities), see
# docs/LIVENESS.md; regenerate with `python -m model_build.liveness_eval`.
DEFAULT_THRESHOLD = 0.027
DEFAULT_FUSION = "min"


@dataclass(frozen=True)
class LivenessModel:
    name: str  # manifest name
    scale: float  # face-box enlargement the model was trained with


MODELS: tuple[LivenessModel, ...] = (LivenessModel("minifasnet_v2", 2.7), LivenessModel("minifasnet_v1se", 4.0))


def crop_box(box_xyxy: Sequence[float], scale: float, width: int, height: int) -> tuple[int, int, int, int]:
    """Inclusive pixel box (left, top, right, bottom) of the face box enlarged ``scale`` times.

    Upstream rule: the scale is reduced so the enlarged box fits in the frame, then the box is
    shifted (not clipped) to lie inside it. The face box may extend past the frame edge.
    """
    x0, y0, x1, y1 = (float(v) for v in box_xyxy)
    bw, bh = x1 - x0, y1 - y0
    if not (bw > 0 and bh > 0) or not all(np.isfinite((x0, y0, x1, y1))):
        raise ValueError(f"face box {tuple(box_xyxy)} is empty or not finite")
    if width < 2 or height < 2:
        raise ValueError(f"frame of {width}x{height} pixels is too small")
    if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
        raise ValueError(f"face box {tuple(box_xyxy)} lies outside the {width}x{height} frame")
    s = min((height - 1) / bh, (width - 1) / bw, scale)
    cx, cy = x0 + bw / 2, y0 + bh / 2
    left, top, right, bottom = cx - bw * s / 2, cy - bh * s / 2, cx + bw * s / 2, cy + bh * s / 2
    if left < 0:
        right, left = right - left, 0.0
    if top < 0:
        bottom, top = bottom - top, 0.0
    if right > width - 1:
        left, right = left - (right - width + 1), float(width - 1)
    if bottom > height - 1:
        top, bottom = top - (bottom - height + 1), float(height - 1)
    return int(max(left, 0)), int(max(top, 0)), int(right), int(bottom)


def scaled_crop(frame: np.ndarray, box_xyxy: Sequence[float], scale: float, out: int = INPUT_SIZE) -> np.ndarray:
    """The face box enlarged ``scale`` times (upstream crop rule), resized to ``out`` x ``out``.

    Channel order is kept as given; the result has the frame's dtype.
    """
    import cv2

    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ImageError(f"liveness check needs a 3-channel colour frame, got shape {frame.shape}")
    left, top, right, bottom = crop_box(box_xyxy, scale, frame.shape[1], frame.shape[0])
    patch = frame[top:bottom + 1, left:right + 1]
    return cv2.resize(patch, (out, out), interpolation=cv2.INTER_LINEAR)


def live_probability(logits: np.ndarray) -> float:
    """Softmax probability of the 'real face' class from one model's 3 logits."""
    z = np.asarray(logits, dtype=np.float64).reshape(-1)
    if z.shape != (3,) or not np.all(np.isfinite(z)):
        raise ValueError(f"expected 3 finite logits, got {z}")
    p = np.exp(z - z.max())
    return float(p[REAL_CLASS] / p.sum())


def decide(per_model: dict[str, float], threshold: float, fusion: str = DEFAULT_FUSION) -> LivenessResult:
    """Fuse the models' live probabilities (``fusion``: min / mean / geomean) and compare with the threshold."""
    from edge.face.liveness_calibration import fuse

    if not per_model:
        raise ValueError("no liveness model scores to fuse")
    score = fuse(per_model, fusion)
    return LivenessResult(live_score=score, is_live=score >= threshold, threshold=threshold, per_model=dict(per_model))


def fuse_burst(results: Sequence[LivenessResult]) -> LivenessResult:
    """One decision for a burst of frames of the same face: the median live score (and the
    median of each model's score), so one odd frame neither passes nor fails a claim alone.
    The threshold must be the same for every frame."""
    if not results:
        raise ValueError("no liveness results to fuse")
    thresholds = {r.threshold for r in results}
    if len(thresholds) != 1:
        raise ValueError(f"liveness results use different thresholds {sorted(thresholds)}")
    threshold = thresholds.pop()
    score = float(np.median([r.live_score for r in results]))
    names = set().union(*(r.per_model for r in results))
    per_model = {n: float(np.median([r.per_model[n] for r in results if n in r.per_model])) for n in sorted(names)}
    return LivenessResult(live_score=score, is_live=score >= threshold, threshold=threshold, per_model=per_model)


class LivenessChecker:
    """Runs both MiniFASNet models on one face; models verified against models/manifest.json.

    ``LivenessChecker(models_dir)`` raises ``ModelError`` if a model file is missing or altered.
    """

    def __init__(self, models_dir: Path, threads: int = 2, threshold: float = DEFAULT_THRESHOLD,
                 models: Sequence[LivenessModel] = MODELS, fusion: str = DEFAULT_FUSION) -> None:
        from edge.face.liveness_calibration import FUSIONS
        from edge.face.models import open_model

        if not 0.0 < threshold < 1.0:
            raise ValueError(f"liveness threshold must be between 0 and 1, got {threshold}")
        if fusion not in FUSIONS:
            raise ValueError(f"unknown liveness fusion {fusion!r} (expected one of {', '.join(FUSIONS)})")
        self.threshold, self.fusion = threshold, fusion
        self._models = [(spec, open_model(Path(models_dir), spec.name, threads)) for spec in models]
        logger.info("Liveness check ready: %s, fusion %s, threshold %.3f",
                    ", ".join(f"{m.name} ({m.sha256[:12]})" for _, m in self._models), fusion, threshold)

    @property
    def model_hashes(self) -> dict[str, str]:
        """Model name -> sha256, for recording which models made a decision."""
        return {m.name: m.sha256 for _, m in self._models}

    def scores(self, rgb_frame: np.ndarray, box_xyxy: Sequence[float]) -> dict[str, float]:
        """Each model's live probability for the face at ``box_xyxy`` in an RGB uint8 frame."""
        if rgb_frame.dtype != np.uint8:
            raise ImageError(f"liveness check needs an 8-bit frame, got {rgb_frame.dtype}")
        out = {}
        for spec, model in self._models:
            bgr = scaled_crop(rgb_frame, box_xyxy, spec.scale)[:, :, ::-1]
            logits = model(np.ascontiguousarray(bgr, dtype=np.float32)[None])[0]
            out[spec.name] = live_probability(logits)
        return out

    def check(self, rgb_frame: np.ndarray, box_xyxy: Sequence[float]) -> LivenessResult:
        """Live or presentation attack, for the face at ``box_xyxy`` (x0, y0, x1, y1 in pixels)."""
        result = decide(self.scores(rgb_frame, box_xyxy), self.threshold, self.fusion)
        logger.debug("Liveness %.3f (%s) -> %s", result.live_score, result.per_model,
                     "live" if result.is_live else "attack")
        return result

    def close(self) -> None:
        self._models = []

    def __enter__(self) -> LivenessChecker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
