"""Shared lifecycle for real camera backends: thread-safe capture, recovery when the device disappears.

A backend subclass implements three device operations: ``_open_device()``,
``_read_device() -> (array, metadata)`` and ``_close_device()``. This class turns a
failing read into state ``recovering``, reopens the device with backoff on later
``capture()`` calls, and reports ``failed`` after too many consecutive failures
(still retrying, so a re-seated ribbon cable comes back without a restart).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from edge.camera.base import CameraError, CameraState, Frame
from edge.camera.recovery import Recovery
from edge.config.camera import CameraRecoveryConfig

logger = logging.getLogger(__name__)


class ManagedCamera:
    """Base for hardware backends; subclasses name themselves in ``describe``."""

    describe = "camera"

    def __init__(self, recovery: CameraRecoveryConfig, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._recovery = Recovery(recovery)
        self._clock = clock
        self._lock = threading.RLock()
        self._started = False
        self._open = False
        self._last_error: str | None = None
        self.frames_captured = 0

    # -- device operations a backend implements --------------------------------------------
    def _open_device(self) -> None:
        raise NotImplementedError

    def _read_device(self) -> tuple[np.ndarray, dict[str, Any]]:
        raise NotImplementedError

    def _close_device(self) -> None:
        raise NotImplementedError

    # -- the Camera protocol -----------------------------------------------------------------
    @property
    def state(self) -> CameraState:
        if not self._started:
            return "stopped"
        return self._recovery.state  # type: ignore[return-value]

    @property
    def last_error(self) -> str | None:
        return self._last_error

    def start(self) -> None:
        """Open and start the device. A missing camera raises :class:`CameraError`; the backend stays
        started in state ``recovering`` so later captures keep trying to reopen it."""
        with self._lock:
            if self._started:
                return
            self._started = True
            self._try_open(raise_errors=True)

    def capture(self) -> Frame:
        with self._lock:
            if not self._started:
                raise CameraError(f"{self.describe} is not started")
            if not self._open:
                now = self._clock()
                if not self._recovery.due(now):
                    wait = self._recovery.next_attempt_at - now
                    raise CameraError(f"{self.describe} unavailable ({self._last_error}); next reopen attempt in {wait:.1f} s")
                self._try_open(raise_errors=True)
            try:
                array, metadata = self._read_device()
                rgb = self._to_rgb(array)
            except Exception as exc:  # the device vanished mid-stream: close it and recover later
                self._fail(f"stopped delivering frames: {exc}")
                raise CameraError(f"{self.describe} stopped delivering frames: {exc}") from exc
            self.frames_captured += 1
            return Frame(rgb=rgb, captured_monotonic_ns=time.monotonic_ns(), metadata=metadata)

    def stop(self) -> None:
        with self._lock:
            self._started = False
            self._shutdown()

    def close(self) -> None:
        self.stop()

    def __enter__(self) -> "ManagedCamera":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------
    def _to_rgb(self, array: np.ndarray) -> np.ndarray:
        """Backends return RGB already; drop a padding/alpha channel if present."""
        if array.ndim == 3 and array.shape[2] == 4:
            array = array[:, :, :3]
        return np.ascontiguousarray(array)

    def _try_open(self, *, raise_errors: bool) -> None:
        try:
            self._open_device()
        except Exception as exc:
            self._fail(f"cannot be opened: {exc}")
            if raise_errors:
                if isinstance(exc, CameraError):
                    raise
                raise CameraError(f"{self.describe} cannot be opened: {exc}") from exc
            return
        self._open = True
        if self._recovery.failures:
            logger.warning("%s is back after %d failed attempt(s)", self.describe, self._recovery.failures)
        else:
            logger.info("%s started", self.describe)
        self._recovery.on_success()
        self._last_error = None

    def _fail(self, reason: str) -> None:
        self._shutdown()
        self._last_error = reason
        delay = self._recovery.on_failure(self._clock())
        log = logger.error if self._recovery.state == "failed" else logger.warning
        log("%s %s; state %s, retrying in %.1f s", self.describe, reason, self._recovery.state, delay)

    def _shutdown(self) -> None:
        if not self._open:
            return
        self._open = False
        try:
            self._close_device()
        except Exception as exc:  # closing a vanished device may fail too; it is gone either way
            logger.warning("%s did not close cleanly: %s", self.describe, exc)
