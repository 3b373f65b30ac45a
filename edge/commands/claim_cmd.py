"""`edge claim`, `edge override`, `edge ledger`: the field officer's distribution-day commands.

These local tools hold their own officer session: the officer's PIN is checked against the
installed officer list (same scrypt check and lockout counters as the HTTP sign-in) before
anything is recorded. PINs come from a prompt, ``--pin-stdin`` (one line per officer), or
``$TEPAT_OFFICER_PIN`` / ``$TEPAT_SECOND_OFFICER_PIN``; never from a command-line argument.
"""

from __future__ import annotations

import argparse
import os
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
    p.add_argument("--officer", metavar="OFFICER_ID", required=True, help="the officer at the counter (PIN checked, then recorded)")
    p.add_argument("--pin-stdin", action="store_true", help="read the officer's PIN from the first line of standard input")
    p.add_argument("--image", type=Path, nargs="+", metavar="FILE", help="use these photos as the burst instead of the camera")
    p.add_argument("--enrol", action="store_true", help="first payout: record the face as the recipient's reference (needs --id, --officer)")
    p.add_argument("--request-id", metavar="RID", help="client request id: running the command again with the same id "
                   "prints the decision already recorded for it instead of deciding again")
    p.add_argument("--yes", action="store_true", help="with --enrol: the identity documents were checked (skip the question)")
    p.set_defaults(func=run_claim)
    o = sub.add_parser("override", help="officer override of a recorded decision (the original stays on record)")
    o.add_argument("original_key", help="idempotency key of the decision to override")
    o.add_argument("--outcome", choices=["accept", "reject"], required=True)
    o.add_argument("--reason", required=True, help="reason code, e.g. id_card_checked, camera_fault, suspected_fraud")
    o.add_argument("--officer", required=True, metavar="OFFICER_ID", help="the officer making the override (PIN checked)")
    o.add_argument("--second-officer", metavar="OFFICER_ID",
                   help="second officer, needed to void a payout, turn a reject into an accept or pay again after a void")
    o.add_argument("--pin-stdin", action="store_true", help="read the PINs from standard input: officer's first line, second officer's next")
    o.add_argument("--note", help="free text (max 500 characters)")
    o.add_argument("--id", dest="recipient_id", metavar="ID", help="recipient, when the original decision named none (1:N)")
    o.set_defaults(func=run_override)
    led = sub.add_parser("ledger", help="what this terminal knows about a recipient's disbursements")
    led.add_argument("recipient_id", metavar="ID")
    led.add_argument("--officer", required=True, metavar="OFFICER_ID", help="the officer looking (PIN checked)")
    led.add_argument("--pin-stdin", action="store_true", help="read the officer's PIN from standard input")
    led.set_defaults(func=run_ledger)


def _say(result: dict) -> None:
    msg = result.get("message") or {}
    print(f"[{result['outcome'].upper()}] {msg.get('id', '')}\n          {msg.get('en', '')}", file=sys.stderr)


def _pin(args: argparse.Namespace, officer_id: str, env: str) -> str:
    from edge.errors import EdgeError

    if args.pin_stdin:
        line = sys.stdin.readline()
        if line:
            return line.rstrip("\r\n")
        raise EdgeError(f"--pin-stdin: no PIN line for officer {officer_id} on standard input")
    if os.environ.get(env):
        return os.environ[env]
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass(f"PIN for officer {officer_id}: ")
    raise EdgeError(f"no PIN for officer {officer_id}: type it at the prompt, or use --pin-stdin or ${env}")


def sign_in(cfg, args: argparse.Namespace, officer_id: str, env: str = "TEPAT_OFFICER_PIN"):
    """This tool's own officer session: the PIN checked against the installed officer list (with its lockout)."""
    from edge.claim.officers.accounts import open_officer_store

    pin = _pin(args, officer_id, env)
    with open_officer_store(cfg) as store:
        return store.authenticate(officer_id, pin)


def run_claim(args: argparse.Namespace) -> int:
    from edge.app import open_claim_service
    from edge.claim.flow.officer_actions import enrol
    from edge.errors import EdgeError

    cfg = config_from_args(args)
    officer = sign_in(cfg, args, args.officer)
    frames = None
    if args.image:
        frames = [_read_rgb(p) for p in args.image]
    if args.enrol:
        if not args.recipient_id:
            raise EdgeError("--enrol needs --id")
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
                    result = enrol(svc, args.recipient_id, officer, frames).as_dict()
                else:
                    result = svc.claim(args.recipient_id, officer_id=officer.officer_id, attempt=attempt, frames=frames,
                                       request_id=args.request_id).as_dict()
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
    from edge.app import open_claim_service
    from edge.claim.flow.officer_actions import override
    from edge.gps.source import make_position_source

    cfg = config_from_args(args)
    officer = sign_in(cfg, args, args.officer)
    second = sign_in(cfg, args, args.second_officer, "TEPAT_SECOND_OFFICER_PIN") if args.second_officer else None
    with make_position_source(cfg.gps) as gps, open_claim_service(cfg, position_source=gps, face=_no_face_engine(cfg)) as svc:
        rec = override(svc, args.original_key, args.outcome, args.reason, officer, args.note, args.recipient_id, second,
                       needs_supervisor=cfg.claim.two_person_needs_supervisor)
    print_json(rec.model_dump(mode="json", by_alias=True))
    return 0


def run_ledger(args: argparse.Namespace) -> int:
    from edge.app import open_claim_service
    from edge.gps.source import DisabledSource

    cfg = config_from_args(args)
    sign_in(cfg, args, args.officer)
    with open_claim_service(cfg, position_source=DisabledSource(), face=_no_face_engine(cfg)) as svc:
        print_json(svc.ledger_view(args.recipient_id))
    return 0


def _read_rgb(path: Path):
    """Decode a photo to RGB; one clear error naming the file when it is missing or not an image."""
    from edge.errors import NotFoundError
    from edge.face.image import read_image

    if not path.is_file():
        raise NotFoundError(f"image not found: {path}")
    return read_image(path)  # bounded: header dimensions checked before decoding


def _no_face_engine(cfg):
    """Overrides and ledger look-ups need the embedder's identity, not the models loaded."""
    from edge.face.embed import configured_embedder

    class _ShaOnly:
        model_sha256 = configured_embedder(cfg.face.models_dir, cfg.face.embedder)[1].sha256

    return _ShaOnly()
