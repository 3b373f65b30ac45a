"""The detector interface and the factory that builds one from configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

from edge.errors import ConfigError
from edge.face.types import Face

DETECTOR_MODELS = {"yunet": "yunet_320", "blazeface": "blazeface_short"}


class Detector(Protocol):
    """Finds faces in an RGB uint8 frame of any size."""

    name: str
    sha256: str

    def detect(self, rgb: np.ndarray) -> list[Face]: ...


def open_detector(models_dir: Path, kind: str, *, score_threshold: float = 0.8, threads: int = 2) -> Detector:
    """A verified detector model wrapped with its decoder ('yunet' or 'blazeface')."""
    from edge.face.models import open_model

    if kind not in DETECTOR_MODELS:
        raise ConfigError(f"face.detector: unknown detector {kind!r}; choose one of {', '.join(DETECTOR_MODELS)}")
    model = open_model(models_dir, DETECTOR_MODELS[kind], threads=threads)
    if kind == "yunet":
        from edge.face.yunet import YuNetDetector

        return YuNetDetector(model, score_threshold=score_threshold)
    from edge.face.blazeface import BlazeFaceDetector

    return BlazeFaceDetector(model, score_threshold=min(score_threshold, 0.75))
