"""`edge-sim`: run a whole distribution point (camera, GPS, network, broker, terminals) without hardware.

    edge-sim demo                      # a distribution day with an outage, on embedded defaults
    edge-sim run simulator/scenarios/long_outage.toml
    edge-sim list                      # the scenarios shipped with the simulator
    edge-sim fleet --devices 20        # N terminal processes against one broker: records/s, latency
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from edge import __version__
from edge.errors import EdgeError

logger = logging.getLogger("simulator")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--faces", metavar="DIR", type=Path,
                   help="folder of <identity>/<n>.jpg photographs; default ../shared/datasets/faces, else scikit-learn's LFW cache, "
                   "else (when online) Labeled Faces in the Wild fetched once (about 233 MB)")
    p.add_argument("--no-download", action="store_true",
                   help="never fetch Labeled Faces in the Wild; stop with a message when no photographs are found")
    p.add_argument("--broker", metavar="HOST[:PORT]",
                   help="use this MQTT broker; default: one on localhost:1883, else a private mosquitto, else in-process amqtt")
    p.add_argument("--new-broker", nargs="?", const="auto", choices=["auto", "mosquitto", "amqtt"], metavar="KIND",
                   help="always start a private broker, even if one answers on localhost:1883; "
                   "KIND mosquitto or amqtt picks which (default: mosquitto if installed)")
    p.add_argument("--state-dir", metavar="DIR", type=Path,
                   help="keep each terminal's state (outbox, ledger, keys) here; default: a temporary folder, removed afterwards")
    p.add_argument("--models-dir", metavar="DIR", type=Path, help="face models folder; default: the repository's models/")
    p.add_argument("--central-db", metavar="URL",
                   help="central database (postgresql://… or sqlite:///path); default SQLite in the state folder")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge-sim",
        description="Tepat Edge simulator: real terminals (real models, SQLite outboxes, MQTT) fed by simulated "
        "cameras, GPS and network faults. Scenarios double as end-to-end tests: exit status 1 when an expectation fails.",
        epilog="Run 'edge-sim COMMAND --help' for a command's options. Scenario format: docs/SIMULATOR.md.",
    )
    parser.add_argument("--version", action="version", version=f"tepat-edge {__version__}")
    parser.add_argument("--log-level", default="ERROR", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="log level of the terminals' own logs (default ERROR: progress lines only)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("demo", help="a distribution day with an outage in under a minute, then the summary")
    _common(p)
    p.add_argument("--devices", type=int, default=1, metavar="N",
                   help="terminals at the distribution point (default 1); the queue is spread over them")
    p.add_argument("--screenshot", type=Path, metavar="PNG", help="at the end, photograph the central dashboard with headless Chromium")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("run", help="play a scenario file; exit 1 if its expectations fail")
    p.add_argument("scenario", type=Path, metavar="SCENARIO.toml", help="scenario file (see 'edge-sim list')")
    _common(p)
    p.add_argument("--json", action="store_true", help="print the final tally as JSON after the table")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("list", help="list the scenario files shipped with the simulator")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("fleet", help="N terminals against one broker and the central service: records/s and decision-to-database latency")
    _common(p)
    p.add_argument("--devices", type=int, default=20, metavar="N", help="terminal processes (default 20)")
    p.add_argument("--records", type=int, default=50, metavar="M", help="decision records per terminal (default 50)")
    p.add_argument("--rate", type=float, default=0.0, metavar="R",
                   help="records per second per terminal; 0 = as fast as the terminal can (default)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--light", action="store_true",
                   help="light terminals (signed records, one MQTT connection each, no face pipeline) driving the central "
                   "service ('edge central ingest') into its database; use for 1,000+ terminals")
    p.add_argument("--workers", type=int, default=1, metavar="W", help="with --light: central ingest worker processes (default 1)")
    p.set_defaults(func=cmd_fleet)
    return parser


def _broker(args: argparse.Namespace):
    from simulator.broker import SimBroker

    if args.broker:
        host, _, port = args.broker.partition(":")
        return SimBroker(host, int(port) if port else 1883)
    return SimBroker(prefer=args.new_broker or "auto", probe_localhost=not args.new_broker)


def _play(args: argparse.Namespace, scenario, devices: int | None = None) -> int:
    from simulator.faces import FacesNotFound, resolve_faces
    from simulator.runner import RunOptions, run_scenario

    try:
        lib = resolve_faces(args.faces)
    except FacesNotFound:
        from simulator.lfw import offer_lfw

        if args.faces is not None or args.no_download or not offer_lfw(lambda line: print(line, flush=True)):
            raise
        lib = resolve_faces(None)
    print(f"faces: {lib.origin}", flush=True)
    with _broker(args) as broker, tempfile.TemporaryDirectory(prefix="tepat-sim-") as tmp:
        ep = broker.endpoint
        print(f"broker: {ep.kind} at {ep.host}:{ep.port} (MQTT {ep.protocol})", flush=True)
        work = args.state_dir or Path(tmp)
        opts = RunOptions(work_dir=work, models_dir=args.models_dir, central_db=args.central_db, screenshot=getattr(args, "screenshot", None))
        result = run_scenario(scenario, lib, broker, opts, progress=lambda line: print(line, flush=True))
    from simulator.tally import table

    print()
    print(f"summary: {scenario.name}")
    print(table(result.tally, scenario.expect))
    c = result.central
    every = "every record" if c and c["in_database"] == c["committed"] else "NOT every record"
    print(f"central database: {every} is in it ({c.get('in_database', 0)}/{c.get('committed', 0)}), {c.get('payouts', 0)} payout(s), "
          f"{c.get('conflicts', 0)} double payout(s) caught centrally, {c.get('quarantined', 0)} kept apart")
    if args.state_dir:
        print(f"dashboard: edge central --db {c.get('database')} serve   (then open http://127.0.0.1:8080/)")
    if getattr(args, "json", False):
        import json

        print(json.dumps(result.tally.as_dict(), indent=2))
    if result.problems:
        print(f"\nFAILED: {len(result.problems)} expectation(s) not met:")
        for line in result.problems:
            print(f"  - {line}")
        return 1
    print(f"\nOK: every expectation met ({result.elapsed_s:.1f} s)")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from simulator.scenario import builtin_dir, load_scenario, spread_over

    sc = load_scenario(builtin_dir() / "demo.toml")
    if args.devices < 1:
        raise EdgeError("--devices must be at least 1")
    if args.devices > 1:
        sc = spread_over(sc, args.devices)
    print(f"edge-sim demo: {sc.description}", flush=True)
    return _play(args, sc)


def cmd_run(args: argparse.Namespace) -> int:
    from simulator.scenario import load_scenario

    sc = load_scenario(args.scenario)
    print(f"scenario {sc.name}: {sc.description}", flush=True)
    return _play(args, sc)


def cmd_list(args: argparse.Namespace) -> int:
    from simulator.scenario import builtin_dir, load_scenario

    for path in sorted(builtin_dir().glob("*.toml")):
        sc = load_scenario(path)
        print(f"{path}\n    {sc.description}")
    return 0


def cmd_fleet(args: argparse.Namespace) -> int:
    from simulator.fleet import FleetOptions, format_report, run_fleet

    if args.devices < 1 or args.records < 1:
        raise EdgeError("--devices and --records must be at least 1")
    if args.light:
        return _light_fleet(args)
    with _broker(args) as broker:
        ep = broker.endpoint
        print(f"broker: {ep.kind} at {ep.host}:{ep.port} (MQTT {ep.protocol})", flush=True)
        with tempfile.TemporaryDirectory(prefix="tepat-fleet-") as tmp:
            opts = FleetOptions(devices=args.devices, records=args.records, rate=args.rate,
                                work_dir=args.state_dir or Path(tmp))
            report = run_fleet(broker.endpoint, opts, progress=lambda line: print(line, flush=True))
    if args.json:
        import json

        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(format_report(report))
    return 0 if report.lost == 0 else 1


def _light_fleet(args: argparse.Namespace) -> int:
    from simulator.fleet import LightOptions, run_light_fleet
    from simulator.lightfleet import format_light

    with _broker(args) as broker, tempfile.TemporaryDirectory(prefix="tepat-fleet-") as tmp:
        ep = broker.endpoint
        print(f"broker: {ep.kind} at {ep.host}:{ep.port} (MQTT {ep.protocol})", flush=True)
        opts = LightOptions(devices=args.devices, records=args.records, rate=args.rate, work_dir=args.state_dir or Path(tmp),
                            workers=args.workers, central_db=args.central_db)
        report = run_light_fleet(ep, opts, progress=lambda line: print(line, flush=True))
    if args.json:
        import json

        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(format_light(report))
    return 0 if report.stored == report.expected and report.duplicates_rows == 0 else 1


def main(argv: Sequence[str] | None = None) -> int:
    from edge.cli import run_cli

    return run_cli(build_parser(), argv, prog="edge-sim", log_level="ERROR", log_format="text")


if __name__ == "__main__":
    sys.exit(main())
