"""Read-modify-write of ``models/manifest.json`` that keeps entries (and keys) it does not know."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from edge.face.models import MANIFEST_NAME


def read_raw(models_dir: Path) -> dict[str, Any]:
    path = Path(models_dir) / MANIFEST_NAME
    if not path.exists():
        return {"schema_version": 1, "models": {}}
    return json.loads(path.read_text(encoding="utf-8"))


def update_entries(models_dir: Path, entries: dict[str, dict[str, Any]]) -> Path:
    """Replace/insert ``entries`` (by name); every other entry and top-level key is preserved."""
    path = Path(models_dir) / MANIFEST_NAME
    raw = read_raw(models_dir)
    raw.setdefault("models", {})
    for name, entry in entries.items():
        old = raw["models"].get(name, {})
        raw["models"][name] = {**old, **entry}
    raw["models"] = dict(sorted(raw["models"].items()))
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(raw, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
