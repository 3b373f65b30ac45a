"""Record time: source selection (ntp/gps/rtc/unsynchronised) and never going backwards within a boot."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.config import GpsConfig
from edge.gps.model import PositionStamp
from edge.gps.reader import GpsdReader
from edge.timesource import MIN_PLAUSIBLE, LinuxClock, TimeSource, choose_wall, kernel_clock_synchronised
from tests.data.nmea import make_logs as truth
from tests.helpers import wait_until

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=timezone.utc)


@dataclass
class ManualClock:
    """A SystemClock whose readings the test sets."""

    wall: datetime = NOW
    mono_ns: int = 5_000_000_000
    sync: str = "unsynchronised"
    boot: str = "boot-1"

    def wall_ns(self) -> int:
        return int(self.wall.timestamp() * 1e9)

    def monotonic_ns(self) -> int:
        return self.mono_ns

    def sync_status(self) -> str:
        return self.sync

    def boot_id(self) -> str:
        return self.boot

    def advance(self, seconds: float, wall_step: float | None = None) -> None:
        self.mono_ns += int(seconds * 1e9)
        self.wall += timedelta(seconds=seconds if wall_step is None else wall_step)


@dataclass
class GpsTime:
    """A PositionSource stand-in that only reports a GPS time."""

    time: datetime | None = None
    age_s: float = 0.0
    state: str = "connected"
    calls: list[int] = field(default_factory=list)

    def latest(self) -> PositionStamp:
        self.calls.append(1)
        return PositionStamp(status="no_fix", source="test", gps_time=self.time, gps_time_age_s=self.age_s if self.time else None)

    def start(self) -> None: ...

    def close(self) -> None: ...


@pytest.fixture
def clock() -> ManualClock:
    """An unsynchronised manual clock at 2026-06-01 08:00 UTC."""
    return ManualClock()


def test_synchronised_clock_is_ntp(clock):
    """A kernel-synchronised clock is used as is and labelled ntp, even with GPS time present."""
    clock.sync = "ntp"
    ts = TimeSource(GpsTime(NOW - timedelta(hours=1)), clock=clock).now()
    assert ts.source == "ntp" and ts.wall == NOW and ts.boot_id == "boot-1" and ts.monotonic_ns == clock.mono_ns


def test_unsynchronised_clock_uses_gps_time_plus_age(clock):
    """Unsynchronised with GPS time: wall = GPS time advanced by its age, labelled gps."""
    gps = NOW + timedelta(days=3)
    ts = TimeSource(GpsTime(gps, age_s=2.5), clock=clock).now()
    assert ts.source == "gps" and ts.wall == gps + timedelta(seconds=2.5)


def test_rtc_without_gps(clock):
    """Unsynchronised, no GPS, RTC set the clock at boot: system time labelled rtc."""
    clock.sync = "rtc"
    ts = TimeSource(GpsTime(None), clock=clock).now()
    assert ts.source == "rtc" and ts.wall == NOW


def test_nothing_is_unsynchronised(clock):
    """No sync, no GPS, no RTC: the raw clock, labelled unsynchronised."""
    ts = TimeSource(None, clock=clock).now()
    assert ts.source == "unsynchronised" and ts.wall == NOW


@pytest.mark.parametrize("sync", ["rtc", "unsynchronised"])
def test_implausible_times_are_not_trusted(clock, sync):
    """A 1970 RTC time or a pre-2025 GPS time (week rollover) is not trusted as rtc/gps."""
    clock.sync = sync
    clock.wall = datetime(1970, 1, 1, tzinfo=timezone.utc)
    ts = TimeSource(GpsTime(datetime(2006, 5, 1, tzinfo=timezone.utc)), clock=clock).now()
    assert ts.source == "unsynchronised"


def test_clock_step_backwards_is_held(clock):
    """The system clock stepping back 10 s: wall repeats the last value and held_s says by how much."""
    clock.sync = "ntp"
    source = TimeSource(None, clock=clock)
    first = source.now()
    clock.advance(1, wall_step=-10)
    second = source.now()
    assert second.wall == first.wall and second.held_s == pytest.approx(10.0)
    assert second.monotonic_ns > first.monotonic_ns
    clock.advance(20)
    assert source.now().wall > first.wall


def test_gps_time_behind_a_fast_clock_never_goes_back(clock):
    """GPS arriving behind a wrong-but-ahead system clock: times hold instead of jumping back."""
    source = TimeSource(gps := GpsTime(None), clock=clock)
    before = source.now()
    gps.time = NOW - timedelta(minutes=5)
    after = source.now()
    assert after.source == "gps" and after.wall == before.wall and after.held_s == pytest.approx(300.0)


def test_not_before_carries_the_guarantee_across_restarts(clock):
    """A restart within the boot passes the newest recorded time; the first new stamp is not earlier."""
    last = NOW + timedelta(seconds=30)
    assert TimeSource(None, clock=clock, not_before=last).now().wall == last


def test_broken_position_source_does_not_stop_time(clock):
    """A position source that raises is logged and ignored."""

    class Broken(GpsTime):
        def latest(self) -> PositionStamp:
            raise RuntimeError("boom")

    assert TimeSource(Broken(), clock=clock).now().source == "unsynchronised"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 5), st.floats(-100, 100), st.sampled_from(["ntp", "rtc", "unsynchronised"]),
                          st.one_of(st.none(), st.floats(-1e6, 1e6))), min_size=1, max_size=40))
def test_wall_never_decreases(steps):
    """Whatever the clocks do (steps, sync changes, GPS appearing and vanishing), wall never decreases."""
    clock = ManualClock()
    gps = GpsTime()
    source = TimeSource(gps, clock=clock)
    previous = None
    for mono_step, wall_step, sync, gps_offset in steps:
        clock.advance(mono_step, wall_step)
        clock.sync = sync
        gps.time = None if gps_offset is None else NOW + timedelta(seconds=gps_offset)
        ts = source.now()
        if previous is not None:
            assert ts.wall >= previous.wall and ts.monotonic_ns >= previous.monotonic_ns
        previous = ts


def test_choose_wall_prefers_ntp_then_gps_then_rtc():
    """The order of trust is ntp > gps > rtc > unsynchronised."""
    gps = NOW + timedelta(seconds=1)
    assert choose_wall(NOW, "ntp", gps) == (NOW, "ntp")
    assert choose_wall(NOW, "rtc", gps) == (gps, "gps")
    assert choose_wall(NOW, "rtc", None) == (NOW, "rtc")
    assert choose_wall(MIN_PLAUSIBLE - timedelta(days=1), "unsynchronised", None)[1] == "unsynchronised"


def fake_root(tmp_path: Path, *, rtc: str | None = None, timesyncd: bool = False) -> Path:
    (tmp_path / "proc/sys/kernel/random").mkdir(parents=True)
    (tmp_path / "proc/sys/kernel/random/boot_id").write_text("abc-boot\n")
    if rtc is not None:
        (tmp_path / "sys/class/rtc/rtc0").mkdir(parents=True)
        (tmp_path / "sys/class/rtc/rtc0/hctosys").write_text(rtc)
    if timesyncd:
        (tmp_path / "run/systemd/timesync").mkdir(parents=True)
        (tmp_path / "run/systemd/timesync/synchronized").touch()
    return tmp_path


@pytest.mark.parametrize("rtc,timesyncd,expected", [
    (None, False, "unsynchronised"),
    ("1\n", False, "rtc"),
    ("0\n", False, "unsynchronised"),
    ("1\n", True, "ntp"),
])
def test_linux_clock_detects_rtc_and_timesyncd(tmp_path, rtc, timesyncd, expected):
    """LinuxClock reads the RTC's hctosys flag and systemd-timesyncd's marker under its root."""
    clock = LinuxClock(fake_root(tmp_path, rtc=rtc, timesyncd=timesyncd))
    assert clock.sync_status() == expected and clock.boot_id() == "abc-boot"


def test_linux_clock_on_this_machine():
    """The real clock gives this boot's id, a known status, and adjtimex answers."""
    clock = LinuxClock()
    assert clock.boot_id() == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert clock.sync_status() in ("ntp", "rtc", "unsynchronised")
    assert isinstance(kernel_clock_synchronised(), bool)  # Linux always answers adjtimex(2); None means it failed
    assert abs(clock.wall_ns() / 1e9 - datetime.now(timezone.utc).timestamp()) < 5


