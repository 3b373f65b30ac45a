"""`edge bench`: per-stage latency of the face pipeline, 1:N search speed and peak memory."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edge.commands.common import config_from_args, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="benchmark the face pipeline stages and 1:N search",
        description="Median latency per stage (decode, detect, quality, align, embed, match) over real photos (the shared "
                    "dataset, or --images DIR), 1:N search over 1k/10k/100k/1M synthetic templates, and peak RSS. JSON on stdout.",
    )
    p.add_argument("--embedder", choices=["int8", "fp32", "onnx-reference"], default="fp32")
    p.add_argument("--detector", choices=["yunet", "blazeface"], help="default: face.detector")
    p.add_argument("--threads", type=int, help="interpreter threads (default: face.threads)")
    p.add_argument("--images", type=Path, metavar="DIR", help="folder of photos (default: ../shared/datasets/faces)")
    p.add_argument("--runs", type=int, default=50, metavar="N", help="photos to time (default 50)")
    p.add_argument("--sizes", default="1000,10000,100000,1000000", metavar="LIST", help="gallery sizes for 1:N search")
    p.add_argument("--json", type=Path, metavar="OUT", help="also write the result here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edge.errors import EdgeError
    from benchmarks.face_pipeline import run_bench

    cfg = config_from_args(args).face
    if args.threads:
        cfg = cfg.model_copy(update={"threads": args.threads})
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        raise EdgeError(f"--sizes {args.sizes!r}: expected comma-separated integers") from None
    result = run_bench(cfg, embedder=args.embedder, detector=args.detector or cfg.detector, images=args.images, runs=args.runs, sizes=sizes)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print_json(result)
    return 0
