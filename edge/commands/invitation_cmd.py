"""`edge invitation make`: the programme office prints a signed QR code on each invitation letter."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("invitation", help="issuer side: signed invitation-letter QR codes (docs/COUNTER.md)",
                       description="An invitation letter carries a QR code naming the recipient and the payout period, "
                                   "signed with the programme office's issuer key (the roster key). At the counter the "
                                   "officer holds the letter to the camera; a forged or altered letter is refused.")
    acts = p.add_subparsers(dest="invitation_action", metavar="ACTION", required=True)
    m = acts.add_parser("make", help="write the QR code PNG for one recipient",
                        description="Writes a PNG QR code (black on white, 8 px per module) holding "
                                    "TPI1.<payload>.<signature>; see docs/COUNTER.md 'Invitation letters'.")
    m.add_argument("recipient_id", help="the recipient id as on the roster, e.g. PKH-00001")
    m.add_argument("--period", required=True, help="payout period YYYY-MM")
    m.add_argument("--point", help="distribution point id (default: any point)")
    m.add_argument("--key", type=Path, required=True, help="issuer private key (PEM, mode 0600)")
    m.add_argument("-o", "--output", type=Path, required=True, help="PNG file to write")
    m.set_defaults(func=run_make)


def run_make(args: argparse.Namespace) -> int:
    from edge.claim.records.crypto import load_private_key
    from edge.claim.roster.invitation import make_invitation, write_qr_png

    text = make_invitation(load_private_key(args.key), args.recipient_id, args.period, point=args.point)
    write_qr_png(text, args.output)
    print(f"invitation for {args.recipient_id} ({args.period}) written to {args.output}")
    return 0
