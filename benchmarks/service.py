"""Measure the service itself: time to READY, idle CPU and memory, status/metrics latency.

    python -m benchmarks.service [--seconds 30] [--requests 200]

Runs ``edge run`` as a subprocess with a generated configuration (folder camera with
generated frames, the checkout's models, no MQTT, no GPS), listens on a notify socket
like systemd, samples the process with psutil, then times HTTP requests. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from simulator.mosquitto import free_port  # the one free-port helper

ROOT = Path(__file__).resolve().parents[1]


def _config(tmp: Path, port: int) -> Path:
    import cv2
    import numpy as np

    frames = tmp / "frames"
    frames.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        cv2.imwrite(str(frames / f"{i}.jpg"), rng.integers(0, 255, (960, 1280, 3), dtype=np.uint8))
    path = tmp / "edge.toml"
    path.write_text(f'[device]\nstate_dir = "{tmp / "state"}"\nlog_format = "json"\n[face]\nmodels_dir = "{ROOT / "models"}"\n'
                    f'[mqtt]\nenabled = false\n[gps]\nbackend = "none"\n[camera]\ntype = "folder"\npath = "{frames}"\n'
                    f'[claim]\nhttp_api = false\nmqtt_commands = false\n[service]\nhttp_port = {port}\n')
    return path



def _drain(sock: socket.socket, keepalives: list[float]) -> None:
    sock.settimeout(None)
    try:
        while True:
            if sock.recv(4096) == b"WATCHDOG=1":
                keepalives.append(time.monotonic())
    except OSError:
        return


def _latency_ms(url: str, n: int) -> dict[str, float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        with urllib.request.urlopen(url, timeout=5) as resp:
            resp.read()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {"median_ms": round(statistics.median(times), 2), "p95_ms": round(times[int(0.95 * (n - 1))], 2)}


def main(argv: list[str] | None = None) -> int:
    import psutil

    parser = argparse.ArgumentParser(prog="python -m benchmarks.service", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="idle sampling period after READY")
    parser.add_argument("--requests", type=int, default=200, help="HTTP requests per endpoint")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tepat-bench-") as tmp_name:
        tmp = Path(tmp_name)
        port = free_port()
        config = _config(tmp, port)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(tmp / "notify"))
        env = {**os.environ, "NOTIFY_SOCKET": str(tmp / "notify"), "WATCHDOG_USEC": "30000000"}
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "edge", "--config", str(config), "run"], env=env,
                                stdout=subprocess.DEVNULL, stderr=open(tmp / "service.log", "w"))
        try:
            sock.settimeout(120)
            while not sock.recv(4096).startswith(b"READY=1"):
                pass
            ready_s = time.monotonic() - started
            keepalives: list[float] = []
            threading.Thread(target=_drain, args=(sock, keepalives), daemon=True).start()  # read like systemd does
            ps = psutil.Process(proc.pid)
            cpu0 = ps.cpu_times()
            time.sleep(args.seconds)
            cpu1 = ps.cpu_times()
            rss_mb = ps.memory_info().rss / 2**20
            idle_cpu = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / args.seconds * 100
            base = f"http://127.0.0.1:{port}"
            result = {
                "ready_s": round(ready_s, 2), "idle_cpu_percent": round(idle_cpu, 2), "rss_mb": round(rss_mb, 1),
                "api_status": _latency_ms(base + "/api/status", args.requests),
                "metrics": _latency_ms(base + "/metrics", args.requests),
                "page": _latency_ms(base + "/", args.requests),
                "idle_seconds": args.seconds,
                "watchdog_keepalives": len(keepalives),
            }
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                print((tmp / "service.log").read_text()[-3000:], file=sys.stderr)
                proc.kill()
                raise
            sock.close()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
