"""The quantized SFace embedder: equalize, convert, quantize with real faces, validate.

Recipe (docs/MODELS.md has every attempt and its numbers):
1. SFace ONNX without weight inputs -> fold BatchNorm into convs -> cross-layer range equalization
   (model_build.equalize), checked equal to the original in onnxruntime.
2. onnx2tf -> SavedModel.
3. TFLiteConverter post-training quantization with calibration faces (identities disjoint from the
   validation faces), int8 per-channel weights and int8 activations, float32 input/output. Ops kept in
   float32 (XNNPACK runs them in the same partition, with QUANTIZE/DEQUANTIZE around them):
   PRELU (XNNPACK has no int8 PReLU: int8 PRELU nodes each split the graph into a new partition),
   DEPTHWISE_CONV_2D (the largest accuracy gain per FLOP), the input SUB and the first conv. All pointwise
   convolutions (the bulk of the multiply-adds) and the final FULLY_CONNECTED run in int8.
4. Gates: exactly one XNNPACK partition and mean cosine to the fp32 ONNX >= MIN_MEAN_COSINE on
   held-out faces; speed against the fp32 TFLite is measured and recorded, not gated.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from edge.errors import ModelError

logger = logging.getLogger(__name__)

MIN_MEAN_COSINE = 0.995
EQUALIZE_ALPHA = 0.75
FLOAT_OPS = ["PRELU", "DEPTHWISE_CONV_2D", "SUB"]


def _converter(saved_model: Path, faces: np.ndarray):
    import tensorflow as tf

    def representative():
        for f in faces:
            yield [f[None].astype(np.float32)]

    conv = tf.lite.TFLiteConverter.from_saved_model(str(saved_model))
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    return conv


def _first_conv_name(saved_model: Path, faces: np.ndarray, work: Path) -> str:
    """Output tensor name of the first CONV_2D in a plain int8 conversion (names are per SavedModel)."""
    from ai_edge_litert.interpreter import Interpreter

    plain = work / "sface_plain_int8.tflite"
    plain.write_bytes(_converter(saved_model, faces[:32]).convert())
    it = Interpreter(str(plain))
    names = {t["index"]: t["name"] for t in it.get_tensor_details()}
    first = next(o for o in it._get_ops_details() if o["op_name"] == "CONV_2D")
    return names[first["outputs"][0]]


def quantize(saved_model: Path, faces: np.ndarray, work: Path) -> tuple[bytes, dict[str, Any]]:
    import tensorflow as tf

    first_conv = _first_conv_name(saved_model, faces, work)
    options = tf.lite.experimental.QuantizationDebugOptions(denylisted_ops=FLOAT_OPS, denylisted_nodes=[first_conv])

    def debug_data():
        for f in faces[:8]:
            yield [f[None].astype(np.float32)]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter deprecation notice inside the debugger
        dbg = tf.lite.experimental.QuantizationDebugger(
            converter=_converter(saved_model, faces), debug_dataset=debug_data, debug_options=options
        )
        model = dbg.get_nondebug_quantized_model()
    recipe = {
        "weights": "int8 per-channel (symmetric)",
        "activations": "int8 per-tensor (asymmetric), min/max calibration",
        "float32_ops": FLOAT_OPS + ["first CONV_2D"],
        "io": "float32 in/out (QUANTIZE/DEQUANTIZE inside the graph)",
        "equalization_alpha": EQUALIZE_ALPHA,
        "calibration_faces": int(len(faces)),
    }
    return model, recipe


def build(ctx, finish: Callable[..., dict[str, Any]], sface_fp32_file: Callable[..., tuple[Path, list[str], Path]]) -> dict[str, Any]:
    """The int8 SFace; ``sface_fp32_file(ctx)`` (from the build) gives the fp32 TFLite, its command and the clean ONNX."""
    from model_build import check, convert, specs
    from model_build.equalize import equalize

    fp32_tfl, _cmd, clean = sface_fp32_file(ctx)
    fp32_copy = ctx.work_dir / "sface_fp32_reference.tflite"
    fp32_copy.write_bytes(fp32_tfl.read_bytes())
    calib = ctx.faces("calibration")
    holdout = ctx.faces("holdout")
    eq = ctx.work_dir / "sface_equalized.onnx"
    pairs = equalize(clean, eq, calib, alpha=EQUALIZE_ALPHA)
    ref = check.sface_onnx_embeddings(clean, holdout[:16])
    got = check.sface_onnx_embeddings(eq, holdout[:16])
    if float(np.abs(ref - got).max()) > 1e-3:
        raise ModelError("equalized SFace graph differs from the original in float; refusing to quantize it")
    convert.write_onnx2tf_calibration(ctx.work_dir, calib)
    _tfl, cmd = convert.onnx2tf_fp32(eq, ctx.work_dir)
    saved_model = ctx.work_dir / f"tf_{eq.stem}"
    logger.info("quantizing SFace with %d calibration faces (takes about a minute)", len(calib))
    model, recipe = quantize(saved_model, calib, ctx.work_dir)
    out = ctx.work_dir / "sface_int8.tflite"
    out.write_bytes(model)

    meta = specs.sface("int8")
    meta["outputs"][0]["tensor"] = check.output_names(out)[0]  # the converter names it, e.g. PartitionedCall:0
    parts = check.delegate_partitions(out)
    if parts["partitions"] != 1:
        raise ModelError(f"int8 SFace runs as {parts['partitions']} XNNPACK partitions (outside: {parts['ops_outside_xnnpack']}); expected 1")
    ref_all = check.sface_onnx_embeddings(clean, holdout)
    cos = check.cosine_rows(check.tflite_run(out, holdout)[0], ref_all)
    stats = check.cosine_stats(cos)
    if stats["mean"] < MIN_MEAN_COSINE:
        raise ModelError(f"int8 SFace mean cosine to fp32 is {stats['mean']} on held-out faces, below {MIN_MEAN_COSINE}")
    speed = {}
    for threads in (1, 2):
        ms_fp32, ms_int8 = check.time_models([fp32_copy, out], threads)
        speed[f"{threads}_thread"] = {"fp32_ms": ms_fp32, "int8_ms": ms_int8, "speedup": round(ms_fp32 / ms_int8, 2)}
    logger.info("int8 SFace: cosine %s, XNNPACK partitions %d, speed %s", stats, parts["partitions"], speed)
    return finish(
        ctx,
        "sface_int8",
        out,
        meta,
        {
            "steps": [
                "remove initializers from graph inputs",
                f"fold BatchNorm into Conv; cross-layer range equalization of {pairs} conv pairs (alpha {EQUALIZE_ALPHA})",
                " ".join(cmd),
                "tf.lite.TFLiteConverter + QuantizationDebugger(denylisted ops) post-training quantization",
            ],
            "quantization": recipe,
            "tools": convert.tool_versions(),
            "validation": {
                "cosine_vs_onnx_fp32_heldout_identities": stats,
                "xnnpack": parts,
                "speed_median_ms_this_build_machine": speed,
            },
        },
    )
