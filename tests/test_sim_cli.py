"""`edge-sim` as a user runs it: the demo from a clean checkout, `run` exit codes, fleet figures."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, require_binary

pytestmark = pytest.mark.shared


def _env(datasets_dir: Path, pythonpath: Path | None = None) -> dict[str, str]:
    env = {**os.environ, "TEPAT_SHARED": str(datasets_dir.parent), "PYTHONUNBUFFERED": "1"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return env


def test_demo_runs_from_a_clean_checkout(tmp_path: Path, datasets_dir: Path) -> None:
    """`edge-sim demo` in a fresh `git clone` plays the day with an outage and ends with a passing summary."""
    require_binary("mosquitto")
    git = shutil.which("git") or pytest.skip("git is not installed")
    repo = tmp_path / "checkout"
    subprocess.run([git, "clone", "-q", str(ROOT), str(repo)], check=True, timeout=120)
    env = _env(datasets_dir, repo)
    where = subprocess.run([sys.executable, "-c", "import simulator, edge; print(simulator.__file__, edge.__file__)"],
                           cwd=repo, env=env, capture_output=True, text=True, check=True)
    assert str(repo) in where.stdout, f"the checkout's own code must run, got {where.stdout}"
    proc = subprocess.run([sys.executable, "-m", "simulator.cli", "demo", "--new-broker", "--state-dir", str(tmp_path / "state")],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "link DOWN" in out and "link UP" in out
    assert "summary: demo" in out and "OK: every expectation met" in out
    assert "central database: every record is in it" in out
    lost_row = next(line for line in proc.stdout.splitlines() if line.startswith("lost "))
    assert lost_row.split()[1] == "0"
    assert "Traceback" not in out


def test_run_exits_1_when_expectations_fail(tmp_path: Path, datasets_dir: Path) -> None:
    """A scenario whose expectations do not hold makes `edge-sim run` print FAILED and exit 1."""
    require_binary("mosquitto")
    sc = tmp_path / "wrong.toml"
    sc.write_text('name = "wrong"\nseed = 1\n[roster]\nrecipients = 2\n[[queue]]\nkind = "unknown"\n[expect]\naccepted = 1\n')
    proc = subprocess.run([sys.executable, "-m", "simulator.cli", "run", str(sc), "--new-broker"], cwd=ROOT,
                          env=_env(datasets_dir), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "accepted: expected 1, got 0" in proc.stdout


def test_bad_scenario_is_one_line_error(tmp_path: Path) -> None:
    """A malformed scenario file gives one error line naming the key, no traceback, exit 2."""
    sc = tmp_path / "bad.toml"
    sc.write_text('name = "bad"\n[[queue]]\nkind = "ghost"\n')
    proc = subprocess.run([sys.executable, "-m", "simulator.cli", "run", str(sc)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "queue.0.kind" in proc.stderr and "Traceback" not in proc.stderr


def test_fleet_reports_throughput_and_latency(tmp_path: Path, datasets_dir: Path) -> None:
    """`edge-sim fleet` with three terminal processes delivers every record and reports p50/p95 latency."""
    require_binary("mosquitto")
    proc = subprocess.run([sys.executable, "-m", "simulator.cli", "fleet", "--devices", "3", "--records", "10", "--new-broker",
                           "--json", "--state-dir", str(tmp_path)], cwd=ROOT, env=_env(datasets_dir), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert report["delivered"] == report["expected"] == 30 and report["lost"] == 0
    assert report["records_per_s"] > 0 and 0 < report["latency_p50_ms"] <= report["latency_p95_ms"]


@pytest.mark.soak
def test_fleet_of_twenty_terminals(tmp_path: Path, datasets_dir: Path) -> None:
    """Twenty terminal processes against one broker deliver every record (figures in docs/BENCHMARKS.md)."""
    require_binary("mosquitto")
    proc = subprocess.run([sys.executable, "-m", "simulator.cli", "fleet", "--devices", "20", "--records", "50", "--new-broker",
                           "--json", "--state-dir", str(tmp_path)], cwd=ROOT, env=_env(datasets_dir), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert report["delivered"] == 1000 and report["lost"] == 0
