"""A fake ``picamera2`` module exposing exactly the Picamera2 surface the backend uses.

Signatures follow picamera2 0.3.38: ``Picamera2(camera_num=0, ...)``, static
``global_camera_info()``, ``create_preview_configuration(main={}, ..., buffer_count=4,
controls={}, ...)``, ``create_still_configuration(..., buffer_count=1, ...)``,
``configure(camera_config="preview")``, ``start(config=None, show_preview=False)``,
``capture_array(name="main", wait=None, signal_function=None)``, ``capture_request(wait=None,
signal_function=None, flush=None)`` returning a request with ``make_array(name)``,
``get_metadata()`` and ``release()``, ``set_controls(controls)``, ``stop()``, ``close()``, and
context-manager close. Like the real library it enforces call order, rejects controls the
sensor does not advertise, and reproduces the pixel-order naming: format ``"RGB888"`` yields
B,G,R arrays and ``"BGR888"`` yields R,G,B.

Tests install it with ``monkeypatch.setitem(sys.modules, "picamera2", world.module())``.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from typing import Any

import numpy as np

IMX708_CONTROLS: dict[str, tuple[Any, Any, Any]] = {
    "AfMode": (0, 2, 0),
    "AfRange": (0, 2, 0),
    "AfTrigger": (0, 1, 0),
    "LensPosition": (0.0, 32.0, 1.0),
    "AeMeteringMode": (0, 3, 0),
    "AeExposureMode": (0, 3, 0),
    "AeFlickerMode": (0, 1, 0),
    "AeFlickerPeriod": (100, 1_000_000, None),
    "FrameDurationLimits": (33_333, 120_000_000, None),
    "ExposureTime": (1, 66_666, None),
}
OV5647_CONTROLS = {k: v for k, v in IMX708_CONTROLS.items() if not k.startswith(("Af", "Lens"))}


@dataclass
class FakeSensor:
    model: str = "imx708"
    controls: dict[str, tuple[Any, Any, Any]] = field(default_factory=lambda: dict(IMX708_CONTROLS))


def scene_rgb(width: int, height: int) -> np.ndarray:
    """What the sensor 'sees', in true R,G,B order: red left third, green middle, blue right third."""
    img = np.zeros((height, width, 3), np.uint8)
    third = width // 3
    img[:, :third] = (200, 30, 10)
    img[:, third : 2 * third] = (20, 180, 40)
    img[:, 2 * third :] = (15, 25, 210)
    return img


@dataclass
class FakeWorld:
    """The cameras on the fake bus; flip ``unplugged`` to pull the ribbon cable."""

    sensors: list[FakeSensor] = field(default_factory=lambda: [FakeSensor()])
    unplugged: bool = False
    instances: list["Picamera2"] = field(default_factory=list)
    calls: list[tuple[str, Any]] = field(default_factory=list)

    def module(self) -> types.ModuleType:
        world = self
        mod = types.ModuleType("picamera2")

        class BoundPicamera2(Picamera2):
            _world = world

            @staticmethod
            def global_camera_info() -> list[dict[str, Any]]:
                if world.unplugged:
                    return []
                return [{"Model": s.model, "Location": 2, "Rotation": 180, "Id": f"/base/soc/i2c0mux/i2c@1/{s.model}@1a", "Num": i}
                        for i, s in enumerate(world.sensors)]

        BoundPicamera2.__name__ = "Picamera2"
        mod.Picamera2 = BoundPicamera2  # type: ignore[attr-defined]
        return mod

    @property
    def open_instances(self) -> list["Picamera2"]:
        return [cam for cam in self.instances if not cam.closed]


class CompletedRequest:
    def __init__(self, cam: "Picamera2", array: np.ndarray, metadata: dict[str, Any]) -> None:
        self._cam, self._array, self._metadata = cam, array, metadata
        self.released = False

    def make_array(self, name: str) -> np.ndarray:
        if self.released:
            raise RuntimeError("request already released")
        if name != "main":
            raise KeyError(name)
        return self._array.copy()

    def get_metadata(self) -> dict[str, Any]:
        return dict(self._metadata)

    def release(self) -> None:
        self.released = True
        self._cam.outstanding -= 1


class Picamera2:
    _world: FakeWorld

    def __init__(self, camera_num: int = 0, verbose_console: Any = None, tuning: Any = None, allocator: Any = None) -> None:
        world = self._world
        if world.unplugged or camera_num >= len(world.sensors):
            raise RuntimeError("Camera __init__ sequence did not complete.")
        self.camera_num = camera_num
        self.sensor = world.sensors[camera_num]
        self.camera_controls = dict(self.sensor.controls)
        self.configuration: dict[str, Any] | None = None
        self.started = False
        self.closed = False
        self.applied_controls: dict[str, Any] = {}
        self.outstanding = 0
        self.frame_count = 0
        world.instances.append(self)
        world.calls.append(("Picamera2", camera_num))

    @staticmethod
    def global_camera_info() -> list[dict[str, Any]]:
        raise NotImplementedError  # each FakeWorld.module() binds its own

    def _config(self, use_case: str, main: dict, buffer_count: int, controls: dict) -> dict[str, Any]:
        main = {"format": "BGR888", "size": (640, 480), **dict(main)}
        return {"use_case": use_case, "main": main, "buffer_count": buffer_count, "controls": dict(controls)}

    def create_preview_configuration(self, main={}, lores=None, raw={}, transform=None, colour_space=None, buffer_count=4,
                                     controls={}, display="main", encode="main", queue=True, sensor={}, use_case="preview") -> dict:
        self._world.calls.append(("create_preview_configuration", {"main": dict(main), "buffer_count": buffer_count}))
        return self._config(use_case, main, buffer_count, controls)

    def create_still_configuration(self, main={}, lores=None, raw={}, transform=None, colour_space=None, buffer_count=1,
                                   controls={}, display=None, encode=None, queue=True, sensor={}, use_case="still") -> dict:
        self._world.calls.append(("create_still_configuration", {"main": dict(main), "buffer_count": buffer_count}))
        return self._config(use_case, main, buffer_count, controls)

    def _check_controls(self, controls: dict[str, Any]) -> None:
        for name in controls:
            if name not in self.camera_controls:
                raise RuntimeError(f"Control {name} is not advertised by libcamera")

    def configure(self, camera_config: Any = "preview") -> None:
        if self.closed or self.started:
            raise RuntimeError("Camera must be stopped before configuring")
        if not isinstance(camera_config, dict):
            raise RuntimeError("fake supports configuration dicts only")
        if camera_config["main"]["format"] not in ("RGB888", "BGR888"):
            raise RuntimeError(f"fake supports RGB888/BGR888 only, not {camera_config['main']['format']}")
        self._check_controls(camera_config["controls"])
        self.configuration = camera_config
        self.applied_controls.update(camera_config["controls"])

    def start(self, config: Any = None, show_preview: bool = False) -> None:
        if self.configuration is None:
            raise RuntimeError("Camera has not been configured")
        self.started = True
        self._world.calls.append(("start", self.camera_num))

    def _frame(self) -> tuple[np.ndarray, dict[str, Any]]:
        if not self.started or self.closed:
            raise RuntimeError("Camera is not running")
        if self._world.unplugged:
            raise RuntimeError("Camera frontend has timed out!")
        assert self.configuration is not None
        width, height = self.configuration["main"]["size"]
        rgb = scene_rgb(width, height)
        # DRM fourcc naming: "RGB888" is stored B,G,R in memory; "BGR888" is R,G,B.
        array = rgb[:, :, ::-1].copy() if self.configuration["main"]["format"] == "RGB888" else rgb
        self.frame_count += 1
        metadata = {"SensorTimestamp": self.frame_count * 33_333_000, "ExposureTime": 20_000, "AnalogueGain": 2.0}
        if "AfMode" in self.applied_controls:
            metadata["AfState"] = 2
            metadata["LensPosition"] = 2.5
        return array, metadata

    def capture_array(self, name: str = "main", wait: Any = None, signal_function: Any = None) -> np.ndarray:
        return self._frame()[0]

    def capture_request(self, wait: Any = None, signal_function: Any = None, flush: Any = None) -> CompletedRequest:
        array, metadata = self._frame()
        self.outstanding += 1
        return CompletedRequest(self, array, metadata)

    def set_controls(self, controls: dict[str, Any]) -> None:
        if self.closed:
            raise RuntimeError("Camera is closed")
        self._check_controls(controls)
        self.applied_controls.update(controls)

    def stop(self) -> None:
        self.started = False
        self._world.calls.append(("stop", self.camera_num))

    def close(self) -> None:
        if self.started:
            self.stop()
        self.closed = True
        self._world.calls.append(("close", self.camera_num))

    def __enter__(self) -> "Picamera2":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

