"""A terminal's ``edge.toml`` for tests that run ``edge run`` / the publisher worker as a real process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomli_w


def terminal_config(device_id: str, state_dir: Path, *, mqtt: Any = None, **sections: dict[str, Any]) -> dict[str, Any]:
    """The config as a dict: ``[device]`` from the arguments, ``[mqtt]`` from an ``MqttConfig`` (or disabled), then ``sections``.

    A section given in ``sections`` is merged over the defaults, e.g. ``device={"log_format": "json"}``.
    """
    data: dict[str, dict[str, Any]] = {"device": {"device_id": device_id, "state_dir": str(state_dir)}}
    if mqtt is None:
        data["mqtt"] = {"enabled": False}
    else:
        data["mqtt"] = {k: v for k, v in mqtt.model_dump(mode="json").items() if v is not None}
    for name, values in sections.items():
        data.setdefault(name, {}).update({k: str(v) if isinstance(v, Path) else v for k, v in values.items()})
    return data


def write_terminal_config(path: Path, device_id: str, state_dir: Path, *, mqtt: Any = None, **sections: dict[str, Any]) -> Path:
    """Write :func:`terminal_config` as TOML to ``path``; returns ``path``."""
    path.write_text(tomli_w.dumps(terminal_config(device_id, state_dir, mqtt=mqtt, **sections)), encoding="utf-8")
    return path
