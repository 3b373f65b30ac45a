"""make_camera backend selection, the Frame contract, the V4L2 fallback and the recovery backoff."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from edge.camera import CameraError, Frame, make_camera
from edge.camera.recovery import Recovery, backoff_delay
from edge.camera.v4l2_backend import V4l2Camera
from edge.config.camera import CameraRecoveryConfig, FolderCameraConfig, V4l2Config


def test_frame_accepts_rgb_uint8() -> None:
    """A H×W×3 uint8 array is a valid frame."""
    frame = Frame(np.zeros((4, 6, 3), np.uint8), 123, {"k": 1})
    assert frame.rgb.shape == (4, 6, 3) and frame.captured_monotonic_ns == 123


@pytest.mark.parametrize("bad", [np.zeros((4, 6), np.uint8), np.zeros((4, 6, 3), np.float32), np.zeros((4, 6, 4), np.uint8)])
def test_frame_rejects_other_arrays(bad: np.ndarray) -> None:
    """Grey, float or 4-channel arrays are refused with a message naming shape and dtype."""
    with pytest.raises(CameraError, match="H×W×3 uint8"):
        Frame(bad, 0)


def test_v4l2_missing_device_is_a_clear_error() -> None:
    """A USB camera index with no /dev/videoN says so and the camera waits to be plugged in."""
    cam = make_camera(V4l2Config(device=63))
    assert isinstance(cam, V4l2Camera)
    with pytest.raises(CameraError, match="/dev/video63 does not exist"):
        cam.start()
    assert cam.state == "recovering"
    cam.close()
    assert cam.state == "stopped"


def test_folder_camera_is_a_product_backend(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """type=folder needs no simulator: with simulator.camera unimportable the product's folder camera is built."""
    from edge.camera.folder import FolderCamera

    monkeypatch.setitem(sys.modules, "simulator.camera", None)
    monkeypatch.setitem(sys.modules, "simulator", None)
    assert isinstance(make_camera(FolderCameraConfig(path=tmp_path)), FolderCamera)


def test_folder_degradations_without_the_simulator_are_refused(tmp_path) -> None:
    """Degradations are the simulator's: the product's folder camera refuses them in one clear error."""
    with pytest.raises(CameraError, match="degradations are simulated"):
        make_camera(FolderCameraConfig(path=tmp_path, degradations=["dark"]))


def test_folder_factory_can_be_replaced(tmp_path) -> None:
    """make_camera(config, folder=...) builds type=folder with the given factory and the config it was given."""
    seen = {}

    class FolderCamera:
        def __init__(self, config):
            seen["config"] = config

    cam = make_camera(FolderCameraConfig(path=tmp_path), folder=FolderCamera)
    assert isinstance(cam, FolderCamera) and seen["config"].path == tmp_path


def test_folder_camera_serves_rgb_frames(tmp_path) -> None:
    """The folder camera decodes files from disk (BGR) into RGB frames through the camera protocol."""
    import cv2

    img = np.zeros((120, 160, 3), np.uint8)
    img[:, :, 2] = 255  # BGR on disk: pure red
    cv2.imwrite(str(tmp_path / "a.png"), img)
    with make_camera(FolderCameraConfig(path=tmp_path)) as cam:
        frame = cam.capture()
        assert cam.state == "ok"
    assert frame.rgb.shape[2] == 3 and frame.rgb[..., 0].mean() > frame.rgb[..., 2].mean()


def test_backoff_doubles_and_caps() -> None:
    """Reopen delays go 0.5, 1, 2, … and stop at the cap."""
    assert [backoff_delay(n, 0.5, 4.0) for n in range(0, 7)] == [0.0, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert backoff_delay(10_000, 0.5, 30.0) == 30.0


def test_recovery_states() -> None:
    """ok → recovering → failed after fail_after failures → ok again on success."""
    rec = Recovery(CameraRecoveryConfig(initial_s=1, max_s=10, fail_after=2))
    assert rec.state == "ok" and rec.due(0)
    rec.on_failure(100.0)
    assert rec.state == "recovering" and not rec.due(100.5) and rec.due(101.0)
    rec.on_failure(101.0)
    assert rec.state == "failed" and rec.next_attempt_at == 103.0
    rec.on_success()
    assert rec.state == "ok" and rec.due(0)


class FakeVideoCapture:
    """Stands in for cv2.VideoCapture (no USB camera on this machine): BGR frames until ``unplug``."""

    unplug = False
    opened: list["FakeVideoCapture"] = []

    def __init__(self, index, api) -> None:
        self.props: dict = {}
        self.released = False
        FakeVideoCapture.opened.append(self)

    def isOpened(self) -> bool:
        return not FakeVideoCapture.unplug

    def set(self, prop, value) -> bool:
        self.props[prop] = value
        return True

    def read(self):
        if FakeVideoCapture.unplug:
            return False, None
        bgr = np.zeros((48, 64, 3), np.uint8)
        bgr[..., 0] = 255  # blue in OpenCV's B,G,R order
        return True, bgr

    def release(self) -> None:
        self.released = True


def test_v4l2_frames_are_rgb_and_recover(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """The V4L2 backend converts OpenCV's BGR to RGB, asks for the configured size, and reopens after the device vanishes."""
    import cv2

    FakeVideoCapture.unplug, FakeVideoCapture.opened = False, []
    monkeypatch.setattr(cv2, "VideoCapture", FakeVideoCapture)
    now = [0.0]
    cam = V4l2Camera(V4l2Config(device=0, width=640, height=480, recovery=CameraRecoveryConfig(initial_s=1, max_s=4, fail_after=3)),
                     clock=lambda: now[0])
    cam.path = tmp_path / "video0"
    cam.path.touch()
    with cam:
        frame = cam.capture()
        assert frame.rgb[0, 0].tolist() == [0, 0, 255]
        assert FakeVideoCapture.opened[0].props[cv2.CAP_PROP_FRAME_WIDTH] == 640
        FakeVideoCapture.unplug = True
        with pytest.raises(CameraError, match="returned no frame"):
            cam.capture()
        assert cam.state == "recovering" and FakeVideoCapture.opened[0].released
        FakeVideoCapture.unplug = False
        now[0] = 1.0
        assert cam.capture().rgb.shape == (48, 64, 3) and cam.state == "ok"
    assert all(c.released for c in FakeVideoCapture.opened)
