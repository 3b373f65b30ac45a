"""Small value types shared by the face pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Face:
    """One detected face in frame pixel coordinates.

    ``landmarks`` is (k, 2): k=5 for YuNet (image-left eye, image-right eye, nose tip,
    image-left mouth corner, image-right mouth corner) or k=4 for BlazeFace (eyes, nose tip,
    mouth centre). ``box`` is (x1, y1, x2, y2).
    """

    box: np.ndarray
    score: float
    landmarks: np.ndarray

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])

    @property
    def size(self) -> float:
        """Geometric mean of the box sides (pixels)."""
        return float(np.sqrt(max(self.width, 0.0) * max(self.height, 0.0)))

    @property
    def centre(self) -> tuple[float, float]:
        return float(self.box[0] + self.box[2]) / 2, float(self.box[1] + self.box[3]) / 2


# What the officer reads for each quality-gate reason.
ADVICE = {
    "no_face": "no face found: look at the camera",
    "multiple_faces": "more than one face: one person at a time",
    "face_too_small": "face too small: move closer",
    "face_cut_at_edge": "face cut off at the edge: move to the centre",
    "head_turned": "head turned: face the camera",
    "too_dark": "too dark: more light on the face",
    "overexposed": "too bright: avoid direct light on the face",
    "too_blurred": "blurred: hold still",
}


@dataclass
class QualityReport:
    """Outcome of the quality gate: empty ``reasons`` means the face is usable."""

    reasons: list[str] = field(default_factory=list)
    measures: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.reasons

    def advice(self) -> list[str]:
        return [ADVICE.get(r, r) for r in self.reasons]


@dataclass(frozen=True)
class LivenessResult:
    """The passive liveness check of one frame or a fused burst (:mod:`edge.face.liveness`); the claim decision reads it."""

    live_score: float  # 0..1, fused probability that the face is a live person
    is_live: bool
    threshold: float
    per_model: dict[str, float] = field(default_factory=dict)  # model name -> its own live probability

    @property
    def reason(self) -> str:
        """One line an officer can read."""
        if self.is_live:
            return f"live face (score {self.live_score:.2f} >= {self.threshold:.2f})"
        return (f"possible photo or screen held up to the camera (score {self.live_score:.2f} < "
                f"{self.threshold:.2f}); ask the claimant to face the camera in person")
