"""Test support shared by every test module: CI rules, free ports, Mosquitto, gpsfake, terminal config.

Import from here (``from tests.support import free_port, require_binary``). The older homes
(``tests.conftest``, ``tests.fixtures_mqtt``, ``tests.fixtures_gps`` ...) re-export the same objects.
"""

from tests.support.ci import in_ci, missing_shared_data, require_binary, skip_or_fail

__all__ = ["in_ci", "missing_shared_data", "require_binary", "skip_or_fail"]
