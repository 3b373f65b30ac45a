"""Raspberry Pi CSI cameras through Picamera2 (libcamera).

Picamera2 comes from Raspberry Pi OS (``apt install python3-picamera2``; the service venv is
made with ``--system-site-packages``) or the ``[pi]`` extra. It is imported when the camera
starts, never at import time: importing it probes libcamera and ``/dev/video*``.

Pixel order pitfall: Picamera2 names formats by libcamera/DRM convention, so ``"RGB888"``
delivers arrays whose channels are B, G, R and ``"BGR888"`` delivers R, G, B. We ask for
``"BGR888"`` and hand the array on unchanged as RGB.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Any

import numpy as np

from edge.camera.base import CameraError
from edge.camera.managed import ManagedCamera
from edge.config.camera import Picamera2Config

logger = logging.getLogger(__name__)

RGB_ORDER_FORMAT = "BGR888"  # yields R,G,B arrays (see module docstring)
# libcamera control enum values (libcamera.controls.*Enum), as plain ints so libcamera is not imported here.
AF_MODE_CONTINUOUS = 2
AF_RANGE_NORMAL = 0
METERING = {"centre": 0, "spot": 1, "matrix": 2}
AE_FLICKER_MANUAL = 1
INSTALL_HINT = (
    "on Raspberry Pi OS run 'sudo apt install python3-picamera2' and create the venv with "
    "--system-site-packages (or pip install 'tepat-edge[pi]')"
)


def camera_controls_for(config: Picamera2Config, available: dict[str, Any]) -> dict[str, Any]:
    """The controls to set for an indoor aid counter, limited to those the camera advertises."""
    wanted: dict[str, Any] = {}
    if config.autofocus and "AfMode" in available:
        wanted["AfMode"] = AF_MODE_CONTINUOUS
        if "AfRange" in available:
            wanted["AfRange"] = AF_RANGE_NORMAL
    if "AeMeteringMode" in available:
        wanted["AeMeteringMode"] = METERING[config.metering]
    if config.mains_hz and "AeFlickerMode" in available and "AeFlickerPeriod" in available:
        wanted["AeFlickerMode"] = AE_FLICKER_MANUAL
        wanted["AeFlickerPeriod"] = int(round(1_000_000 / (2 * config.mains_hz)))
    if "FrameDurationLimits" in available:
        longest = int(config.max_exposure_ms * 1000)
        wanted["FrameDurationLimits"] = (min(33_333, longest), longest)
    return wanted


class Picamera2Camera(ManagedCamera):
    """A :class:`~edge.camera.base.Camera` on a Raspberry Pi camera module."""

    def __init__(self, config: Picamera2Config, **kwargs: Any) -> None:
        super().__init__(config.recovery, **kwargs)
        self.config = config
        self.describe = f"Pi camera {config.camera_num}"
        self._cam: Any = None
        self.model: str | None = None
        self.controls: dict[str, Any] = {}

    @staticmethod
    def _module() -> ModuleType:
        try:
            import picamera2
        except ImportError as exc:
            raise CameraError(f"camera.type=picamera2 but the picamera2 package cannot be imported ({exc}): {INSTALL_HINT}") from None
        return picamera2

    def _open_device(self) -> None:
        module = self._module()
        cfg = self.config
        infos = module.Picamera2.global_camera_info()
        if cfg.camera_num >= len(infos):
            raise CameraError(
                f"no camera number {cfg.camera_num}: libcamera sees {len(infos)} camera(s); "
                "check the ribbon cable and camera_auto_detect=1 in config.txt"
            )
        self.model = str(infos[cfg.camera_num].get("Model", "unknown"))
        cam = module.Picamera2(camera_num=cfg.camera_num)
        try:
            self.controls = camera_controls_for(cfg, dict(getattr(cam, "camera_controls", {}) or {}))
            main = {"size": (cfg.width, cfg.height), "format": RGB_ORDER_FORMAT}
            if cfg.mode == "still":
                configuration = cam.create_still_configuration(main=main, buffer_count=2, controls=self.controls)
            else:
                configuration = cam.create_preview_configuration(main=main, buffer_count=4, controls=self.controls)
            cam.configure(configuration)
            cam.start()
        except Exception:
            cam.close()
            raise
        self._cam = cam
        self.describe = f"Pi camera {cfg.camera_num} ({self.model})"
        logger.info("%s configured %dx%d %s mode, controls %s", self.describe, cfg.width, cfg.height, cfg.mode, self.controls)

    def _read_device(self) -> tuple[np.ndarray, dict[str, Any]]:
        request = self._cam.capture_request()
        try:
            array = request.make_array("main")
            metadata = dict(request.get_metadata())
        finally:
            request.release()
        if array.ndim != 3 or array.shape[2] not in (3, 4):
            raise CameraError(f"unexpected frame shape {array.shape} (expected {RGB_ORDER_FORMAT})")
        metadata["camera_model"] = self.model
        return array[:, : self.config.width], metadata

    def _close_device(self) -> None:
        cam, self._cam = self._cam, None
        if cam is None:
            return
        try:
            cam.stop()
        finally:
            cam.close()

    def set_controls(self, controls: dict[str, Any]) -> None:
        """Change controls on the running camera (e.g. a one-off exposure tweak from the officer)."""
        with self._lock:
            if self._cam is None:
                raise CameraError(f"{self.describe} is not running")
            self._cam.set_controls(controls)
            self.controls.update(controls)
