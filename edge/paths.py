"""Where the repository and the team's shared data folder are: the one resolver for ``TEPAT_SHARED``.

The shared folder holds the upstream source models (``models/``) and the face datasets
(``datasets/``). ``$TEPAT_SHARED`` names it; otherwise it is ``../shared`` beside the repository.
Nothing here reads or creates files: callers decide what a missing folder means.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    """``$TEPAT_SHARED`` if set, else ``../shared`` beside the repository."""
    value = os.environ.get("TEPAT_SHARED")
    return Path(value) if value else REPO_ROOT.parent / "shared"


def shared_datasets_dir() -> Path:
    """The face datasets (``faces/``, ``pairs.csv`` ...) in the shared folder."""
    return shared_dir() / "datasets"


def shared_models_dir() -> Path:
    """The verified upstream source models (ONNX, PyTorch weights) in the shared folder."""
    return shared_dir() / "models"
