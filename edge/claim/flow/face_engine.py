"""What the claim flow needs from the face core, as one small interface.

:class:`FaceEngine` is implemented over the face engineer's ``FacePipeline`` (detector →
quality gate → align → embed → match, burst fusion, calibrated thresholds) by
:mod:`edge.app.face_adapter`; this module only names the contract so the claim logic and
its tests do not depend on how the pipeline is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from edge.claim.flow.decide import MatchResult, QualityResult
from edge.face.types import LivenessResult


@dataclass
class BurstAnalysis:
    """The face core's view of one burst of frames."""

    quality: QualityResult
    liveness: LivenessResult | None = None
    embeddings: list[np.ndarray] = field(default_factory=list)  # one per usable frame, best first
    best_face_rgb: np.ndarray | None = None  # a crop for the optional evidence thumbnail
    latency_ms: dict[str, float] = field(default_factory=dict)


class FaceEngine(Protocol):
    @property
    def model_sha256(self) -> str: ...

    def thresholds(self, mode: str) -> tuple[float, float]:
        """(accept threshold, runner-up margin) for mode '1:1' or '1:N', calibrated for this embedder."""
        ...

    def analyse(self, frames: list[np.ndarray]) -> BurstAnalysis:
        """Quality-gate every frame, embed the usable ones, run the liveness check when enabled."""
        ...

    def verify(self, burst: BurstAnalysis, templates: np.ndarray) -> float:
        """Fused 1:1 score of the burst against one recipient's templates (k, d)."""
        ...

    def identify(self, burst: BurstAnalysis, gallery: dict[str, np.ndarray]) -> MatchResult:
        """1:N: top identity and the runner-up identity with their fused scores."""
        ...

    def recipient_turn(self, frames: list[np.ndarray], templates: np.ndarray, match_threshold: float, min_turn_deg: float):
        """The officer's active check: the head turn measured over the frames whose face scores at least
        ``match_threshold`` against ``templates`` (``edge.face.active.RecipientTurn``); only
        :mod:`edge.claim.flow.active_check` needs it."""
        ...

    def embed_photo(self, image_bytes: bytes) -> np.ndarray:
        """Template from a reference photo (JPEG/PNG bytes); raises EdgeError if no usable face."""
        ...
