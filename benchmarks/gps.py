"""Benchmark the GPS reader against a real gpsd fed by gpsfake: ``python -m benchmarks.gps``.

Measures, per backend: time to first fix after gpsd starts, ``latest()`` and
``TimeSource.now()`` call cost (median / p99 / max over many calls, while the reader thread
streams), reader-thread CPU while streaming, and the time from gpsd coming back after a
restart to the reader's next fix. Needs ``gpsfake`` (Debian ``gpsd-clients``). Prints
Markdown for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from edge.config import GpsConfig
from edge.gps.reader import GpsdReader
from edge.timesource import TimeSource
from simulator.mosquitto import free_port  # the one free-port helper

LOG = Path(__file__).resolve().parents[1] / "tests" / "data" / "nmea" / "fixed_monas.log"



def _start(port: int, log: Path) -> subprocess.Popen[bytes]:
    tmp = tempfile.mkdtemp(prefix="gfb")
    proc = subprocess.Popen(["gpsfake", "-n", "-c", "0.1", "-P", str(port), str(log)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True, env=dict(os.environ, TMPDIR=tmp), cwd=tmp)
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


def _wait_fix(reader: GpsdReader, timeout_s: float = 30) -> float:
    started = time.monotonic()
    while reader.latest().status != "fix":
        if time.monotonic() - started > timeout_s:
            raise SystemExit("no fix from gpsd: is gpsfake installed?")
        time.sleep(0.005)
    return time.monotonic() - started


def _calls(fn, n: int) -> tuple[float, float, float]:
    samples = []
    for _ in range(n):
        t = time.perf_counter_ns()
        fn()
        samples.append(time.perf_counter_ns() - t)
    samples.sort()
    return statistics.median(samples) / 1e3, samples[int(0.99 * n)] / 1e3, samples[-1] / 1e3


def bench(backend: str, calls: int, stream_s: float) -> dict[str, float]:
    port = free_port()
    proc = _start(port, LOG)
    t0 = time.monotonic()
    out: dict[str, float] = {}
    config = GpsConfig(port=port, backend=backend, stale_after_s=1.0, reconnect_min_s=0.2, reconnect_max_s=1.0, poll_interval_s=1.0)
    try:
        with GpsdReader(config) as reader:
            _wait_fix(reader)
            out["first_fix_s"] = time.monotonic() - t0
            clock = TimeSource(reader)
            out["latest_med_us"], out["latest_p99_us"], out["latest_max_us"] = _calls(reader.latest, calls)
            out["now_med_us"], out["now_p99_us"], out["now_max_us"] = _calls(clock.now, calls)
            cpu0, wall0 = time.thread_time(), time.monotonic()
            usage0 = resource.getrusage(resource.RUSAGE_SELF)
            time.sleep(stream_s)  # the main thread sleeps: process CPU is the reader's
            usage1 = resource.getrusage(resource.RUSAGE_SELF)
            busy = (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime) - (time.thread_time() - cpu0)
            out["reader_cpu_pct"] = 100 * busy / (time.monotonic() - wall0)
            out["max_rss_mb"] = usage1.ru_maxrss / 1024
            _stop(proc)
            while reader.latest().status == "fix":
                time.sleep(0.05)
            time.sleep(1.0)  # gpsd stays down a moment; the reader backs off meanwhile
            proc = _start(port, LOG)
            out["refix_after_restart_s"] = _wait_fix(reader)  # includes gpsd's own start-up and the retry delay
    finally:
        _stop(proc)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000, help="latest()/now() calls to time (default 20000)")
    parser.add_argument("--stream-seconds", type=float, default=10.0, help="how long to measure reader CPU (default 10)")
    args = parser.parse_args()
    print("| backend | first fix after gpsd start | latest() median / p99 / max | TimeSource.now() median / p99 / max | reader CPU while streaming | fix again after gpsd restart |")
    print("|---|---|---|---|---|---|")
    for backend in ("gpsdclient", "gpsd-py3"):
        r = bench(backend, args.calls, args.stream_seconds)
        print(f"| {backend} | {r['first_fix_s']:.1f} s | {r['latest_med_us']:.0f} / {r['latest_p99_us']:.0f} / {r['latest_max_us']:.0f} µs "
              f"| {r['now_med_us']:.0f} / {r['now_p99_us']:.0f} / {r['now_max_us']:.0f} µs | {r['reader_cpu_pct']:.1f} % of one core "
              f"| {r['refix_after_restart_s']:.1f} s |")


if __name__ == "__main__":
    main()
