"""The face engineer's ``FacePipeline`` seen through the claim flow's :class:`FaceEngine` interface."""

from __future__ import annotations

import logging
from typing import Any

from edge.config import EdgeConfig
from edge.errors import ModelError

logger = logging.getLogger(__name__)

EMBEDDERS = {"int8": "sface_int8", "fp32": "sface_fp32"}


def configured_model_sha256(cfg: EdgeConfig) -> str:
    """sha256 of the configured embedder, from the model manifest (no model is loaded)."""
    from edge.face.models import load_manifest

    manifest = load_manifest(cfg.face.models_dir)
    return manifest.entry(EMBEDDERS[cfg.face.embedder]).sha256


def make_face_engine(cfg: EdgeConfig) -> Any:
    """The configured face pipeline as a :class:`edge.claim.face_engine.FaceEngine`."""
    try:
        from edge.face import pipeline  # noqa: F401
    except ImportError:
        raise ModelError("the face pipeline (edge.face.pipeline) is not part of this build; claims cannot be verified") from None
    raise ModelError("face pipeline adapter not connected yet")
