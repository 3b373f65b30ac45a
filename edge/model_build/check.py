"""Numerical and speed checks of built models against their ONNX sources."""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def ort_session(onnx_path: Path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # the SFace ONNX lists weights as inputs: silence that warning
    return ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])


def tflite_run(tflite: Path, batch: np.ndarray, threads: int = 2, output_tensors: list[str] | None = None) -> list[np.ndarray]:
    """Run a .tflite over a batch of single inputs (float32 API); returns one stacked array per output."""
    from edge.face.models import TfliteModel
    from edge.model_build.sources import sha256_of

    model = TfliteModel(tflite, sha256=sha256_of(tflite), threads=threads, name=tflite.stem, output_tensors=output_tensors)
    outs = [model(x[None]) for x in batch]
    return [np.concatenate([o[i] for o in outs]) for i in range(len(outs[0]))]


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.sum(a * b, axis=1)


def sface_onnx_embeddings(onnx_path: Path, faces_rgb: np.ndarray) -> np.ndarray:
    sess = ort_session(onnx_path)
    return np.concatenate([sess.run(None, {"data": f.transpose(2, 0, 1)[None].astype(np.float32)})[0] for f in faces_rgb])


def cosine_stats(cos: np.ndarray) -> dict[str, float]:
    return {
        "n": int(len(cos)),
        "mean": round(float(np.mean(cos)), 5),
        "min": round(float(np.min(cos)), 5),
        "p01": round(float(np.percentile(cos, 1)), 5),
    }


def letterbox_bgr(img: np.ndarray, size: int) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    s = size / max(h, w)
    r = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))))
    out = np.zeros((size, size, 3), np.uint8)
    out[: r.shape[0], : r.shape[1]] = r
    return out


_PART_RE = re.compile(r"Replacing (\d+) out of (\d+) node\(s\) with delegate \((\w+)\) node, yielding (\d+) partitions")

_PROBE = r"""
import sys
from ai_edge_litert.interpreter import Interpreter
it = Interpreter(sys.argv[1], num_threads=1)
it.allocate_tensors()
from collections import Counter
print("OPS", dict(Counter(o["op_name"] for o in it._get_ops_details() if o["op_name"] != "DELEGATE")))
"""


def delegate_partitions(tflite: Path) -> dict[str, object]:
    """How XNNPACK takes the graph: delegated nodes, partitions (from the runtime's own log line)."""
    res = subprocess.run([sys.executable, "-c", _PROBE, str(tflite)], capture_output=True, text=True)
    text = res.stderr + res.stdout
    m = _PART_RE.search(text)
    ops = {}
    for line in res.stdout.splitlines():
        if line.startswith("OPS "):
            ops = eval(line[4:], {})  # noqa: S307 - our own probe's dict literal
    if m:
        return {"delegated_nodes": int(m.group(1)), "nodes": int(m.group(2)), "partitions": int(m.group(4)), "ops": ops}
    # Fully delegated graphs may not log the line; then every node went to XNNPACK.
    total = sum(ops.values())
    return {"delegated_nodes": total, "nodes": total, "partitions": 1 if total else 0, "ops": ops, "log": "no partial-delegation line"}


def time_model(tflite: Path, threads: int, runs: int = 60, warmup: int = 10) -> float:
    """Median milliseconds per invoke (random input), after warm-up."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(str(tflite), num_threads=threads)
    it.allocate_tensors()
    inp = it.get_input_details()[0]
    x = (np.random.default_rng(0).random(inp["shape"]) * 255).astype(np.float32)
    if inp["dtype"] != np.float32:
        scale, zero = inp["quantization"]
        x = np.clip(np.round(x / scale + zero), -128, 127).astype(inp["dtype"])
    it.set_tensor(inp["index"], x)
    for _ in range(warmup):
        it.invoke()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        it.invoke()
        times.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(times), 2)
