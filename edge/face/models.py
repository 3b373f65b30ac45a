"""Model files: the manifest, integrity checks and a small TFLite runner.

``models/manifest.json`` lists every model the device may load, with its sha256 and
its input/output contract. :func:`open_model` refuses a file whose hash differs from
the manifest, so a corrupted or swapped model never produces embeddings silently.

The TFLite runtime is imported lazily (``ai_edge_litert`` first, ``tflite_runtime``
as a fallback), so importing this module is cheap.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge.errors import ModelError
from edge.face.model_files import find_source, sha256_of

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
FIX_HINT = "run 'edge models build' to rebuild it, or restore the file from the release/git checkout"


class TensorSpec(BaseModel):
    """One input or output tensor of a model, as callers see it (always float32 at the API)."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(description="Meaning-bearing name callers use (e.g. the ONNX name: 'cls_8', 'fc1').")
    tensor: str | None = Field(None, description="Tensor name inside the .tflite file (may differ from `name`).")
    shape: list[int]
    dtype: str = "float32"
    layout: str | None = None
    description: str | None = None


class ModelEntry(BaseModel):
    """A manifest entry. Unknown keys are kept, so other tools can add fields safely."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    file: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    size: int = Field(ge=0)
    kind: str = Field(description="detector, embedder, liveness, ...")
    inputs: list[TensorSpec] = Field(default_factory=list)
    outputs: list[TensorSpec] = Field(default_factory=list)


class Manifest(BaseModel):
    model_config = ConfigDict(extra="allow")

    schema_version: int = 1
    models: dict[str, ModelEntry]

    def entry(self, name: str) -> ModelEntry:
        try:
            return self.models[name]
        except KeyError:
            raise ModelError(f"model {name!r} is not in the manifest; known models: {', '.join(sorted(self.models))}") from None


def load_manifest(models_dir: Path) -> Manifest:
    """Parse ``models_dir/manifest.json``; a missing or malformed file raises ModelError."""
    path = Path(models_dir) / MANIFEST_NAME
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"model manifest {path} not found; point face.models_dir at the folder holding manifest.json") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"model manifest {path} is unreadable: {exc}") from None
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ModelError(f"model manifest {path} is invalid at {where}: {err['msg']}") from None


def _interpreter_class() -> Any:
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter
    except ImportError:
        pass
    try:
        from tflite_runtime.interpreter import Interpreter  # type: ignore[import-not-found]

        return Interpreter
    except ImportError:
        raise ModelError("no TFLite runtime installed: pip install ai-edge-litert (or tflite-runtime)") from None


class TfliteModel:
    """A verified .tflite file with float32 in / float32 out calls.

    ``output_tensors`` names the .tflite output tensors in the order ``__call__`` returns
    them (the manifest's documented order); by default, the interpreter's order.
    Quantized (int8/uint8) inputs and outputs are (de)quantized here. Calls are serialised
    with a lock: one interpreter is not safe to use from two threads at once.
    """

    def __init__(
        self,
        path: Path,
        *,
        sha256: str,
        threads: int = 2,
        name: str,
        output_tensors: Sequence[str] | None = None,
    ) -> None:
        self.name = name
        self.path = Path(path)
        self.sha256 = sha256
        try:
            content = self.path.read_bytes()
        except FileNotFoundError:
            raise ModelError(f"model {name!r}: file {self.path} is missing; {FIX_HINT}") from None
        except OSError as exc:
            raise ModelError(f"model {name!r}: cannot read {self.path}: {exc.strerror}") from None
        got = hashlib.sha256(content).hexdigest()
        if got != sha256:
            raise ModelError(
                f"model {name!r}: {self.path} has sha256 {got} but the manifest expects {sha256} "
                f"(corrupted or replaced file); {FIX_HINT}"
            )
        interpreter_cls = _interpreter_class()
        try:
            self._interp = interpreter_cls(model_content=content, num_threads=threads)
            self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"model {name!r}: {self.path} could not be loaded by the TFLite runtime: {exc}") from None
        self.input_details: list[dict[str, Any]] = self._interp.get_input_details()
        details = self._interp.get_output_details()
        if output_tensors:
            by_name = {d["name"]: d for d in details}
            missing = [t for t in output_tensors if t not in by_name]
            if missing:
                raise ModelError(
                    f"model {name!r}: {self.path} has no output tensor(s) {missing} documented in the manifest "
                    f"(it has {sorted(by_name)}); {FIX_HINT}"
                )
            details = [by_name[t] for t in output_tensors]
        self.output_details: list[dict[str, Any]] = details
        self._lock = threading.Lock()
        logger.debug("loaded model %s from %s (%d threads)", name, self.path, threads)

    def __call__(self, *inputs: np.ndarray) -> list[np.ndarray]:
        if self._interp is None:
            raise ModelError(f"model {self.name!r} was closed; open it again with open_model()")
        if len(inputs) != len(self.input_details):
            raise ValueError(f"model {self.name!r} takes {len(self.input_details)} input(s), got {len(inputs)}")
        with self._lock:
            for arr, det in zip(inputs, self.input_details):
                self._interp.set_tensor(det["index"], _to_input(np.asarray(arr), det, self.name))
            self._interp.invoke()
            return [_from_output(self._interp.get_tensor(d["index"]), d) for d in self.output_details]

    def close(self) -> None:
        """Release the interpreter (its memory is freed once no call is running)."""
        with self._lock:
            self._interp = None

    def __enter__(self) -> TfliteModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TfliteModel(name={self.name!r}, path={str(self.path)!r})"


def _to_input(arr: np.ndarray, det: dict[str, Any], name: str) -> np.ndarray:
    shape = tuple(int(s) for s in det["shape"])
    if arr.shape != shape:
        if shape and shape[0] == 1 and arr.shape == shape[1:]:
            arr = arr[None]
        else:
            raise ValueError(f"model {name!r} input {det['name']!r} expects shape {shape}, got {arr.shape}")
    dtype = det["dtype"]
    if dtype in (np.int8, np.uint8):
        scale, zero = det["quantization"]
        info = np.iinfo(dtype)
        q = np.round(arr.astype(np.float32) / scale + zero)
        return np.clip(q, info.min, info.max).astype(dtype)
    return arr.astype(dtype, copy=False)


def _from_output(out: np.ndarray, det: dict[str, Any]) -> np.ndarray:
    if det["dtype"] in (np.int8, np.uint8):
        scale, zero = det["quantization"]
        return (out.astype(np.float32) - zero) * scale
    return out.astype(np.float32, copy=True)


def model_path(models_dir: Path, entry: ModelEntry) -> Path:
    return Path(models_dir) / entry.file


def open_model(models_dir: Path, name: str, threads: int = 2) -> TfliteModel:
    """Load manifest model ``name`` from ``models_dir``, verifying its sha256 first."""
    entry = load_manifest(models_dir).entry(name)
    tensors = [o.tensor or o.name for o in entry.outputs] or None
    return TfliteModel(model_path(models_dir, entry), sha256=entry.sha256, threads=threads, name=name, output_tensors=tensors)


def verify_file(models_dir: Path, name: str, entry: ModelEntry) -> str | None:
    """None when the file matches the manifest, else a one-line reason."""
    path = model_path(models_dir, entry)
    if not path.is_file():
        return f"model {name!r}: file {path} is missing"
    got = sha256_of(path)
    if got != entry.sha256:
        return f"model {name!r}: {path} has sha256 {got}, manifest expects {entry.sha256}"
    return None


def find_source_onnx(name: str) -> Path:
    """Verified upstream source model (e.g. 'sface' or 'face_recognition_sface_2021dec.onnx').

    Looks in ``$TEPAT_SHARED/models``, ``../shared/models`` beside the repo, then the build's
    download cache; raises ModelError naming where it looked when absent or altered.
    """
    return find_source(name)
