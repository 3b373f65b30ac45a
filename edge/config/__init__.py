"""One configuration model for the whole terminal, loaded from TOML with environment overrides.

Environment overrides use ``TEPAT__SECTION__KEY=value`` (double underscores separate
levels), e.g. ``TEPAT__MQTT__PORT=8883``. Values are parsed as JSON when they can be
(numbers, booleans, lists), else taken as strings.
"""

from __future__ import annotations

import json
import logging
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from edge.config.base import Section
from edge.config.claim import ClaimConfig
from edge.config.camera import CameraConfig, FolderCameraConfig, Picamera2Config, V4l2Config
from edge.config.device import DeviceConfig
from edge.config.face import FaceConfig, QualityConfig
from edge.config.gps import GpsConfig
from edge.config.mqtt import MqttConfig, TlsConfig
from edge.config.service import ServiceConfig
from edge.config.store import StoreConfig
from edge.errors import ConfigError, EdgeError
from edge.safejson import InputTooDeep, toml_loads_bounded

ENV_PREFIX = "TEPAT__"
logger = logging.getLogger(__name__)

__all__ = [
    "EdgeConfig",
    "ClaimConfig",
    "DeviceConfig",
    "FaceConfig",
    "QualityConfig",
    "StoreConfig",
    "MqttConfig",
    "TlsConfig",
    "GpsConfig",
    "CameraConfig",
    "Picamera2Config",
    "V4l2Config",
    "FolderCameraConfig",
    "load_config",
]


class EdgeConfig(Section):
    """Everything a terminal needs; every section has working defaults."""

    device: DeviceConfig = Field(default_factory=DeviceConfig)
    face: FaceConfig = Field(default_factory=FaceConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    gps: GpsConfig = Field(default_factory=GpsConfig)
    camera: CameraConfig = Field(default_factory=Picamera2Config)
    service: ServiceConfig = Field(default_factory=ServiceConfig)
    claim: ClaimConfig = Field(default_factory=ClaimConfig)

    @property
    def outbox_path(self) -> Path:
        return self.store.path or self.device.state_dir / "outbox.sqlite"


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        keys = [k.lower() for k in name[len(ENV_PREFIX):].split("__") if k]
        if not keys:
            continue
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        node = tree
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError(f"environment {name}: conflicts with another override of {key!r}")
        node[keys[-1]] = value
    return tree


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def format_validation_error(source: str, err: ValidationError) -> str:
    """One line per problem, each naming the dotted key, e.g. ``edge.toml: mqtt.port: ...``."""
    lines = []
    for problem in err.errors():
        key = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        lines.append(f"{source}: {key}: {problem['msg']}")
    return "\n".join(lines)


def read_toml(path: Path, what: str, *, missing: type[EdgeError] = ConfigError) -> dict[str, Any]:
    """Parse a TOML file; one clear error naming ``what`` and the file (``missing`` for a file that is not there)."""
    try:
        return toml_loads_bounded(path.read_text(encoding="utf-8"), what=f"{what} {path}")
    except FileNotFoundError:
        raise missing(f"{what} not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except InputTooDeep as exc:
        raise ConfigError(str(exc)) from None


def load_config(path: Path | str | None = None, environ: Mapping[str, str] | None = None) -> EdgeConfig:
    """Load ``path`` (TOML; optional), apply ``TEPAT__…`` overrides, validate.

    Raises :class:`ConfigError` naming the offending key or file.
    """
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        path = Path(path)
        source = str(path)
        data = read_toml(path, "config file")
    overrides = _env_overrides(environ)
    if overrides:
        data = _merge(data, overrides)
        source = f"{source} + environment"
    try:
        cfg = EdgeConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc)) from None
    for warning in cfg.mqtt.security_warnings(environ):
        logger.warning("%s: %s", source, warning)
    return cfg
