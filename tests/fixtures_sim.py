"""Fixtures for the simulator's end-to-end tests: a private broker, the face library, one shared face engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_binary


@pytest.fixture
def sim_broker() -> Iterator[Any]:
    """A private mosquitto on a free loopback port (restartable), as ``edge-sim`` starts it."""
    from simulator.broker import SimBroker

    require_binary("mosquitto")
    with SimBroker(prefer="mosquitto", probe_localhost=False) as broker:
        yield broker


@pytest.fixture(scope="session")
def sim_faces(datasets_dir: Path) -> Any:
    """The shared development faces, indexed by identity."""
    from simulator.faces import resolve_faces

    return resolve_faces(datasets_dir / "faces")


@pytest.fixture(scope="session")
def sim_face_engine() -> Any:
    """The configured face core (real TFLite models), loaded once for all scenario tests."""
    from edge.app.face_adapter import make_face_engine
    from simulator.terminal import with_environment

    return make_face_engine(with_environment({}))
