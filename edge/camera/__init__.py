"""Camera backends behind one small interface (see :mod:`edge.camera.base`)."""

from edge.camera.base import CAMERA_STATES, Camera, CameraError, CameraState, Frame
from edge.camera.factory import make_camera

__all__ = ["Camera", "CameraError", "CameraState", "CAMERA_STATES", "Frame", "make_camera"]
