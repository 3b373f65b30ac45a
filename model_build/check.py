"""Numerical and speed checks of built models against their ONNX sources."""

from __future__ import annotations

import statistics
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
    from model_build.sources import sha256_of

    model = TfliteModel(tflite, sha256=sha256_of(tflite), threads=threads, name=tflite.stem, output_tensors=output_tensors)
    outs = [model(x[None]) for x in batch]
    return [np.concatenate([o[i] for o in outs]) for i in range(len(outs[0]))]


def output_names(tflite: Path) -> list[str]:
    from ai_edge_litert.interpreter import Interpreter

    return [d["name"] for d in Interpreter(str(tflite)).get_output_details()]


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


def delegate_partitions(tflite: Path) -> dict[str, object]:
    """How XNNPACK takes the graph: number of delegate partitions and the ops left outside it.

    After delegation the interpreter lists one DELEGATE node per partition. An original node runs
    outside XNNPACK when its outputs are not produced by a partition but are consumed by one (or are
    graph outputs).
    """
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(str(tflite), num_threads=1)
    it.allocate_tensors()
    ops = it._get_ops_details()
    dels = [o for o in ops if o["op_name"] == "DELEGATE"]
    made = {t for d in dels for t in d["outputs"]}
    used = {t for d in dels for t in d["inputs"]} | {d["index"] for d in it.get_output_details()}
    dtype = {t["index"]: t["dtype"].__name__ for t in it.get_tensor_details()}
    outside: dict[str, int] = {}
    for o in ops:
        outs = set(o["outputs"])
        if o["op_name"] != "DELEGATE" and outs and not outs & made and outs <= used:
            key = f"{o['op_name']}:{dtype[o['outputs'][0]]}"
            outside[key] = outside.get(key, 0) + 1
    nodes = len(ops) - len(dels)
    return {"partitions": len(dels), "nodes": nodes, "ops_outside_xnnpack": outside}


def time_models(tflites: list[Path], threads: int, rounds: int = 20, per_round: int = 5, warmup: int = 10) -> list[float]:
    """Median milliseconds per invoke for each model, measured interleaved (A,B,A,B...) after warm-up.

    Interleaving keeps the comparison fair on a machine whose load changes while measuring.
    ``rounds * per_round`` timed invokes per model (default 100).
    """
    from ai_edge_litert.interpreter import Interpreter

    interps = []
    for path in tflites:
        it = Interpreter(str(path), num_threads=threads)
        it.allocate_tensors()
        inp = it.get_input_details()[0]
        x = (np.random.default_rng(0).random(inp["shape"]) * 255).astype(np.float32)
        if inp["dtype"] != np.float32:
            scale, zero = inp["quantization"]
            x = np.clip(np.round(x / scale + zero), -128, 127).astype(inp["dtype"])
        it.set_tensor(inp["index"], x)
        for _ in range(warmup):
            it.invoke()
        interps.append(it)
    times: list[list[float]] = [[] for _ in interps]
    for _ in range(rounds):
        for i, it in enumerate(interps):
            for _ in range(per_round):
                t = time.perf_counter()
                it.invoke()
                times[i].append((time.perf_counter() - t) * 1000)
    return [round(statistics.median(t), 2) for t in times]
