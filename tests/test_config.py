"""Configuration loading: defaults, TOML, environment overrides, clear errors."""

from __future__ import annotations

import pytest

from edge.config import load_config
from edge.errors import ConfigError


def test_defaults_load_without_a_file():
    """With no file and no environment, every section has a working default."""
    cfg = load_config(None, environ={})
    assert cfg.mqtt.port == 1883
    assert cfg.face.embedder == "int8"
    assert cfg.camera.type == "picamera2"


def test_toml_file_and_environment_override(tmp_path):
    """Environment overrides win over the file, nested by double underscores and parsed as JSON."""
    path = tmp_path / "edge.toml"
    path.write_text('[mqtt]\nhost = "broker.example"\nport = 8883\n[device]\ndevice_id = "pos-01"\n')
    cfg = load_config(path, environ={"TEPAT__MQTT__PORT": "9883", "TEPAT__FACE__QUALITY__MIN_FACE_PX": "80"})
    assert cfg.mqtt.host == "broker.example"
    assert cfg.mqtt.port == 9883
    assert cfg.face.quality.min_face_px == 80
    assert cfg.device.device_id == "pos-01"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[mqtt]\nport = 70000\n", "mqtt.port"),
        ("[mqtt]\nprot = 1\n", "mqtt.prot"),
        ("[nonsense]\nx = 1\n", "nonsense"),
        ("[mqtt]\npassword = 'x'\n", "username"),
        ("[camera]\ntype = 'usb'\n", "camera"),
        ("[device]\ndevice_id = 'Has Spaces'\n", "device.device_id"),
        ("not toml = = =", "not valid TOML"),
    ],
)
def test_invalid_config_names_the_offending_key(tmp_path, text, needle):
    """Every invalid file is refused with a message naming the key (or the syntax problem)."""
    path = tmp_path / "edge.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert needle in str(info.value)


def test_missing_config_file_is_a_clear_error(tmp_path):
    """A config path that does not exist is named in the error."""
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml", environ={})
