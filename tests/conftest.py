"""Fixtures shared by every test module."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TEPAT_SHARED", ROOT.parent / "shared"))
DATASETS = SHARED / "datasets"


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """``../shared/datasets``; tests needing it skip (with the reason) when it is absent."""
    if not (DATASETS / "faces").is_dir():
        pytest.skip(f"shared face datasets not found at {DATASETS} (set TEPAT_SHARED to the shared folder)")
    return DATASETS


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """The project's committed models folder."""
    return ROOT / "models"


def require_binary(name: str) -> str:
    """Path of a system binary the test needs. Skips locally when absent; fails in CI, where .ci/run installs it."""
    path = shutil.which(name) or next((str(p) for p in (Path("/usr/sbin") / name, Path("/sbin") / name) if p.exists()), None)
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail(f"{name} is not installed, but CI must have it (scripts/system-packages.sh installs it)")
    pytest.skip(f"{name} is not installed (run scripts/system-packages.sh)")


# Each area keeps its fixtures in tests/fixtures_<area>.py; all are loaded as plugins.
pytest_plugins = sorted(f"tests.{p.stem}" for p in Path(__file__).parent.glob("fixtures_*.py"))
