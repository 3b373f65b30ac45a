"""The face systems compared, behind one small interface: open with a thread count, embed an RGB image.

Every system picks the face nearest the image centre among faces at least half the size of the
largest (the dataset's labelled person; the same rule as Tepat's ``choose_face``), so all of them
answer the same question for each photo.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

import numpy as np

logger = logging.getLogger(__name__)

SYSTEMS = ("tepat-int8", "tepat-fp32", "opencv-sface", "face_recognition", "deepface")
LABELS = {
    "tepat-int8": "Tepat int8 (YuNet + SFace int8, TFLite)",
    "tepat-fp32": "Tepat fp32 (YuNet + SFace fp32, TFLite)",
    "opencv-sface": "OpenCV YuNet + SFace (cv2.FaceDetectorYN / FaceRecognizerSF, ONNX)",
    "face_recognition": "face_recognition 1.3 (dlib HOG + ResNet, 5-point)",
    "deepface": "DeepFace",
}


class Unavailable(Exception):
    """The system cannot run here (package not installed, weights not available offline)."""


class FaceSystem(Protocol):
    name: str
    metric: str  # "cosine" (unit embeddings) or "l2" (Euclidean distance)

    def embed(self, rgb: np.ndarray) -> np.ndarray | None: ...

    def model_files(self) -> list[Path]: ...


def central_index(boxes_xywh: np.ndarray, shape: tuple[int, ...]) -> int | None:
    """Index of the box nearest the image centre among boxes at least half the size of the largest."""
    if len(boxes_xywh) == 0:
        return None
    b = np.asarray(boxes_xywh, np.float64).reshape(-1, 4)
    size = np.sqrt(np.maximum(b[:, 2], 0) * np.maximum(b[:, 3], 0))
    cx, cy = b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2
    d = (cx - shape[1] / 2) ** 2 + (cy - shape[0] / 2) ** 2
    d[size < 0.5 * size.max()] = np.inf
    return int(np.argmin(d))


class TepatSystem:
    metric = "cosine"

    def __init__(self, variant: str, threads: int) -> None:
        from edge.config.face import FaceConfig
        from edge.face.pipeline import FacePipeline

        self.name = f"tepat-{variant}"
        self.cfg = FaceConfig(threads=threads, embedder=variant)
        self.pipe = FacePipeline.from_config(self.cfg, embedder=variant, require_calibration=False)

    def embed(self, rgb: np.ndarray) -> np.ndarray | None:
        return self.pipe.analyse(rgb, gate=False).embedding

    def model_files(self) -> list[Path]:
        from edge.face.detect import DETECTOR_MODELS
        from edge.face.embed import TFLITE_MODELS
        from edge.face.models import load_manifest, model_path

        man = load_manifest(self.cfg.models_dir)
        names = [DETECTOR_MODELS[self.cfg.detector], TFLITE_MODELS[self.cfg.embedder]]
        return [model_path(self.cfg.models_dir, man.entry(n)) for n in names]


class OpenCVSFace:
    """OpenCV's reference pipeline as in its samples: YuNet (score 0.9, NMS 0.3) → alignCrop → SFace."""

    name, metric = "opencv-sface", "cosine"

    def __init__(self, threads: int) -> None:
        import cv2

        from edge.face.models import find_source_onnx

        cv2.setNumThreads(threads)
        self.files = [find_source_onnx("yunet"), find_source_onnx("sface")]
        self.det = cv2.FaceDetectorYN.create(str(self.files[0]), "", (320, 320), 0.9, 0.3, 5000)
        self.rec = cv2.FaceRecognizerSF.create(str(self.files[1]), "")
        self.cv2 = cv2

    def embed(self, rgb: np.ndarray) -> np.ndarray | None:
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        self.det.setInputSize((bgr.shape[1], bgr.shape[0]))
        _, faces = self.det.detect(bgr)
        if faces is None or len(faces) == 0:
            return None
        k = central_index(faces[:, :4], bgr.shape)
        aligned = self.rec.alignCrop(bgr, faces[k])
        f = self.rec.feature(aligned).ravel().astype(np.float32)
        return f / np.linalg.norm(f)

    def model_files(self) -> list[Path]:
        return list(self.files)


class FaceRecognitionLib:
    """ageitgey face_recognition defaults: HOG detector (1 upsample), 5-point landmarks, 1 jitter; L2 distance."""

    name, metric = "face_recognition", "l2"

    def __init__(self, threads: int) -> None:
        try:
            import face_recognition
            import face_recognition_models as frm
        except ImportError as exc:
            raise Unavailable(f"face_recognition not installed ({exc}); pip install '.[bench]'") from None
        self.fr, self.frm = face_recognition, frm

    def embed(self, rgb: np.ndarray) -> np.ndarray | None:
        locs = self.fr.face_locations(rgb)  # (top, right, bottom, left)
        if not locs:
            return None
        xywh = np.array([(l, t, r - l, b - t) for t, r, b, l in locs], np.float64)
        k = central_index(xywh, rgb.shape)
        enc = self.fr.face_encodings(rgb, [locs[k]])
        return np.asarray(enc[0], np.float32) if enc else None

    def model_files(self) -> list[Path]:
        # The HOG detector is built into dlib (no file); encodings use the 5-point predictor + ResNet.
        return [Path(self.frm.pose_predictor_five_point_model_location()), Path(self.frm.face_recognition_model_location())]


def deepface_status() -> str:
    """Why DeepFace is or is not in the comparison (it fetches weights from GitHub at first use)."""
    try:
        import deepface  # noqa: F401
    except ImportError:
        return (
            "not run. DeepFace is not installed here: it needs TensorFlow + tf-keras (several hundred MB) in the venv, and it "
            "fetches each model's weights with gdown from github.com/serengil/deepface_models/releases into "
            "$DEEPFACE_HOME/.deepface/weights on first use (serengil/deepface issues #849, #1428). This machine reaches only "
            "package registries, so the weights cannot be loaded offline; the harness does not work around that."
        )
    import os

    weights = Path(os.environ.get("DEEPFACE_HOME", Path.home())) / ".deepface" / "weights"
    if not weights.is_dir() or not any(weights.iterdir()):
        return f"not run: DeepFace is installed but has no weights in {weights} and cannot download them offline (they come from GitHub releases, not PyPI)."
    return "installed with weights, but not wired into this harness yet."


def open_system(name: str, threads: int) -> FaceSystem:
    if name in ("tepat-int8", "tepat-fp32"):
        return TepatSystem(name.split("-", 1)[1], threads)
    if name == "opencv-sface":
        return OpenCVSFace(threads)
    if name == "face_recognition":
        return FaceRecognitionLib(threads)
    if name == "deepface":
        raise Unavailable(deepface_status())
    raise ValueError(f"unknown system {name!r}; choose from {', '.join(SYSTEMS)}")
