"""`edge outbox`: inspect the durable outbox (backlog, rows, quarantined rows, file integrity) and salvage a damaged file."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import datetime, timezone


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("outbox", help="inspect the SQLite outbox: stats, list rows, integrity check, salvage",
                       description="Views of the outbox named by store.path (default <state_dir>/outbox.sqlite). "
                                   "stats: counts as JSON; list: rows, oldest first; check: PRAGMA integrity_check "
                                   "(prints 'integrity ok' / 'integrity FAILED', exit 1 when damaged); salvage: copy every "
                                   "readable row of a damaged file into a fresh one, keeping the damaged file beside it "
                                   "(stop the service first).")
    p.add_argument("action", choices=["stats", "list", "check", "salvage"], help="what to do")
    states = p.add_mutually_exclusive_group()
    states.add_argument("--state", choices=["pending", "delivered", "quarantined"], help="list only rows in this state")
    for state in ("pending", "delivered", "quarantined"):
        states.add_argument(f"--{state}", dest="state", action="store_const", const=state, help=f"list only {state} rows")
    p.add_argument("--key", metavar="K", help="list only the row with this idempotency key")
    p.add_argument("--since", metavar="T", help="list only rows created at or after T (ISO 8601, e.g. 2026-12-01T08:00:00+07:00, or Unix seconds)")
    p.add_argument("--json", action="store_true", help="list as JSON lines (one object per row, with timestamps)")
    p.add_argument("--limit", type=int, default=50, help="rows to list (default 50)")
    p.set_defaults(func=run)


def _since(text: str | None) -> float | None:
    from edge.errors import EdgeError

    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise EdgeError(f"--since {text!r}: give an ISO 8601 time (2026-12-01T08:00:00+07:00) or Unix seconds") from None
    return (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).timestamp()


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds")


def run(args: argparse.Namespace) -> int:
    from edge.commands.common import config_from_args, print_json
    from edge.errors import NotFoundError
    from edge.store import Outbox
    from edge.store.salvage import integrity, salvage

    cfg = config_from_args(args)
    path = cfg.outbox_path
    if not path.exists():
        raise NotFoundError(f"no outbox at {path} (nothing recorded yet, or set store.path)")
    if args.action == "check":
        ok, detail = integrity(path)
        print(f"{path}: integrity {'ok' if ok else 'FAILED'}" + ("" if ok else f" ({detail}); see `edge outbox salvage`"))
        return 0 if ok else 1
    if args.action == "salvage":
        from edge.service.statelock import lock_state_dir

        lock_state_dir(cfg.device.state_dir)  # refuses while the service runs
        report = salvage(path, cfg.device.device_id)
        print_json({"path": str(path), **asdict(report)})
        return 0
    with Outbox(path, cfg.device.device_id, synchronous=cfg.store.synchronous, min_free_mb=cfg.store.min_free_mb,
                telemetry_max_rows=cfg.store.telemetry_max_rows) as box:
        if args.action == "stats":
            print_json({"path": str(path), **asdict(box.stats())})
            return 0
        for item in box.items(args.state, args.limit, key=args.key, since=_since(args.since)):
            if args.json:
                print(json.dumps({"row": item.seq, "seq": item.stream_seq, "stream": item.durable_class, "key": item.key,
                                  "kind": item.kind, "state": item.state, "attempts": item.attempts,
                                  "created_at": _iso(item.created_at), "delivered_at": _iso(item.delivered_at),
                                  "error": item.error, "topic_suffix": item.topic_suffix}, ensure_ascii=False))
            else:
                print(f"{item.seq:>8}  {item.state:<11} {item.kind:<14} {_iso(item.created_at)}  attempts={item.attempts:<3} {item.key}"
                      + (f"  ({item.error})" if item.error else ""))
    return 0
