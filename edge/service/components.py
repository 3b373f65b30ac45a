"""The parts the service runner supervises, each behind one small interface.

A :class:`Component` has ``start()``, ``check() -> ComponentStatus`` and ``stop()``. Critical
components (camera, matching, outbox) gate the systemd watchdog; the others (GPS, MQTT link)
are reported but never restart the service: being offline is normal in the field.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from edge.camera.base import Camera, CameraError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    ok: bool
    state: str
    detail: str = ""
    critical: bool = True


class Component(Protocol):
    name: str
    critical: bool

    def start(self) -> None: ...

    def check(self) -> ComponentStatus: ...

    def stop(self) -> None: ...


def watchdog_verdict(statuses: Sequence[ComponentStatus]) -> tuple[bool, list[str]]:
    """Keep-alives go out only while every critical component is ok; the reasons name those that are not."""
    reasons = [f"{s.name} {s.state}" + (f": {s.detail}" if s.detail else "") for s in statuses if s.critical and not s.ok]
    return not reasons, reasons


class CameraComponent:
    """Supervises a camera: probes it when idle, tolerates ``recovering`` for ``grace_s`` seconds."""

    name = "camera"
    critical = True

    def __init__(self, camera: Camera, *, probe_s: float = 10.0, grace_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.camera = camera
        self.probe_s, self.grace_s, self._clock = probe_s, grace_s, clock
        self._last_probe = float("-inf")
        self._unhealthy_since: float | None = None
        self._detail = ""

    def start(self) -> None:
        try:
            self.camera.start()
        except CameraError as exc:  # keep running: the status page tells the officer, the backend keeps retrying
            self._detail = str(exc)
            logger.error("camera did not start: %s", exc)
        self._last_probe = self._clock()

    def check(self) -> ComponentStatus:
        now = self._clock()
        if now - self._last_probe >= self.probe_s:
            self._last_probe = now
            try:
                self.camera.capture()
                self._detail = ""
            except CameraError as exc:
                self._detail = str(exc)
        state = self.camera.state
        if state == "ok":
            self._unhealthy_since = None
            return ComponentStatus(self.name, True, state)
        if self._unhealthy_since is None:
            self._unhealthy_since = now
        within_grace = state == "recovering" and now - self._unhealthy_since < self.grace_s
        return ComponentStatus(self.name, within_grace, state, self._detail)

    def stop(self) -> None:
        self.camera.close()


class CheckComponent:
    """A component given as callables: ``check()`` returns True/False or ``(ok, detail)``."""

    def __init__(
        self,
        name: str,
        check: Callable[[], bool | tuple[bool, str]],
        *,
        critical: bool = True,
        start: Callable[[], Any] | None = None,
        stop: Callable[[], Any] | None = None,
        state: Callable[[], str] | None = None,
    ) -> None:
        self.name, self.critical = name, critical
        self._check, self._start, self._stop, self._state = check, start, stop, state

    def start(self) -> None:
        if self._start:
            self._start()

    def check(self) -> ComponentStatus:
        try:
            result = self._check()
        except Exception as exc:
            return ComponentStatus(self.name, False, "error", str(exc), self.critical)
        ok, detail = result if isinstance(result, tuple) else (bool(result), "")
        state = self._state() if self._state else ("ok" if ok else "failed")
        return ComponentStatus(self.name, ok, state, detail, self.critical)

    def stop(self) -> None:
        if self._stop:
            self._stop()


class StatefulComponent:
    """Wraps an object with ``start()``/``stop()`` (or ``close()``) and a ``state``/``link_state`` string.

    Used for the GPS reader and the MQTT publisher; never critical by default.
    """

    def __init__(self, name: str, obj: Any, *, state_attr: str = "state", critical: bool = False, bad_states: Sequence[str] = ()) -> None:
        self.name, self.obj, self.state_attr, self.critical = name, obj, state_attr, critical
        self.bad_states = tuple(bad_states)

    def start(self) -> None:
        start = getattr(self.obj, "start", None)
        if start:
            start()

    def check(self) -> ComponentStatus:
        try:
            state = str(getattr(self.obj, self.state_attr))
        except Exception as exc:
            return ComponentStatus(self.name, False, "error", str(exc), self.critical)
        return ComponentStatus(self.name, state not in self.bad_states, state, "", self.critical)

    def stop(self) -> None:
        for method in ("stop", "close"):
            fn = getattr(self.obj, method, None)
            if fn:
                fn()
                return