class _FakeLibc:
    """adjtimex(2) answering a chosen clock state and status word (or failing)."""

    def __init__(self, state: int, status: int = 0, error: bool = False) -> None:
        self.state, self.status, self.error = state, status, error

    def adjtimex(self, ref) -> int:  # noqa: ANN001 - a ctypes byref
        if self.error:
            raise OSError("adjtimex unavailable")
        ref._obj.status = self.status
        return self.state


@pytest.mark.parametrize("libc,expected", [
    (_FakeLibc(0), True),                               # TIME_OK, disciplined
    (_FakeLibc(0, status=0x0040 | 0x0001), False),      # STA_UNSYNC set (with STA_PLL)
    (_FakeLibc(5), False),                              # TIME_ERROR
    (_FakeLibc(-1), None),                              # the call failed
    (_FakeLibc(0, error=True), None),                   # no adjtimex at all
    (None, None),                                       # no libc
])
def test_kernel_clock_synchronised_reads_adjtimex(monkeypatch, libc, expected):
    """True only for a disciplined clock; False for STA_UNSYNC or TIME_ERROR; None when adjtimex cannot answer."""
    import edge.timesource as ts

    monkeypatch.setattr(ts, "_libc", lambda: libc)
    assert ts.kernel_clock_synchronised() is expected


def test_gps_time_from_real_gpsd_when_unsynchronised(gpsfake, clock):
    """gpsd (time-only receiver) + unsynchronised clock: timestamps use the receiver's time and say gps."""
    server = gpsfake("time_only.log")
    clock.mono_ns = 0
    with GpsdReader(GpsConfig(port=server.port)) as reader:
        assert wait_until(lambda: reader.latest().gps_time, 15), reader.latest()
        ts = TimeSource(reader, clock=clock).now()
    assert ts.source == "gps"
    assert truth.START <= ts.wall <= truth.START + timedelta(seconds=60)
