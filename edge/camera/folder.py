"""The folder camera: frames from a folder of images (or video files), served in name order.

A product backend for ``[camera] type = "folder"``: bench tests, demos and replaying recorded
captures on a workstation. It serves the files as they are. Simulated capture problems
(``degradations``) are the simulator's: ``simulator.camera.FolderCamera`` adds them, and
:func:`edge.camera.make_camera` builds it when the caller passes it as ``folder=``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge.camera.base import CameraError, CameraState, Frame
from edge.errors import ImageError, NotFoundError

logger = logging.getLogger(__name__)

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
VIDEO_EXTS = {".mp4", ".avi", ".mkv", ".mov", ".webm"}
MAX_FILE_BYTES = 64 * 2**20  # one photograph or short clip; bigger files are refused before decoding


def read_rgb(path: Path) -> np.ndarray:
    """Decode an image file to RGB uint8; :class:`ImageError` naming the file if it cannot be decoded."""
    if not path.is_file():
        raise NotFoundError(f"image not found: {path}")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ImageError(f"image {path} is larger than {MAX_FILE_BYTES // 2**20} MiB")
    from edge.face.image import read_image

    return read_image(path)  # bounded: header dimensions checked before decoding (decompression bombs refused)


def list_media(path: Path) -> list[Path]:
    """Image and video files under ``path`` (a file or a folder, not recursive), in name order."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise NotFoundError(f"camera source not found: {path}")
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTS | VIDEO_EXTS)
    if not files:
        raise NotFoundError(f"camera source {path} holds no images or videos ({', '.join(sorted(IMAGE_EXTS | VIDEO_EXTS))})")
    return files


def _video_frames(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise ImageError(f"cannot open video {path}")
        frames = []
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    finally:
        cap.release()
    if not frames:
        raise ImageError(f"video {path} has no decodable frames")
    return frames


def load_frames(paths: Sequence[Path]) -> list[np.ndarray]:
    """Decode every image / every frame of every video in ``paths``."""
    frames: list[np.ndarray] = []
    for p in paths:
        frames.extend(_video_frames(p) if p.suffix.lower() in VIDEO_EXTS else [read_rgb(p)])
    return frames


class FolderCamera:
    """The camera Protocol over the files in a folder: ``capture()`` returns the next one, looping when ``loop``.

    Subclasses (the simulator's camera) change what a frame looks like through :meth:`_render` and add
    metadata through :meth:`_extra_metadata`; the Protocol itself lives here once.
    """

    backend = "folder"
    what = "folder camera"

    def __init__(self, source: Any, *, loop: bool = True) -> None:
        if not isinstance(source, (str, Path)):  # an edge.config.FolderCameraConfig
            if getattr(source, "degradations", None):
                raise CameraError("camera.degradations are simulated capture problems: the simulator's camera "
                                  "(edge-sim) applies them; remove them to serve the folder as it is")
            loop, source = source.loop, source.path
        self._setup(Path(source), loop)

    def _setup(self, path: Path | None, loop: bool) -> None:
        self._path = path
        self._loop = loop
        self._frames: list[np.ndarray] = []
        self._sources: list[str] = []
        self._index = 0
        self._state: CameraState = "stopped"

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
            logger.info("%s: %d frame(s) from %s", self.what, len(self._frames), self._path)
        self._state = "ok"

    def capture(self) -> Frame:
        if self._state != "ok":
            raise CameraError(f"{self.what} is {self._state}; call start() first")
        if not self._frames:
            raise CameraError(f"{self.what} has nothing in front of it (no images presented)")
        if self._index >= len(self._frames):
            if not self._loop:
                raise CameraError(f"{self.what} ran out of frames (loop = false)")
            self._index = 0
        i = self._index
        self._index += 1
        meta = {"backend": self.backend, "source": self._sources[min(i, len(self._sources) - 1)] if self._sources else "",
                "frame_index": i, **self._extra_metadata()}
        return Frame(rgb=np.ascontiguousarray(self._render(self._frames[i])), captured_monotonic_ns=time.monotonic_ns(),
                     metadata=meta)

    def _render(self, rgb: np.ndarray) -> np.ndarray:
        """The frame as the lens sees it: the file as it is."""
        return rgb

    def _extra_metadata(self) -> dict[str, Any]:
        return {}

    def stop(self) -> None:
        self._state = "stopped"

    def close(self) -> None:
        self._state = "stopped"

    def __enter__(self) -> "FolderCamera":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
