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

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edge.camera.base import CameraError, CameraState, Frame
from edge.camera.folder import IMAGE_EXTS, VIDEO_EXTS, list_media, load_frames, read_rgb  # noqa: F401 - re-exported
from simulator import degrade

logger = logging.getLogger(__name__)

class FolderCamera:
    """A camera whose scene is a list of images (or video frames), served in order.

    ``capture()`` returns the next frame (looping when ``loop``), degraded by the current
    degradations with a seeded RNG. ``present()`` swaps the scene: the simulator's claimant
    steps up to the terminal.
    """

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
        self._path = Path(source) if source is not None else None
        self._loop = loop
        self._degradations = tuple(degradations)
        self._seed = seed
        self._rng = np.random.default_rng(seed)
        self._frames: list[np.ndarray] = []
        self._sources: list[str] = []
        self._other: np.ndarray | None = None
        self._index = 0
        self._state: CameraState = "stopped"
        self.label = ""

    # --- the camera Protocol -------------------------------------------------------------
    @property
    def state(self) -> CameraState:
        return self._state

    def start(self) -> None:
        if self._state == "ok":
            return
        if self._path is not None and not self._frames:
            files = list_media(self._path)
            self._frames = load_frames(files)
            self._sources = [str(f) for f in files]
            logger.info("simulated camera: %d frame(s) from %s", len(self._frames), self._path)
        self._state = "ok"

    def capture(self) -> Frame:
        if self._state != "ok":
            raise CameraError(f"simulated camera is {self._state}; call start() first")
        if not self._frames:
            raise CameraError("simulated camera has nothing in front of it (no images presented)")
        if self._index >= len(self._frames):
            if not self._loop:
                raise CameraError("simulated camera ran out of frames (loop = false)")
            self._index = 0
        i = self._index
        self._index += 1
        rgb = self._frames[i]
        if self._degradations:
            rgb = degrade.apply(rgb, self._degradations, self._rng, self._other)
        meta = {
            "backend": "simulated",
            "source": self._sources[min(i, len(self._sources) - 1)] if self._sources else "",
            "frame_index": i,
            "degradations": list(self._degradations),
            "label": self.label,
        }
        return Frame(rgb=np.ascontiguousarray(rgb), captured_monotonic_ns=time.monotonic_ns(), metadata=meta)

    def stop(self) -> None:
        self._state = "stopped"

    def close(self) -> None:
        self._state = "stopped"

    def __enter__(self) -> "FolderCamera":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
