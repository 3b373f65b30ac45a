"""Plain MQTT with a password to a remote host is accepted, but never silently (issue 13, item 9)."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from edge.config import MqttConfig, TlsConfig, load_config

PLAIN_REMOTE = '[mqtt]\nhost = "mqtt.bansos.example.go.id"\nport = 1883\nusername = "jabar-bdg-017"\npassword = "s3cret"\n'


@pytest.mark.parametrize(("settings", "environ", "warns"), [
    (dict(host="mqtt.bansos.example.go.id", username="d", password="p"), {}, True),
    (dict(host="10.1.2.3", username="d", password_file=Path("/run/credentials/x")), {}, True),
    (dict(host="192.168.1.10", username="d"), {"TEPAT_MQTT_PASSWORD": "p"}, True),
    (dict(host="mqtt.bansos.example.go.id", username="d", password="p", tls=TlsConfig()), {}, False),
    (dict(host="mqtt.bansos.example.go.id", username="d", password="p", enabled=False), {}, False),
    (dict(host="mqtt.bansos.example.go.id", username="d"), {}, False),
    (dict(host="mqtt.bansos.example.go.id"), {"TEPAT_MQTT_PASSWORD": "p"}, False),
    (dict(host="127.0.0.1", username="d", password="p"), {}, False),
    (dict(host="127.0.0.53", username="d", password="p"), {}, False),
    (dict(host="localhost", username="d", password="p"), {}, False),
    (dict(host="::1", username="d", password="p"), {}, False),
    (dict(host="localhost.example.com", username="d", password="p"), {}, True),
])
def test_plain_password_to_a_remote_host_warns(settings: dict, environ: dict, warns: bool) -> None:
    warnings = MqttConfig(**settings).security_warnings(environ)
    assert len(warnings) == (1 if warns else 0)
    if warns:
        assert "plain MQTT (no TLS)" in warnings[0] and settings["host"] in warnings[0]


def test_load_config_logs_the_warning_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "edge.toml"
    path.write_text(PLAIN_REMOTE)
    with caplog.at_level(logging.WARNING, logger="edge.config"):
        load_config(path, environ={})
    assert [r.getMessage() for r in caplog.records if "plain MQTT" in r.getMessage()] == [
        f"{path}: mqtt: the password goes to mqtt.bansos.example.go.id:1883 over plain MQTT (no TLS): anyone on the network "
        "path can read it and log in as this terminal; add an [mqtt.tls] section (port 8883)"]


def test_edge_config_shows_the_warning(tmp_path: Path) -> None:
    """`edge config` still prints the configuration (exit 0) and shows the warning as one line on stderr."""
    path = tmp_path / "edge.toml"
    path.write_text(PLAIN_REMOTE)
    out = subprocess.run([sys.executable, "-m", "edge", "-c", str(path), "config"], capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert out.returncode == 0 and '"host": "mqtt.bansos.example.go.id"' in out.stdout
    lines = out.stderr.splitlines()
    assert len(lines) == 1 and "plain MQTT (no TLS)" in lines[0] and "warning" in lines[0].lower(), out.stderr
