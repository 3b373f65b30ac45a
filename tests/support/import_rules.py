"""The import rules of the runtime package, checked from the source text (no code is imported).

Rules for every module under ``edge/`` (the runtime package):

1. ``edge`` never imports ``simulator`` or ``tests`` (at module level or inside a function).
2. ``edge`` never imports tooling: the top-level packages ``benchmarks`` (every benchmark) and
   ``model_build`` (the model build) (:data:`TOOLING_TOP`). The one allowance is explicit and
   narrow (:data:`TOOLING_LOADERS`): the command module that runs a tool (``edge bench``,
   ``edge models build/bench``) may load that tool inside its command function, never at module
   level. Tooling may import ``edge``; the reverse never.
3. No import cycles inside ``edge`` or inside the tooling packages: module-level and
   function-level imports both count (a lazy import only hides a cycle); imports under
   ``if TYPE_CHECKING:`` do not.
4. Foundation modules (:data:`FOUNDATION`: errors, paths, the wire models) import nothing
   else of ``edge``.
5. Only the composition root (``edge.app``) and the commands wire areas together. A module of one
   area (:data:`AREAS`) imports another area only through that area's interface modules
   (:data:`AREA_INTERFACES`: data types, protocols, the outbox the publisher drains); nothing but
   the commands imports ``edge.app``. Tooling is exempt.

``importlib.import_module("name")`` with a literal name counts as an import.

Known violations that other work will remove are listed in :data:`EXCEPTIONS`, each named and
explained; an exception that no longer matches anything is itself reported, so the list can only
shrink. Run: ``python -m tests.support.import_rules [REPO_ROOT]`` (exit 1 on a violation).
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

FORBIDDEN_TOP = ("simulator", "tests")
# Tooling lives outside the runtime package, in these top-level packages (read for cycles too).
TOOLING_TOP = ("benchmarks", "model_build")
# The only runtime modules that may load tooling, each only the named package, only inside a function.
TOOLING_LOADERS = {
    "edge.commands.bench_cmd": "benchmarks",     # edge bench -> benchmarks.face_pipeline
    "edge.commands.models_cmd": "model_build",   # edge models build / bench -> model_build.build, .check
}
# Foundation modules every area builds on: they import nothing else of edge (wire models never
# import the claim flow that fills them).
FOUNDATION = {"edge.errors": (), "edge.paths": (), "edge.messages": ("edge.errors",),
              "edge.store.sqlite": ("edge.errors",)}

# The flow's areas (edge.<area>), and what one area may use of another: data types, protocols and
# the outbox the publisher drains. Wiring parts of different areas together is edge.app's job.
AREAS = ("camera", "face", "claim", "gps", "store", "transport", "service", "monitor")
AREA_INTERFACES = (
    "edge.camera.base",       # Frame, Camera protocol, CameraError (the service supervises a camera)
    "edge.face.image",        # the one bounded decoder of untrusted images (camera folder, roster photos)
    "edge.face.types",        # the face core's result types (LivenessResult, shared with the claim decision)
    "edge.claim.records",     # the signed record format (models, canonical JSON, Ed25519, wire models, the
                              # outbox row check): checked by the publisher, the monitor and the central side
    "edge.gps.model",         # PositionStamp, GpsFix (records carry the position stamp)
    "edge.store.outbox",      # the publisher drains the outbox
    "edge.store.sqlite",      # the one SQLite-open helper every store uses (a foundation module: imports only edge.errors)
    "edge.transport.topics",  # topic names, shared with the central side's monitor
    "edge.transport.mqtt",    # the monitor's MQTT connection settings
)
ROOT_PACKAGE = "edge.app"
ROOT_USERS = ("edge.commands", "edge.cli", "edge.__main__")

# (importer, imported) pairs allowed for now; each one names the work that removes it.
EXCEPTIONS: dict[tuple[str, str], str] = {
}


def is_tooling(module: str) -> bool:
    return module.split(".")[0] in TOOLING_TOP


def loads_tooling_allowed(imp: "Import") -> bool:
    """Rule 2's allowance: the named command module loading its own tool inside a function."""
    return imp.lazy and TOOLING_LOADERS.get(imp.importer) == imp.imported.split(".")[0]


