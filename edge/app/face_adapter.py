"""The face core (``edge.face.pipeline.FacePipeline`` + ``edge.face.liveness``) behind the claim flow's
:class:`edge.claim.flow.face_engine.FaceEngine` interface. No matching logic of its own: quality gate,
burst ranking, burst fusion, 1:N search and calibrated thresholds are the face core's; the liveness
result is the face core's own :class:`edge.face.types.LivenessResult`. It joins two areas (claim and
face), so it belongs to the composition root.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from edge.claim.flow.decide import MatchResult, QualityResult
from edge.claim.flow.face_engine import BurstAnalysis
from edge.config import EdgeConfig
from edge.errors import EdgeError, ModelError

logger = logging.getLogger(__name__)


class PipelineFaceEngine:
    """FaceEngine over a FacePipeline (and an optional LivenessChecker)."""

    def __init__(self, pipeline: Any, liveness: Any = None) -> None:
        self.pipeline = pipeline
        self.liveness = liveness

    @property
    def model_sha256(self) -> str:
        return self.pipeline.model_sha256

    def thresholds(self, mode: str) -> tuple[float, float]:
        p = self.pipeline
        accept = p.threshold_1to1 if mode == "1:1" else p.threshold_1toN
        if accept is None:
            raise ModelError(f"embedder {p.model_sha256[:12]} has no calibrated thresholds in models/thresholds.json "
                             "('edge eval --write-thresholds'); claims cannot be decided")
        return float(accept), float(p.margin_1toN)

    def analyse(self, frames: list[np.ndarray]) -> BurstAnalysis:
        burst = self.pipeline.analyse_burst(frames)
        total, ok = len(burst.frames), len(burst.usable)
        reasons = burst.reasons()
        quality = QualityResult(passed=ok > 0, reason=None if ok else (reasons[0] if reasons else "no_face"),
                                frames_ok=ok, frames_total=total)
        lat: dict[str, float] = {}
        for fr in burst.frames:
            for stage, ms in fr.latency_ms.items():
                lat[stage] = round(lat.get(stage, 0.0) + ms, 3)
        live = None
        best_crop = None
        frame_of = {id(r): frames[i] for i, r in enumerate(burst.frames)}  # results hold arrays: match by identity
        if burst.usable:
            best = burst.best
            x1, y1, x2, y2 = (int(round(v)) for v in best.face.box)
            frame = frame_of[id(best)]
            best_crop = frame[max(0, y1):max(0, y2), max(0, x1):max(0, x2)]
            if self.liveness is not None:
                from edge.face.liveness import fuse_burst

                checks = [self.liveness.check(frame_of[id(r)], r.face.box) for r in burst.usable]
                live = fuse_burst(checks)
        return BurstAnalysis(quality, live, [r.embedding for r in burst.usable], best_crop if best_crop is not None and best_crop.size else None, lat)

    def verify(self, burst: BurstAnalysis, templates: np.ndarray) -> float:
        return self.pipeline.verify_score(burst.embeddings, templates)

    def identify(self, burst: BurstAnalysis, gallery: dict[str, np.ndarray]) -> MatchResult:
        from edge.face.match import GalleryIndex

        ids = [rid for rid, t in gallery.items() for _ in range(len(t))]
        matrix = np.concatenate(list(gallery.values())) if gallery else np.zeros((0, 128), np.float32)
        if not ids:
            return MatchResult(None, None)
        found = self.pipeline.identify(burst.embeddings, GalleryIndex(ids, matrix))
        top, second = found.top, found.runner_up
        return MatchResult(top.recipient_id if top else None, top.score if top else None,
                           second.recipient_id if second else None, second.score if second else None)

    def head_turn(self, frames: list[np.ndarray]) -> Any:
        """Active liveness for a referral: did the face turn over this burst (claimant asked to turn the head)?
        Returns :class:`edge.face.active.HeadTurnResult` (passed, turn_deg, reason)."""
        from edge.face.active import head_turn_check

        return head_turn_check(self.pipeline.detector, frames)

    def recipient_turn(self, frames: list[np.ndarray], templates: np.ndarray, match_threshold: float, min_turn_deg: float) -> Any:
        """The officer's active check: the head turn over the frames whose face matches ``templates``
        (:class:`edge.face.active.RecipientTurn`: passed, code, turn_deg, frames_*, best_score, reason)."""
        from edge.face.active import judge_recipient_turn, look_at_frames

        return judge_recipient_turn(look_at_frames(self.pipeline, frames, templates), match_threshold, min_turn_deg)

    def embed_photo(self, image_bytes: bytes) -> np.ndarray:
        result = self.pipeline.analyse_bytes(image_bytes, "reference photo")
        if result.embedding is None:
            raise EdgeError(f"reference photo unusable: {', '.join(result.quality.reasons) or 'no face'}")
        return result.embedding


def make_face_engine(cfg: EdgeConfig, *, require_calibration: bool = True) -> PipelineFaceEngine:
    """The configured pipeline (models sha256-verified, calibrated thresholds) plus liveness when enabled.
    ``require_calibration=False`` serves roster imports (embedding reference photos needs no thresholds)."""
    from edge.face.pipeline import FacePipeline

    pipeline = FacePipeline.from_config(cfg.face, require_calibration=require_calibration)
    liveness = None
    if cfg.face.liveness:
        from edge.face.liveness import LivenessChecker

        liveness = LivenessChecker(cfg.face.models_dir, threads=cfg.face.threads, threshold=cfg.face.liveness_threshold,
                                   fusion=cfg.face.liveness_fusion)
    return PipelineFaceEngine(pipeline, liveness)
