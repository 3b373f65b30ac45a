"""What a missing prerequisite means: a skip with the reason on a workstation, a failure under ``CI=true``.

CI (``.ci/run``) installs every binary and mounts the shared data, so anything absent there is a
broken machine, not a reason to report green.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

from edge.paths import shared_datasets_dir, shared_models_dir


def in_ci() -> bool:
    """True when ``CI`` is set to anything but empty, ``0``, ``false`` or ``no``."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the test with ``reason``; under CI fail it instead, so nothing hides behind a skip."""
    if in_ci():
        pytest.fail(f"CI=true, but {reason}", pytrace=False)
    pytest.skip(reason)


def require_binary(name: str) -> str:
    """Path of a system binary the test needs. Skips locally when absent; fails in CI, where .ci/run installs it."""
    path = shutil.which(name) or next((str(p) for p in (Path("/usr/sbin") / name, Path("/sbin") / name) if p.exists()), None)
    if path:
        return path
    if in_ci():
        pytest.fail(f"{name} is not installed, but CI must have it (scripts/system-packages.sh installs it)")
    pytest.skip(f"{name} is not installed (run scripts/system-packages.sh)")


def missing_shared_data() -> str | None:
    """What of the shared folder is missing (``datasets/faces`` with photos, ``models/``), or None."""
    faces, models = shared_datasets_dir() / "faces", shared_models_dir()
    if not faces.is_dir() or next(faces.iterdir(), None) is None:
        return f"the shared face datasets are missing: {faces} has no photographs"
    if not models.is_dir() or next(models.iterdir(), None) is None:
        return f"the shared source models are missing: {models} is empty"
    return None
