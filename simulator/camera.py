"""Simulated camera: frames from image folders or video files, with optional degradations.

Implements the product's camera Protocol (``edge.camera.base``): ``start()``, ``capture() ->
Frame``, ``stop()``, ``close()``, context manager, ``state``. File reading comes from the
product's folder camera (:mod:`edge.camera.folder`); ``make_camera(config, folder=FolderCamera)``
builds this one for ``[camera] type = "folder"`` with degradations. The simulator additionally calls
:meth:`FolderCamera.present` to put the next claimant in front of the lens.

Degradations (see :mod:`simulator.degrade`) are applied per frame with a seeded RNG, so the
same scenario gives the same frames every run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edge.camera import folder
from edge.camera.base import CameraError
from edge.camera.folder import IMAGE_EXTS, VIDEO_EXTS, list_media, load_frames, read_rgb  # noqa: F401 - re-exported
from simulator import degrade


class FolderCamera(folder.FolderCamera):
    """A camera whose scene is a list of images (or video frames), served in order.

    ``capture()`` returns the next frame (looping when ``loop``), degraded by the current
    degradations with a seeded RNG. ``present()`` swaps the scene: the simulator's claimant
    steps up to the terminal.
    """

    backend = "simulated"
    what = "simulated camera"

    def __init__(
        self,
        source: Any = None,
        *,
        loop: bool = True,
        degradations: Sequence[str] = (),
        seed: int = 0,
    ) -> None:
        if source is not None and not isinstance(source, (str, Path)):  # an edge.config.FolderCameraConfig
            loop = source.loop
            degradations = tuple(getattr(source, "degradations", ()) or ())
            seed = int(getattr(source, "seed", 0) or 0)
            source = source.path
        _check_names(degradations)
        self._setup(Path(source) if source is not None else None, loop)
        self._degradations = tuple(degradations)
        self._seed = seed
        self._rng = np.random.default_rng(seed)
        self._other: np.ndarray | None = None
        self.label = ""

    def _render(self, rgb: np.ndarray) -> np.ndarray:
        return degrade.apply(rgb, self._degradations, self._rng, self._other) if self._degradations else rgb

    def _extra_metadata(self) -> dict[str, Any]:
        return {"degradations": list(self._degradations), "label": self.label}

    # --- simulator control ---------------------------------------------------------------
    def present(
        self,
        images: Sequence[Path | str],
        *,
        degradations: Sequence[str] = (),
        other: Path | str | None = None,
        label: str = "",
        seed: int | None = None,
    ) -> None:
        """Put a new scene in front of the lens: these images, degraded like this."""
        _check_names(degradations)
        paths = [Path(p) for p in images]
        self._frames = load_frames(paths)
        self._sources = [str(p) for p in paths]
        self._degradations = tuple(degradations)
        self._other = read_rgb(Path(other)) if other is not None else None
        self._index = 0
        self.label = label
        if seed is not None:
            self._rng = np.random.default_rng(seed)


def _check_names(names: Sequence[str]) -> None:
    unknown = [d for d in names if d not in degrade.DEGRADATIONS]
    if unknown:
        raise CameraError(f"unknown camera degradation(s) {unknown}; known: {', '.join(sorted(degrade.DEGRADATIONS))}")
