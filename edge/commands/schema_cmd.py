"""`edge schema`: export the JSON Schema of every MQTT wire message."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("schema", help="export the JSON Schema of every MQTT message (envelope, status, commands, records)",
                       description="Print every wire model's JSON Schema as one JSON object, or write one <name>.schema.json file per model with --out.")
    p.add_argument("--out", metavar="DIR", type=Path, help="write one .schema.json file per model into DIR (created if missing)")
    p.set_defaults(func=run)


def collect() -> dict[str, dict]:
    """File name -> JSON Schema, for every area's wire models."""
    from edge.wire_models import json_schemas

    return json_schemas()


def run(args: argparse.Namespace) -> int:
    from edge.errors import EdgeError

    schemas = collect()
    if args.out is None:
        print(json.dumps(schemas, indent=2))
        return 0
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        for name, schema in schemas.items():
            (args.out / name).write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise EdgeError(f"cannot write schemas to {args.out}: {exc}") from None
    for name in schemas:
        print(args.out / name)
    return 0
