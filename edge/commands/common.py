"""Helpers shared by subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from edge.config import EdgeConfig, load_config


def config_from_args(args: argparse.Namespace) -> EdgeConfig:
    """The configuration named by ``--config`` (or defaults), with environment overrides applied."""
    return load_config(getattr(args, "config", None))


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")
