"""A real Mosquitto for tests: plain + TLS + mutual-TLS listeners on free loopback ports.

Fixtures
--------
``mosquitto``        session-scoped broker (shared; do not restart it).
``mosquitto_fresh``  function-scoped broker of its own (restart / stop it freely).
``mqtt_config_for``  ``mqtt_config_for(broker, device_id="dev-1", *, tls=False, protocol="5", **overrides) -> MqttConfig``.

The broker object (:class:`MosquittoServer`, from :mod:`simulator.mosquitto`, the one launcher the
simulator, the tests and the transport benchmark share) has ``host``, ``port`` (plain),
``tls_port`` (server certificate signed by ``ca_file``, client certificate optional),
``mtls_port`` (client certificate required; ``client_cert``/``client_key`` are signed by the same
CA), ``ca_file``, ``password(user)``, ``users`` (``dev-1`` … ``dev-5``, ``operator``),
``restart(down_s=0)``, ``stop()``, ``start()``, ``log_text()``. Persistence is on, so a restart
keeps queued QoS 1 messages and retained topics. ACL: device ``dev-N`` may publish only under
``tepat/v1/+/dev-N/#`` and read only ``tepat/v1/+/dev-N/cmd/#``; ``operator`` reads and writes
everything under ``tepat/#``.

``free_port``, ``MosquittoServer`` and ``mqtt_config`` stay importable from here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.mqtt import DEVICE_USERS, MosquittoServer, free_port, mqtt_config, start_mosquitto

__all__ = ["DEVICE_USERS", "MosquittoServer", "free_port", "mqtt_config"]


def _start(tmp: Path) -> MosquittoServer:
    return start_mosquitto(tmp)


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory):
    """A shared real mosquitto (plain, TLS and mutual-TLS listeners; passwords; ACL) for the session."""
    server = _start(tmp_path_factory.mktemp("mosquitto"))
    yield server
    server.stop()


@pytest.fixture
def mosquitto_fresh(tmp_path: Path):
    """A real mosquitto of this test's own, free to restart or stop."""
    server = _start(tmp_path / "mosquitto")
    yield server
    server.stop()


@pytest.fixture
def mqtt_config_for():
    """The :func:`mqtt_config` helper as a fixture."""
    return mqtt_config
