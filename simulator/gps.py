"""Simulated position sources: a fixed point, a route, fix loss on a schedule or on demand.

They implement :class:`edge.gps.source.PositionSource` exactly like the real gpsd reader and
build their stamps with the same :class:`edge.gps.tracker.FixTracker`, so ages, staleness and
last-known positions behave the same. Clocks are injected: ``monotonic`` (seconds, float)
drives movement, outages and ages; ``utc_now`` gives the GPS time the receiver reports.

Route files: one ``lat,lon`` per line (``#`` comments and a ``lat,lon`` header allowed), a JSON
list of ``[lat, lon]`` pairs, or a GeoJSON ``LineString`` (whose coordinates are ``[lon, lat]``).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Literal

from edge.errors import ConfigError
from edge.gps.model import GpsFix, PositionStamp, SourceState
from edge.gps.tracker import FixTracker

EARTH_RADIUS_M = 6_371_008.8
Waypoint = tuple[float, float]
MAX_REPLAY = 3600  # reports replayed when the clock jumps ahead


def haversine_m(a: Waypoint, b: Waypoint) -> float:
    """Great-circle distance in metres between two (lat, lon) points."""
    p1, p2 = math.radians(a[0]), math.radians(b[0])
    dp, dl = p2 - p1, math.radians(b[1] - a[1])
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class Outage:
    """From ``start_s`` to ``end_s`` after start(): ``no_fix`` (receiver reports no position) or
    ``silent`` (nothing arrives at all: gpsd down, receiver unplugged; the fix goes stale)."""

    start_s: float
    end_s: float
    kind: Literal["no_fix", "silent"] = "no_fix"

    def __post_init__(self) -> None:
        if not 0 <= self.start_s < self.end_s:
            raise ValueError(f"outage needs 0 <= start_s < end_s, got {self.start_s}..{self.end_s}")


class _SimulatedSource:
    """Shared machinery: clock handling, outages, the tracker, the context-manager protocol."""

    name = "simulated"
    report_period_s = 1.0  # a receiver reports once a second

    def __init__(self, *, outages: Sequence[Outage] = (), stale_after_s: float = 5.0, alt_m: float | None = None,
                 monotonic: Callable[[], float] = time.monotonic,
                 utc_now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.outages = tuple(outages)
        self.alt_m = alt_m
        self._mono = monotonic
        self._utc = utc_now
        self._lock = threading.Lock()
        self._tracker = FixTracker(self.name, stale_after_s=stale_after_s)
        self._t0: float | None = None
        self._next_report_s = 0.0
        self._forced: Literal["no_fix", "silent"] | None = None
        self._state: SourceState = "disabled"

    # -- PositionSource ------------------------------------------------------------------
    @property
    def state(self) -> SourceState:
        return self._state

    def start(self) -> None:
        if self._t0 is None:
            self._t0 = self._mono()
        self._state = "connected"

    def close(self) -> None:
        self._state = "disabled"

    def latest(self) -> PositionStamp:
        with self._lock:
            if self._t0 is None:
                return PositionStamp.no_fix(self.name)
            self._flush(self._mono() - self._t0)
            return self._tracker.stamp(_ns(self._mono()))

    def _flush(self, elapsed: float) -> None:
        """Replay the once-a-second reports due since the last call (at most the last hour of them)."""
        period = self.report_period_s
        due = max(self._next_report_s, (math.floor(elapsed / period) - MAX_REPLAY) * period)
        while due <= elapsed:
            self._report(due)
            due += period
        self._next_report_s = due

    def __enter__(self) -> "_SimulatedSource":
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # -- simulation controls -------------------------------------------------------------
    def set_outage(self, kind: Literal["no_fix", "silent"] | None) -> None:
        """Start (``"no_fix"``/``"silent"``) or end (``None``) an outage now, regardless of the schedule."""
        with self._lock:
            if self._t0 is not None:  # reports already replayed keep their state; the change applies from now
                self._flush(self._mono() - self._t0)
            self._forced = kind

    def position_at(self, elapsed_s: float) -> tuple[float, float, float | None]:
        """(lat, lon, speed m/s) ``elapsed_s`` after start."""
        raise NotImplementedError

    # -- internals -----------------------------------------------------------------------
    def _outage_at(self, elapsed_s: float) -> Literal["no_fix", "silent"] | None:
        if self._forced is not None:
            return self._forced
        for outage in self.outages:
            if outage.start_s <= elapsed_s < outage.end_s:
                return outage.kind
        return None

    def _report(self, elapsed_s: float) -> None:
        outage = self._outage_at(elapsed_s)
        if outage == "silent":
            return
        # The report arrived at the moment it was due, so its age grows between reports.
        at_ns = _ns(self._t0 + elapsed_s) if self._t0 is not None else _ns(self._mono())
        at_ns = min(at_ns, _ns(self._mono()))
        utc = self._utc()
        if outage == "no_fix":
            self._tracker.put_fix(None, at_ns, gps_time=utc)
            return
        lat, lon, speed = self.position_at(elapsed_s)
        fix = GpsFix(lat=lat, lon=lon, alt_m=self.alt_m, mode="3d" if self.alt_m is not None else "2d",
                     satellites_used=9, hdop=0.9, eph_m=5.0, speed_mps=speed, fix_time=utc)
        self._tracker.put_fix(fix, at_ns, gps_time=utc)


def _ns(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


class FixedPoint(_SimulatedSource):
    """A receiver standing still at (lat, lon)."""

    name = "sim-fixed"

    def __init__(self, lat: float, lon: float, **kwargs: object) -> None:
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ConfigError(f"simulated GPS position out of range: lat={lat}, lon={lon}")
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.lat, self.lon = lat, lon

    def position_at(self, elapsed_s: float) -> tuple[float, float, float | None]:
        return self.lat, self.lon, 0.0


class RouteSource(_SimulatedSource):
    """A receiver moving along waypoints at ``speed_mps``; stops at the end, or loops with ``loop=True``."""

    name = "sim-route"

    def __init__(self, route: Path | str | Sequence[Waypoint], speed_mps: float = 10.0, *, loop: bool = False,
                 **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        if speed_mps <= 0:
            raise ConfigError(f"route speed must be positive, got {speed_mps}")
        self.waypoints = load_route(route) if isinstance(route, (str, Path)) else _check_route(list(route), "route")
        self.speed_mps = speed_mps
        self.loop = loop
        self._legs = [haversine_m(a, b) for a, b in zip(self.waypoints, self.waypoints[1:])]
        self.length_m = sum(self._legs)

    def position_at(self, elapsed_s: float) -> tuple[float, float, float | None]:
        distance = elapsed_s * self.speed_mps
        if self.length_m == 0:
            return self.waypoints[0][0], self.waypoints[0][1], 0.0
        if self.loop:
            distance %= self.length_m
        elif distance >= self.length_m:
            return self.waypoints[-1][0], self.waypoints[-1][1], 0.0
        for (a, b), leg in zip(zip(self.waypoints, self.waypoints[1:]), self._legs):
            if distance <= leg and leg > 0:
                f = distance / leg
                return a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, self.speed_mps
            distance -= leg
        return self.waypoints[-1][0], self.waypoints[-1][1], 0.0


def load_route(path: Path | str) -> list[Waypoint]:
    """Waypoints from a CSV, JSON list or GeoJSON LineString file; ConfigError naming the file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read route file {path}: {exc.strerror or exc}") from None
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"route file {path}: not valid JSON: {exc}") from None
        if isinstance(data, dict):
            geometry = data.get("geometry", data)
            if not isinstance(geometry, dict) or geometry.get("type") != "LineString":
                raise ConfigError(f"route file {path}: a GeoJSON route must be a LineString")
            data = [(c[1], c[0]) for c in geometry.get("coordinates", []) if isinstance(c, list) and len(c) >= 2]
        return _check_route(data, str(path))
    points: list[Waypoint] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line or line.replace(" ", "").lower() == "lat,lon":
            continue
        parts = [p.strip() for p in line.split(",")]
        try:
            points.append((float(parts[0]), float(parts[1])))
        except (ValueError, IndexError):
            raise ConfigError(f"route file {path}, line {number}: expected 'lat,lon', got {line!r}") from None
    return _check_route(points, str(path))


def _check_route(points: list, where: str) -> list[Waypoint]:
    out: list[Waypoint] = []
    for i, point in enumerate(points):
        try:
            lat, lon = float(point[0]), float(point[1])
        except (TypeError, ValueError, IndexError):
            raise ConfigError(f"{where}: waypoint {i + 1} is not a (lat, lon) pair: {point!r}") from None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ConfigError(f"{where}: waypoint {i + 1} out of range: lat={lat}, lon={lon}")
        out.append((lat, lon))
    if not out:
        raise ConfigError(f"{where}: a route needs at least one waypoint")
    return out
