"""Face detection, quality gate, embedding and matching settings."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from edge.config.base import Section


def default_models_dir() -> Path:
    """The `models/` folder beside the `edge` package (a checkout or an installed tree)."""
    return Path(__file__).resolve().parents[2] / "models"


class QualityConfig(Section):
    min_face_px: int = Field(64, ge=16, le=1024, description="Smallest accepted inter-ocular-scaled face box side, in pixels.")
    min_sharpness: float = Field(40.0, ge=0, description="Minimum variance of the Laplacian over the aligned face (blur gate).")
    min_brightness: float = Field(50.0, ge=0, le=255, description="Minimum mean luminance of the face.")
    max_brightness: float = Field(215.0, ge=0, le=255, description="Maximum mean luminance of the face.")
    max_yaw_deg: float = Field(30.0, ge=0, le=90, description="Maximum estimated head turn left/right.")
    max_pitch_deg: float = Field(25.0, ge=0, le=90, description="Maximum estimated head tilt up/down.")
    edge_margin_px: int = Field(4, ge=0, le=256, description="A face box closer than this to the frame edge is 'cut at the edge'.")


class FaceConfig(Section):
    models_dir: Path = Field(default_factory=default_models_dir, description="Folder holding manifest.json and the .tflite files.")
    detector: Literal["yunet", "blazeface"] = Field("yunet", description="Face detector model.")
    embedder: Literal["int8", "fp32"] = Field("int8", description="Embedder variant.")
    threads: int = Field(2, ge=1, le=8, description="Interpreter threads.")
    detect_score: float = Field(0.8, gt=0, lt=1, description="Minimum detector confidence.")
    far_1to1: float = Field(1e-3, gt=0, lt=1, description="Target false-accept rate for 1:1 verification.")
    far_1toN: float = Field(1e-4, gt=0, lt=1, description="Target false-accept rate for 1:N identification.")
    margin_1toN: float = Field(0.05, ge=0, le=1, description="Top match must beat the runner-up identity by this cosine margin.")
    burst_frames: int = Field(5, ge=1, le=30, description="Frames captured per claim attempt.")
    liveness: bool = Field(True, description="Run the presentation-attack (photo/screen) check before matching.")
    liveness_threshold: float = Field(
        0.027, gt=0, lt=1, description="Fused live score (0..1) below which a face is treated as a photo/screen attack; chosen at a 3 % genuine false-refusal rate, see docs/LIVENESS.md."
    )
    liveness_fusion: Literal["min", "mean", "geomean"] = Field(
        "min", description="How the two MiniFASNet live probabilities are fused: min (live only if both say so), mean (upstream), geomean."
    )
    quality: QualityConfig = Field(default_factory=QualityConfig)
