"""ONNX graph preparation and onnx2tf conversion (needs the ``[models]`` extra)."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from edge.errors import ModelError

logger = logging.getLogger(__name__)

ONNX2TF_CALIB = "calibration_image_sample_data_20x128x128x3_float32.npy"


def prepare_yunet(src: Path, dst: Path, size: int = 320) -> Path:
    """The YuNet ONNX with a fixed 1x3xSIZExSIZE input (its reshapes are size-independent)."""
    import onnx
    from onnx import shape_inference

    m = onnx.load(str(src))
    dims = m.graph.input[0].type.tensor_type.shape.dim
    old = dims[2].dim_value
    dims[2].dim_value = size
    dims[3].dim_value = size
    factor = (old // size) ** 2
    for o in m.graph.output:
        od = o.type.tensor_type.shape.dim
        od[1].dim_value = od[1].dim_value // factor
    del m.graph.value_info[:]
    m = shape_inference.infer_shapes(m)
    onnx.checker.check_model(m)
    onnx.save(m, str(dst))
    return dst


def prepare_sface(src: Path, dst: Path) -> Path:
    """The SFace ONNX without its weights listed as graph inputs (old exporter quirk)."""
    import onnx

    m = onnx.load(str(src))
    inits = {i.name for i in m.graph.initializer}
    keep = [i for i in m.graph.input if i.name not in inits]
    del m.graph.input[:]
    m.graph.input.extend(keep)
    onnx.checker.check_model(m)
    onnx.save(m, str(dst))
    return dst


def write_onnx2tf_calibration(workdir: Path, faces_rgb: np.ndarray) -> Path:
    """onnx2tf downloads a sample image file from the internet unless this file exists: give it real faces."""
    import cv2

    if len(faces_rgb) == 0:
        raise ModelError("no aligned faces available to write onnx2tf's calibration sample")
    idx = np.resize(np.arange(len(faces_rgb)), 20)
    sample = np.stack([cv2.resize(faces_rgb[i], (128, 128)) for i in idx]) / 255.0
    path = workdir / ONNX2TF_CALIB
    np.save(path, sample.astype(np.float32))
    return path


def onnx2tf_fp32(onnx_path: Path, workdir: Path, extra_args: list[str] | None = None) -> tuple[Path, list[str]]:
    """Run onnx2tf (in ``workdir``); returns the fp32 .tflite and the command used."""
    out = workdir / f"tf_{onnx_path.stem}"
    if out.exists():
        shutil.rmtree(out)
    cmd = [sys.executable, "-m", "onnx2tf", "-i", str(onnx_path), "-o", str(out), "-coion", "-osd", "-v", "error", *(extra_args or [])]
    logger.info("converting %s with onnx2tf (takes about half a minute)", onnx_path.name)
    res = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True)
    tfl = out / f"{onnx_path.stem}_float32.tflite"
    if res.returncode != 0 or not tfl.exists():
        tail = "\n".join((res.stderr or res.stdout).strip().splitlines()[-5:])
        raise ModelError(f"onnx2tf failed on {onnx_path.name} (exit {res.returncode}): {tail}")
    shown = ["onnx2tf", *cmd[3:]]
    shown[shown.index("-i") + 1] = onnx_path.name
    shown[shown.index("-o") + 1] = out.name
    return tfl, shown


def tool_versions() -> dict[str, str]:
    import importlib.metadata as md

    vers = {"python": sys.version.split()[0]}
    for pkg in ("onnx2tf", "tensorflow", "onnx", "onnxruntime", "ai-edge-litert", "opencv-python-headless", "numpy"):
        try:
            vers[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return vers
