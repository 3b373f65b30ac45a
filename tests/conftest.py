"""Fixtures shared by every test module, and the rule that shared-data tests cannot vanish in CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.paths import REPO_ROOT, shared_datasets_dir, shared_dir
from tests.support.ci import in_ci, missing_shared_data, require_binary, skip_or_fail

__all__ = ["DATASETS", "ROOT", "SHARED", "require_binary"]

ROOT = REPO_ROOT
SHARED = shared_dir()
DATASETS = shared_datasets_dir()


def needs_shared_data(item: pytest.Item) -> bool:
    """A test needs ../shared when it is marked ``shared`` or uses the ``datasets_dir`` fixture."""
    return item.get_closest_marker("shared") is not None or "datasets_dir" in getattr(item, "fixturenames", ())


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under CI, selected tests that need ../shared stop the whole run with one line when it is absent."""
    if not in_ci():
        return
    needing = sum(1 for item in items if needs_shared_data(item))
    problem = missing_shared_data() if needing else None
    if problem:
        pytest.exit(f"CI=true, but {problem}; {needing} selected tests need it "
                    "(set TEPAT_SHARED to the shared folder)", returncode=pytest.ExitCode.TESTS_FAILED)


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """``../shared/datasets``; tests needing it skip (with the reason) when it is absent, and fail under CI."""
    if not (DATASETS / "faces").is_dir():
        skip_or_fail(f"shared face datasets not found at {DATASETS} (set TEPAT_SHARED to the shared folder)")
    return DATASETS


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """The project's committed models folder."""
    return ROOT / "models"


# Each area keeps its fixtures in tests/fixtures_<area>.py; all are loaded as plugins.
pytest_plugins = sorted(f"tests.{p.stem}" for p in Path(__file__).parent.glob("fixtures_*.py"))
