"""Pure metric helpers for the comparison (no I/O): scores, TAR@FAR, EER, paired ratios, latency stats."""

from __future__ import annotations

import math

import numpy as np

from edge.face.metrics import eer, roc, tar_at_threshold
from edge.face.thresholds import threshold_at_far

__all__ = ["eer", "roc", "pair_scores", "cross_identity_scores", "tar_at_far", "latency_stats", "paired_ratio", "common_pairs"]


def similarity(a: np.ndarray, b: np.ndarray, metric: str) -> np.ndarray:
    """Row-wise similarity (higher = same person): cosine of unit vectors, or minus the Euclidean distance."""
    a, b = np.atleast_2d(a).astype(np.float64), np.atleast_2d(b).astype(np.float64)
    if metric == "cosine":
        return np.einsum("ij,ij->i", a, b)
    if metric == "l2":
        return -np.linalg.norm(a - b, axis=1)
    raise ValueError(f"unknown metric {metric!r} (cosine or l2)")


def pair_scores(emb: dict[str, np.ndarray], pairs: list[tuple[str, str, bool]], metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(genuine, impostor) scores of the pairs whose two images both have an embedding."""
    gen, imp = [], []
    for a, b, same in pairs:
        if a in emb and b in emb:
            (gen if same else imp).append(float(similarity(emb[a], emb[b], metric)[0]))
    return np.asarray(gen), np.asarray(imp)


def cross_identity_scores(emb: dict[str, np.ndarray], metric: str) -> np.ndarray:
    """Similarity of every pair of embedded images whose identity (parent folder) differs."""
    if len(emb) < 2:
        return np.zeros(0)
    keys = sorted(emb)
    ident = np.asarray([k.rsplit("/", 2)[-2] if "/" in k else k for k in keys])
    m = np.stack([emb[k] for k in keys]).astype(np.float64)
    if metric == "cosine":
        sims = m @ m.T
    elif metric == "l2":
        sq = (m * m).sum(1)
        sims = -np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * m @ m.T, 0.0))
    else:
        raise ValueError(f"unknown metric {metric!r} (cosine or l2)")
    iu = np.triu_indices(len(keys), k=1)
    diff = ident[iu[0]] != ident[iu[1]]
    return sims[iu][diff]


def tar_at_far(genuine: np.ndarray, impostor: np.ndarray, far: float) -> float | None:
    """TAR at the threshold where at most ``far`` of the impostors pass; None if the impostor set cannot resolve it."""
    return tar_at_threshold(np.asarray(genuine, np.float64), threshold_at_far(impostor, far))


def latency_stats(ms: np.ndarray | list[float]) -> dict[str, float | int | None]:
    """Median and 95th percentile (ms) of the finite values, and how many there were."""
    x = np.asarray(ms, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return {"n": 0, "median": None, "p95": None}
    return {"n": int(x.size), "median": float(np.median(x)), "p95": float(np.percentile(x, 95))}


def paired_ratio(ms: np.ndarray, ref_ms: np.ndarray) -> dict[str, float | int | None]:
    """Per-image ratio ms / ref_ms over images both measured (finite, > 0): median, 5th and 95th percentile.

    A ratio of 3 means that system took three times as long as the reference on the same image.
    """
    a, b = np.asarray(ms, np.float64), np.asarray(ref_ms, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired arrays differ in shape: {a.shape} vs {b.shape}")
    ok = np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0)
    if not ok.any():
        return {"n": 0, "median": None, "p05": None, "p95": None}
    r = a[ok] / b[ok]
    return {"n": int(ok.sum()), "median": float(np.median(r)), "p05": float(np.percentile(r, 5)), "p95": float(np.percentile(r, 95))}


def common_pairs(pairs: list[tuple[str, str, bool]], embedded: list[set[str]]) -> list[tuple[str, str, bool]]:
    """The pairs every system could score (both images embedded by all), for a like-for-like accuracy row."""
    if not embedded:
        return list(pairs)
    both = set.intersection(*embedded)
    return [p for p in pairs if p[0] in both and p[1] in both]


def fmt_pct(x: float | None, digits: int = 2) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.{digits}f} %"
