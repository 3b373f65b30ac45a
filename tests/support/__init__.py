"""Test support shared by every test module: CI rules, free ports, Mosquitto, gpsfake, terminal config.

``ci``        in_ci, skip_or_fail, require_binary, missing_shared_data
``net``       free_port (the simulator's, the one implementation)
``mqtt``      MosquittoServer, start_mosquitto, mqtt_config (simulator/mosquitto.py underneath)
``gps``       Gpsfake (simulator/gpsfake.py underneath), NMEA_DIR
``terminal``  write_terminal_config: a minimal edge.toml for `edge run` tests

The older homes (``tests.conftest``, ``tests.fixtures_mqtt``, ``tests.fixtures_gps``) re-export
the same objects, so existing imports keep working.
"""

from tests.support.ci import in_ci, missing_shared_data, require_binary, skip_or_fail
from tests.support.net import free_port

__all__ = ["free_port", "in_ci", "missing_shared_data", "require_binary", "skip_or_fail"]
