"""Free loopback ports: the simulator's :func:`simulator.mosquitto.free_port`, the one implementation."""

from simulator.mosquitto import free_port

__all__ = ["free_port"]
