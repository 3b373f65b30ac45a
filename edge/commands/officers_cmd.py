"""`edge officers`: the signed officer list (issuer side: build, sign; terminal side: import, show, unlock)."""

from __future__ import annotations

import argparse
import csv
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from edge.commands.common import config_from_args, print_json

WIB = timezone(timedelta(hours=7))


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("officers", help="officer sign-in: build, sign, import and inspect the signed officer list",
                       description="Officers sign in at the terminal with an id and PIN. The programme office builds the list "
                                   "(PINs stored only as scrypt hashes), signs it with the roster issuer key, and the terminal "
                                   "imports it (trusted keys: claim.issuer_keys). See docs/CLAIM.md, 'Officer sign-in'.")
    acts = p.add_subparsers(dest="officers_action", metavar="ACTION", required=True)
    b = acts.add_parser("build", help="issuer side: make an unsigned officer list from a CSV (officer_id,name,role[,pin])",
                        description="role is 'officer' or 'supervisor'. Rows without a pin get a random 8-digit PIN, written "
                                    "only to --pins-out (created 0600) for handing out; the list holds scrypt hashes only.")
    b.add_argument("csv", type=Path, help="CSV with a header row: officer_id,name,role and optionally pin")
    b.add_argument("--point", action="append", required=True, metavar="POINT", help="distribution point id (repeat for several)")
    b.add_argument("--version", type=int, required=True, help="list version (must increase with every list)")
    b.add_argument("--issuer", default="programme-office")
    b.add_argument("--valid-days", type=int, default=90, help="validity from now (default 90 days)")
    b.add_argument("--scrypt-n", type=int, default=2**14, metavar="N",
                   help="scrypt cost (power of two, 1024-65536; default 16384 = 16 MiB); lower it if a PIN check takes over 0.5 s on the Pi")
    b.add_argument("--pins-out", type=Path, help="file to create with the generated PINs (officer_id,pin; mode 0600)")
    b.add_argument("-o", "--output", type=Path, required=True)
    b.set_defaults(func=run_build)
    s = acts.add_parser("sign", help="issuer side: sign an officer list JSON with the issuer key")
    s.add_argument("file", type=Path)
    s.add_argument("--key", type=Path, required=True, help="issuer private key (PEM, mode 0600)")
    s.add_argument("-o", "--output", type=Path, required=True)
    s.set_defaults(func=run_sign)
    i = acts.add_parser("import", help="terminal side: verify and install a signed officer list")
    i.add_argument("file", type=Path)
    i.set_defaults(func=run_import)
    sh = acts.add_parser("show", help="terminal side: the installed list (no PIN hashes) and who is locked out")
    sh.set_defaults(func=run_show)
    u = acts.add_parser("unlock", help="terminal side: clear an officer's wrong-PIN lockout")
    u.add_argument("officer_id")
    u.set_defaults(func=run_unlock)


def _read(path: Path) -> bytes:
    from edge.errors import NotFoundError

    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"file not found: {path}") from None


def build_list(rows: list[dict[str, str]], *, points: list[str], version: int, issuer: str, valid_days: int,
               now: datetime, scrypt_n: int = 2**14) -> tuple[dict, dict[str, str]]:
    """(unsigned list, generated PINs by officer id) from CSV rows."""
    from edge.claim.officers.officer_list import generate_pin, hash_pin
    from edge.errors import EdgeError

    officers, generated = [], {}
    for n, row in enumerate(rows, start=2):
        oid, name, role = ((row.get("officer_id") or "").strip(), (row.get("name") or "").strip(),
                           (row.get("role") or "officer").strip())
        if not oid or not name:
            raise EdgeError(f"CSV line {n}: officer_id and name are required")
        pin = (row.get("pin") or "").strip()
        if not pin:
            pin = generated[oid] = generate_pin()
        try:
            hashed = hash_pin(pin, n=scrypt_n)
        except EdgeError as exc:
            raise EdgeError(f"CSV line {n} ({oid}): {exc}") from None
        officers.append({"officer_id": oid, "name": name, "role": role, "active": True, "pin": hashed.model_dump()})
    doc = {"schema": "tepat.officers", "schema_version": 1, "issuer": issuer, "distribution_points": points, "version": version,
           "issued_at": now.isoformat(timespec="seconds"), "valid_from": (now - timedelta(hours=1)).isoformat(timespec="seconds"),
           "valid_until": (now + timedelta(days=valid_days)).isoformat(timespec="seconds"), "officers": officers}
    return doc, generated


