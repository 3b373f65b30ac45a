"""The latest fix and GPS time, kept from a stream of gpsd reports; pure logic, time passed in.

Every position source (the gpsd reader and the simulators) keeps one :class:`FixTracker`,
feeds it reports with the monotonic time they arrived, and asks it for a
:class:`~edge.gps.model.PositionStamp` at any moment. Ages are monotonic, so the wall clock
being wrong (a Pi without RTC) does not make a fix look fresher or older than it is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from edge.gps.model import GpsFix, PositionStamp
from edge.gps.parse import Sky, parse_sky, parse_tpv

NS = 1_000_000_000
SKY_MAX_AGE_NS = 5 * NS  # a SKY older than this is not attributed to a new fix


class FixTracker:
    """State from gpsd reports: the last fix, whether it is current, and the last GPS time."""

    def __init__(self, source: str, *, stale_after_s: float = 5.0) -> None:
        self.source = source
        self.stale_after_ns = int(stale_after_s * NS)
        self._fix: GpsFix | None = None
        self._fix_ns = 0
        self._has_fix = False  # the most recent TPV carried a position
        self._tpv_ns: int | None = None
        self._sky: Sky | None = None
        self._sky_ns = 0
        self._gps_time: datetime | None = None
        self._gps_time_ns = 0
        self.reports = 0
        self.rejected = 0

    def on_report(self, report: Any, now_ns: int) -> None:
        """Take one decoded gpsd report (any class); malformed ones are counted and ignored."""
        if not isinstance(report, dict):
            self.rejected += 1
            return
        kind = report.get("class")
        if kind == "SKY":
            self._sky, self._sky_ns = parse_sky(report), now_ns
        elif kind == "TPV":
            self.on_tpv(report, now_ns)

    def on_tpv(self, report: dict[str, Any], now_ns: int) -> None:
        sky = self._sky if self._sky is not None and now_ns - self._sky_ns <= SKY_MAX_AGE_NS else None
        tpv = parse_tpv(report, sky)
        if tpv is None:
            self.rejected += 1
            return
        self.reports += 1
        if tpv.mode == 0:  # gpsd: "unknown" (device just opened) – tells nothing about the fix
            return
        self._tpv_ns = now_ns
        if tpv.time is not None:
            self._gps_time, self._gps_time_ns = tpv.time, now_ns
        if tpv.fix is not None:
            self._fix, self._fix_ns, self._has_fix = tpv.fix, now_ns, True
        elif tpv.mode == 1:
            self._has_fix = False

    def put_fix(self, fix: GpsFix | None, now_ns: int, gps_time: datetime | None = None) -> None:
        """Record a fix (or its absence) directly; for sources that do not speak gpsd JSON."""
        self.reports += 1
        self._tpv_ns = now_ns
        if gps_time is not None:
            self._gps_time, self._gps_time_ns = gps_time, now_ns
        if fix is not None:
            self._fix, self._fix_ns, self._has_fix = fix, now_ns, True
        else:
            self._has_fix = False

    def stamp(self, now_ns: int) -> PositionStamp:
        """What a record made at ``now_ns`` should carry."""
        gps_time_age = _age(now_ns, self._gps_time_ns) if self._gps_time is not None else None
        last_age = _age(now_ns, self._fix_ns) if self._fix is not None else None
        if self._fix is not None and self._has_fix:
            if now_ns - self._fix_ns <= self.stale_after_ns:
                return PositionStamp(status="fix", fix=self._fix, age_s=last_age, last_known=self._fix,
                                     last_known_age_s=last_age, source=self.source,
                                     gps_time=self._gps_time, gps_time_age_s=gps_time_age)
            status = "stale"
        else:
            status = "no_fix"
        return PositionStamp(status=status, last_known=self._fix, last_known_age_s=last_age, source=self.source,
                             gps_time=self._gps_time, gps_time_age_s=gps_time_age)


def _age(now_ns: int, then_ns: int) -> float:
    return max(0, now_ns - then_ns) / NS
