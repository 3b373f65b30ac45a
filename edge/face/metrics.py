"""Verification metrics from genuine and impostor score arrays (pure numpy)."""

from __future__ import annotations

import numpy as np

from edge.face.thresholds import threshold_at_far


def tar_at_threshold(genuine: np.ndarray, t: float | None) -> float | None:
    if t is None or genuine.size == 0:
        return None
    return float((genuine >= t).mean())


def eer(genuine: np.ndarray, impostor: np.ndarray) -> tuple[float, float]:
    """(equal error rate, threshold there): where FAR (impostor ≥ t) meets FRR (genuine < t)."""
    if genuine.size == 0 or impostor.size == 0:
        return float("nan"), float("nan")
    ts = np.unique(np.concatenate([genuine, impostor]))
    g, i = np.sort(genuine), np.sort(impostor)
    far = 1 - np.searchsorted(i, ts, side="left") / i.size
    frr = np.searchsorted(g, ts, side="left") / g.size
    k = int(np.argmin(np.abs(far - frr)))
    return float((far[k] + frr[k]) / 2), float(ts[k])


def roc(genuine: np.ndarray, impostor: np.ndarray, points: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """(FAR, TAR) at log-spaced target FARs down to the smallest the impostor set resolves (1/n)."""
    if impostor.size == 0 or genuine.size == 0:
        return np.zeros(0), np.zeros(0)
    fars = np.logspace(np.log10(1.0 / impostor.size), 0, points) * (1 + 1e-9)
    ts = [t for t in (threshold_at_far(impostor, f) for f in fars) if t is not None]
    far = np.array([(impostor >= t).mean() for t in ts])
    tar = np.array([(genuine >= t).mean() for t in ts])
    return far, tar


def summary(scores: np.ndarray) -> dict[str, float]:
    if scores.size == 0:
        return {"n": 0}
    p = np.percentile(scores, [1, 5, 50, 95, 99])
    return {
        "n": int(scores.size),
        "mean": round(float(scores.mean()), 4),
        "std": round(float(scores.std()), 4),
        "min": round(float(scores.min()), 4),
        "p01": round(float(p[0]), 4),
        "p05": round(float(p[1]), 4),
        "median": round(float(p[2]), 4),
        "p95": round(float(p[3]), 4),
        "p99": round(float(p[4]), 4),
        "max": round(float(scores.max()), 4),
    }


def tar_table(genuine: np.ndarray, impostor: np.ndarray, fars: dict[str, float]) -> tuple[dict[str, float | None], dict[str, float | None]]:
    """TAR and threshold at each named FAR (None where the impostor set is too small to resolve it)."""
    thresholds = {k: threshold_at_far(impostor, f) for k, f in fars.items()}
    return {k: tar_at_threshold(genuine, t) for k, t in thresholds.items()}, thresholds