def run_build(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from edge.claim.officers.officer_list import OfficerList
    from edge.claim.records.crypto import write_private_file
    from edge.config import format_validation_error
    from edge.errors import EdgeError

    text = _read(args.csv).decode("utf-8-sig", errors="replace")
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not {"officer_id", "name"} <= set(reader.fieldnames):
        raise EdgeError(f"{args.csv}: the first line must name the columns officer_id,name,role[,pin]")
    doc, generated = build_list(list(reader), points=args.point, version=args.version, issuer=args.issuer,
                                valid_days=args.valid_days, now=datetime.now(WIB), scrypt_n=args.scrypt_n)
    try:
        OfficerList.model_validate(doc)
    except ValidationError as exc:
        raise EdgeError(format_validation_error(str(args.csv), exc).replace("\n", "; ")) from None
    if generated and args.pins_out is None:
        raise EdgeError(f"{len(generated)} officer(s) have no pin in the CSV: give --pins-out FILE to receive their generated PINs")
    if generated:
        write_private_file(args.pins_out, ("officer_id,pin\n" + "".join(f"{k},{v}\n" for k, v in generated.items())).encode())
    args.output.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    print_json({"output": str(args.output), "officers": len(doc["officers"]), "generated_pins": len(generated),
                "pins_file": str(args.pins_out) if generated else None, "signed": False})
    return 0


def run_sign(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from edge.claim.officers.officer_list import sign_officers
    from edge.claim.records.crypto import load_private_key
    from edge.config import format_validation_error
    from edge.errors import EdgeError

    try:
        doc = json.loads(_read(args.file))
    except ValueError as exc:
        raise EdgeError(f"{args.file}: not readable JSON ({exc})") from None
    doc = doc.get("officers", doc) if isinstance(doc, dict) and "signature" in doc else doc
    try:
        signed = sign_officers(doc, load_private_key(args.key))
    except ValidationError as exc:
        raise EdgeError("refusing to sign: " + format_validation_error(str(args.file), exc).replace("\n", "; ")) from None
    args.output.write_text(json.dumps(signed, ensure_ascii=False), encoding="utf-8")
    print_json({"output": str(args.output), "version": doc.get("version"), "key_id": signed["signature"]["key_id"]})
    return 0


def run_import(args: argparse.Namespace) -> int:
    from edge.claim.keys import trusted_issuer_keys
    from edge.claim.officers.accounts import open_officer_store
    from edge.errors import ConfigError

    cfg = config_from_args(args)
    keys = trusted_issuer_keys(cfg)
    if not keys:
        raise ConfigError("no trusted issuer: set claim.issuer_keys to the programme office's public key file(s)")
    with open_officer_store(cfg, keys) as store:
        doc = store.install(_read(args.file))
    print_json({"installed": True, "version": doc.version, "officers": len(doc.officers),
                "supervisors": sum(o.role == "supervisor" for o in doc.officers), "valid_until": doc.valid_until.isoformat()})
    return 0


def run_show(args: argparse.Namespace) -> int:
    from edge.claim.officers.accounts import open_officer_store

    with open_officer_store(config_from_args(args)) as store:
        print_json(store.summary())
    return 0


def run_unlock(args: argparse.Namespace) -> int:
    from edge.claim.officers.accounts import open_officer_store

    with open_officer_store(config_from_args(args)) as store:
        print_json({"officer_id": args.officer_id, "unlocked": store.unlock(args.officer_id)})
    return 0
