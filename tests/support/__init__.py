"""Test support shared by every test module: CI rules, free ports, Mosquitto, gpsfake, terminal config.

``ci``        in_ci, skip_or_fail, require_binary, missing_shared_data
``net``       free_port (the simulator's, the one implementation)
``mqtt``      MosquittoServer, start_mosquitto, mqtt_config (simulator/mosquitto.py underneath)
``gps``       Gpsfake (simulator/gpsfake.py underneath), NMEA_DIR
``terminal``  write_terminal_config: a minimal edge.toml for `edge run` tests
``served_terminal``  a provisioned terminal under a real `edge run`: edge(), Terminal, write_edge_toml, provision, serve
``counter_browser``  the counter app in headless Chromium and the officer's steps on it
``http_json``  call_json: one JSON call to a terminal's HTTP API, (status, body)

The older homes (``tests.conftest``, ``tests.fixtures_mqtt``, ``tests.fixtures_gps``) re-export
the same objects, so existing imports keep working.
"""

from tests.support.ci import in_ci, missing_shared_data, require_binary, skip_or_fail
from tests.support.net import free_port

__all__ = ["free_port", "in_ci", "missing_shared_data", "require_binary", "skip_or_fail"]
