"""Embedders: aligned 112×112 RGB face → L2-normalised 128-d template.

Variants: ``fp32`` / ``int8`` (TFLite, manifest models ``sface_fp32`` / ``sface_int8``) and
``onnx-reference`` (onnxruntime on the upstream SFace ONNX; evaluation only).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from edge.errors import ConfigError, ModelError

if TYPE_CHECKING:
    from edge.face.models import ModelEntry

logger = logging.getLogger(__name__)

TFLITE_MODELS = {"fp32": "sface_fp32", "int8": "sface_int8"}
VARIANTS = ("int8", "fp32", "onnx-reference")


class Embedder(Protocol):
    name: str
    sha256: str

    def embed(self, aligned_rgb_112: np.ndarray) -> np.ndarray: ...


def l2_normalise(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32).reshape(-1)
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


class TfliteEmbedder:
    """SFace on the TFLite runtime (NHWC RGB float 0..255)."""

    def __init__(self, model) -> None:  # noqa: ANN001 - a TfliteModel
        self.model = model
        self.name = model.name
        self.sha256 = model.sha256

    def embed(self, aligned_rgb_112: np.ndarray) -> np.ndarray:
        return l2_normalise(self.model(aligned_rgb_112.astype(np.float32)[None])[0])


class OnnxReferenceEmbedder:
    """The upstream SFace ONNX on onnxruntime (NCHW RGB 0..255, as OpenCV's FaceRecognizerSF feeds it)."""

    def __init__(self, path: Path, threads: int = 2) -> None:
        import onnxruntime as ort

        from edge.face.model_files import sha256_of

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(_constant_weights(path), sess_options=opts, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.name = "onnx-reference"
        self.sha256 = sha256_of(path)

    def embed(self, aligned_rgb_112: np.ndarray) -> np.ndarray:
        x = aligned_rgb_112.astype(np.float32).transpose(2, 0, 1)[None]
        return l2_normalise(self.session.run(None, {self.input_name: x})[0])


def _constant_weights(path: Path) -> bytes:
    """The ONNX model with its initializers removed from the graph inputs.

    The upstream SFace file lists every weight as a graph input too, which stops onnxruntime
    from folding BatchNorm into the convolutions (~10x slower); the computation is unchanged.
    """
    try:
        import onnx
    except ImportError:
        return Path(path).read_bytes()
    model = onnx.load(str(path))
    weights = {i.name for i in model.graph.initializer}
    keep = [i for i in model.graph.input if i.name not in weights]
    del model.graph.input[:]
    model.graph.input.extend(keep)
    return model.SerializeToString()


def configured_embedder(models_dir: Path, variant: str, *, fallback: bool = True) -> tuple[str, ModelEntry]:
    """The manifest name and entry of the TFLite embedder ``variant`` (``face.embedder``): the one place that maps a
    configured embedder to its model. With ``fallback``, int8 falls back to fp32 while int8 is not built."""
    if variant not in TFLITE_MODELS:
        raise ConfigError(f"unknown embedder {variant!r}; choose one of {', '.join(VARIANTS)}")
    from edge.face.models import load_manifest

    manifest = load_manifest(models_dir)
    name = TFLITE_MODELS[variant]
    if name not in manifest.models:
        if not (fallback and variant == "int8"):
            raise ModelError(f"embedder {variant!r} needs model {name!r}, which is not in {Path(models_dir) / 'manifest.json'} (build it with 'edge models build')")
        name = TFLITE_MODELS["fp32"]
    return name, manifest.entry(name)


def open_embedder(models_dir: Path, variant: str, *, threads: int = 2, fallback: bool = False) -> Embedder:
    """The embedder ``variant``. With ``fallback``, a missing int8 model falls back to fp32 with a warning."""
    if variant == "onnx-reference":
        from edge.face.models import find_source_onnx

        return OnnxReferenceEmbedder(find_source_onnx("sface"), threads=threads)
    from edge.face.models import open_model

    name, _entry = configured_embedder(models_dir, variant, fallback=fallback)
    if name != TFLITE_MODELS[variant]:
        logger.warning("int8 embedder %s is not built yet; using the fp32 embedder instead (slower, same accuracy)", TFLITE_MODELS[variant])
    return TfliteEmbedder(open_model(models_dir, name, threads=threads))
