"""`edge enroll`, `edge verify`, `edge identify`: the face pipeline on photo files with a SQLite gallery."""

from __future__ import annotations

import argparse
from pathlib import Path

from edge.commands.common import config_from_args, print_json

EXIT_NOTE = "Exit 0 on a match, 1 on no_match or retake, 2/3 on errors (one line on stderr)."


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", required=True, type=Path, metavar="PATH", help="gallery SQLite file")
    p.add_argument("--embedder", choices=["int8", "fp32"], help="override face.embedder (int8 falls back to fp32 while it is not built)")
    p.add_argument("--detector", choices=["yunet", "blazeface"], help="override face.detector")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "enroll",
        help="enrol a recipient's reference photos into a face gallery",
        description="Detect, quality-check and embed each photo and store the templates (float16, tagged with the model "
                    "sha256) in the gallery. Prints JSON with per-photo quality failures. Exit 0 when at least one photo "
                    "was enrolled, 1 when none passed the quality gate.",
    )
    _common(p)
    p.add_argument("--id", required=True, dest="recipient_id", metavar="RECIPIENT_ID", help="recipient identifier")
    p.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="reference photo(s): JPEG, PNG, ...")
    p.set_defaults(func=run_enroll)

    p = sub.add_parser(
        "verify",
        help="1:1: is the person in IMAGE the enrolled recipient?",
        description=f"Compare the face in IMAGE with the recipient's templates at the calibrated 1:1 threshold "
                    f"(face.far_1to1). Prints one JSON object. {EXIT_NOTE}",
    )
    _common(p)
    p.add_argument("--id", required=True, dest="recipient_id", metavar="RECIPIENT_ID", help="recipient identifier")
    p.add_argument("image", type=Path, metavar="IMAGE")
    p.set_defaults(func=run_verify)

    p = sub.add_parser(
        "identify",
        help="1:N: who in the gallery is the person in IMAGE?",
        description=f"Search every template made with the current model; the top identity must clear the calibrated 1:N "
                    f"threshold (face.far_1toN) and beat the runner-up by face.margin_1toN. Prints one JSON object. {EXIT_NOTE}",
    )
    _common(p)
    p.add_argument("image", type=Path, metavar="IMAGE")
    p.add_argument("--top", type=int, default=5, metavar="K", help="candidates to list (default 5)")
    p.set_defaults(func=run_identify)


def _pipeline(args: argparse.Namespace, calibrated: bool):  # noqa: ANN202
    from edge.face.pipeline import FacePipeline

    cfg = config_from_args(args).face
    return FacePipeline.from_config(cfg, embedder=args.embedder, detector=args.detector, require_calibration=calibrated)


def _box(args: argparse.Namespace):  # noqa: ANN202
    """The terminal's template key (credential, $TEPAT_TEMPLATE_KEY or <state_dir>/keys/template.key; created if absent):
    gallery templates are encrypted with it."""
    from edge.claim.keys import ensure_keys, template_box

    cfg = config_from_args(args)
    ensure_keys(cfg)
    return template_box(cfg)


def _open_existing(path: Path, args: argparse.Namespace):  # noqa: ANN202
    from edge.errors import NotFoundError
    from edge.face.gallery import Gallery

    if not path.is_file():
        raise NotFoundError(f"gallery {path} does not exist (enrol recipients first with 'edge enroll --db {path} ...')")
    return Gallery(path, box=_box(args))


def _decode(path: Path):  # noqa: ANN202
    import time

    from edge.face.image import read_image

    t0 = time.perf_counter()
    rgb = read_image(path)
    return rgb, round((time.perf_counter() - t0) * 1000, 3)


def _quality(res) -> dict:  # noqa: ANN001
    return {"ok": res.quality.ok, "reasons": res.quality.reasons, "advice": res.quality.advice(), "measures": res.quality.measures}


def run_enroll(args: argparse.Namespace) -> int:
    from edge.errors import EdgeError
    from edge.face.gallery import Gallery
    from edge.face.image import read_image

    if not args.recipient_id.strip():
        raise EdgeError("--id must not be empty")
    frames = [(path, read_image(path)) for path in args.images]  # every file readable before anything is stored
    pipeline = _pipeline(args, calibrated=False)
    photos, enrolled = [], 0
    with Gallery(args.db, box=_box(args)) as gallery:
        for path, rgb in frames:
            res = pipeline.analyse(rgb)
            entry = {"image": str(path), "quality": _quality(res), "template_id": None}
            if res.usable:
                entry["template_id"] = gallery.add(args.recipient_id, res.embedding, pipeline.model_sha256, source=path.name)
                enrolled += 1
            photos.append(entry)
    print_json({"recipient_id": args.recipient_id, "enrolled": enrolled, "rejected": len(photos) - enrolled,
                "model_sha256": pipeline.model_sha256, "embedder": pipeline.embedder.name, "photos": photos})
    return 0 if enrolled else 1


def run_verify(args: argparse.Namespace) -> int:
    rgb, decode_ms = _decode(args.image)
    with _open_existing(args.db, args) as gallery:
        pipeline = _pipeline(args, calibrated=True)
        templates = gallery.templates(args.recipient_id, pipeline.model_sha256)
        res = pipeline.analyse(rgb, latency={"decode": decode_ms})
        out = {"recipient_id": args.recipient_id, "decision": "retake", "score": None, "threshold": pipeline.threshold_1to1,
               "quality": _quality(res), "latency_ms": res.latency_ms, "model_sha256": pipeline.model_sha256}
        if res.usable:
            import time

            t0 = time.perf_counter()
            score = pipeline.verify_score([res.embedding], templates)
            res.latency_ms["match"] = round((time.perf_counter() - t0) * 1000, 3)
            out["score"] = round(score, 5)
            out["decision"] = "match" if score >= pipeline.threshold_1to1 else "no_match"
    print_json(out)
    return 0 if out["decision"] == "match" else 1


def run_identify(args: argparse.Namespace) -> int:
    from edge.errors import EdgeError

    if args.top < 1:
        raise EdgeError("--top must be at least 1")
    rgb, decode_ms = _decode(args.image)
    with _open_existing(args.db, args) as gallery:
        pipeline = _pipeline(args, calibrated=True)
        index = gallery.load_index(pipeline.model_sha256)
        if len(index) == 0:
            from edge.errors import NotFoundError

            raise NotFoundError(f"gallery {args.db} has no templates made with the current face model {pipeline.model_sha256[:12]}")
        res = pipeline.analyse(rgb, latency={"decode": decode_ms})
        out = {"decision": "retake", "recipient_id": None, "score": None, "threshold": pipeline.threshold_1toN,
               "margin": pipeline.margin_1toN, "candidates": [], "quality": _quality(res), "latency_ms": res.latency_ms,
               "model_sha256": pipeline.model_sha256, "gallery": {"identities": len(index.identities), "templates": len(index),
               "ignored_other_model": gallery.ignored_other_model}}
        if res.usable:
            import time

            t0 = time.perf_counter()
            ident = pipeline.identify([res.embedding], index, k=args.top)
            res.latency_ms["match"] = round((time.perf_counter() - t0) * 1000, 3)
            out["candidates"] = [{"recipient_id": c.recipient_id, "score": round(c.score, 5)} for c in ident.candidates[: args.top]]
            out["score"] = out["candidates"][0]["score"]
            out["decision"] = "match" if ident.accepted else "no_match"
            out["recipient_id"] = ident.top.recipient_id if ident.accepted else None
    print_json(out)
    return 0 if out["decision"] == "match" else 1
