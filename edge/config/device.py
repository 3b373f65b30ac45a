"""Who this terminal is and where it keeps its state."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from edge.config.base import Section


def default_state_dir() -> Path:
    """systemd's StateDirectory when run as a service, else a per-user folder."""
    if os.environ.get("STATE_DIRECTORY"):
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    return Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "tepat-edge"


class DeviceConfig(Section):
    device_id: str = Field("terminal-dev", description="Unique terminal id; used in MQTT topics and records.", pattern=r"^[a-z0-9][a-z0-9_-]{1,62}$")
    region: str = Field("dev", description="Region code used in MQTT topics (e.g. 'jabar').", pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    distribution_point: str = Field("dev-point", description="Distribution point id this terminal serves.", min_length=1, max_length=64)
    state_dir: Path = Field(default_factory=default_state_dir, description="Folder for the SQLite databases and keys.")
    log_format: Literal["auto", "text", "json"] = Field("auto", description="'auto': readable on a terminal, JSON otherwise.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")

    @field_validator("state_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()
