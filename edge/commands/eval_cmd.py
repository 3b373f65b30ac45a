"""`edge eval`: accuracy of the face pipeline over a pairs file; optionally calibrates thresholds."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edge.commands.common import config_from_args, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="measure verification accuracy (TAR@FAR, EER) over a pairs CSV",
        description="Embed every image of a pairs CSV (path_a,path_b,same[,identity_a,identity_b]; paths relative to --root) "
                    "once, score the pairs and report TAR at FAR 1e-2/1e-3/1e-4/1e-5, EER, failure-to-enrol and score "
                    "distributions over all cross-identity image pairs (identity = the identity columns, else the folder), "
                    "and at_shipped_thresholds: the measured FAR and TAR at the thresholds in models/thresholds.json for 1:1 "
                    "and 1:N, on identities the calibration never saw. --write-thresholds calibrates on an identity-disjoint "
                    "split with a safety margin (docs/FACE.md). Progress on stderr, summary JSON on stdout.",
    )
    p.add_argument("--pairs", required=True, type=Path, metavar="CSV")
    p.add_argument("--root", required=True, type=Path, metavar="DIR", help="folder the CSV paths are relative to")
    p.add_argument("--embedder", choices=["int8", "fp32", "onnx-reference"], default="fp32")
    p.add_argument("--detector", choices=["yunet", "blazeface"], help="default: face.detector")
    p.add_argument("--json", type=Path, metavar="OUT", help="write the full report here")
    p.add_argument("--plot", type=Path, metavar="ROC.png", help="write a ROC curve + score histogram PNG")
    p.add_argument("--no-reference", action="store_true",
                   help="with a non-fp32 embedder, do not also embed every crop with the fp32 model (the report's "
                        "mean_cosine_to_fp32 stays empty); halves the time where fp32 is slow, e.g. under emulation")
    p.add_argument("--limit", type=int, metavar="N", help="use only the first N pairs (development)")
    p.add_argument("--embeddings", type=Path, metavar="OUT.npz",
                   help="also save every image's embedding (keyed by its CSV path) to compare runs, e.g. across CPU architectures")
    p.add_argument("--write-thresholds", action="store_true",
                   help="calibrate on the calibration half of the identities (+ safety margin) and store the thresholds for this "
                        "embedder in models/thresholds.json, with the split, the margin and the held-out check")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import logging
    from datetime import datetime, timezone

    from edge.errors import EdgeError
    from edge.face import thresholds as th
    from edge.face.detect import open_detector
    from edge.face.embed import open_embedder
    from edge.face.evaluate import at_shipped_thresholds, calibrate, evaluate, plot_roc
    from edge.face.pipeline import FacePipeline

    log = logging.getLogger("edge.face.eval")
    cfg = config_from_args(args).face
    if not args.root.is_dir():
        raise EdgeError(f"--root {args.root}: not a folder")
    if args.limit is not None and args.limit < 2:
        raise EdgeError("--limit must be at least 2")
    detector = open_detector(cfg.models_dir, args.detector or cfg.detector, score_threshold=cfg.detect_score, threads=cfg.threads)
    embedder = open_embedder(cfg.models_dir, args.embedder, threads=cfg.threads)
    reference = open_embedder(cfg.models_dir, "fp32", threads=cfg.threads) if args.embedder != "fp32" and not args.no_reference else None
    pipeline = FacePipeline(detector, embedder, cfg.quality)
    report, scores = evaluate(pipeline, args.pairs, args.root, limit=args.limit, reference=reference)
    if args.embeddings:
        import numpy as np

        args.embeddings.parent.mkdir(parents=True, exist_ok=True)
        with open(args.embeddings, "wb") as fh:
            np.savez(fh, **{path: vec for path, vec in scores["embeddings"].items()})
    if args.write_thresholds:
        if args.limit:
            log.warning("calibrating from only the first %d pairs (--limit); use the full file for the shipped thresholds", args.limit)
        cal = calibrate(scores)
        missing = [k for k in ("1e-3", "1e-4") if k not in cal["thresholds"]]
        if missing:
            raise EdgeError(f"{args.pairs}: too few calibration impostors to calibrate FAR {', '.join(missing)}; use a larger pairs file")
        entry = {
            "embedder": report["embedder"],
            "detector": report["detector"],
            **cal,
            "eer": report["eer"],
            "pairs_file": args.pairs.name,
            "pairs": report["pairs"],
            "identity_source": report["identity_source"],
            "failed_to_enrol": report["failed_to_enrol"],
            "calibrated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        path = th.write(cfg.models_dir, embedder.sha256, entry)
        log.info("thresholds for %s (%s) written to %s", embedder.name, embedder.sha256[:12], path)
    shipped = th.load(cfg.models_dir).get(embedder.sha256)
    if shipped:
        report["at_shipped_thresholds"] = at_shipped_thresholds(scores, shipped, cfg.far_1to1, cfg.far_1toN, cfg.margin_1toN)
    else:
        report["at_shipped_thresholds"] = None
        log.warning("embedder %s has no thresholds in models/thresholds.json: at_shipped_thresholds is empty", embedder.name)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if args.plot:
        plot_roc(scores, report, args.plot)
        log.info("ROC plot written to %s", args.plot)
    brief = {"at_shipped_thresholds": report["at_shipped_thresholds"]}
    brief |= {k: report[k] for k in ("embedder", "detector", "pairs", "pairs_scored", "failed_to_enrol", "eer", "tar_at_far", "thresholds", "tar_at_far_pairs_only", "mean_cosine_to_fp32")}
    brief["scores"] = {k: {m: v.get(m) for m in ("n", "mean", "std", "min", "max")} for k, v in report["scores"].items()}
    print_json(brief)
    return 0
