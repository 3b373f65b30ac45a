"""Pick the camera backend for the configuration; hardware libraries load only when a backend starts."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from edge.camera.base import Camera, CameraError

if TYPE_CHECKING:
    from edge.config.camera import CameraConfig


def make_camera(config: "CameraConfig", *, folder: "Callable[[Any], Camera] | None" = None) -> Camera:
    """The backend for ``config.type``, not yet started.

    ``folder`` builds the camera for ``type = "folder"`` instead of the product's
    :class:`edge.camera.folder.FolderCamera`: the simulator passes its own, which adds degradations.
    """
    kind = config.type
    if kind == "picamera2":
        from edge.camera.picamera2_backend import Picamera2Camera

        return Picamera2Camera(config)
    if kind == "v4l2":
        from edge.camera.v4l2_backend import V4l2Camera

        return V4l2Camera(config)
    if kind == "folder":
        if folder is not None:
            return folder(config)
        from edge.camera.folder import FolderCamera

        return FolderCamera(config)
    raise CameraError(f"camera.type={kind!r} is not supported (use picamera2, v4l2 or folder)")