def _within(module: str, prefixes: tuple[str, ...] | list[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def area_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "edge" and parts[1] in AREAS else None


def wiring_problem(imp: "Import") -> str | None:
    """Rule 5: why ``imp`` wires areas together outside the composition root, or None."""
    if _within(imp.imported, [ROOT_PACKAGE]) and not _within(imp.importer, [ROOT_PACKAGE, *ROOT_USERS]):
        return f"{imp.importer} imports the composition root {imp.imported} (only the commands may)"
    mine, theirs = area_of(imp.importer), area_of(imp.imported)
    if mine and theirs and mine != theirs and not _within(imp.imported, AREA_INTERFACES):
        return (f"{imp.importer} imports {imp.imported} across areas ({mine} -> {theirs}); "
                "wire them in the composition root (edge/app) or use the area's interface module")
    return None


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    lazy: bool  # inside a function or method body
    path: str = ""  # relative to the repository root


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _dynamic_target(call: ast.Call) -> str | None:
    """The module named by ``importlib.import_module("x")`` / ``__import__("x")`` with a literal name."""
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if name in ("import_module", "__import__") and call.args and isinstance(call.args[0], ast.Constant) \
            and isinstance(call.args[0].value, str):
        return call.args[0].value
    return None


def _walk(node: ast.AST, lazy: bool = False):
    """Yield (import node, lazy) for every import not under ``if TYPE_CHECKING:``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield from _walk(other, lazy)
            continue
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, lazy
        elif isinstance(child, ast.Call) and _dynamic_target(child):
            yield ast.Import(names=[ast.alias(name=_dynamic_target(child))], lineno=child.lineno), lazy
        yield from _walk(child, lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))


def imports_of(root: Path, path: Path, modules: set[str]) -> list[Import]:
    """Every import in ``path``, resolved to a module name (a submodule when ``from pkg import sub`` names one)."""
    me = module_name(root, path)
    rel = path.relative_to(root).as_posix()
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[Import] = []
    for node, lazy in _walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(me, alias.name, node.lineno, lazy, rel) for alias in node.names]
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            base = ".".join([*anchor, *([base] if base else [])])
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            found.append(Import(me, sub if sub in modules else base, node.lineno, lazy, rel))
    return found


def collect(root: Path, packages: tuple[str, ...] = ("edge", *TOOLING_TOP)) -> list[Import]:
    files = sorted(f for package in packages for f in (root / package).rglob("*.py"))
    modules = {module_name(root, f) for f in files}
    out: list[Import] = []
    for f in files:
        out += imports_of(root, f, modules)
    return out


def _find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    comps: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(edges):
        if v not in index:
            strong(v)
    return sorted(comps)


def violations(root: Path, exceptions: dict[tuple[str, str], str] | None = None) -> list[str]:
    """One line per broken rule (and per exception that no longer applies); empty when the tree is clean."""
    exceptions = EXCEPTIONS if exceptions is None else exceptions
    imports = collect(root)
    used: set[tuple[str, str]] = set()
    problems: list[str] = []
    edges: dict[str, set[str]] = {}
    scanned = ("edge", *TOOLING_TOP)
    for imp in imports:
        where = f"{imp.path}:{imp.line}"
        top = imp.imported.split(".")[0]
        if is_tooling(imp.importer):  # tooling may import anything; only its own cycles count
            if top in scanned and imp.imported != imp.importer:
                edges.setdefault(imp.importer, set()).add(imp.imported)
            continue
        allowed = next(((i, m) for (i, m) in exceptions if i == imp.importer and (imp.imported == m or imp.imported.startswith(m + "."))), None)
        if top in TOOLING_TOP:
            if allowed:
                used.add(allowed)
            elif not loads_tooling_allowed(imp):
                loader = next((m for m, pkg in TOOLING_LOADERS.items() if pkg == top), None)
                problems.append(f"{where}: {imp.importer} imports tooling {imp.imported} (edge must not import {top}; "
                                f"only {loader} may load it, inside its command function)")
            edges.setdefault(imp.importer, set()).add(imp.imported)
            continue
        if top in FORBIDDEN_TOP:
            if allowed:
                used.add(allowed)
            else:
                problems.append(f"{where}: {imp.importer} imports {imp.imported} (edge must not import {top})")
            continue
        if top != "edge":
            continue
        base_rule = FOUNDATION.get(imp.importer)
        if base_rule is not None and not any(imp.imported == m or imp.imported.startswith(m + ".") for m in base_rule):
            problems.append(f"{where}: foundation module {imp.importer} imports {imp.imported} "
                            f"(it may import only {', '.join(base_rule) or 'nothing of edge'})")
        wiring = wiring_problem(imp)
        if wiring is not None:
            if allowed:
                used.add(allowed)
            else:
                problems.append(f"{where}: {wiring}")
        if imp.imported != imp.importer:
            edges.setdefault(imp.importer, set()).add(imp.imported)
    for cycle in _find_cycles(edges):
        problems.append(f"import cycle: {' <-> '.join(cycle)}")
    for pair in sorted(set(exceptions) - used):
        problems.append(f"stale exception {pair[0]} -> {pair[1]}: it no longer happens; remove it from EXCEPTIONS")
    return problems


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m tests.support.import_rules", description=__doc__.splitlines()[0])
    ap.add_argument("root", nargs="?", type=Path, default=Path(__file__).resolve().parents[2], help="repository root (default: this checkout)")
    args = ap.parse_args(argv)
    problems = violations(args.root)
    for line in problems:
        print(line)
    print(f"{len(problems)} import-rule violation(s) in {args.root}" if problems else "import rules: ok")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
