"""Choosing the passive liveness threshold from genuine photos (pure numpy, no I/O).

The threshold is set from the live scores of *genuine* photos at a stated false-refusal rate
(FRR: share of genuine faces scored below the threshold), so that the rate holds overall **and**
for every named group (e.g. the South-East-Asian identities): the threshold is the lowest of the
per-group quantiles. It is fitted on the calibration half of the identities
(:func:`edge.face.calibration.split_of`, the same identity-disjoint split as the face thresholds)
and reported on the held-out half, plus the attack samples' catch rate at that threshold.

Fusion rules for the two MiniFASNet models' live probabilities:

* ``mean`` (upstream): the average.
* ``geomean``: the geometric mean. A face both models find live scores high; a face one model
  is sure is an attack scores low even if the other is fooled (the printed-photo sample fools
  MiniFASNetV1SE, the monitor sample fools MiniFASNetV2).
* ``min`` (shipped): the lower of the two. A face is live only when **both** models say so;
  each model catches what the other misses on the attack samples. Measured in docs/LIVENESS.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

FUSIONS = ("mean", "geomean", "min")


def fuse(per_model: Mapping[str, float], rule: str = "mean") -> float:
    """One live score from the models' live probabilities."""
    vals = [float(v) for v in per_model.values()]
    if not vals:
        raise ValueError("no liveness model scores to fuse")
    if rule == "mean":
        return float(np.mean(vals))
    if rule == "min":
        return float(min(vals))
    if rule == "geomean":
        return float(math.exp(np.mean([math.log(max(v, 1e-12)) for v in vals])))
    raise ValueError(f"unknown liveness fusion {rule!r} (expected one of {', '.join(FUSIONS)})")


def frr(scores: Sequence[float], threshold: float) -> float | None:
    arr = np.asarray(scores, dtype=np.float64)
    return float((arr < threshold).mean()) if arr.size else None


def threshold_for_frr(groups: Mapping[str, Sequence[float]], target: float) -> float:
    """Highest threshold (rounded down to 0.001) whose FRR is at most ``target`` in every non-empty group."""
    if not 0 < target < 1:
        raise ValueError(f"target FRR must be between 0 and 1, got {target}")
    best = 1.0
    for scores in groups.values():
        arr = np.sort(np.asarray(scores, dtype=np.float64))
        if arr.size == 0:
            continue
        allowed = int(math.floor(arr.size * target + 1e-9))  # genuine faces allowed below the threshold
        best = min(best, float(arr[allowed]))  # scores >= arr[allowed] pass: at most `allowed` fall below
    return math.floor(best * 1000) / 1000


def attack_catch(attacks: Mapping[str, float], threshold: float) -> dict:
    caught = {name: s < threshold for name, s in attacks.items()}
    return {"caught": sum(caught.values()), "attacks": len(caught), "missed": sorted(n for n, c in caught.items() if not c)}
