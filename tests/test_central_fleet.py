"""`edge-sim fleet --light` drives the central service end to end: light signed terminals → real Mosquitto →
`edge central ingest` with two worker processes on one shared subscription → a real PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, require_binary


@pytest.mark.soak  # ~45-60 s on the shared CI box: 'make soak'
def test_light_fleet_into_postgres_with_two_ingest_workers(tmp_path, postgres_url) -> None:
    require_binary("mosquitto")
    proc = subprocess.run([sys.executable, "-m", "simulator.cli", "fleet", "--light", "--devices", "40", "--records", "3", "--workers", "2",
                           "--new-broker", "mosquitto", "--central-db", postgres_url, "--json", "--state-dir", str(tmp_path)],
                          cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert report["stored"] == report["expected"] == 120 and report["duplicates_rows"] == 0 and report["workers"] == 2
    assert 0 < report["commit_p50_ms"] <= report["commit_p95_ms"] and report["records_per_s"] > 0
    log = (tmp_path / "ingest.log").read_text()
    assert log.count("subscribed") == 2 and "Traceback" not in log
