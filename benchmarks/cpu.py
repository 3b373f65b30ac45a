"""The CPU model and the SIMD flags that decide whether int8 is faster than fp32, stored with every speed figure."""

from __future__ import annotations

import os
import platform
from pathlib import Path

FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "asimddp", "asimd")


def cpu_info() -> dict:
    """CPU model and the SIMD flags that decide int8 vs fp32 speed."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, val = line.partition(":")
            key = key.strip().lower()
            if key in ("model name", "hardware") and val.strip():
                model = val.strip()
            if key in ("flags", "features"):
                flags |= set(val.split())
    except OSError:
        pass
    return {"model": model, "machine": platform.machine(), "cpus": os.cpu_count(),
            "flags": {f: f in flags for f in FLAGS}, "load_average": [round(x, 2) for x in os.getloadavg()]}
