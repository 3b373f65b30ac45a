"""USB webcams through OpenCV's V4L2 capture: a fallback when no Pi camera module is fitted."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from edge.camera.base import CameraError
from edge.camera.managed import ManagedCamera
from edge.config.camera import V4l2Config

logger = logging.getLogger(__name__)


class V4l2Camera(ManagedCamera):
    """A :class:`~edge.camera.base.Camera` on ``/dev/videoN``; OpenCV's BGR frames are turned into RGB."""

    def __init__(self, config: V4l2Config, **kwargs: Any) -> None:
        super().__init__(config.recovery, **kwargs)
        self.config = config
        self.path = Path(f"/dev/video{config.device}")
        self.describe = f"USB camera {self.path}"
        self._cap: Any = None

    def _open_device(self) -> None:
        import cv2

        if not self.path.exists():
            raise CameraError(f"{self.path} does not exist: is the USB camera plugged in?")
        cap = cv2.VideoCapture(self.config.device, cv2.CAP_V4L2)
        if not cap.isOpened():
            cap.release()
            raise CameraError(f"{self.path} cannot be opened (busy, or the service user is not in the 'video' group)")
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.config.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.config.height)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self._cap = cap

    def _read_device(self) -> tuple[np.ndarray, dict[str, Any]]:
        import cv2

        ok, bgr = self._cap.read()
        if not ok or bgr is None:
            raise CameraError(f"{self.path} returned no frame")
        if bgr.ndim == 2:
            rgb = cv2.cvtColor(bgr, cv2.COLOR_GRAY2RGB)
        else:
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        return rgb, {"device": str(self.path)}

    def _close_device(self) -> None:
        cap, self._cap = self._cap, None
        if cap is not None:
            cap.release()
