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
        description="Embed every image of a pairs CSV (path_a,path_b,same; paths relative to --root) once, score the pairs "
                    "and report TAR at FAR 1e-2/1e-3/1e-4/1e-5, EER, failure-to-enrol and score distributions. Thresholds "
                    "use all cross-identity image pairs as impostors (the file's own impostor pairs are too few for 1e-4); "
                    "pairs-only figures are reported too. Progress on stderr, summary JSON on stdout.",
    )
    p.add_argument("--pairs", required=True, type=Path, metavar="CSV")
    p.add_argument("--root", required=True, type=Path, metavar="DIR", help="folder the CSV paths are relative to")
    p.add_argument("--embedder", choices=["int8", "fp32", "onnx-reference"], default="fp32")
    p.add_argument("--detector", choices=["yunet", "blazeface"], help="default: face.detector")
    p.add_argument("--json", type=Path, metavar="OUT", help="write the full report here")
    p.add_argument("--plot", type=Path, metavar="ROC.png", help="write a ROC curve + score histogram PNG")
    p.add_argument("--limit", type=int, metavar="N", help="use only the first N pairs (development)")
    p.add_argument("--embeddings", type=Path, metavar="OUT.npz",
                   help="also save every image's embedding (keyed by its CSV path) to compare runs, e.g. across CPU architectures")
    p.add_argument("--write-thresholds", action="store_true", help="store the calibrated thresholds for this embedder in models/thresholds.json")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import logging
    from datetime import datetime, timezone

    from edge.errors import EdgeError
    from edge.face import thresholds as th
    from edge.face.detect import open_detector
    from edge.face.embed import open_embedder
    from edge.face.evaluate import evaluate, plot_roc
    from edge.face.pipeline import FacePipeline

    log = logging.getLogger("edge.face.eval")
    cfg = config_from_args(args).face
    if not args.root.is_dir():
        raise EdgeError(f"--root {args.root}: not a folder")
    if args.limit is not None and args.limit < 2:
        raise EdgeError("--limit must be at least 2")
    detector = open_detector(cfg.models_dir, args.detector or cfg.detector, score_threshold=cfg.detect_score, threads=cfg.threads)
    embedder = open_embedder(cfg.models_dir, args.embedder, threads=cfg.threads)
    reference = open_embedder(cfg.models_dir, "fp32", threads=cfg.threads) if args.embedder != "fp32" else None
    pipeline = FacePipeline(detector, embedder, cfg.quality)
    report, scores = evaluate(pipeline, args.pairs, args.root, limit=args.limit, reference=reference)
    calibrated = th.load(cfg.models_dir).get(embedder.sha256)
    if calibrated and not args.write_thresholds:
        report["at_calibrated_thresholds"] = at_thresholds(scores, calibrated)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if args.embeddings:
        import numpy as np

        args.embeddings.parent.mkdir(parents=True, exist_ok=True)
        with open(args.embeddings, "wb") as fh:
            np.savez(fh, **{path: vec for path, vec in scores["embeddings"].items()})
    if args.write_thresholds:
        if args.limit:
            log.warning("calibrating from only the first %d pairs (--limit); use the full file for the shipped thresholds", args.limit)
        entry = {
            "embedder": report["embedder"],
            "detector": report["detector"],
            "thresholds": {k: v for k, v in report["thresholds"].items() if v is not None},
            "eer": report["eer"],
            "tar_at_far": report["tar_at_far"],
            "pairs_file": args.pairs.name,
            "pairs": report["pairs"],
            "genuine_pairs": report["scores"]["genuine"]["n"],
            "impostor_pairs": report["impostor_set"]["pairs_file"],
            "cross_identity_impostors": report["impostor_set"]["cross_identity"],
            "failed_to_enrol": report["failed_to_enrol"],
            "calibrated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        path = th.write(cfg.models_dir, embedder.sha256, entry)
        log.info("thresholds for %s (%s) written to %s", embedder.name, embedder.sha256[:12], path)
    if args.plot:
        plot_roc(scores, report, args.plot)
        log.info("ROC plot written to %s", args.plot)
    brief = {k: report[k] for k in ("at_calibrated_thresholds",) if k in report}
    brief |= {k: report[k] for k in ("embedder", "detector", "pairs", "pairs_scored", "failed_to_enrol", "eer", "tar_at_far", "thresholds", "tar_at_far_pairs_only", "mean_cosine_to_fp32")}
    brief["scores"] = {k: {m: v.get(m) for m in ("n", "mean", "std", "min", "max")} for k, v in report["scores"].items()}
    print_json(brief)
    return 0


def at_thresholds(scores: dict, calibration: dict) -> dict:
    """TAR and observed FAR of this run's scores at the shipped (calibrated) thresholds."""
    out = {"from": calibration.get("pairs_file"), "by_far": {}}
    for key, t in calibration.get("thresholds", {}).items():
        g, i, x = scores["genuine"], scores["impostor"], scores["cross_identity"]
        out["by_far"][key] = {
            "threshold": t,
            "tar": round(float((g >= t).mean()), 5) if g.size else None,
            "far_pairs": round(float((i >= t).mean()), 6) if i.size else None,
            "far_cross_identity": round(float((x >= t).mean()), 7) if x.size else None,
        }
    return out
