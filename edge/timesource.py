"""Trustworthy record time on a Pi without a battery-backed clock.

Every record carries ``Timestamp(wall, source, monotonic_ns, boot_id)``:

- ``source="ntp"``: the kernel says the system clock is synchronised (NTP, or chrony using the
  GPS as a reference clock); ``wall`` is the system clock.
- ``source="gps"``: the system clock is not synchronised but gpsd has reported a UTC time;
  ``wall`` is that GPS time advanced by the monotonic time since it arrived.
- ``source="rtc"``: not synchronised, no GPS time, but the system clock was set from a
  hardware RTC at boot.
- ``source="unsynchronised"``: none of the above; ``wall`` is whatever the system clock says
  (on a Pi that is often the time of the last shutdown, from fake-hwclock).

Within one boot ``wall`` never goes backwards: if the chosen clock is behind the last
timestamp given out (a clock step, or GPS time arriving behind a wrong system clock), the last
value is repeated and ``held_s`` says by how much the clock was behind. Order within a boot is
always recoverable from ``(boot_id, monotonic_ns)``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Literal, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from edge.gps.source import PositionSource

logger = logging.getLogger(__name__)

TimeSourceName = Literal["gps", "ntp", "rtc", "unsynchronised"]
SyncStatus = Literal["ntp", "rtc", "unsynchronised"]
# Clock readings before this are certainly wrong (no record of this software can predate it).
MIN_PLAUSIBLE = datetime(2025, 1, 1, tzinfo=timezone.utc)


class Timestamp(BaseModel):
    """When a record was made, how that time is known, and its place in this boot's order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    wall: AwareDatetime = Field(..., description="UTC wall-clock time.")
    source: TimeSourceName = Field(..., description="Where the wall time comes from.")
    monotonic_ns: int = Field(..., ge=0, description="CLOCK_MONOTONIC when the time was taken (orders records within a boot).")
    boot_id: str = Field(..., min_length=1, description="Kernel boot id; monotonic_ns is comparable only within one boot.")
    held_s: float = Field(0.0, ge=0, description="Seconds the chosen clock was behind the previous timestamp (wall was held).")


class SystemClock(Protocol):
    """The clocks and clock status the time source reads; injected so tests control them."""

    def wall_ns(self) -> int: ...

    def monotonic_ns(self) -> int: ...

    def sync_status(self) -> SyncStatus: ...

    def boot_id(self) -> str: ...


class _Timex(ctypes.Structure):
    # The leading fields of struct timex (linux/timex.h); the rest is padding we never read.
    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("_rest", ctypes.c_char * 512),
    ]


STA_UNSYNC = 0x0040
TIME_ERROR = 5


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    try:  # find_library may run ldconfig: do it once
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


def kernel_clock_synchronised() -> bool | None:
    """adjtimex(2) read-only: True if the kernel clock is disciplined (NTP/chrony), None if unknown."""
    libc = _libc()
    if libc is None:
        return None
    try:
        tx = _Timex()
        state = libc.adjtimex(ctypes.byref(tx))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != TIME_ERROR and not (tx.status & STA_UNSYNC)


class LinuxClock:
    """The real clocks: CLOCK_REALTIME/MONOTONIC, adjtimex, systemd-timesyncd's flag, the RTC."""

    def __init__(self, sys_root: Path = Path("/")) -> None:
        self.root = sys_root
        self._rtc = self._rtc_set_system_clock()
        self._boot_id = self._read_boot_id()

    def wall_ns(self) -> int:
        return time.time_ns()

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()

    def boot_id(self) -> str:
        return self._boot_id

    def sync_status(self) -> SyncStatus:
        synced = kernel_clock_synchronised() if self.root == Path("/") else None
        if synced or (self.root / "run/systemd/timesync/synchronized").exists():
            return "ntp"
        return "rtc" if self._rtc else "unsynchronised"

    def _rtc_set_system_clock(self) -> bool:
        rtc = self.root / "sys/class/rtc/rtc0"
        if not rtc.exists():
            return False
        try:
            return (rtc / "hctosys").read_text().strip() == "1"
        except OSError:
            return True  # an RTC without the hctosys attribute: assume the usual boot-time sync

    def _read_boot_id(self) -> str:
        try:
            return (self.root / "proc/sys/kernel/random/boot_id").read_text().strip()
        except OSError:
            generated = f"process-{uuid.uuid4()}"
            logger.warning("cannot read the kernel boot id; using %s for this process", generated)
            return generated


def choose_wall(system_wall: datetime, sync: SyncStatus, gps_wall: datetime | None) -> tuple[datetime, TimeSourceName]:
    """Pick the best wall time: synchronised system clock, else GPS, else RTC-set, else the raw clock."""
    if sync == "ntp":
        return system_wall, "ntp"
    if gps_wall is not None and gps_wall >= MIN_PLAUSIBLE:
        return gps_wall, "gps"
    if sync == "rtc" and system_wall >= MIN_PLAUSIBLE:
        return system_wall, "rtc"
    return system_wall, "unsynchronised"


class TimeSource:
    """Gives out :class:`Timestamp` values that never go backwards within a boot."""

    def __init__(self, positions: PositionSource | None = None, *, clock: SystemClock | None = None,
                 not_before: datetime | None = None) -> None:
        """``not_before``: the newest wall time already recorded under this boot id (e.g. read from the
        outbox after a service restart), so the guarantee also holds across restarts."""
        self.positions = positions
        self.clock = clock or LinuxClock()
        self._lock = threading.Lock()
        self._last: datetime | None = not_before
        self._last_source: TimeSourceName | None = None

    def now(self) -> Timestamp:
        with self._lock:
            mono = self.clock.monotonic_ns()
            system_wall = datetime.fromtimestamp(self.clock.wall_ns() / 1e9, tz=timezone.utc)
            wall, source = choose_wall(system_wall, self.clock.sync_status(), self._gps_wall())
            held = 0.0
            if self._last is not None and wall < self._last:
                held = (self._last - wall).total_seconds()
                wall = self._last
            self._last = wall
            if source != self._last_source:
                logger.info("record times now come from %s%s", source,
                            "" if self._last_source is None else f" (was {self._last_source})")
                self._last_source = source
            return Timestamp(wall=wall, source=source, monotonic_ns=mono, boot_id=self.clock.boot_id(), held_s=held)

    def _gps_wall(self) -> datetime | None:
        if self.positions is None:
            return None
        try:
            stamp = self.positions.latest()
        except Exception:  # a broken source must not stop records being timestamped
            logger.exception("position source failed while reading GPS time")
            return None
        if stamp.gps_time is None or stamp.gps_time_age_s is None:
            return None
        return stamp.gps_time + timedelta(seconds=stamp.gps_time_age_s)
