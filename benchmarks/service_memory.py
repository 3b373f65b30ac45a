"""``python -m benchmarks.service_memory``: resident memory of ``edge run`` with the face models loaded.

Starts the terminal service as systemd would (notify socket) with the claim service on, its default,
so the detector, the embedder and both liveness models are loaded and sha256-checked before READY;
folder camera with 1280×960 frames, the checkout's models, no MQTT, no GPS. After ``--seconds`` it
reads the process's ``VmRSS`` and ``VmHWM`` (peak) from ``/proc/<pid>/status``, stops it with SIGTERM
and prints one JSON object per embedder (``int8``, ``fp32``). Linux only.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from simulator.mosquitto import stop_process

ROOT = Path(__file__).resolve().parents[1]


def write_config(tmp: Path) -> Path:
    import cv2
    import numpy as np

    frames = tmp / "frames"
    frames.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        cv2.imwrite(str(frames / f"{i}.jpg"), rng.integers(0, 255, (960, 1280, 3), dtype=np.uint8))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = tmp / "edge.toml"
    path.write_text(f'[device]\nstate_dir = "{tmp / "state"}"\nlog_format = "json"\n[face]\nmodels_dir = "{ROOT / "models"}"\n'
                    f'[mqtt]\nenabled = false\n[gps]\nbackend = "none"\n[camera]\ntype = "folder"\npath = "{frames}"\n'
                    f'[service]\nhttp_port = {port}\n')
    return path


def status_kb(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, val = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(val.split()[0])
    return out


def measure(embedder: str, seconds: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="tepat-mem-") as name:
        tmp = Path(name)
        config = write_config(tmp)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(tmp / "notify"))
        env = {**os.environ, "NOTIFY_SOCKET": str(tmp / "notify"), "TEPAT__FACE__EMBEDDER": embedder}
        log = open(tmp / "service.log", "w")  # noqa: SIM115 - closed below
        proc = subprocess.Popen([sys.executable, "-m", "edge", "--config", str(config), "run"], env=env,
                                stdout=subprocess.DEVNULL, stderr=log)
        try:
            sock.settimeout(180)
            while not sock.recv(4096).startswith(b"READY=1"):
                pass
            time.sleep(seconds)
            kb = status_kb(proc.pid)
            ready = (tmp / "service.log").read_text()
            if "Liveness check ready" not in ready:
                raise SystemExit(f"service_memory: edge run ({embedder}) did not load the liveness models; see {tmp / 'service.log'}")
        finally:
            stop_process(proc, timeout=30)
            sock.close()
            log.close()
    return {"embedder": embedder, "seconds_after_ready": seconds,
            "rss_mib": round(kb["VmRSS"] / 1024, 1), "peak_rss_mib": round(kb["VmHWM"] / 1024, 1)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.service_memory", description=__doc__.split("\n\n")[0],
                                epilog="Prints one JSON line per embedder: rss_mib (VmRSS) and peak_rss_mib (VmHWM), MiB.")
    p.add_argument("--seconds", type=float, default=25.0, help="wait after READY before reading memory (default: %(default)s)")
    p.add_argument("--embedders", default="int8,fp32", help="comma-separated face.embedder values (default: %(default)s)")
    args = p.parse_args(argv)
    if not Path("/proc/self/status").is_file():
        print("service_memory: needs Linux (/proc/<pid>/status)", file=sys.stderr)
        return 2
    for emb in (e.strip() for e in args.embedders.split(",") if e.strip()):
        print(json.dumps(measure(emb, args.seconds)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
