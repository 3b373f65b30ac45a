"""Face-source resolution and the simulator's broker finder (mosquitto, amqtt)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from simulator import faces
from simulator.broker import SimBroker, mqtt_answers
from tests.conftest import require_binary


def test_faces_flag_wins(tmp_path: Path) -> None:
    """--faces DIR is used when it holds identity folders."""
    for name in ("A_One", "B_Two"):
        (tmp_path / name).mkdir()
        for n in (1, 2):
            (tmp_path / name / f"{n}.jpg").write_bytes(b"x")
    lib = faces.resolve_faces(tmp_path)
    assert sorted(lib.identities) == ["A_One", "B_Two"] and "--faces" in lib.origin


def test_no_faces_anywhere_is_one_clear_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --faces, shared dataset or LFW cache, the error names all three options."""
    monkeypatch.setenv("TEPAT_SHARED", str(tmp_path / "no-shared"))
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "no-sklearn"))
    with pytest.raises(faces.FacesNotFound) as err:
        faces.resolve_faces(None)
    msg = str(err.value)
    assert "--faces" in msg and "no-shared" in msg and "fetch_lfw_people" in msg


def test_sklearn_lfw_cache_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no shared dataset, scikit-learn's LFW cache folder is found."""
    monkeypatch.setenv("TEPAT_SHARED", str(tmp_path / "no-shared"))
    monkeypatch.setenv("SCIKIT_LEARN_DATA", str(tmp_path / "skl"))
    lfw = tmp_path / "skl" / "lfw_home" / "lfw_funneled"
    for name in ("A_One", "B_Two"):
        (lfw / name).mkdir(parents=True)
        for n in (1, 2):
            (lfw / name / f"{name}_000{n}.jpg").write_bytes(b"x")
    assert "scikit-learn" in faces.resolve_faces(None).origin


def test_faces_flag_not_a_folder(tmp_path: Path) -> None:
    """--faces pointing nowhere is refused naming the path."""
    with pytest.raises(faces.FacesNotFound, match="missing"):
        faces.resolve_faces(tmp_path / "missing")


def test_private_mosquitto_starts_restarts_and_stops() -> None:
    """With mosquitto installed, the simulator starts its own on loopback, can restart it, and stops it."""
    require_binary("mosquitto")
    with SimBroker(prefer="mosquitto", probe_localhost=False) as broker:
        ep = broker.endpoint
        assert ep.kind == "mosquitto" and ep.host == "127.0.0.1" and ep.protocol == "5"
        assert mqtt_answers(ep.host, ep.port)
        broker.restart(0.1)
        assert mqtt_answers(ep.host, ep.port)
    assert not mqtt_answers(ep.host, ep.port, 0.3)


def test_amqtt_fallback_binds_loopback_and_speaks_311() -> None:
    """The in-process amqtt broker listens on 127.0.0.1 only and is marked MQTT 3.1.1."""
    pytest.importorskip("amqtt", reason="amqtt (the [sim] extra) is not installed")
    with SimBroker(prefer="amqtt", probe_localhost=False) as broker:
        ep = broker.endpoint
        assert ep.kind == "amqtt" and ep.protocol == "3.1.1" and ep.host == "127.0.0.1"
        assert mqtt_answers("127.0.0.1", ep.port)
        assert not mqtt_answers(_non_loopback_address(), ep.port, 0.5)


def _non_loopback_address() -> str:
    psutil = pytest.importorskip("psutil")
    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            if a.family == socket.AF_INET and not a.address.startswith("127."):
                return a.address
    pytest.skip("this machine has no non-loopback IPv4 address to probe")


def test_configured_broker_is_used_as_is() -> None:
    """A configured host/port is passed through without probing or starting anything."""
    with SimBroker("mqtt.example.org", 8883) as broker:
        assert broker.endpoint.kind == "configured" and broker.endpoint.port == 8883 and broker.server is None
