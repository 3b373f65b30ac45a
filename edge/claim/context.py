"""Where and when a decision happens: GPS stamp + policy verdict + a timestamp with its source."""

from __future__ import annotations

from collections.abc import Callable

from edge.claim.decide import GpsVerdict
from edge.claim.service import Where
from edge.gps.policy import GeoPolicy, evaluate
from edge.timesource import Timestamp


def make_where(position_source: object, policy: GeoPolicy, clock: Callable[[], Timestamp]) -> Callable[[], Where]:
    """A ``where()`` for :class:`ClaimService`: ``position_source.latest()`` judged by the GPS policy, plus ``clock()``
    (normally ``edge.timesource.TimeSource(position_source).now``)."""

    def where() -> Where:
        stamp = position_source.latest()  # type: ignore[attr-defined]
        geo = evaluate(stamp, policy)
        return Where(position=stamp, gps=GpsVerdict(allowed=geo.allowed, flag=geo.flag), time=clock())

    return where
