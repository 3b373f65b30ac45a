"""Thresholds that hold on people they were not fitted on (pure numpy, no I/O).

* **Identity-disjoint split.** Every identity goes to ``calibration`` or ``held_out`` by a hash of
  its name (:func:`split_of`), so the split is stable across runs, machines and pairs files, and
  no image of a held-out person ever influences a threshold.
* **Safety margin.** The calibration identities are split again, ``rounds`` times with different
  salts, into two halves A and B; for each target FAR the gap *threshold needed on B − threshold
  fitted on A* (and B→A) measures how far a threshold moves between disjoint sets of people. The
  margin is the largest gap seen (never negative), rounded up to 0.001. Shipped threshold =
  threshold fitted on all calibration identities + margin.
* **At the shipped thresholds** the held-out identities give the measured 1:1 false-accept rate
  (every cross-identity pair of held-out images) and TAR (held-out genuine pairs), and an open-set
  1:N run (gallery = first image of half the held-out identities, probes = the rest).

Scores are computed block by block from the embedding matrix, so memory is the matrix plus the
impostor scores kept (float32), never an n×n matrix of pairs.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator

import numpy as np

from edge.face.thresholds import threshold_at_far

SPLIT_SALT = "tepat-calibration-v1"
CALIBRATION_SHARE = 0.5
BLOCK_ROWS = 256


def _unit(identity: str, salt: str) -> float:
    h = hashlib.sha256(f"{salt}:{identity}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def split_of(identity: str, salt: str = SPLIT_SALT, share: float = CALIBRATION_SHARE) -> str:
    """``"calibration"`` or ``"held_out"`` for an identity, from a salted sha256 of its name."""
    return "calibration" if _unit(identity, salt) < share else "held_out"


def codes(identities: list[str]) -> np.ndarray:
    """Integer code per row (equal identity ⇔ equal code)."""
    index: dict[str, int] = {}
    return np.asarray([index.setdefault(i, len(index)) for i in identities], dtype=np.int64)


def _blocks(n: int) -> Iterator[tuple[int, int]]:
    for i0 in range(0, n, BLOCK_ROWS):
        yield i0, min(n, i0 + BLOCK_ROWS)


def cross_scores(matrix: np.ndarray, ident: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """Cosine of every unordered pair of rows (restricted to ``rows`` when given) whose identities differ; float32."""
    if rows is not None:
        matrix, ident = matrix[rows], ident[rows]
    m = np.ascontiguousarray(matrix, dtype=np.float32)
    n = m.shape[0]
    parts: list[np.ndarray] = []
    for i0, i1 in _blocks(n):
        sims = m[i0:i1] @ m[i0:].T  # only columns j >= i0
        j = np.arange(i0, n)[None, :]
        i = np.arange(i0, i1)[:, None]
        keep = (j > i) & (ident[i0:i1, None] != ident[None, i0:])
        parts.append(sims[keep].astype(np.float32))
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def thresholds_at(impostor: np.ndarray, fars: dict[str, float]) -> dict[str, float | None]:
    return {k: threshold_at_far(impostor, f) for k, f in fars.items()}


def safety_margins(matrix: np.ndarray, identities: list[str], fars: dict[str, float], rounds: int = 6) -> dict[str, dict]:
    """Per FAR key: the margin (largest threshold gap between disjoint halves of these identities) and the gaps seen."""
    ident = codes(identities)
    names = np.asarray(identities, dtype=object)
    gaps: dict[str, list[float]] = {k: [] for k in fars}
    for r in range(rounds):
        in_a = np.asarray([_unit(str(x), f"margin-{r}") < 0.5 for x in names], dtype=bool)
        rows_a, rows_b = np.flatnonzero(in_a), np.flatnonzero(~in_a)
        ta = thresholds_at(cross_scores(matrix, ident, rows_a), fars)
        tb = thresholds_at(cross_scores(matrix, ident, rows_b), fars)
        for k in fars:
            if ta[k] is not None and tb[k] is not None:
                gaps[k] += [tb[k] - ta[k], ta[k] - tb[k]]
    out = {}
    for k, g in gaps.items():
        worst = max(g) if g else None
        out[k] = {"margin": None if worst is None else math.ceil(max(0.0, worst) * 1000 - 1e-9) / 1000,
                  "gaps": [round(x, 5) for x in g]}
    return out


def far_tar(genuine: np.ndarray, impostor: np.ndarray, t: float) -> dict:
    """Measured 1:1 false-accept and true-accept rate at threshold ``t``."""
    return {"threshold": round(float(t), 5),
            "far": round(float((impostor >= t).mean()), 7) if impostor.size else None,
            "false_accepts": int((impostor >= t).sum()), "impostors": int(impostor.size),
            "tar": round(float((genuine >= t).mean()), 5) if genuine.size else None, "genuine": int(genuine.size)}


def open_set_1toN(matrix: np.ndarray, identities: list[str], t: float, margin: float) -> dict:
    """Open-set identification at threshold ``t`` and runner-up ``margin``.

    Identities are ordered by name; every second one (with ≥ 2 images) is enrolled with its first image,
    its other images are genuine probes; every image of a non-enrolled identity is an impostor probe.
    ``tar``: genuine probes accepted as the right person; ``far``: impostor probes accepted as anyone.
    """
    by_id: dict[str, list[int]] = {}
    for row, name in enumerate(identities):
        by_id.setdefault(name, []).append(row)
    names = sorted(by_id)
    enrolled = [n for n in names[::2] if len(by_id[n]) >= 2]
    gallery_rows = [by_id[n][0] for n in enrolled]
    genuine_probes = [(r, i) for i, n in enumerate(enrolled) for r in by_id[n][1:]]
    impostor_rows = [r for n in names if n not in set(enrolled) for r in by_id[n]]
    if len(gallery_rows) < 2:
        return {"gallery": len(gallery_rows), "tar": None, "far": None}
    g = np.ascontiguousarray(matrix[gallery_rows], dtype=np.float32)

    def accepted(rows: list[int]) -> tuple[np.ndarray, np.ndarray]:
        if not rows:
            return np.zeros(0, bool), np.zeros(0, np.int64)
        s = np.ascontiguousarray(matrix[rows], dtype=np.float32) @ g.T
        top2 = np.partition(s, -2, axis=1)[:, -2:]
        best, second = top2.max(axis=1), top2.min(axis=1)
        return (best >= t) & (best - second >= margin), s.argmax(axis=1)

    ok_g, who = accepted([r for r, _ in genuine_probes])
    right = who == np.asarray([i for _, i in genuine_probes], dtype=np.int64)
    ok_i, _ = accepted(impostor_rows)
    return {"threshold": round(float(t), 5), "margin": margin, "gallery": len(gallery_rows),
            "tar": round(float((ok_g & right).mean()), 5) if ok_g.size else None,
            "wrong_person_accepted": int((ok_g & ~right).sum()), "genuine_probes": int(ok_g.size),
            "far": round(float(ok_i.mean()), 6) if ok_i.size else None,
            "false_accepts": int(ok_i.sum()), "impostor_probes": int(ok_i.size)}
