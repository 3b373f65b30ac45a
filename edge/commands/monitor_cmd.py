"""`edge monitor`: the operator's live view of terminals over MQTT (the reference consumer)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("monitor", help="watch terminals over MQTT: status, last seen, pending, accepted/rejected, duplicates",
                       description="Subscribes to <topic_prefix>/# with the configured MQTT credentials (use an operator account), "
                                   "checks every message against its schema and de-duplicates by idempotency key. "
                                   "Refreshes in place on a terminal; prints plain table snapshots otherwise.")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds (default: until Ctrl-C)")
    p.add_argument("--once", action="store_true", help="collect for --settle seconds, print one table and exit")
    p.add_argument("--settle", type=float, default=2.0, metavar="S", help="with --once: how long to collect (default 2)")
    p.add_argument("--refresh", type=float, default=1.0, metavar="S", help="seconds between table refreshes (default 1)")
    p.add_argument("--client-id", default="tepat-monitor", help="MQTT client id; the broker keeps this monitor's queue while it is away")
    p.add_argument("--device-keys", type=Path, metavar="DIR",
                   help="folder of <device_id>.pub.pem device keys: records whose signature does not verify are counted as "
                        "bad signatures, never as payouts (without it, signatures are not checked and a warning says so)")
    p.set_defaults(func=run)


def render(state, now: float | None = None) -> str:  # noqa: ANN001 - ConsumerState
    """The table: one line per device, then totals."""
    now = time.time() if now is None else now
    head = f"{'DEVICE':<20} {'REGION':<10} {'STATUS':<8} {'LAST SEEN':>9} {'PENDING':>7} {'RECORDS':>7} {'ACCEPT':>6} {'REJECT':>6} {'REFER':>5} {'DUPS':>5} {'ORDER':>5}"
    lines = [head]
    for v in state.snapshot():
        seen = "-" if v.last_seen is None else f"{now - v.last_seen:.0f}s ago"
        pending = "-" if v.pending is None else str(v.pending)
        order = "ok" if v.out_of_order == 0 else f"!{v.out_of_order}"
        lines.append(f"{v.device_id:<20} {v.region:<10} {v.status:<8} {seen:>9} {pending:>7} {v.unique:>7} {v.accepted:>6} {v.rejected:>6} {v.referred:>5} {v.duplicates:>5} {order:>5}")
    t = state.totals()
    lines.append(f"{t['devices']} devices, {t['unique']} records, {t['duplicates']} duplicates dropped, {t['invalid']} invalid messages"
                 + (f", {t['bad_signatures']} bad signatures (not counted)" if state.device_keys is not None else ", signatures NOT checked"))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from edge.commands.common import config_from_args
    from edge.errors import EdgeError
    from edge.monitor import Consumer

    from edge.monitor.registry import DeviceKeys

    cfg = config_from_args(args)
    keys = DeviceKeys.from_dir(args.device_keys) if args.device_keys else None
    if keys is None:
        print("edge monitor: warning: no --device-keys given, record signatures are not checked", file=sys.stderr)
    consumer = Consumer(cfg.mqtt, client_id=args.client_id, keep_keys=False, device_keys=keys)
    tty = sys.stdout.isatty()
    with consumer:
        if not consumer.wait_connected(10):
            raise EdgeError(f"cannot subscribe at {cfg.mqtt.host}:{cfg.mqtt.port}: {consumer.last_error or 'no answer within 10 s'}")
        if args.once:
            time.sleep(args.settle)
            print(render(consumer.state))
            return 0
        end = None if args.duration is None else time.monotonic() + args.duration
        while end is None or time.monotonic() < end:
            time.sleep(args.refresh if end is None else max(0.0, min(args.refresh, end - time.monotonic())))
            table = render(consumer.state)
            if tty:
                sys.stdout.write("\x1b[H\x1b[2J" + table + "\n")
            else:
                sys.stdout.write(table + "\n\n")
            sys.stdout.flush()
    return 0
