"""edge/claim is grouped by concern, and its names do not collide with the rest of edge (issue 12).

Before the regroup, ``edge/claim/messages.py`` (officer text) shared its name with the ``edge/messages``
wire-model package and ``edge/claim/central.py`` with ``edge/central``; a reader (and a grep) could not
tell them apart. These checks read the tree only.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLAIM = ROOT / "edge" / "claim"


def _names(edge: Path) -> dict[str, set[str]]:
    """Module and package names under ``edge`` -> where they are."""
    names: dict[str, set[str]] = defaultdict(set)
    for path in edge.rglob("*"):
        if "__pycache__" in path.parts:
            continue
        if path.is_dir():
            names[path.name].add(path.relative_to(edge.parent).as_posix())
        elif path.suffix == ".py" and path.stem not in ("__init__", "__main__"):
            names[path.stem].add(path.relative_to(edge.parent).as_posix())
    return names


def collisions(edge: Path) -> list[str]:
    """Names of modules or packages inside edge/claim that another module or package of edge also has."""
    claim = (edge / "claim").relative_to(edge.parent).as_posix()
    out = []
    for name, places in sorted(_names(edge).items()):
        inside = {p for p in places if p.startswith(claim + "/")}
        if inside and len(places) > 1:
            out.append(f"{name}: {', '.join(sorted(places))}")
    return out


def test_claim_module_names_do_not_collide() -> None:
    assert collisions(ROOT / "edge") == []


def test_a_colliding_name_is_reported(tmp_path: Path) -> None:
    """The check can fail: the old officer-text module beside the wire-model package is caught."""
    for d in ("edge/claim/flow", "edge/messages"):
        (tmp_path / d).mkdir(parents=True)
        (tmp_path / d / "__init__.py").write_text("")
    (tmp_path / "edge/claim/messages.py").write_text("")
    assert collisions(tmp_path / "edge") == ["messages: edge/claim/messages.py, edge/messages"]


def test_claim_is_subpackages_each_with_a_docstring() -> None:
    """Only the package's own __init__ and the key loader sit flat in edge/claim; every subpackage says what it holds."""
    assert sorted(p.name for p in CLAIM.glob("*.py")) == ["__init__.py", "keys.py"]
    packages = sorted(p for p in CLAIM.iterdir() if p.is_dir() and p.name != "__pycache__")
    assert {p.name for p in packages} == {"api", "flow", "inbound", "officers", "records", "roster"}
    for package in packages:
        doc = ast.get_docstring(ast.parse((package / "__init__.py").read_text(encoding="utf-8"))) or ""
        assert len(doc) > 200, f"{package.name}/__init__.py needs a paragraph saying what the subpackage holds"
