"""The Pi GPS pieces in firmware_config/ are well-formed and say what docs/GPS.md promises."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GPSD_DEFAULTS = ROOT / "firmware_config" / "gps" / "gpsd"
CHRONY = ROOT / "firmware_config" / "chrony" / "tepat-gps.conf"


def sourced_gpsd_defaults() -> dict[str, str]:
    out = subprocess.run(["bash", "-c", f'set -eu; . "{GPSD_DEFAULTS}"; printf "%s\\n" "$START_DAEMON" "$DEVICES" "$GPSD_OPTIONS" "$USBAUTO"'],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    return dict(zip(["START_DAEMON", "DEVICES", "GPSD_OPTIONS", "USBAUTO"], out))


def test_gpsd_defaults_read_the_uart_without_waiting_for_clients():
    """/etc/default/gpsd sources cleanly, names /dev/serial0 and passes -n."""
    values = sourced_gpsd_defaults()
    assert values["START_DAEMON"] == "true"
    assert "/dev/serial0" in values["DEVICES"].split()
    assert "-n" in values["GPSD_OPTIONS"].split()


def test_chrony_uses_gpsd_shared_memory_and_steps_late():
    """chrony reads gpsd's SHM 0 refclock and may step the clock whenever GPS arrives."""
    active = [line.split() for line in CHRONY.read_text().splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert ["refclock", "SHM", "0"] == active[0][:3]
    assert ["makestep", "1.0", "-1"] in active
