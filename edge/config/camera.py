"""Camera backends, chosen by `type`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import Field

from edge.config.base import Section


class CameraRecoveryConfig(Section):
    """How a backend reopens a camera that stopped delivering frames (unplugged ribbon, USB reset)."""

    initial_s: float = Field(0.5, gt=0, le=60, description="Wait before the first reopen attempt.")
    max_s: float = Field(30.0, gt=0, le=3600, description="Longest wait between reopen attempts (doubling from initial_s).")
    fail_after: int = Field(5, ge=1, le=1000, description="Failed attempts after which the camera state becomes 'failed' (it keeps retrying).")


class Picamera2Config(Section):
    type: Literal["picamera2"] = "picamera2"
    camera_num: int = Field(0, ge=0, le=7, description="libcamera camera number (0 = first CSI camera).")
    width: int = Field(1280, ge=160, le=4608, description="Frame width delivered to the detector, pixels.")
    height: int = Field(960, ge=120, le=3456, description="Frame height delivered to the detector, pixels.")
    mode: Literal["preview", "still"] = Field("preview", description="'preview': continuous stream, 4 buffers, fast bursts; 'still': still-capture tuning, 2 buffers.")
    autofocus: bool = Field(True, description="Continuous autofocus when the camera supports it (Camera Module 3); ignored on fixed-focus modules.")
    metering: Literal["centre", "spot", "matrix"] = Field("centre", description="Auto-exposure metering: 'centre' weights the claimant's face at the middle of the frame.")
    mains_hz: Literal[0, 50, 60] = Field(50, description="Mains frequency for flicker avoidance under fluorescent/LED lights (Indonesia: 50); 0 = off.")
    max_exposure_ms: float = Field(33.0, ge=1, le=1000, description="Longest exposure (frame duration) so a moving face stays sharp; gain rises instead.")
    recovery: CameraRecoveryConfig = Field(default_factory=CameraRecoveryConfig)


class V4l2Config(Section):
    type: Literal["v4l2"] = "v4l2"
    device: int = Field(0, ge=0, le=63, description="/dev/videoN index.")
    width: int = Field(1280, ge=160, le=4608)
    height: int = Field(720, ge=120, le=3456)
    recovery: CameraRecoveryConfig = Field(default_factory=CameraRecoveryConfig)


class FolderCameraConfig(Section):
    type: Literal["folder"] = "folder"
    path: Path = Field(..., description="Folder of images (or a video file) served as frames, in name order (simulator).")
    loop: bool = Field(True, description="Start again from the first frame after the last.")
    degradations: list[Literal["blur", "dark", "noise", "occlusion", "second_face", "printed_photo", "screen_replay", "cutout_mask"]] = Field(
        default_factory=list, description="Simulated capture problems applied to every frame (simulator/degrade.py).")
    seed: int = Field(0, ge=0, description="Seed for the degradations: the same seed gives the same frames.")


CameraConfig = Annotated[Union[Picamera2Config, V4l2Config, FolderCameraConfig], Field(discriminator="type")]
