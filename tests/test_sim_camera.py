"""The simulated camera: frames from folders and videos, seeded degradations, the camera Protocol."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.camera import Camera, CameraError, make_camera
from edge.config import FolderCameraConfig
from edge.errors import ImageError, NotFoundError
from simulator import degrade
from simulator.camera import FolderCamera


@pytest.fixture
def face_folder(tmp_path: Path) -> Path:
    """A folder of two synthetic 120x160 JPEG 'photos' with distinct content."""
    rng = np.random.default_rng(0)
    for i in range(2):
        img = np.full((120, 160, 3), 60 + 80 * i, np.uint8)
        cv2.circle(img, (80, 60), 30, (200, 170, 150), -1)
        img = np.clip(img.astype(np.int16) + rng.integers(-20, 20, img.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(tmp_path / f"{i + 1}.jpg"), img)
    return tmp_path


def test_folder_camera_serves_images_in_name_order_and_loops(face_folder: Path) -> None:
    """Frames come in file-name order as RGB uint8 and wrap around when loop is on."""
    with FolderCamera(face_folder) as cam:
        assert isinstance(cam, Camera)
        assert cam.state == "ok"
        sources = [Path(cam.capture().metadata["source"]).name for _ in range(3)]
    assert sources == ["1.jpg", "2.jpg", "1.jpg"]
    assert cam.state == "stopped"


def test_folder_camera_without_loop_runs_out(face_folder: Path) -> None:
    """With loop off, the third capture of a two-image folder is a CameraError."""
    with FolderCamera(face_folder, loop=False) as cam:
        cam.capture(), cam.capture()
        with pytest.raises(CameraError, match="ran out"):
            cam.capture()


def test_make_camera_builds_folder_camera_from_config(face_folder: Path) -> None:
    """The product's factory builds its own folder camera for type = folder."""
    cam = make_camera(FolderCameraConfig(path=face_folder))
    with cam:
        frame = cam.capture()
    assert frame.rgb.shape == (120, 160, 3) and frame.rgb.dtype == np.uint8


def test_corrupt_image_is_a_clear_error(tmp_path: Path) -> None:
    """A file that is not an image is refused with an ImageError naming it."""
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(ImageError, match="broken.jpg"):
        FolderCamera(tmp_path).start()


def test_missing_folder_is_not_found(tmp_path: Path) -> None:
    """A camera pointed at a missing folder says which one."""
    with pytest.raises(NotFoundError, match="nowhere"):
        FolderCamera(tmp_path / "nowhere").start()


def test_video_file_frames_are_served(tmp_path: Path) -> None:
    """Every frame of a video file becomes a camera frame."""
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(4):
        writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
    writer.release()
    with FolderCamera(path, loop=False) as cam:
        means = [cam.capture().rgb.mean() for _ in range(4)]
    assert means == sorted(means) and means[-1] > means[0] + 60


def test_degradations_are_deterministic_with_a_seed(face_folder: Path) -> None:
    """The same seed gives byte-identical degraded frames; another seed differs."""
    def grab(seed: int) -> np.ndarray:
        with FolderCamera(face_folder, degradations=["noise", "occlusion"], seed=seed) as cam:
            return cam.capture().rgb

    assert np.array_equal(grab(3), grab(3))
    assert not np.array_equal(grab(3), grab(4))


@pytest.mark.parametrize("name", sorted(degrade.DEGRADATIONS))
def test_each_degradation_changes_the_image(face_folder: Path, name: str) -> None:
    """Every named degradation alters the frame (and keeps it RGB uint8)."""
    with FolderCamera(face_folder) as cam:
        clean = cam.capture().rgb
        cam.present([face_folder / "1.jpg"], degradations=[name], other=face_folder / "2.jpg", seed=1)
        bad = cam.capture().rgb
    assert bad.dtype == np.uint8 and bad.ndim == 3
    assert bad.shape != clean.shape or np.abs(bad.astype(int) - clean.astype(int)).mean() > 3


def test_dark_and_blur_do_what_they_say(face_folder: Path) -> None:
    """'dark' lowers mean luminance sharply and 'blur' lowers the Laplacian variance."""
    rgb = cv2.cvtColor(cv2.imread(str(face_folder / "1.jpg")), cv2.COLOR_BGR2RGB)
    rng = np.random.default_rng(0)
    assert degrade.dark(rgb, rng).mean() < rgb.mean() * 0.25
    lap = lambda im: cv2.Laplacian(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()  # noqa: E731
    assert lap(degrade.blur(rgb, rng)) < lap(rgb) * 0.2


def test_unknown_degradation_is_refused(face_folder: Path) -> None:
    """A misspelt degradation name is an error listing the known ones."""
    with pytest.raises(CameraError, match="known"):
        FolderCamera(face_folder, degradations=["blurr"])


def test_folder_config_degradations_reach_the_camera(face_folder: Path) -> None:
    """[camera] type = folder with degradations and a seed, built with the simulator's camera, gives degraded frames."""
    cfg = FolderCameraConfig(path=face_folder, degradations=["dark"], seed=5)
    with make_camera(cfg, folder=FolderCamera) as cam:
        dark = cam.capture().rgb
    with FolderCamera(face_folder) as cam:
        clean = cam.capture().rgb
    assert dark.mean() < clean.mean() * 0.3


def test_folder_config_refuses_unknown_degradation(face_folder: Path) -> None:
    """A misspelt degradation in the config is a validation error naming the field."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="degradations"):
        FolderCameraConfig(path=face_folder, degradations=["blurry"])


@pytest.mark.parametrize("name", ["printed_photo", "screen_replay", "cutout_mask"])
def test_attack_simulations_have_no_telltale_border(face_folder: Path, name: str) -> None:
    """Simulated attacks fill the frame: no uniform white paper edge or black bezel around the picture."""
    rgb = cv2.cvtColor(cv2.imread(str(face_folder / "1.jpg")), cv2.COLOR_BGR2RGB)
    for seed in range(3):
        out = getattr(degrade, name)(rgb, np.random.default_rng(seed)).astype(np.float32)
        ring = np.concatenate([out[:4].reshape(-1, 3), out[-4:].reshape(-1, 3), out[:, :4].reshape(-1, 3), out[:, -4:].reshape(-1, 3)])
        clean = np.concatenate([rgb[:4].reshape(-1, 3), rgb[-4:].reshape(-1, 3), rgb[:, :4].reshape(-1, 3), rgb[:, -4:].reshape(-1, 3)]).astype(np.float32)
        assert 15 < ring.mean() < 240, f"{name}: frame edge is a flat {ring.mean():.0f}"
        assert abs(ring.mean() - clean.mean()) < 45 and ring.std() > 0.5 * clean.std()
