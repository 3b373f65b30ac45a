"""Calibrated score thresholds (``models/thresholds.json``), keyed by embedder sha256.

Thresholds come only from ``edge eval --write-thresholds``: for each target FAR, the lowest
score whose impostor false-accept rate is at most that FAR. Runtime refuses an embedder with
no calibration rather than guessing.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from edge.errors import ModelError

FILENAME = "thresholds.json"
FAR_KEYS = ("1e-2", "1e-3", "1e-4", "1e-5")


def far_key(far: float) -> str:
    return f"{far:.0e}".replace("e-0", "e-")


def threshold_at_far(impostor: np.ndarray, far: float) -> float | None:
    """Smallest threshold t with FAR(t) = P(impostor >= t) <= far; None when there are too few impostors to tell."""
    imp = np.asarray(impostor)
    n = imp.size
    if n == 0 or n * far < 1:
        return None
    allowed = int(math.floor(n * far + 1e-9))  # impostors allowed at or above the threshold
    if allowed >= n:
        return float(imp.min())  # every impostor may pass: the lowest score
    # threshold just above the (allowed+1)-th highest impostor score; a partition, not a sort
    # (one copy in the scores' own dtype: millions of float32 cross-identity scores stay small)
    k = n - 1 - allowed
    kth = np.float64(np.partition(imp, k)[k])
    return float(np.nextafter(kth, np.inf))


def load(models_dir: Path) -> dict:
    path = Path(models_dir) / FILENAME
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path} is unreadable: {exc}") from None


def lookup(models_dir: Path, sha256: str, far: float) -> float:
    """The calibrated threshold for this embedder at ``far``; ModelError when not calibrated."""
    entry = load(models_dir).get(sha256)
    path = Path(models_dir) / FILENAME
    if entry is None:
        raise ModelError(
            f"embedder {sha256[:12]} has no calibrated thresholds in {path}; run "
            "'edge eval --pairs ../shared/datasets/pairs.csv --root ../shared/datasets --embedder <variant> --write-thresholds'"
        )
    value = entry.get("thresholds", {}).get(far_key(far))
    if value is None:
        raise ModelError(f"{path}: embedder {sha256[:12]} has no threshold for FAR {far_key(far)} (calibrated: {sorted(entry.get('thresholds', {}))})")
    return float(value)


def write(models_dir: Path, sha256: str, entry: dict) -> Path:
    """Insert/replace the calibration for one embedder sha256, keeping the others."""
    path = Path(models_dir) / FILENAME
    data = load(models_dir)
    data[sha256] = entry
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
