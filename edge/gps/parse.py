"""Turn gpsd JSON reports (TPV, SKY) into typed values, tolerating anything malformed.

Pure functions: no sockets, no clocks. A report that is not what gpsd documents yields
``None`` (or a partial result) rather than an exception, so garbage on the wire can never
stop the reader.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from edge.gps.model import GpsFix

MODES = {2: "2d", 3: "3d"}


@dataclass(frozen=True)
class Sky:
    """Satellite summary from a SKY report."""

    satellites_used: int | None
    hdop: float | None


@dataclass(frozen=True)
class Tpv:
    """A time-position-velocity report: ``fix`` is None when the receiver has no 2D/3D position."""

    mode: int
    fix: GpsFix | None
    time: datetime | None


def parse_line(line: str | bytes) -> dict[str, Any] | None:
    """One gpsd JSON line as a dict with a string ``class``, or None if it is not one."""
    try:
        data = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("class"), str):
        return None
    return data


def _number(value: Any, *, lo: float = -math.inf, hi: float = math.inf) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    if not math.isfinite(value) or not lo <= value <= hi:
        return None
    return value


def parse_time(value: Any) -> datetime | None:
    """gpsd's ISO 8601 UTC time (``2026-03-02T03:00:04.000Z``) or a datetime, as an aware UTC datetime."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if not isinstance(value, str) or not value.endswith("Z") or len(value) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(value[:-1])
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        return None
    return parsed.replace(tzinfo=timezone.utc)


def parse_sky(report: dict[str, Any]) -> Sky:
    """Satellites used (``uSat``, else counted from ``satellites[].used``) and HDOP from a SKY report."""
    used = _number(report.get("uSat"), lo=0, hi=255)
    if used is None and isinstance(report.get("satellites"), list):
        used = float(sum(1 for s in report["satellites"] if isinstance(s, dict) and s.get("used") is True))
        used = min(used, 255.0)
    return Sky(
        satellites_used=None if used is None else int(used),
        hdop=_number(report.get("hdop"), lo=0, hi=100),
    )


def parse_tpv(report: dict[str, Any], sky: Sky | None = None) -> Tpv | None:
    """A TPV report as mode, fix (2D/3D with valid coordinates) and time; None if it has no valid mode."""
    mode = report.get("mode")
    if isinstance(mode, bool) or not isinstance(mode, int) or mode not in (0, 1, 2, 3):
        return None
    time = parse_time(report.get("time"))
    fix = None
    lat = _number(report.get("lat"), lo=-90, hi=90)
    lon = _number(report.get("lon"), lo=-180, hi=180)
    if mode >= 2 and lat is not None and lon is not None:
        alt = None
        if mode == 3:  # gpsd >= 3.20 says altMSL; older ones only alt
            alt = _number(report.get("altMSL"), lo=-1000, hi=100_000)
            if alt is None:
                alt = _number(report.get("alt"), lo=-1000, hi=100_000)
        fix = GpsFix(
            lat=lat,
            lon=lon,
            alt_m=alt,
            mode=MODES[mode],
            satellites_used=sky.satellites_used if sky else None,
            hdop=sky.hdop if sky else None,
            eph_m=_number(report.get("eph"), lo=0),
            epv_m=_number(report.get("epv"), lo=0) if mode == 3 else None,
            speed_mps=_number(report.get("speed"), lo=0, hi=2000),
            fix_time=time,
        )
    return Tpv(mode=mode, fix=fix, time=time)
