"""Contract tests of the Picamera2 backend against a fake picamera2 module with the real signatures."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from edge.camera import Camera, CameraError, make_camera
from edge.camera.picamera2_backend import Picamera2Camera, camera_controls_for
from edge.config.camera import CameraRecoveryConfig, Picamera2Config
from tests.fakes.picamera2_fake import OV5647_CONTROLS, FakeSensor, FakeWorld, scene_rgb


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def camera_world(monkeypatch: pytest.MonkeyPatch) -> FakeWorld:
    """A fake camera bus with one Camera Module 3 (imx708), installed as the 'picamera2' import."""
    world = FakeWorld()
    monkeypatch.setitem(sys.modules, "picamera2", world.module())
    return world


@pytest.fixture
def clock() -> FakeClock:
    """A hand-driven monotonic clock for the recovery backoff."""
    return FakeClock()


def make_pi_camera(clock: FakeClock, **overrides) -> Picamera2Camera:
    config = Picamera2Config(recovery=CameraRecoveryConfig(initial_s=1.0, max_s=8.0, fail_after=3), **overrides)
    return Picamera2Camera(config, clock=clock)


def test_make_camera_picks_picamera2_backend(camera_world: FakeWorld) -> None:
    """make_camera returns a Picamera2Camera implementing the Camera protocol, not yet started."""
    cam = make_camera(Picamera2Config())
    assert isinstance(cam, Picamera2Camera)
    assert isinstance(cam, Camera)
    assert cam.state == "stopped"
    assert camera_world.instances == []


def test_preview_configuration_is_sized_for_the_detector(camera_world: FakeWorld, clock: FakeClock) -> None:
    """The preview configuration asks for the configured size, 4 buffers and an R,G,B-ordered format."""
    with make_pi_camera(clock, width=1536, height=864) as cam:
        frame = cam.capture()
    picam = camera_world.instances[0]
    assert picam.configuration["use_case"] == "preview"
    assert picam.configuration["main"] == {"format": "BGR888", "size": (1536, 864)}
    assert picam.configuration["buffer_count"] == 4
    assert frame.rgb.shape == (864, 1536, 3) and frame.rgb.dtype == np.uint8


def test_still_mode_uses_still_configuration(camera_world: FakeWorld, clock: FakeClock) -> None:
    """mode='still' builds a still configuration with two buffers."""
    with make_pi_camera(clock, mode="still", width=640, height=480) as cam:
        cam.capture()
    picam = camera_world.instances[0]
    assert ("create_still_configuration", {"main": {"size": (640, 480), "format": "BGR888"}, "buffer_count": 2}) in camera_world.calls
    assert picam.configuration["use_case"] == "still"


def test_frames_are_rgb_not_bgr(camera_world: FakeWorld, clock: FakeClock) -> None:
    """Frames come out R,G,B: the red left third of the scene has its largest value in channel 0."""
    with make_pi_camera(clock, width=640, height=480) as cam:
        frame = cam.capture()
    np.testing.assert_array_equal(frame.rgb, scene_rgb(640, 480))
    left, right = frame.rgb[240, 10], frame.rgb[240, 630]
    assert left.argmax() == 0 and right.argmax() == 2
    assert frame.rgb.flags["C_CONTIGUOUS"]


def test_fake_reproduces_the_rgb888_pitfall(camera_world: FakeWorld) -> None:
    """The fake itself returns B,G,R for 'RGB888', so the RGB-order test above can fail."""
    picam = camera_world.module().Picamera2(camera_num=0)
    picam.configure(picam.create_preview_configuration(main={"size": (300, 200), "format": "RGB888"}))
    picam.start()
    array = picam.capture_array("main")
    picam.close()
    assert array[100, 10].argmax() == 2  # the red region arrives with red in the last channel


def test_autofocus_is_continuous_on_camera_module_3(camera_world: FakeWorld, clock: FakeClock) -> None:
    """A camera advertising AfMode gets continuous autofocus and frames report the lens state."""
    with make_pi_camera(clock) as cam:
        frame = cam.capture()
    applied = camera_world.instances[0].applied_controls
    assert applied["AfMode"] == 2 and applied["AfRange"] == 0
    assert frame.metadata["AfState"] == 2 and frame.metadata["camera_model"] == "imx708"


def test_fixed_focus_camera_gets_no_autofocus_controls(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    """A Camera Module 1 (ov5647) has no AfMode, and the backend does not set it (libcamera would refuse)."""
    world = FakeWorld(sensors=[FakeSensor(model="ov5647", controls=dict(OV5647_CONTROLS))])
    monkeypatch.setitem(sys.modules, "picamera2", world.module())
    with make_pi_camera(clock) as cam:
        cam.capture()
    applied = world.instances[0].applied_controls
    assert "AfMode" not in applied and "LensPosition" not in applied
    assert applied["AeMeteringMode"] == 0


def test_indoor_exposure_controls() -> None:
    """Centre metering, 50 Hz flicker avoidance and a capped frame duration for a counter under fluorescent light."""
    available = {"AeMeteringMode": (), "AeFlickerMode": (), "AeFlickerPeriod": (), "FrameDurationLimits": ()}
    controls = camera_controls_for(Picamera2Config(max_exposure_ms=40), available)
    assert controls == {"AeMeteringMode": 0, "AeFlickerMode": 1, "AeFlickerPeriod": 10_000, "FrameDurationLimits": (33_333, 40_000)}
    assert "AeFlickerMode" not in camera_controls_for(Picamera2Config(mains_hz=0), available)
    assert camera_controls_for(Picamera2Config(mains_hz=60), available)["AeFlickerPeriod"] == 8_333


def test_missing_camera_gives_clear_error(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    """Asking for camera 1 when only camera 0 exists names the problem and leaves nothing open."""
    world = FakeWorld()
    monkeypatch.setitem(sys.modules, "picamera2", world.module())
    cam = make_pi_camera(clock, camera_num=1)
    with pytest.raises(CameraError, match="no camera number 1: libcamera sees 1 camera"):
        cam.start()
    assert cam.state == "recovering"
    cam.close()
    assert cam.state == "stopped" and world.open_instances == []


def test_picamera2_not_installed_names_the_package(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    """Without picamera2 importable, start() says how to install it."""
    monkeypatch.setitem(sys.modules, "picamera2", None)
    with pytest.raises(CameraError, match="python3-picamera2"):
        make_pi_camera(clock).start()


def test_recovers_when_the_camera_disappears(camera_world: FakeWorld, clock: FakeClock) -> None:
    """A failing capture closes the camera, backs off, reports failed after 3 tries, and reopens once it is back."""
    cam = make_pi_camera(clock, width=320, height=240)
    cam.start()
    cam.capture()
    camera_world.unplugged = True
    with pytest.raises(CameraError, match="stopped delivering frames"):
        cam.capture()
    assert cam.state == "recovering"
    assert camera_world.open_instances == []  # the dead handle was stopped and closed
    with pytest.raises(CameraError, match="next reopen attempt in 1.0 s"):
        cam.capture()  # not due yet: no reopen attempt
    assert len(camera_world.instances) == 1
    clock.now += 1.0
    with pytest.raises(CameraError, match="no camera number 0"):
        cam.capture()  # due: tries, still gone, backoff doubles
    assert cam.state == "recovering"
    clock.now += 2.0
    with pytest.raises(CameraError):
        cam.capture()
    assert cam.state == "failed"
    camera_world.unplugged = False
    clock.now += 4.0
    frame = cam.capture()
    assert cam.state == "ok" and frame.rgb.shape == (240, 320, 3)
    assert len(camera_world.open_instances) == 1
    cam.close()
    assert camera_world.open_instances == []


def test_requests_are_released(camera_world: FakeWorld, clock: FakeClock) -> None:
    """Every capture request is returned to libcamera, so buffers are never exhausted."""
    with make_pi_camera(clock) as cam:
        for _ in range(10):
            cam.capture()
        assert camera_world.instances[0].outstanding == 0


def test_clean_stop_and_close(camera_world: FakeWorld, clock: FakeClock) -> None:
    """close() stops then closes the Picamera2 object; capture afterwards is a clear error; close twice is fine."""
    cam = make_pi_camera(clock)
    cam.start()
    cam.close()
    names = [name for name, _ in camera_world.calls]
    assert names[-2:] == ["stop", "close"]
    assert camera_world.open_instances == []
    with pytest.raises(CameraError, match="not started"):
        cam.capture()
    cam.close()
    assert cam.state == "stopped"


def test_set_controls_on_running_camera(camera_world: FakeWorld, clock: FakeClock) -> None:
    """set_controls passes through to Picamera2 and unknown controls are refused like libcamera does."""
    with make_pi_camera(clock) as cam:
        cam.set_controls({"LensPosition": 3.0})
        assert camera_world.instances[0].applied_controls["LensPosition"] == 3.0
        with pytest.raises(RuntimeError, match="not advertised"):
            cam.set_controls({"Bogus": 1})
