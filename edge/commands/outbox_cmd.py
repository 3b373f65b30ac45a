"""`edge outbox`: inspect the durable outbox (backlog, quarantined rows, file integrity)."""

from __future__ import annotations

import argparse
from dataclasses import asdict


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("outbox", help="inspect the SQLite outbox: stats, list rows, integrity check",
                       description="Read-only views of the outbox named by store.path (default <state_dir>/outbox.sqlite).")
    p.add_argument("action", choices=["stats", "list", "check"], help="stats: counts as JSON; list: rows, oldest first; check: PRAGMA integrity_check")
    p.add_argument("--state", choices=["pending", "delivered", "quarantined"], help="list only rows in this state")
    p.add_argument("--limit", type=int, default=50, help="rows to list (default 50)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edge.commands.common import config_from_args, print_json
    from edge.errors import NotFoundError
    from edge.store import Outbox

    cfg = config_from_args(args)
    path = cfg.outbox_path
    if not path.exists():
        raise NotFoundError(f"no outbox at {path} (nothing recorded yet, or set store.path)")
    with Outbox(path, cfg.device.device_id, synchronous=cfg.store.synchronous, min_free_mb=cfg.store.min_free_mb,
                telemetry_max_rows=cfg.store.telemetry_max_rows) as box:
        if args.action == "stats":
            print_json({"path": str(path), **asdict(box.stats())})
            return 0
        if args.action == "check":
            ok = box.integrity_ok()
            print(f"{path}: integrity {'ok' if ok else 'FAILED'}")
            return 0 if ok else 1
        for item in box.items(args.state, args.limit):
            print(f"{item.seq:>8}  {item.state:<11} {item.kind:<14} attempts={item.attempts:<3} {item.key}")
    return 0
