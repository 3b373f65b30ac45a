"""`edge config`: show the effective configuration, or check a file."""

from __future__ import annotations

import argparse
import json

from edge.commands.common import config_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="print the effective configuration (defaults + file + environment) as JSON")
    p.add_argument("--schema", action="store_true", help="print the configuration's JSON Schema instead")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edge.config import EdgeConfig

    if args.schema:
        print(json.dumps(EdgeConfig.model_json_schema(), indent=2))
        return 0
    cfg = config_from_args(args)
    print(cfg.model_dump_json(indent=2))
    return 0
