"""Camera backends, chosen by `type`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import Field

from edge.config.base import Section


class Picamera2Config(Section):
    type: Literal["picamera2"] = "picamera2"
    camera_num: int = Field(0, ge=0, le=7)
    width: int = Field(1280, ge=160, le=4608)
    height: int = Field(960, ge=120, le=3456)


class V4l2Config(Section):
    type: Literal["v4l2"] = "v4l2"
    device: int = Field(0, ge=0, le=63, description="/dev/videoN index.")
    width: int = Field(1280, ge=160, le=4608)
    height: int = Field(720, ge=120, le=3456)


class FolderCameraConfig(Section):
    type: Literal["folder"] = "folder"
    path: Path = Field(..., description="Folder of images served as frames, in name order.")
    loop: bool = Field(True)


CameraConfig = Annotated[Union[Picamera2Config, V4l2Config, FolderCameraConfig], Field(discriminator="type")]
