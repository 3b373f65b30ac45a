"""`edge run`: the terminal service (what systemd starts), and `edge health`: one health report."""

from __future__ import annotations

import argparse

from edge.commands.common import config_from_args, print_json
from edge.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run",
        help="run the terminal service: camera, matching, outbox, MQTT, GPS, status page (systemd Type=notify)",
        description=(
            "Run the terminal service until SIGTERM/SIGINT. Tells systemd READY=1 after start-up and sends "
            "WATCHDOG=1 keep-alives only while the camera, matching and the outbox are healthy. Serves the "
            "officer's status page, /api/status and Prometheus /metrics on service.http_host:http_port. "
            "Only one service may run per state directory: a second one exits with code 2. A damaged "
            "database file stops start-up with one line naming it (exit 2); see `edge outbox salvage`."
        ),
    )
    p.add_argument("--port", type=int, metavar="N", help="status page port (overrides service.http_port)")
    p.set_defaults(func=run)

    h = sub.add_parser("health", help="print one health report (the retained …/health payload) as JSON",
                       description="Machine vitals and the outbox backlog, as the service would report them. Camera, GPS and link "
                                   "states are only known inside the running service (see its /metrics or status page).")
    h.add_argument("--prometheus", action="store_true", help="print the Prometheus text format instead")
    h.set_defaults(func=health)


def run(args: argparse.Namespace) -> int:
    from edge.logs import setup_logging
    from edge.app import build_service
    from edge.service.statelock import check_database, lock_state_dir

    cfg = config_from_args(args)
    if args.port is not None:
        if not 0 <= args.port <= 65535:
            raise ConfigError(f"--port {args.port}: a port is 0-65535")
        cfg.service.http_port = args.port
    lock_state_dir(cfg.device.state_dir)  # before anything else is opened; held until the process exits
    from edge.claim.keys import claim_paths

    paths = claim_paths(cfg)
    for path, what in ((cfg.outbox_path, "outbox"), (paths.ledger, "ledger"), (paths.roster, "roster")):
        check_database(path, what)
    setup_logging(args.log_level or cfg.device.log_level, cfg.device.log_format)
    runner = build_service(cfg)
    return runner.run()


def health(args: argparse.Namespace) -> int:
    from edge.app import health_collector
    from edge.service.health import to_prometheus
    from edge.store.outbox import Outbox

    cfg = config_from_args(args)
    outbox = None
    if cfg.outbox_path.exists():  # the backlog, read beside a running service (SQLite WAL allows it)
        outbox = Outbox(cfg.outbox_path, cfg.device.device_id, synchronous=cfg.store.synchronous)
    collector = health_collector(cfg, outbox)
    try:
        snapshot = collector.collect()
    finally:
        if outbox is not None:
            outbox.close()
    if args.prometheus:
        print(to_prometheus(snapshot), end="")
    else:
        print_json(snapshot.model_dump(mode="json"))
    return 0
