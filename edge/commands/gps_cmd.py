"""`edge gps`: check the GPS and the time source the way records will see them."""

from __future__ import annotations

import argparse
import time

from edge.commands.common import config_from_args, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "gps",
        help="show the GPS fix, the no-fix policy verdict and the record time source",
        description="Connect to gpsd with the configured backend, wait up to --wait seconds for a fix, and print "
                    "what a record made now would carry: position stamp, policy verdict and timestamp (JSON). "
                    "Exit 0 with a current fix, 1 without.",
    )
    p.add_argument("--wait", type=float, default=10.0, metavar="SECONDS", help="how long to wait for a fix (default 10)")
    p.add_argument("--backend", choices=["gpsdclient", "gpsd-py3", "none"], help="override gps.backend")
    p.add_argument("--watch", action="store_true", help="keep printing one line per second until Ctrl-C")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import logging

    from edge.gps import evaluate, make_position_source
    from edge.timesource import TimeSource

    logger = logging.getLogger("edge.gps")
    config = config_from_args(args).gps
    if args.backend:
        config = config.model_copy(update={"backend": args.backend})
    with make_position_source(config) as source:
        clock = TimeSource(source)
        if config.backend != "none":
            logger.info("waiting up to %.0f s for a fix from gpsd at %s:%s (%s)", args.wait, config.host, config.port, config.backend)
        deadline = time.monotonic() + max(0.0, args.wait)
        while source.latest().status != "fix" and time.monotonic() < deadline and config.backend != "none":
            time.sleep(0.2)
        if args.watch:
            while True:
                stamp, now = source.latest(), clock.now()
                where = f"{stamp.fix.lat:.6f},{stamp.fix.lon:.6f} {stamp.fix.mode}" if stamp.fix else "-"
                print(f"{now.wall.isoformat()} [{now.source}] {source.state} {stamp.status} {where}", flush=True)
                time.sleep(1)
        stamp = source.latest()
        print_json({
            "state": source.state,
            "position": stamp.model_dump(mode="json"),
            "policy": evaluate(stamp, config).model_dump(mode="json"),
            "time": clock.now().model_dump(mode="json"),
        })
    return 0 if stamp.status == "fix" else 1
