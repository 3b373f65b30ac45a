"""Shared-data tests cannot pass by skipping: under CI=true a missing ../shared fails the run with one line.

Each case runs pytest in a subprocess on a real shared-data test module with ``TEPAT_SHARED``
pointing where the test wants (an empty folder, or the real shared folder).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROBE = "tests/test_face_pipeline.py"  # every test in it needs ../shared/datasets


def run_pytest(shared: Path, *, ci: bool, extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    env["TEPAT_SHARED"] = str(shared)
    if ci:
        env["CI"] = "true"
    return subprocess.run([sys.executable, "-m", "pytest", PROBE, "-q", "-rs", "-p", "no:cacheprovider", *extra],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_ci_with_shared_data_absent_fails_with_one_line(tmp_path: Path) -> None:
    out = run_pytest(tmp_path, ci=True)
    lines = [line for line in out.stdout.splitlines() if "CI=true, but" in line]
    assert out.returncode != 0, out.stdout[-2000:]
    assert len(lines) == 1, out.stdout[-2000:]
    assert "shared face datasets are missing" in lines[0] and str(tmp_path) in lines[0]
    assert " passed" not in out.stdout and " skipped" not in out.stdout


def test_ci_with_models_absent_fails_too(tmp_path: Path) -> None:
    (tmp_path / "datasets" / "faces" / "Someone").mkdir(parents=True)
    out = run_pytest(tmp_path, ci=True)
    assert out.returncode != 0
    assert "shared source models are missing" in out.stdout, out.stdout[-2000:]


def test_outside_ci_shared_data_absent_skips_with_the_reason(tmp_path: Path) -> None:
    out = run_pytest(tmp_path, ci=False)
    assert out.returncode == 0, out.stdout[-2000:]
    assert " skipped" in out.stdout and " passed" not in out.stdout and " failed" not in out.stdout
    assert "shared face datasets not found" in out.stdout


@pytest.mark.shared
def test_ci_with_shared_data_present_collects(datasets_dir: Path) -> None:
    """With the real shared folder the CI gate lets the run through (collection only: the tests run elsewhere)."""
    out = run_pytest(datasets_dir.parent, ci=True, extra=("--collect-only",))
    assert out.returncode == 0, out.stdout[-2000:]
    assert "CI=true, but" not in out.stdout
