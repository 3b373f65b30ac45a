"""Build the MiniFASNet presentation-attack (liveness) models as TFLite files.

Steps: find the upstream PyTorch weights (download cache, ``$TEPAT_SHARED/models``,
``../shared/models``, else download from GitHub at a pinned commit) and verify their sha256;
rebuild the network in PyTorch and load the state_dict; export ONNX (fixed 1x3x80x80);
convert with onnx2tf to TFLite fp32 (NHWC 1x80x80x3 in, 1x3 logits out); check the TFLite
output against PyTorch on real-looking and random inputs; record the model in
``models/manifest.json`` (read-modify-write that keeps every other entry).

The network below re-implements ``src/model_lib/MiniFASNet.py`` of
minivision-ai/Silent-Face-Anti-Spoofing (Copyright Minivision, Apache-2.0), keeping its
layer names so the upstream state_dicts load unchanged. Needs the ``[models]`` and
``[liveness-build]`` extras (torch 2.13.0, CPU wheel).

Run: ``python -m model_build.liveness [--only NAME] [--out models] [--keep-onnx] [--variants DIR]``.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.errors import ModelError
from model_build.manifest_io import update_entries
from model_build.sources import cache_dir, sha256_of
from edge.paths import shared_models_dir

logger = logging.getLogger(__name__)

UPSTREAM_REPO = "minivision-ai/Silent-Face-Anti-Spoofing"
UPSTREAM_COMMIT = "b6d5f04ad78778917853b25c778acef6d5626d15"
ROOT = Path(__file__).resolve().parents[1]

# Channel widths per layer, from upstream keep_dict ('1.8M' = V1/V1SE, '1.8M_' = V2).
KEEP = {
    "1.8M": [32, 32, 103, 103, 64, 13, 13, 64, 26, 26, 64, 13, 13, 64, 52, 52, 64, 231, 231, 128,
             154, 154, 128, 52, 52, 128, 26, 26, 128, 52, 52, 128, 26, 26, 128, 26, 26, 128, 308, 308,
             128, 26, 26, 128, 26, 26, 128, 512, 512],
    "1.8M_": [32, 32, 103, 103, 64, 13, 13, 64, 13, 13, 64, 13, 13, 64, 13, 13, 64, 231, 231, 128,
              231, 231, 128, 52, 52, 128, 26, 26, 128, 77, 77, 128, 26, 26, 128, 26, 26, 128, 308, 308,
              128, 26, 26, 128, 26, 26, 128, 512, 512],
}


@dataclass(frozen=True)
class LivenessSpec:
    name: str  # manifest name
    weights: str  # upstream file name
    sha256: str
    variant: str  # MiniFASNetV2 | MiniFASNetV1SE
    scale: float  # face box enlargement the model was trained with

    @property
    def url(self) -> str:
        return (f"https://raw.githubusercontent.com/{UPSTREAM_REPO}/{UPSTREAM_COMMIT}"
                f"/resources/anti_spoof_models/{self.weights}")

    @property
    def tflite(self) -> str:
        return f"{self.name}_fp32.tflite"


SPECS = (
    LivenessSpec("minifasnet_v2", "2.7_80x80_MiniFASNetV2.pth",
                 "a5eb02e1843f19b5386b953cc4c9f011c3f985d0ee2bb9819eea9a142099bec0", "MiniFASNetV2", 2.7),
    LivenessSpec("minifasnet_v1se", "4_0_0_80x80_MiniFASNetV1SE.pth",
                 "84ee1d37d96894d5e82de5a57df044ef80a58be2b218b5ed7cdfd875ec2f5990", "MiniFASNetV1SE", 4.0),
)


def find_weights(spec: LivenessSpec) -> Path:
    """A verified local copy of the upstream weights, downloading into the cache if needed."""
    cache = cache_dir() / "sources"
    for folder in [shared_models_dir(), cache]:
        path = folder / spec.weights
        if path.is_file():
            got = sha256_of(path)
            if got == spec.sha256:
                return path
            logger.warning("Ignoring %s: sha256 %s, expected %s", path, got, spec.sha256)
    cache.mkdir(parents=True, exist_ok=True)
    dest = cache / spec.weights
    logger.info("Downloading %s from %s", spec.weights, spec.url)
    try:
        with urllib.request.urlopen(spec.url, timeout=60) as resp, tempfile.NamedTemporaryFile(
                dir=cache, delete=False) as tmp:
            tmp.write(resp.read())
    except OSError as exc:
        raise ModelError(f"cannot get liveness weights {spec.weights}: download from {spec.url} failed ({exc}); "
                         f"put the file in {cache} or $TEPAT_SHARED/models") from exc
    got = sha256_of(Path(tmp.name))
    if got != spec.sha256:
        Path(tmp.name).unlink()
        raise ModelError(f"downloaded {spec.weights} has sha256 {got}, expected {spec.sha256}; not used")
    Path(tmp.name).replace(dest)
    return dest


def build_network(variant: str):  # noqa: C901 - one self-contained architecture definition
    """The upstream MiniFASNet as a torch module (eval mode, 80x80 input, 3 classes)."""
    import torch
    from torch import nn

    class ConvBlock(nn.Module):  # upstream Conv_block (prelu=True) / Linear_block (prelu=False)
        def __init__(self, cin, cout, k=1, s=1, p=0, groups=1, prelu=True):
            super().__init__()
            self.conv = nn.Conv2d(cin, cout, k, s, p, groups=groups, bias=False)
            self.bn = nn.BatchNorm2d(cout)
            self.prelu = nn.PReLU(cout) if prelu else None

        def forward(self, x):
            x = self.bn(self.conv(x))
            return self.prelu(x) if self.prelu is not None else x

    class SEModule(nn.Module):
        def __init__(self, ch, reduction):
            super().__init__()
            self.avg_pool = nn.AdaptiveAvgPool2d(1)
            self.fc1 = nn.Conv2d(ch, ch // reduction, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(ch // reduction)
            self.relu = nn.ReLU()
            self.fc2 = nn.Conv2d(ch // reduction, ch, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(ch)
            self.sigmoid = nn.Sigmoid()

        def forward(self, x):
            w = self.relu(self.bn1(self.fc1(self.avg_pool(x))))
            return x * self.sigmoid(self.bn2(self.fc2(w)))

    class DepthWise(nn.Module):  # upstream Depth_Wise / Depth_Wise_SE, channels keep[i..i+3]
        def __init__(self, keep, i, stride, residual, se=False):
            super().__init__()
            self.conv = ConvBlock(keep[i], keep[i + 1])
            self.conv_dw = ConvBlock(keep[i + 1], keep[i + 2], 3, stride, 1, groups=keep[i + 1])
            self.project = ConvBlock(keep[i + 2], keep[i + 3], prelu=False)
            self.residual = residual
            if se:
                self.se_module = SEModule(keep[i + 3], 4)
            self.se = se

        def forward(self, x):
            out = self.project(self.conv_dw(self.conv(x)))
            if not self.residual:
                return out
            return x + (self.se_module(out) if self.se else out)

    class Residual(nn.Module):
        def __init__(self, keep, i, blocks, se):
            super().__init__()
            self.model = nn.Sequential(*[DepthWise(keep, i + 3 * b, 1, True, se and b == blocks - 1)
                                         for b in range(blocks)])

        def forward(self, x):
            return self.model(x)

    class MiniFASNet(nn.Module):
        def __init__(self, keep, se):
            super().__init__()
            self.conv1 = ConvBlock(3, keep[0], 3, 2, 1)
            self.conv2_dw = ConvBlock(keep[0], keep[1], 3, 1, 1, groups=keep[1])
            self.conv_23 = DepthWise(keep, 1, 2, False)
            self.conv_3 = Residual(keep, 4, 4, se)
            self.conv_34 = DepthWise(keep, 16, 2, False)
            self.conv_4 = Residual(keep, 19, 6, se)
            self.conv_45 = DepthWise(keep, 37, 2, False)
            self.conv_5 = Residual(keep, 40, 2, se)
            self.conv_6_sep = ConvBlock(keep[46], keep[47])
            self.conv_6_dw = ConvBlock(keep[47], keep[48], 5, 1, 0, groups=keep[48], prelu=False)  # (80+15)//16
            self.linear = nn.Linear(512, 128, bias=False)
            self.bn = nn.BatchNorm1d(128)
            self.prob = nn.Linear(128, 3, bias=False)

        def forward(self, x):
            for layer in (self.conv1, self.conv2_dw, self.conv_23, self.conv_3, self.conv_34, self.conv_4,
                          self.conv_45, self.conv_5, self.conv_6_sep, self.conv_6_dw):
                x = layer(x)
            return self.prob(self.bn(self.linear(torch.flatten(x, 1))))  # dropout is identity in eval

    keep, se = {"MiniFASNetV1": ("1.8M", False), "MiniFASNetV2": ("1.8M_", False),
                "MiniFASNetV1SE": ("1.8M", True), "MiniFASNetV2SE": ("1.8M_", True)}[variant]
    return MiniFASNet(KEEP[keep], se).eval()


def load_network(spec: LivenessSpec, weights: Path):
    """The network with the upstream weights loaded (``module.`` prefixes stripped), strictly."""
    import torch

    state = torch.load(weights, map_location="cpu", weights_only=True)
    state = {k.removeprefix("module."): v for k, v in state.items()}
    net = build_network(spec.variant)
    net.load_state_dict(state, strict=True)
    return net


def export_onnx(net, path: Path) -> None:
    import torch

    with torch.no_grad():
        torch.onnx.export(net, (torch.zeros(1, 3, 80, 80),), str(path), input_names=["input"],
                          output_names=["logits"], opset_version=13, dynamo=False)


def convert_tflite(onnx_path: Path, work: Path, calib: np.ndarray | None = None) -> Path:
    """onnx2tf conversion in ``work``; returns the fp32 .tflite path.

    With ``calib`` (N x 80 x 80 x 3 BGR crops) it also writes the experimental quantised
    variants ``*_dynamic_range_quant.tflite`` and ``*_integer_quant.tflite`` (int8 inside,
    float32 in/out) beside it.
    """
    import onnx2tf

    # onnx2tf fetches a calibration sample from the internet unless this file is present;
    # real calibration data, when given, is passed explicitly below.
    np.save(work / "calibration_image_sample_data_20x128x128x3_float32.npy",
            np.zeros((20, 128, 128, 3), np.float32))
    quant = {}
    if calib is not None:
        np.save(work / "calib.npy", calib)
        quant = dict(output_dynamic_range_quantized_tflite=True, output_integer_quantized_tflite=True,
                     custom_input_op_name_np_data_path=[["input", str(work / "calib.npy"),
                                                         [[[[0.0, 0.0, 0.0]]]], [[[[1.0, 1.0, 1.0]]]]]],
                     input_quant_dtype="float32", output_quant_dtype="float32")
    cwd = os.getcwd()
    os.chdir(work)
    try:
        onnx2tf.convert(input_onnx_file_path=str(onnx_path), output_folder_path=str(work / "tf"),
                        copy_onnx_input_output_names_to_tflite=True, non_verbose=True, **quant)
    finally:
        os.chdir(cwd)
    return work / "tf" / f"{onnx_path.stem}_float32.tflite"


def output_tensor(tflite: Path) -> str:
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=str(tflite)).get_output_details()[0]["name"]


def write_variants(spec: LivenessSpec, tf_dir: Path, fp32_entry: dict, variants_dir: Path) -> None:
    """Copy the quantised variants into ``variants_dir/<variant>/`` each with its own manifest,
    so ``python -m model_build.liveness_eval --models DIR`` can measure them."""
    for variant in ("dynamic_range_quant", "integer_quant"):
        src = tf_dir / f"{spec.name}_{variant}.tflite"
        dest_dir = variants_dir / variant
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest = dest_dir / src.name
        dest.write_bytes(src.read_bytes())
        entry = {**fp32_entry, "file": dest.name, "sha256": sha256_of(dest), "size": dest.stat().st_size,
                 "outputs": [{**fp32_entry["outputs"][0], "tensor": output_tensor(dest)}]}
        entry["build"] = {**fp32_entry["build"], "variant": f"{variant} (experimental, not shipped)"}
        update_entries(dest_dir, {spec.name: entry})


def compare_tflite(net, tflite: Path, inputs_nchw: np.ndarray) -> float:
    """Largest absolute softmax difference between PyTorch and the TFLite file."""
    import torch
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(tflite), num_threads=1)
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    worst = 0.0
    for x in inputs_nchw:
        with torch.no_grad():
            ref = torch.softmax(net(torch.from_numpy(x[None])), 1).numpy()[0]
        interp.set_tensor(inp["index"], x.transpose(1, 2, 0)[None].astype(np.float32))
        interp.invoke()
        logits = interp.get_tensor(out["index"])[0]
        got = np.exp(logits - logits.max())
        worst = max(worst, float(np.abs(got / got.sum() - ref).max()))
    return worst


def manifest_entry(spec: LivenessSpec, tflite: Path, max_diff: float, probe: str) -> dict:
    import onnx2tf
    import tensorflow as tf
    import torch

    return {
        "name": spec.name, "file": tflite.name, "sha256": sha256_of(tflite), "size": tflite.stat().st_size,
        "kind": "liveness", "licence": "Apache-2.0",
        "source": {"repo": UPSTREAM_REPO, "commit": UPSTREAM_COMMIT,
                   "path": f"resources/anti_spoof_models/{spec.weights}", "sha256": spec.sha256, "url": spec.url},
        "inputs": [{"name": "input", "shape": [1, 80, 80, 3], "dtype": "float32", "layout": "NHWC",
                    "colour": "BGR", "range": "0..255"}],
        "outputs": [{"name": "logits", "tensor": "Identity", "shape": [1, 3], "dtype": "float32",
                     "meaning": "class logits; softmax index 1 = real face, 0 and 2 = attack types"}],
        "preprocessing": (f"face box enlarged {spec.scale}x about its centre (scale reduced so the box fits "
                          "the frame, then shifted inside it, as upstream CropImage), resized to 80x80, BGR, "
                          "raw 0..255 (no /255, no mean/std)"),
        "build": {"command": "python -m model_build.liveness", "torch": torch.__version__,
                  "onnx2tf": onnx2tf.__version__, "tensorflow": tf.__version__,
                  "check": f"max |softmax diff| vs PyTorch = {max_diff:.2e} on {probe}"},
    }


NAMES = tuple(spec.name for spec in SPECS)


def require_torch() -> None:
    try:
        import torch  # noqa: F401
    except ImportError:
        raise ModelError("building the liveness models needs PyTorch: pip install -e '.[models,liveness-build]' "
                         "--extra-index-url https://download.pytorch.org/whl/cpu") from None


def build_one(name: str, out_dir: Path, keep_onnx: bool = False, variants_dir: Path | None = None) -> dict:
    """Build liveness model ``name`` into ``out_dir`` and record it in that folder's manifest.

    The fp32 model is checked against PyTorch on random inputs and, when ../shared/datasets is
    present, on real face crops. ``variants_dir`` also writes quantised variants there.
    Returns the manifest entry (the hook for ``edge models build``).
    """
    from model_build.liveness_eval import calibration_crops

    specs = {spec.name: spec for spec in SPECS}
    if name not in specs:
        raise ModelError(f"unknown liveness model {name!r}; choose from {', '.join(NAMES)}")
    spec = specs[name]
    require_torch()
    weights = find_weights(spec)
    logger.info("Building %s from %s", spec.name, weights)
    net = load_network(spec, weights)
    crops = calibration_crops(spec.scale)
    if crops is None:
        logger.warning("../shared/datasets not found: checking %s on random inputs only", spec.name)
        if variants_dir:
            raise ModelError("quantised variants need calibration crops from ../shared/datasets")
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        onnx_path = work / f"{spec.name}.onnx"
        export_onnx(net, onnx_path)
        tflite = convert_tflite(onnx_path, work, crops if variants_dir else None)
        probe = [rng.uniform(0, 255, (4, 3, 80, 80)), np.full((1, 3, 80, 80), 128.0)]
        if crops is not None:
            probe.append(crops[:: max(1, len(crops) // 20)].transpose(0, 3, 1, 2))
        diff = compare_tflite(net, tflite, np.concatenate(probe).astype(np.float32))
        if diff > 1e-3:
            raise ModelError(f"{spec.name}: TFLite differs from PyTorch by {diff:.3g} (softmax); not written")
        out_dir.mkdir(parents=True, exist_ok=True)
        dest = out_dir / spec.tflite
        dest.write_bytes(tflite.read_bytes())
        if keep_onnx:
            (out_dir / onnx_path.name).write_bytes(onnx_path.read_bytes())
        probe_desc = "5 random inputs" + (f" and {len(probe[-1])} real face crops" if crops is not None else "")
        entry = manifest_entry(spec, dest, diff, probe_desc)
        if variants_dir:
            write_variants(spec, tflite.parent, entry, variants_dir)
    update_entries(out_dir, {spec.name: entry})
    logger.info("%s: written %s (max softmax diff vs PyTorch %.2e)", spec.name, dest, diff)
    return entry


def build(out_dir: Path, keep_onnx: bool = False, variants_dir: Path | None = None) -> list[dict]:
    """Build every liveness model (see :func:`build_one`)."""
    return [build_one(name, out_dir, keep_onnx, variants_dir) for name in NAMES]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_build.liveness", description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=NAMES, action="append", help="build just this model (repeatable)")
    parser.add_argument("--out", type=Path, default=ROOT / "models", help="models folder (default: %(default)s)")
    parser.add_argument("--keep-onnx", action="store_true", help="also write the intermediate ONNX files")
    parser.add_argument("--variants", type=Path, metavar="DIR",
                        help="experiment: also write dynamic-range and int8 variants (calibrated on real crops) to DIR")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        for name in args.only or NAMES:
            build_one(name, args.out, args.keep_onnx, args.variants)
    except ModelError as exc:
        parser.exit(2, f"error: {exc}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
