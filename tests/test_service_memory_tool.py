"""benchmarks.service_memory: edge run with the face models loaded, memory read from /proc (figures go to BENCHMARKS.md)."""

from __future__ import annotations

import json
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/<pid>/status (Linux only)")


def test_reports_rss_of_the_service_with_liveness_and_embedder_loaded(capsys):
    from benchmarks.service_memory import main

    assert main(["--embedders", "int8", "--seconds", "0"]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["embedder"] == "int8"
    # Python + OpenCV + the TFLite runtime + four models: far above a bare interpreter, below any real limit.
    assert 60 < row["rss_mib"] <= row["peak_rss_mib"] < 2048
