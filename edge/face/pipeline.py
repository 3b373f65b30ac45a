"""FacePipeline: decode → detect → quality → align → embed → match, with per-stage latencies.

Hardware-free: frames come in as RGB arrays (or image files/bytes); detector and embedder
are passed in (see :mod:`edge.face.detect`, :mod:`edge.face.embed`), so tests and the
claim flow build it with :meth:`FacePipeline.from_config` or from their own parts.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge.config.face import FaceConfig, QualityConfig
from edge.errors import ModelError
from edge.face import quality as q
from edge.face import thresholds as th
from edge.face.align import align
from edge.face.detect import Detector, open_detector
from edge.face.embed import Embedder, open_embedder
from edge.face.image import decode_bytes, read_image
from edge.face.match import GalleryIndex, Identification, best_score, fuse
from edge.face.types import Face, QualityReport

logger = logging.getLogger(__name__)


@dataclass
class FaceResult:
    """One frame through the pipeline. ``embedding`` is None when the quality gate failed."""

    faces: list[Face]
    face: Face | None
    quality: QualityReport
    aligned: np.ndarray | None = None
    embedding: np.ndarray | None = None
    latency_ms: dict[str, float] = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        return self.embedding is not None


@dataclass
class BurstResult:
    """A burst of frames: every frame's result, and the usable ones ordered best quality first."""

    frames: list[FaceResult]
    usable: list[FaceResult]

    @property
    def best(self) -> FaceResult | None:
        return self.usable[0] if self.usable else None

    def reasons(self) -> list[str]:
        """Quality reasons of the frames, most frequent first (empty when a frame was usable)."""
        if self.usable:
            return []
        counts: dict[str, int] = {}
        for fr in self.frames:
            for r in fr.quality.reasons:
                counts[r] = counts.get(r, 0) + 1
        return sorted(counts, key=lambda r: -counts[r])


class _Timer:
    def __init__(self, sink: dict[str, float], stage: str) -> None:
        self.sink, self.stage = sink, stage

    def __enter__(self) -> None:
        self.t0 = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.sink[self.stage] = round((time.perf_counter() - self.t0) * 1000, 3)


class FacePipeline:
    """Detector + quality gate + aligner + embedder + calibrated thresholds."""

    def __init__(
        self,
        detector: Detector,
        embedder: Embedder,
        quality: QualityConfig | None = None,
        *,
        threshold_1to1: float | None = None,
        threshold_1toN: float | None = None,
        margin_1toN: float = 0.05,
    ) -> None:
        self.detector = detector
        self.embedder = embedder
        self.quality_cfg = quality or QualityConfig()
        self.threshold_1to1 = threshold_1to1
        self.threshold_1toN = threshold_1toN
        self.margin_1toN = margin_1toN

    @classmethod
    def from_config(
        cls, cfg: FaceConfig, *, embedder: str | None = None, detector: str | None = None, require_calibration: bool = True
    ) -> FacePipeline:
        """Open the configured models (sha256-verified) and look up calibrated thresholds.

        With ``require_calibration`` an embedder with no entry in ``models/thresholds.json``
        raises ModelError; without it (enrolment) thresholds stay None.
        """
        det = open_detector(cfg.models_dir, detector or cfg.detector, score_threshold=cfg.detect_score, threads=cfg.threads)
        emb = open_embedder(cfg.models_dir, embedder or cfg.embedder, threads=cfg.threads, fallback=True)
        t11 = t1n = None
        try:
            t11 = th.lookup(cfg.models_dir, emb.sha256, cfg.far_1to1)
            t1n = th.lookup(cfg.models_dir, emb.sha256, cfg.far_1toN)
        except ModelError:
            if require_calibration:
                raise
            logger.debug("embedder %s (%s) has no calibrated thresholds (not needed for enrolment)", emb.name, emb.sha256[:12])
        return cls(det, emb, cfg.quality, threshold_1to1=t11, threshold_1toN=t1n, margin_1toN=cfg.margin_1toN)

    @property
    def model_sha256(self) -> str:
        return self.embedder.sha256

    def analyse(self, rgb: np.ndarray, *, gate: bool = True, latency: dict[str, float] | None = None) -> FaceResult:
        """Detect, choose the face, check quality, align and embed one RGB frame.

        With ``gate=False`` (evaluation) any detected face is embedded whatever its quality.
        """
        lat = latency if latency is not None else {}
        with _Timer(lat, "detect"):
            faces = self.detector.detect(rgb)
        with _Timer(lat, "quality"):
            face = q.choose_face(faces, rgb.shape)
            report = q.check_geometry(faces, face, rgb.shape, self.quality_cfg)
        result = FaceResult(faces=faces, face=face, quality=report, latency_ms=lat)
        if face is None:
            return result
        with _Timer(lat, "align"):
            result.aligned = align(rgb, face.landmarks)
        t0 = time.perf_counter()
        q.check_crop(result.aligned, self.quality_cfg, report)
        lat["quality"] = round(lat["quality"] + (time.perf_counter() - t0) * 1000, 3)
        if report.ok or not gate:
            with _Timer(lat, "embed"):
                result.embedding = self.embedder.embed(result.aligned)
        return result

    def analyse_bytes(self, data: bytes, what: str = "image", *, gate: bool = True) -> FaceResult:
        lat: dict[str, float] = {}
        with _Timer(lat, "decode"):
            rgb = decode_bytes(data, what)
        return self.analyse(rgb, gate=gate, latency=lat)

    def analyse_file(self, path: Path | str, *, gate: bool = True) -> FaceResult:
        lat: dict[str, float] = {}
        with _Timer(lat, "decode"):
            rgb = read_image(path)
        return self.analyse(rgb, gate=gate, latency=lat)

    def template_from_bytes(self, data: bytes, what: str = "reference photo") -> np.ndarray:
        """Enrolment template from a photo; ImageError naming the quality reasons when the face is unusable."""
        from edge.errors import ImageError

        res = self.analyse_bytes(data, what)
        if res.embedding is None:
            raise ImageError(f"{what}: no usable face ({'; '.join(res.quality.advice())})")
        return res.embedding

    def analyse_burst(self, frames: list[np.ndarray]) -> BurstResult:
        """Every frame through the gate; usable frames ranked by :func:`edge.face.quality.quality_score`."""
        results = [self.analyse(f) for f in frames]
        usable = sorted((r for r in results if r.usable), key=lambda r: -q.quality_score(r.quality))
        return BurstResult(results, usable)

    def verify_score(self, probes: list[np.ndarray], templates: np.ndarray) -> float:
        """Fused 1:1 score of one or more probe embeddings (a burst) against one recipient's templates."""
        return fuse([best_score(p, templates) for p in probes])

    def identify(self, probes: list[np.ndarray], index: GalleryIndex, k: int = 5) -> Identification:
        """1:N with burst fusion: per-identity scores fused over the probes, then threshold and margin."""
        from edge.face.match import Candidate

        if self.threshold_1toN is None:
            raise ModelError("1:N identification needs a calibrated threshold for this embedder")
        per_frame = np.stack([index.identity_scores(p) for p in probes]) if len(index) else np.zeros((1, 0))
        if per_frame.shape[1] == 0:
            return Identification([], self.threshold_1toN, self.margin_1toN)
        top2 = -np.sort(-per_frame, axis=0)[:2]
        fused = top2.mean(axis=0)
        kk = min(max(k, 2), fused.size)
        order = np.argsort(-fused)[:kk]
        cands = [Candidate(index.identities[i], float(fused[i])) for i in order]
        return Identification(cands, self.threshold_1toN, self.margin_1toN)
