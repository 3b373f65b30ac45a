"""Where the simulator's claimant photographs come from.

The project ships no third-party photographs. Faces come from, in order:

1. ``--faces DIR`` (a folder of ``<identity>/<n>.jpg``),
2. ``../shared/datasets/faces`` beside the repository (the team's development set),
3. Labeled Faces in the Wild from scikit-learn's download cache
   (``~/scikit_learn_data/lfw_home/lfw_funneled``, created by
   ``sklearn.datasets.fetch_lfw_people(color=True, resize=1.0)``; full-size colour JPEGs).

If none exists, :class:`FacesNotFound` says so once, naming all three options.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from edge.errors import EdgeError
from edge.paths import shared_datasets_dir

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
IMAGE_EXTS = {".jpg", ".jpeg", ".png"}


class FacesNotFound(EdgeError):
    """No folder of identity-labelled face photographs could be found."""


def shared_faces_dir() -> Path:
    """``../shared/datasets/faces`` relative to the repository (``TEPAT_SHARED`` overrides the shared folder)."""
    return shared_datasets_dir() / "faces"


def sklearn_lfw_dir() -> Path:
    """Where scikit-learn's ``fetch_lfw_people`` keeps the funneled LFW images."""
    home = Path(os.environ.get("SCIKIT_LEARN_DATA", Path.home() / "scikit_learn_data")).expanduser()
    return home / "lfw_home" / "lfw_funneled"


@dataclass
class FaceLibrary:
    """Identity-labelled photographs: ``identities[name]`` is that person's image paths, sorted."""

    root: Path
    origin: str
    identities: dict[str, list[Path]] = field(default_factory=dict)

    def with_at_least(self, n: int) -> list[str]:
        """Identities that have at least ``n`` photographs, sorted by name."""
        return sorted(k for k, v in self.identities.items() if len(v) >= n)


def scan(root: Path, origin: str) -> FaceLibrary:
    """Index ``root/<identity>/*.jpg``; identities without images are ignored."""
    lib = FaceLibrary(root=root, origin=origin)
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        imgs = sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_EXTS)
        if imgs:
            lib.identities[sub.name] = imgs
    return lib


def resolve_faces(faces: Path | str | None = None) -> FaceLibrary:
    """The first usable face source (``faces``, shared dataset, scikit-learn LFW cache)."""
    if faces is not None:
        root = Path(faces).expanduser()
        if not root.is_dir():
            raise FacesNotFound(f"--faces {root}: not a folder (expected <identity>/<n>.jpg)")
        lib = scan(root, f"--faces {root}")
        if len(lib.with_at_least(2)) < 2:
            raise FacesNotFound(f"--faces {root}: need at least two identity folders with two or more photos each")
        return lib
    candidates = [(shared_faces_dir(), "shared dataset"), (sklearn_lfw_dir(), "scikit-learn LFW cache")]
    for root, origin in candidates:
        if root.is_dir():
            lib = scan(root, f"{origin} {root}")
            if len(lib.with_at_least(2)) >= 2:
                logger.info("faces: %s (%d identities)", lib.origin, len(lib.identities))
                return lib
    raise FacesNotFound(
        "no face photographs found: pass --faces DIR (folders <identity>/<n>.jpg), "
        f"or put the shared dataset at {shared_faces_dir()}, "
        "or download Labeled Faces in the Wild once with "
        "python -c \"from sklearn.datasets import fetch_lfw_people; fetch_lfw_people(color=True, resize=1.0)\" "
        f"(expected at {sklearn_lfw_dir()})"
    )
