"""Where each decision happened: gpsd position sources, the stamp records carry, the no-fix policy.

Typical use::

    from edge.gps import make_position_source, evaluate
    with make_position_source(config.gps) as gps:
        stamp = gps.latest()                 # never blocks
        decision = evaluate(stamp, config.gps)
"""

from __future__ import annotations

from edge.gps.model import GpsFix, PositionStamp
from edge.gps.policy import GeoDecision, evaluate
from edge.gps.source import DisabledSource, PositionSource, make_position_source

__all__ = ["GpsFix", "PositionStamp", "GeoDecision", "evaluate", "PositionSource", "DisabledSource", "make_position_source"]
