"""The `edge schema`, `edge outbox` and `edge monitor` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tomli_w

from edge.cli import main
from edge.config import DeviceConfig
from edge.store import Outbox
from edge.transport.mqtt import MqttPublisher
from tests.fixtures_mqtt import mqtt_config


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """An edge.toml for device dev-1 whose state lives in tmp_path."""
    path = tmp_path / "edge.toml"
    path.write_text(tomli_w.dumps({"device": {"device_id": "dev-1", "region": "jabar", "state_dir": str(tmp_path / "state")}}))
    return path


def test_schema_exports_every_wire_model(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`edge schema --out DIR` writes one valid JSON Schema per wire model, including the envelope and status."""
    assert main(["schema", "--out", str(tmp_path / "s")]) == 0
    files = {p.name: json.loads(p.read_text()) for p in (tmp_path / "s").glob("*.schema.json")}
    assert {"envelope.schema.json", "status_payload.schema.json", "command_envelope.schema.json"} <= set(files)
    assert "idempotency_key" in files["envelope.schema.json"]["properties"]
    assert files["status_payload.schema.json"]["properties"]["state"]["enum"] == ["online", "offline"]
    assert str(tmp_path / "s" / "envelope.schema.json") in capsys.readouterr().out


def test_outbox_stats_list_check(config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`edge outbox stats|list|check` report the backlog, rows and integrity of the configured outbox."""
    with Outbox(tmp_path / "state" / "outbox.sqlite", "dev-1") as box:
        for i in range(3):
            box.append("verification", {"i": i})
    assert main(["-c", str(config_file), "outbox", "stats"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert (stats["pending"], stats["last_seq"]) == (3, 3)
    assert main(["-c", str(config_file), "outbox", "list", "--state", "pending"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 3
    assert main(["-c", str(config_file), "outbox", "check"]) == 0
    assert "integrity ok" in capsys.readouterr().out


def test_outbox_missing_file_is_one_line_error(config_file: Path, capsys: pytest.CaptureFixture) -> None:
    """Without an outbox file the command says where it looked and exits non-zero, without a traceback."""
    assert main(["-c", str(config_file), "outbox", "stats"]) == 3
    err = capsys.readouterr().err
    assert "no outbox at" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_outbox_corrupt_file_is_one_line_error(config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A damaged outbox file gives a one-line error naming the file."""
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "outbox.sqlite").write_bytes(b"garbage" * 1000)
    assert main(["-c", str(config_file), "outbox", "stats"]) == 2
    err = capsys.readouterr().err
    assert "outbox.sqlite" in err and "not a usable SQLite database" in err


def test_monitor_once_shows_devices(mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """`edge monitor --once` as the operator lists a terminal with its records and accepted/rejected counts."""
    from edge.monitor import Consumer

    op = mqtt_config(mosquitto, "operator")
    with Consumer(op, client_id="cli-monitor-test") as early:  # the broker queues for this session while the CLI is not yet running
        assert early.wait_connected()
    box_path = tmp_path / "o.sqlite"
    with Outbox(box_path, "dev-5") as box:
        for outcome in ("accept", "accept", "reject"):
            box.append("verification", {"outcome": outcome})
    with MqttPublisher(mqtt_config(mosquitto, "dev-5"), DeviceConfig(device_id="dev-5", region="jabar", state_dir=tmp_path), box_path):
        for key, value in {"HOST": op.host, "PORT": op.port, "USERNAME": "operator", "PASSWORD": op.password}.items():
            monkeypatch.setenv(f"TEPAT__MQTT__{key}", str(value))
        assert main(["monitor", "--once", "--settle", "2", "--client-id", "cli-monitor-test"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("dev-5"))
    assert row.split()[:3] == ["dev-5", "jabar", "online"]
    assert row.split()[-6:-2] == ["3", "2", "1", "0"]
