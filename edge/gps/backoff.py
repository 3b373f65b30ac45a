"""gpsd reconnect delays: :class:`edge.backoff.Backoff` (doubling, ±10 % jitter); this name stays for existing imports."""

from edge.backoff import Backoff

__all__ = ["Backoff"]
