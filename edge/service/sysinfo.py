"""Readers for the machine's own vital signs; each returns None where the value is unavailable."""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
from pathlib import Path

logger = logging.getLogger(__name__)

THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")
THROTTLED_SYSFS = Path("/sys/devices/platform/soc/soc:firmware/get_throttled")


def cpu_temp_c(path: Path = THERMAL_ZONE) -> float | None:
    """SoC temperature from the kernel's thermal zone (millidegrees Celsius)."""
    try:
        return int(path.read_text().strip()) / 1000.0
    except (OSError, ValueError):
        return None


def parse_throttled(text: str) -> int | None:
    """``throttled=0x50005`` (vcgencmd) or ``50005`` (sysfs, hex) → int."""
    value = text.strip().split("=", 1)[-1].strip()
    try:
        return int(value, 16)
    except ValueError:
        return None


def throttled_raw(sysfs: Path = THROTTLED_SYSFS) -> int | None:
    """The firmware's throttling bit field: sysfs first (works under the service's sandbox), then vcgencmd."""
    try:
        return parse_throttled(sysfs.read_text())
    except OSError:
        pass
    vcgencmd = shutil.which("vcgencmd")
    if not vcgencmd:
        return None
    try:
        out = subprocess.run([vcgencmd, "get_throttled"], capture_output=True, text=True, timeout=2, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_throttled(out.stdout) if out.returncode == 0 else None


def disk_free_mb(path: Path) -> float | None:
    """Free MiB on the filesystem holding ``path`` (its nearest existing parent)."""
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return shutil.disk_usage(probe).free / (1024 * 1024)
    except OSError:
        return None


def file_sha256(path: Path) -> str | None:
    """sha256 of a file, or None if it cannot be read."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def open_fds(pid: str = "self") -> int | None:
    """Open file descriptors of a process (``/proc/<pid>/fd``)."""
    try:
        return sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return None


def thread_count(pid: str = "self") -> int | None:
    """Threads of a process (``Threads:`` in ``/proc/<pid>/status``)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None
