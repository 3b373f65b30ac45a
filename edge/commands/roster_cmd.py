"""`edge roster`: issuer tools (keygen, build, sign) and the terminal side (import, show)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edge.commands.common import config_from_args, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("roster", help="signed rosters: make, sign, import and inspect",
                       description="A roster lists who may collect what at this distribution point in one aid period. "
                                   "Terminals install only rosters signed by a trusted issuer key (claim.issuer_keys).")
    rs = p.add_subparsers(dest="roster_action", metavar="ACTION", required=True)
    kg = rs.add_parser("keygen", help="issuer side: create an Ed25519 signing key (0600) and its public key (.pub.pem)")
    kg.add_argument("key_file", type=Path, help="private key file to create")
    kg.set_defaults(func=run_keygen)
    b = rs.add_parser("build", help="issuer side: make an unsigned roster from FOLDER/<recipient_id>/*.jpg")
    b.add_argument("folder", type=Path)
    b.add_argument("--point", required=True, help="distribution point id")
    b.add_argument("--period", required=True, help="aid period, YYYY-MM")
    b.add_argument("--version", type=int, required=True, help="roster version (must increase with every roster)")
    b.add_argument("--issuer", default="programme-office")
    b.add_argument("--amount", type=int, default=600_000, help="entitlement in rupiah (default 600000)")
    b.add_argument("--photos", type=int, default=1, help="reference photos per recipient (default 1)")
    b.add_argument("--enrolment", action="store_true", help="allow enrolment at the terminal (month one)")
    b.add_argument("-o", "--output", type=Path, required=True)
    b.set_defaults(func=run_build)
    s = rs.add_parser("sign", help="issuer side: sign a roster JSON with the issuer key")
    s.add_argument("roster", type=Path, help="unsigned roster JSON (or a signed one to re-sign)")
    s.add_argument("--key", type=Path, required=True, help="issuer private key (PEM, mode 0600)")
    s.add_argument("-o", "--output", type=Path, required=True)
    s.set_defaults(func=run_sign)
    se = rs.add_parser("seal", help="issuer side: encrypt a signed roster to one terminal's roster key (confidential in transit)",
                       description="Seal a signed roster to the terminal's X25519 roster key (its roster_x25519.pub.pem from "
                                   "'edge keys init'/'edge keys show'), so the broker, its disk and the operator see only ciphertext. "
                                   "The terminal opens it with its private key, then checks the signature as usual.")
    se.add_argument("roster", type=Path, help="signed roster JSON (from 'edge roster sign')")
    se.add_argument("--to", type=Path, required=True, metavar="PUB", help="the terminal's roster_x25519.pub.pem")
    se.add_argument("-o", "--output", type=Path, required=True)
    se.set_defaults(func=run_seal)

    i = rs.add_parser("import", help="verify and install a signed roster file on this terminal")
    i.add_argument("file", type=Path)
    i.add_argument("--no-recompute", action="store_true", help="do not compute templates from photos (flag those recipients instead)")
    i.set_defaults(func=run_import)
    sh = rs.add_parser("show", help="print the installed roster's summary, or one recipient")
    sh.add_argument("--recipient", metavar="ID")
    sh.set_defaults(func=run_show)


def _read_json(path: Path) -> dict:
    from edge.errors import EdgeError, NotFoundError

    from edge.claim.roster.document import MAX_ROSTER_BYTES
    from edge.safejson import loads_bounded

    try:
        if path.stat().st_size > MAX_ROSTER_BYTES:
            raise EdgeError(f"{path}: larger than the {MAX_ROSTER_BYTES}-byte roster limit")
        return loads_bounded(path.read_bytes(), what=str(path), max_depth=16)
    except FileNotFoundError:
        raise NotFoundError(f"file not found: {path}") from None
    except OSError as exc:
        raise EdgeError(f"{path}: not readable ({exc.strerror})") from None


def run_keygen(args: argparse.Namespace) -> int:
    from edge.claim.records.crypto import generate_signing_key, private_key_pem, public_key_id, public_key_pem, write_private_file

    key = generate_signing_key()
    write_private_file(args.key_file, private_key_pem(key))
    pub = args.key_file.with_suffix(".pub.pem")
    pub.write_bytes(public_key_pem(key.public_key()))
    print_json({"private_key": str(args.key_file), "public_key": str(pub), "key_id": public_key_id(key.public_key())})
    return 0


def run_build(args: argparse.Namespace) -> int:
    from edge.claim.roster.from_photos import build_roster

    doc = build_roster(args.folder, distribution_point=args.point, period=args.period, version=args.version, issuer=args.issuer,
                       amount=args.amount, photos_per_recipient=args.photos, enrolment_allowed=args.enrolment)
    args.output.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    print_json({"output": str(args.output), "recipients": len(doc["recipients"]), "signed": False})
    return 0


def run_sign(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from edge.claim.records.crypto import load_private_key
    from edge.claim.roster.document import sign_roster
    from edge.config import format_validation_error
    from edge.errors import EdgeError

    doc = _read_json(args.roster)
    doc = doc.get("roster", doc) if isinstance(doc, dict) else doc
    try:
        signed = sign_roster(doc, load_private_key(args.key))
    except ValidationError as exc:
        raise EdgeError("refusing to sign: " + format_validation_error(str(args.roster), exc).replace("\n", "; ")) from None
    args.output.write_text(json.dumps(signed, ensure_ascii=False), encoding="utf-8")
    print_json({"output": str(args.output), "version": doc.get("version"), "key_id": signed["signature"]["key_id"]})
    return 0


def run_seal(args: argparse.Namespace) -> int:
    from edge.claim.roster.confidential import load_roster_public, roster_key_id, seal_roster
    from edge.errors import EdgeError

    doc = _read_json(args.roster)
    if not isinstance(doc, dict) or not isinstance(doc.get("roster"), dict) or not isinstance(doc.get("signature"), dict):
        raise EdgeError(f"{args.roster}: not a signed roster (sign it first with 'edge roster sign')")
    to = load_roster_public(args.to)
    args.output.write_text(json.dumps(seal_roster(doc, to)), encoding="utf-8")
    print_json({"output": str(args.output), "sealed_to": roster_key_id(to), "version": doc["roster"].get("version")})
    return 0


def run_import(args: argparse.Namespace) -> int:
    from edge.app import open_claim_service
    from edge.claim.inbound.handlers import import_roster
    from edge.claim.keys import trusted_issuer_keys
    from edge.errors import NotFoundError

    from edge.errors import ConfigError

    cfg = config_from_args(args)
    keys = trusted_issuer_keys(cfg)
    if not keys:
        raise ConfigError("no trusted roster issuer: set claim.issuer_keys to the programme office's public key file(s)")
    try:
        data = args.file.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"roster file not found: {args.file}") from None
    from edge.app.face_adapter import make_face_engine
    from edge.gps.source import DisabledSource

    face = make_face_engine(cfg, require_calibration=False)
    with open_claim_service(cfg, position_source=DisabledSource(), face=face) as svc:
        report = import_roster(svc, data, keys, recompute=not args.no_recompute)
    print_json(report.__dict__)
    return 0


def run_show(args: argparse.Namespace) -> int:
    from edge.claim.keys import claim_paths, template_box
    from edge.claim.roster.installed import RosterStore
    from edge.errors import NotFoundError

    cfg = config_from_args(args)
    with RosterStore(claim_paths(cfg).roster, template_box(cfg)) as store:
        if args.recipient:
            row = store.entitlement(args.recipient)
            if row is None:
                raise NotFoundError(f"recipient {args.recipient} is not on the installed roster")
            summary = store.summary()
            print_json({"recipient_id": args.recipient, "entitlement": row, "flags": summary["flagged"].get(args.recipient, [])})
        else:
            print_json(store.summary())
    return 0
