"""A real Mosquitto for tests: the simulator's launcher (:mod:`simulator.mosquitto`) under the CI rules.

``start_mosquitto(workdir, **options)`` finds the binaries with :func:`require_binary` (skip on a
workstation without them, fail under CI) and returns a started :class:`MosquittoServer`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simulator.mosquitto import DEVICE_USERS, MosquittoServer, free_port, make_pki, mqtt_config
from tests.support.ci import require_binary

__all__ = ["DEVICE_USERS", "MosquittoServer", "free_port", "make_pki", "mqtt_config", "start_mosquitto"]


def start_mosquitto(workdir: Path, **options: Any) -> MosquittoServer:
    """A configured, started private mosquitto in ``workdir`` (see :class:`MosquittoServer` for ``options``)."""
    if options.get("secure", True):
        options.setdefault("passwd_binary", require_binary("mosquitto_passwd"))
    server = MosquittoServer(require_binary("mosquitto"), workdir, **options)
    server.configure()
    server.start()
    return server
