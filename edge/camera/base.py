"""The small camera interface every backend implements (the factory is :mod:`edge.camera.factory`).

A backend delivers :class:`Frame` objects holding an RGB ``uint8`` array. Backends are
chosen by ``config.type``: ``picamera2`` (Raspberry Pi CSI cameras), ``v4l2`` (USB webcams
via OpenCV) and ``folder`` (images or videos from a folder, :mod:`edge.camera.folder`). Hardware libraries are
imported only when a backend starts, never at import time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from edge.errors import EdgeError

CameraState = Literal["ok", "recovering", "failed", "stopped"]
CAMERA_STATES: tuple[str, ...] = ("ok", "recovering", "failed", "stopped")


class CameraError(EdgeError):
    """The camera is missing, unsupported, not started or stopped delivering frames."""


@dataclass(frozen=True)
class Frame:
    """One captured image: ``rgb`` is H×W×3 ``uint8`` in R, G, B order."""

    rgb: np.ndarray
    captured_monotonic_ns: int
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rgb = self.rgb
        if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            shape = getattr(rgb, "shape", None)
            dtype = getattr(rgb, "dtype", type(rgb).__name__)
            raise CameraError(f"camera frame must be an H×W×3 uint8 RGB array, got shape {shape} dtype {dtype}")


@runtime_checkable
class Camera(Protocol):
    """What the claim flow and the service need from a camera."""

    @property
    def state(self) -> CameraState: ...

    def start(self) -> None: ...

    def capture(self) -> Frame: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> "Camera": ...

    def __exit__(self, *exc: object) -> None: ...
