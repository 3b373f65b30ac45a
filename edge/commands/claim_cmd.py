"""`edge claim`, `edge override`, `edge ledger`: the field officer's distribution-day commands."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from edge.commands.common import config_from_args, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("claim", help="verify a claimant with the camera and record the decision (accept / reject / refer)",
                       description="With --id: 1:1 against that recipient's templates. Without: 1:N over the roster. "
                                   "Every decision is signed and written to the outbox; the running service (edge run) publishes it. "
                                   "While edge run is serving, prefer its HTTP API (POST /api/claim) so one process owns the ledger.")
    p.add_argument("--id", dest="recipient_id", metavar="ID", help="recipient id from the card, QR code or typed number")
    p.add_argument("--officer", metavar="OFFICER_ID", help="the officer at the counter (recorded)")
    p.add_argument("--image", type=Path, nargs="+", metavar="FILE", help="use these photos as the burst instead of the camera")
    p.add_argument("--enrol", action="store_true", help="first payout: record the face as the recipient's reference (needs --id, --officer)")
    p.add_argument("--yes", action="store_true", help="with --enrol: the identity documents were checked (skip the question)")
    p.set_defaults(func=run_claim)
    o = sub.add_parser("override", help="officer override of a recorded decision (the original stays on record)")
    o.add_argument("original_key", help="idempotency key of the decision to override")
    o.add_argument("--outcome", choices=["accept", "reject"], required=True)
    o.add_argument("--reason", required=True, help="reason code, e.g. id_card_checked, camera_fault, suspected_fraud")
    o.add_argument("--officer", required=True, metavar="OFFICER_ID")
    o.add_argument("--note", help="free text (max 500 characters)")
    o.add_argument("--id", dest="recipient_id", metavar="ID", help="recipient, when the original decision named none (1:N)")
    o.set_defaults(func=run_override)
    led = sub.add_parser("ledger", help="what this terminal knows about a recipient's disbursements")
    led.add_argument("recipient_id", metavar="ID")
    led.set_defaults(func=run_ledger)


def _say(result: dict) -> None:
    msg = result.get("message") or {}
    print(f"[{result['outcome'].upper()}] {msg.get('id', '')}\n          {msg.get('en', '')}", file=sys.stderr)


def run_claim(args: argparse.Namespace) -> int:
    from edge.claim.build import open_claim_service
    from edge.claim.officer import enrol
    from edge.errors import EdgeError

    cfg = config_from_args(args)
    frames = None
    if args.image:
        frames = [_read_rgb(p) for p in args.image]
    if args.enrol:
        if not (args.recipient_id and args.officer):
            raise EdgeError("--enrol needs --id and --officer")
        if not args.yes and input(f"Officer {args.officer}: identity documents of {args.recipient_id} checked? [y/N] ").strip().lower() not in ("y", "ya", "yes"):
            raise EdgeError("enrolment not confirmed by the officer")
    camera = None
    if frames is None:
        from edge.camera import make_camera

        camera = make_camera(cfg.camera)
        camera.start()
    try:
        with open_claim_service(cfg, camera=camera) as svc:
            for attempt in range(1, cfg.claim.max_attempts + 1):
                if args.enrol:
                    result = enrol(svc, args.recipient_id, args.officer, frames).as_dict()
                else:
                    result = svc.claim(args.recipient_id, officer_id=args.officer, attempt=attempt, frames=frames).as_dict()
                _say(result)
                if result["outcome"] != "retake" or frames is not None:
                    break
                if sys.stdin.isatty():
                    input("Press Enter to capture again / Tekan Enter untuk mengambil ulang ")
                else:
                    time.sleep(1.0)
    finally:
        if camera is not None:
            camera.close()
    print_json({k: v for k, v in result.items() if k != "record"})
    return 0


def run_override(args: argparse.Namespace) -> int:
    from edge.claim.build import open_claim_service
    from edge.claim.officer import override
    from edge.gps.source import make_position_source

    cfg = config_from_args(args)
    with make_position_source(cfg.gps) as gps, open_claim_service(cfg, position_source=gps, face=_no_face_engine(cfg)) as svc:
        rec = override(svc, args.original_key, args.outcome, args.reason, args.officer, args.note, args.recipient_id)
    print_json(rec.model_dump(mode="json", by_alias=True))
    return 0


def run_ledger(args: argparse.Namespace) -> int:
    from edge.claim.build import open_claim_service
    from edge.gps.source import DisabledSource

    cfg = config_from_args(args)
    with open_claim_service(cfg, position_source=DisabledSource(), face=_no_face_engine(cfg)) as svc:
        print_json(svc.ledger_view(args.recipient_id))
    return 0


def _read_rgb(path: Path):
    """Decode a photo to RGB; one clear error naming the file when it is missing or not an image."""
    import cv2
    import numpy as np

    from edge.errors import ImageError, NotFoundError

    if not path.is_file():
        raise NotFoundError(f"image not found: {path}")
    bgr = cv2.imdecode(np.fromfile(str(path), dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageError(f"cannot decode image {path} (corrupt or not an image)")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _no_face_engine(cfg):
    """Overrides and ledger look-ups need the embedder's identity, not the models loaded."""
    from edge.claim.face_adapter import configured_model_sha256

    class _ShaOnly:
        model_sha256 = configured_model_sha256(cfg)

    return _ShaOnly()
