"""`edge keys`: this terminal's record-signing key pair and the template encryption key."""

from __future__ import annotations

import argparse

from edge.commands.common import config_from_args, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("keys", help="create or show this terminal's keys (record signing, template encryption)",
                       description="Keys live in <state_dir>/keys (mode 0700, files 0600). Key files readable by group/others are refused.")
    ksub = p.add_subparsers(dest="keys_action", metavar="ACTION", required=True)
    init = ksub.add_parser("init", help="create the device Ed25519 key pair and the AES-256 template key (existing keys are kept)")
    init.set_defaults(func=run_init)
    show = ksub.add_parser("show", help="print the device public key id and file locations")
    show.set_defaults(func=run_show)
    rot = ksub.add_parser("rotate-template-key", help="re-encrypt every stored template and photo under a new template key")
    rot.set_defaults(func=run_rotate)


def run_init(args: argparse.Namespace) -> int:
    from edge.claim.keys import init_keys

    print_json(init_keys(config_from_args(args)))
    return 0


def run_show(args: argparse.Namespace) -> int:
    from edge.claim.keys import claim_paths, device_key, key_sources
    from edge.claim.records.crypto import public_key_id

    cfg = config_from_args(args)
    paths = claim_paths(cfg)
    key = device_key(cfg)
    print_json({"device_id": cfg.device.device_id, "device_key_id": public_key_id(key.public_key()),
                "device_public_key": str(paths.device_pub), "template_key": str(paths.template_key),
                "roster_public_key": str(paths.keys_dir / "roster_x25519.pub.pem"),
                "loaded_from": key_sources(cfg), "issuer_keys": [str(p) for p in cfg.claim.issuer_keys]})
    return 0


def run_rotate(args: argparse.Namespace) -> int:
    import os

    from edge.claim.keys import claim_paths, template_box
    from edge.claim.records.crypto import SecretBox, encode_template_key, new_template_key, write_private_file
    from edge.claim.roster.installed import RosterStore
    from edge.errors import EdgeError

    cfg = config_from_args(args)
    paths = claim_paths(cfg)
    if os.environ.get("TEPAT_TEMPLATE_KEY"):
        raise EdgeError("the template key comes from $TEPAT_TEMPLATE_KEY; rotate it where that variable is set (see docs/CLAIM.md)")
    old = template_box(cfg)
    new_raw = new_template_key()
    staged = paths.template_key.with_suffix(".key.new")
    write_private_file(staged, encode_template_key(new_raw))  # kept beside the old key until the database is re-sealed
    with RosterStore(paths.roster, old) as store:
        count = store.rotate_key(SecretBox(new_raw))
    os.replace(staged, paths.template_key)
    print_json({"resealed": count, "template_key": str(paths.template_key), "key_id": SecretBox(new_raw).key_id})
    return 0
