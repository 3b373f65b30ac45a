"""`edge evidence`: read the encrypted audit thumbnails kept with decisions (claim.evidence_thumbnail)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from edge.commands.common import config_from_args, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evidence", help="audit thumbnails kept with decisions: list them, decrypt one for a dispute review",
                       description="With claim.evidence_thumbnail = true the terminal keeps a small face JPEG with each "
                                   "decision, encrypted with its template key, in the ledger; it is never published. "
                                   "These commands read them on the terminal for an officer's dispute review.")
    es = p.add_subparsers(dest="evidence_action", metavar="ACTION", required=True)
    ls = es.add_parser("list", help="records that have a thumbnail, oldest first (JSON)")
    ls.add_argument("--since", metavar="T", help="only decisions at or after T (ISO 8601 UTC, e.g. 2026-12-01 or 2026-12-01T08:00:00Z)")
    ls.set_defaults(func=run_list)
    sh = es.add_parser("show", help="decrypt the thumbnail of record KEY and write it as a JPEG (mode 0600)")
    sh.add_argument("key", metavar="KEY", help="the record's idempotency key (from 'edge evidence list' or the record)")
    sh.add_argument("--out", type=Path, required=True, metavar="FILE.jpg", help="JPEG file to create (refuses to overwrite)")
    sh.set_defaults(func=run_show)


def _ledger(args: argparse.Namespace):  # noqa: ANN202 - (Ledger, EdgeConfig)
    from edge.claim.flow.ledger import Ledger
    from edge.claim.keys import claim_paths
    from edge.errors import EdgeError

    cfg = config_from_args(args)
    path = claim_paths(cfg).ledger
    if not path.is_file():
        raise EdgeError(f"no ledger at {path}: this terminal has recorded no decisions (claim.ledger_path)")
    return Ledger(path, cfg.device.device_id, cfg.device.distribution_point), cfg


def run_list(args: argparse.Namespace) -> int:
    from edge.errors import EdgeError

    since = args.since
    if since is not None:
        since = since.strip().replace(" ", "T")
        if len(since) < 4 or not since[:4].isdigit():
            raise EdgeError(f"--since {args.since!r}: give an ISO 8601 time such as 2026-12-01T08:00:00Z")
    ledger, _ = _ledger(args)
    with ledger:
        print_json(ledger.evidence_list(since))
    return 0


def run_show(args: argparse.Namespace) -> int:
    from edge.claim.flow.evidence import open_thumbnail
    from edge.claim.keys import template_box
    from edge.claim.records.crypto import DecryptError
    from edge.errors import EdgeError

    ledger, cfg = _ledger(args)
    with ledger:
        sealed = ledger.evidence(args.key)
    if sealed is None:
        raise EdgeError(f"no evidence thumbnail for record {args.key} (claim.evidence_thumbnail was off, the face "
                        "crop was too large, or the key is wrong; see 'edge evidence list')")
    try:
        jpeg = open_thumbnail(template_box(cfg), args.key, sealed)
    except DecryptError as exc:
        raise EdgeError(f"the thumbnail for record {args.key} cannot be decrypted with this terminal's template key ({exc})") from None
    try:
        fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise EdgeError(f"{args.out} already exists; choose another --out") from None
    except OSError as exc:
        raise EdgeError(f"cannot create {args.out}: {exc.strerror}") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(jpeg)
    print(f"wrote {args.out} ({len(jpeg)} bytes, JPEG, mode 0600) for record {args.key}")
    return 0
