"""The runtime package's import rules hold, and the checker catches each kind of violation.

The checker (tests/support/import_rules.py) reads the source; here it runs on this checkout and
on a copy of edge/ and the tooling packages with one deliberate violation added per case.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.support.import_rules import EXCEPTIONS, TOOLING_TOP, violations

ROOT = Path(__file__).resolve().parents[1]


def test_edge_follows_the_import_rules() -> None:
    """edge imports no simulator/tests, no tooling (benchmarks, model_build) but its commands' lazy loads, no cycles."""
    assert violations(ROOT) == []


@pytest.fixture(scope="module")
def clean_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    for package in ("edge", *TOOLING_TOP):
        shutil.copytree(ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    assert violations(root) == []  # the copy is as clean as the checkout
    return root


def _with(clean: Path, tmp_path: Path, file: str, code: str, *, top: bool = True) -> Path:
    """A copy of the clean tree with ``code`` added at the top (after the docstring) or the end of ``file``."""
    root = tmp_path / "tree"
    shutil.copytree(clean, root)
    path = root / file
    text = path.read_text()
    if top:
        head, sep, rest = text.partition("from __future__ import annotations\n")
        text = head + sep + code + "\n" + rest
    else:
        text += "\n" + code + "\n"
    path.write_text(text)
    return root


@pytest.mark.parametrize("file,code,top,needle", [
    ("edge/camera/folder.py", "import simulator.camera", True, "edge.camera.folder imports simulator.camera (edge must not import simulator)"),
    ("edge/store/outbox.py", "def _f():\n    from tests.support import free_port\n    return free_port", False,
     "edge.store.outbox imports tests.support (edge must not import tests)"),
    ("edge/camera/factory.py", "def _g():\n    import importlib\n    return importlib.import_module('benchmarks.run')", False,
     "edge.camera.factory imports tooling benchmarks.run (edge must not import benchmarks"),
    ("edge/face/types.py", "from edge.face.quality import choose_face", True, "import cycle: edge.face.quality <-> edge.face.types"),
    ("model_build/quant.py", "def _h():\n    from model_build.build import _finish\n    return _finish", False,
     "import cycle: model_build.build <-> model_build.quant"),
    ("edge/store/outbox.py", "from model_build.sources import sha256_of", True,
     "edge.store.outbox imports tooling model_build.sources (edge must not import model_build"),
    # The allowance is narrow: only the named command, only its own tool, only inside a function.
    ("edge/commands/config_cmd.py", "def _lazy():\n    from model_build import specs\n    return specs", False,
     "edge.commands.config_cmd imports tooling model_build.specs (edge must not import model_build; only edge.commands.models_cmd may"),
    ("edge/commands/bench_cmd.py", "import benchmarks.face_pipeline", True,
     "edge.commands.bench_cmd imports tooling benchmarks.face_pipeline (edge must not import benchmarks"),
    ("edge/commands/bench_cmd.py", "def _other():\n    from model_build import check\n    return check", False,
     "edge.commands.bench_cmd imports tooling model_build.check (edge must not import model_build"),
    ("edge/face/models.py", "def _src():\n    from model_build.sources import find_source\n    return find_source", False,
     "edge.face.models imports tooling model_build.sources (edge must not import model_build"),
    ("edge/messages/__init__.py", "from edge.claim.records.wire import CLAIM_WIRE_MODELS", False,
     "foundation module edge.messages imports edge.claim.records.wire"),
    ("edge/camera/factory.py", "def _gps():\n    from edge.gps.source import make_position_source\n    return make_position_source", False,
     "edge.camera.factory imports edge.gps.source across areas (camera -> gps)"),
    ("edge/claim/flow/claim_service.py", "def _face():\n    from edge.face.pipeline import FacePipeline\n    return FacePipeline", False,
     "edge.claim.flow.claim_service imports edge.face.pipeline across areas (claim -> face)"),
    ("edge/transport/worker.py", "from edge.claim.keys import device_key", True,
     "edge.transport.worker imports edge.claim.keys across areas (transport -> claim)"),
    ("edge/monitor/__init__.py", "from edge.app import build_terminal", False,
     "edge.monitor imports the composition root edge.app (only the commands may)"),
])
def test_checker_reports_a_deliberate_violation(clean_copy: Path, tmp_path: Path, file: str, code: str, top: bool, needle: str) -> None:
    problems = violations(_with(clean_copy, tmp_path, file, code, top=top))
    assert len(problems) == 1 and needle in problems[0], problems


@pytest.mark.parametrize("file,code,top", [
    ("edge/camera/folder.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import simulator.camera", True),
    ("edge/commands/models_cmd.py", "def _lazy():\n    from model_build import specs\n    return specs", False),
    ("edge/commands/bench_cmd.py", "def _lazy():\n    from benchmarks import metrics\n    return metrics", False),
    ("benchmarks/transport.py", "import simulator.netfault", True),
])
def test_checker_allows_typing_only_and_command_loaded_tooling(clean_copy: Path, tmp_path: Path, file: str, code: str, top: bool) -> None:
    """Imports under TYPE_CHECKING never run; a command may load tooling inside its function."""
    assert violations(_with(clean_copy, tmp_path, file, code, top=top)) == []


def test_stale_exception_is_reported(clean_copy: Path) -> None:
    """An exception that no longer matches anything must be removed, so the list only shrinks."""
    stale = {**EXCEPTIONS, ("edge.store.outbox", "simulator.fleet"): "never happens"}
    assert violations(clean_copy, stale) == ["stale exception edge.store.outbox -> simulator.fleet: it no longer happens; remove it from EXCEPTIONS"]


def test_every_exception_says_why() -> None:
    assert all(len(reason) > 40 for reason in EXCEPTIONS.values())


def test_importing_the_cli_loads_no_tooling() -> None:
    """`edge` starts without benchmarks/ or model_build/ (they load inside `edge bench` / `edge models build` only)."""
    code = ("import sys, edge.cli, edge.app\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('benchmarks', 'model_build', 'simulator', 'tests')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True).stdout
    assert out.strip() == "[]", out


def test_tooling_is_packaged_beside_edge() -> None:
    """An installed `edge bench` / `edge models build` finds its tooling: pyproject.toml packages both top-level packages."""
    from setuptools import find_namespace_packages

    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    packaged = set(find_namespace_packages(where=str(ROOT), include=include))
    assert {"edge", "simulator", *TOOLING_TOP} <= packaged, sorted(packaged)
