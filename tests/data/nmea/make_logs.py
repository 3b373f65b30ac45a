#!/usr/bin/env python3
"""Write the NMEA 0183 logs the GPS tests replay through gpsfake, with correct checksums.

Run from anywhere: ``python tests/data/nmea/make_logs.py`` rewrites the ``*.log`` files beside
this script. Every log is deterministic (no randomness without a fixed seed), so re-running it
produces byte-identical files. The truth each test compares against (coordinates, times) is
exported as constants from this module, so tests and logs cannot drift apart.

Logs:
- ``fixed_monas.log``   a receiver standing still at Monas, Jakarta, with a 3D fix.
- ``route_jakarta.log`` a receiver driving a short route north from Monas at 5 m/s.
- ``fix_loss.log``      a few 3D fixes, then a long stretch with time but no position.
- ``time_only.log``     a receiver that reports UTC time and date but never a position.
- ``garbage.log``       bad checksums, truncated and oversized sentences, binary noise, with a
                        valid fix every few lines.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Monas (National Monument), Jakarta.
MONAS_LAT = -6.1754
MONAS_LON = 106.8272
MONAS_ALT_M = 12.5
START = datetime(2026, 3, 2, 3, 0, 0, tzinfo=timezone.utc)  # 10:00 WIB

# Route: north from Monas along Jl. Medan Merdeka Barat to Harmoni, then west.
ROUTE_WAYPOINTS: list[tuple[float, float]] = [
    (-6.1754, 106.8272),
    (-6.1710, 106.8272),
    (-6.1668, 106.8200),
]
ROUTE_SPEED_MPS = 5.0
EARTH_RADIUS_M = 6_371_008.8


def checksum(body: str) -> str:
    """The NMEA checksum: XOR of every character between '$' and '*', as two hex digits."""
    value = 0
    for char in body:
        value ^= ord(char)
    return f"{value:02X}"


def sentence(body: str) -> str:
    return f"${body}*{checksum(body)}"


def _lat(lat: float) -> tuple[str, str]:
    hemi = "S" if lat < 0 else "N"
    lat = abs(lat)
    deg = int(lat)
    return f"{deg:02d}{(lat - deg) * 60:09.6f}", hemi


def _lon(lon: float) -> tuple[str, str]:
    hemi = "W" if lon < 0 else "E"
    lon = abs(lon)
    deg = int(lon)
    return f"{deg:03d}{(lon - deg) * 60:09.6f}", hemi


def _hms(t: datetime) -> str:
    return t.strftime("%H%M%S.") + f"{t.microsecond // 10000:02d}"


def gsv(sats: int) -> list[str]:
    """Satellites in view (GSV), four per sentence; every one has a signal so gpsd counts it as used."""
    if sats == 0:
        return [sentence("GPGSV,1,1,00")]
    views = [f"{prn:02d},{20 + 5 * prn % 60:02d},{(37 * prn) % 360:03d},{30 + prn % 15:02d}" for prn in range(1, sats + 1)]
    groups = [views[i:i + 4] for i in range(0, len(views), 4)]
    return [sentence(f"GPGSV,{len(groups)},{n},{sats:02d}," + ",".join(g)) for n, g in enumerate(groups, 1)]


def epoch(t: datetime, lat: float | None, lon: float | None, *, alt: float = MONAS_ALT_M, sats: int = 9,
          hdop: float = 0.9, speed_mps: float = 0.0, course: float = 0.0) -> list[str]:
    """One second of receiver output: RMC, GGA, GSA, ZDA (and GSV with a fix); ``lat=None`` means no position fix."""
    date = t.strftime("%d%m%y")
    knots = speed_mps / 0.514444
    if lat is None or lon is None:
        return [
            sentence(f"GPRMC,{_hms(t)},V,,,,,,,{date},,,N"),
            sentence(f"GPGGA,{_hms(t)},,,,,0,00,99.99,,,,,,"),
            sentence("GPGSA,A,1,,,,,,,,,,,,,99.99,99.99,99.99"),
            sentence(f"GPZDA,{_hms(t)},{t.day:02d},{t.month:02d},{t.year},00,00"),
        ]
    la, ns = _lat(lat)
    lo, ew = _lon(lon)
    prns = ",".join(f"{p:02d}" for p in range(1, sats + 1)) + "," * (12 - sats)
    return [
        sentence(f"GPRMC,{_hms(t)},A,{la},{ns},{lo},{ew},{knots:.3f},{course:.2f},{date},,,A"),
        sentence(f"GPGGA,{_hms(t)},{la},{ns},{lo},{ew},1,{sats:02d},{hdop:.2f},{alt:.1f},M,4.1,M,,"),
        sentence(f"GPGSA,A,3,{prns},{hdop + 0.6:.2f},{hdop:.2f},{hdop + 0.3:.2f}"),
        sentence(f"GPZDA,{_hms(t)},{t.day:02d},{t.month:02d},{t.year},00,00"),
    ] + gsv(sats)


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def route_points(step_s: float = 1.0) -> Iterator[tuple[float, float, float]]:
    """(lat, lon, course) every ``step_s`` along ROUTE_WAYPOINTS at ROUTE_SPEED_MPS (linear in degrees per leg)."""
    for (la1, lo1), (la2, lo2) in zip(ROUTE_WAYPOINTS, ROUTE_WAYPOINTS[1:]):
        leg = haversine_m(la1, lo1, la2, lo2)
        course = math.degrees(math.atan2((lo2 - lo1) * math.cos(math.radians(la1)), la2 - la1)) % 360
        steps = max(1, int(leg / (ROUTE_SPEED_MPS * step_s)))
        for i in range(steps):
            f = i / steps
            yield la1 + (la2 - la1) * f, lo1 + (lo2 - lo1) * f, course
    yield ROUTE_WAYPOINTS[-1][0], ROUTE_WAYPOINTS[-1][1], 0.0


def fixed_monas(epochs: int = 40) -> list[str]:
    out = ["# A receiver standing still at Monas, Jakarta (-6.1754, 106.8272), 3D fix, 9 satellites."]
    for i in range(epochs):
        out += epoch(START + timedelta(seconds=i), MONAS_LAT, MONAS_LON)
    return out


def route_jakarta() -> list[str]:
    out = [f"# Driving north from Monas at {ROUTE_SPEED_MPS} m/s through {ROUTE_WAYPOINTS}."]
    for i, (lat, lon, course) in enumerate(route_points()):
        out += epoch(START + timedelta(seconds=i), lat, lon, speed_mps=ROUTE_SPEED_MPS, course=course)
    return out


def fix_loss(fix_epochs: int = 4, lost_epochs: int = 120) -> list[str]:
    out = [f"# {fix_epochs} s of 3D fix at Monas, then {lost_epochs} s with time but no position (e.g. under a roof)."]
    for i in range(fix_epochs):
        out += epoch(START + timedelta(seconds=i), MONAS_LAT, MONAS_LON)
    for i in range(fix_epochs, fix_epochs + lost_epochs):
        out += epoch(START + timedelta(seconds=i), None, None)
    return out


def time_only(epochs: int = 40) -> list[str]:
    out = ["# A receiver that knows UTC time and date but has no position fix."]
    for i in range(epochs):
        out += epoch(START + timedelta(seconds=i), None, None)
    return out


def garbage(epochs: int = 40, seed: int = 4) -> list[str]:
    rng = random.Random(seed)
    out = ["# Noise between valid Monas fixes: bad checksums, truncation, binary, absurd values."]
    for i in range(epochs):
        good = epoch(START + timedelta(seconds=i), MONAS_LAT, MONAS_LON)
        bad = [
            good[0][:-2] + ("00" if good[0][-2:] != "00" else "11"),  # wrong checksum
            good[1][: rng.randrange(8, len(good[1]) - 4)],  # truncated sentence
            sentence("GPGGA,999999.99,9999.9999,X,99999.9999,Y,7,99,-1,abc,M,,M,,"),  # absurd fields
            sentence("GPRMC,,A,,,,,,,,,,"),  # active status, no data
            "$" + "GPXXX," + "9" * 200,  # oversized, no checksum
            "".join(chr(rng.randrange(32, 127)) for _ in range(rng.randrange(5, 80))),
        ]
        out += good
        out.append(rng.choice(bad))
    return out


LOGS = {
    "fixed_monas.log": fixed_monas,
    "route_jakarta.log": route_jakarta,
    "fix_loss.log": fix_loss,
    "time_only.log": time_only,
    "garbage.log": garbage,
}


def main() -> None:
    for name, make in LOGS.items():
        (HERE / name).write_text("\n".join(make()) + "\n", encoding="ascii")
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
