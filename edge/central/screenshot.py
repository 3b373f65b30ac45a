"""A PNG of the dashboard from real headless Chromium (installed by scripts/system-packages.sh)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from edge.errors import EdgeError


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise EdgeError("no Chromium found (scripts/system-packages.sh installs 'chromium')")


def screenshot(url: str, out: Path, size: str = "1400,1100", timeout_s: float = 90.0) -> Path:
    """Load ``url`` in a fresh headless profile and write a PNG to ``out``; raises EdgeError with Chromium's last words."""
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tepat-chromium-") as profile:
        cmd = [chromium_binary(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", "--disable-quic", "--hide-scrollbars", "--force-device-scale-factor=1",
               f"--user-data-dir={profile}", f"--window-size={size}", "--virtual-time-budget=3000", f"--screenshot={out}", url]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise EdgeError(f"Chromium did not finish within {timeout_s:.0f} s") from None
    if not out.exists() or out.stat().st_size == 0:
        raise EdgeError(f"Chromium wrote no screenshot (exit {done.returncode}): {done.stderr.strip().splitlines()[-1:] or ''}")
    return out
