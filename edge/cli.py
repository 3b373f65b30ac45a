"""The `edge` command: one entry point, a subcommand per job.

Each module in ``COMMAND_MODULES`` exposes ``register(subparsers)``; it adds its
subcommand(s) with ``set_defaults(func=...)``. A handler receives the parsed
arguments and returns an exit code. Heavy imports (TFLite, paho, cv2) happen
inside handlers, so ``edge --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from edge import __version__
from edge.errors import EdgeError

COMMAND_MODULES: tuple[str, ...] = (
    "edge.commands.config_cmd",
    "edge.commands.run_cmd",
    "edge.commands.models_cmd",
    "edge.commands.keys_cmd",
    "edge.commands.roster_cmd",
    "edge.commands.claim_cmd",
    "edge.commands.officers_cmd",
    "edge.commands.invitation_cmd",
    "edge.commands.schema_cmd",
    "edge.commands.outbox_cmd",
    "edge.commands.monitor_cmd",
    "edge.commands.gps_cmd",
    "edge.commands.face_cmd",
    "edge.commands.eval_cmd",
    "edge.commands.bench_cmd",
    "edge.commands.central_cmd",
    "edge.commands.evidence_cmd",
)

logger = logging.getLogger("edge")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge",
        description="Tepat Edge: verify aid recipients by face on the device, record every decision durably, publish over MQTT.",
        epilog="Run 'edge COMMAND --help' for a command's options. Configuration: edge.toml plus TEPAT__SECTION__KEY environment overrides.",
    )
    parser.add_argument("--version", action="version", version=f"tepat-edge {__version__}")
    parser.add_argument("-c", "--config", metavar="FILE", help="configuration file (TOML); default: built-in defaults")
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="override the configured log level")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def run_cli(parser: argparse.ArgumentParser, argv: Sequence[str] | None, *, prog: str, log_level: str | None, log_format: str) -> int:
    """Parse, set up logging, run the handler; user errors become one line and an exit code.

    Shared by ``edge`` and ``edge-sim``.
    """
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from edge.logs import setup_logging

    setup_logging(getattr(args, "log_level", None) or log_level or "INFO", log_format)
    try:
        return int(args.func(args) or 0)
    except EdgeError as exc:
        print(f"{prog} {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{prog} {args.command}: interrupted", file=sys.stderr)
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    return run_cli(build_parser(), argv, prog="edge", log_level="INFO", log_format="auto")
