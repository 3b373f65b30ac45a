"""A real gpsd fed by gpsfake for tests: the simulator's wrapper (:mod:`simulator.gpsfake`) under the CI rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.gpsfake import Gpsfake as _SimGpsfake
from simulator.gpsfake import GpsfakeUnavailable
from tests.support.ci import require_binary

NMEA_DIR = Path(__file__).resolve().parents[1] / "data" / "nmea"


class Gpsfake(_SimGpsfake):
    """``Gpsfake(log, port, cycle_s)``: skips without gpsfake (fails under CI); a failed start fails the test."""

    def __init__(self, log: Path, port: int, cycle_s: float = 0.1) -> None:
        super().__init__(log, cycle_s, port=port, binary=require_binary("gpsfake"))

    def start(self, timeout_s: float = 15.0) -> "Gpsfake":
        try:
            super().start(timeout_s)
        except GpsfakeUnavailable as exc:
            pytest.fail(str(exc), pytrace=False)
        return self

    def _listening(self) -> bool:  # the name the GPS tests used before the wrappers were merged
        return self.listening()
