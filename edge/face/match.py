"""Cosine matching (pure numpy): 1:1 against one recipient's templates, 1:N over a gallery, burst fusion.

All templates and probes are L2-normalised, so cosine similarity is a dot product.
Burst rule: each usable frame is scored on its own; the fused score is the mean of the
best two frame scores (the single score when only one frame was usable).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(np.asarray(a, np.float32).ravel(), np.asarray(b, np.float32).ravel()))


def best_score(probe: np.ndarray, templates: np.ndarray) -> float:
    """1:1 score: the best cosine of ``probe`` against any of one recipient's templates (k, d)."""
    t = np.asarray(templates, dtype=np.float32).reshape(-1, probe.shape[-1])
    if t.shape[0] == 0:
        raise ValueError("no templates to match against")
    return float((t @ probe.astype(np.float32)).max())


def fuse(scores: list[float]) -> float:
    """Burst fusion: mean of the two best per-frame scores."""
    if not scores:
        raise ValueError("no frame scores to fuse")
    top = sorted(scores, reverse=True)[:2]
    return float(sum(top) / len(top))


@dataclass
class Candidate:
    recipient_id: str
    score: float


@dataclass
class Identification:
    """1:N result: candidates best first; ``accepted`` when the top clears threshold and margin."""

    candidates: list[Candidate]
    threshold: float
    margin: float

    @property
    def top(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    @property
    def runner_up(self) -> Candidate | None:
        return self.candidates[1] if len(self.candidates) > 1 else None

    @property
    def accepted(self) -> bool:
        if self.top is None or self.top.score < self.threshold:
            return False
        return self.runner_up is None or self.top.score - self.runner_up.score >= self.margin


class GalleryIndex:
    """Templates as one contiguous float32 matrix, rows grouped by identity, for fast 1:N search."""

    def __init__(self, ids: list[str], matrix: np.ndarray) -> None:
        order = np.argsort(np.asarray(ids, dtype=object).astype(str), kind="stable") if ids else np.zeros(0, int)
        sorted_ids = [ids[i] for i in order]
        self.matrix = np.ascontiguousarray(np.asarray(matrix, dtype=np.float32).reshape(len(ids), -1)[order])
        starts = [i for i in range(len(sorted_ids)) if i == 0 or sorted_ids[i] != sorted_ids[i - 1]]
        self.starts = np.asarray(starts, dtype=np.intp)
        self.identities = [sorted_ids[i] for i in starts]

    @classmethod
    def from_dict(cls, gallery: dict[str, np.ndarray]) -> GalleryIndex:
        """Index a ``{recipient_id: (k, d) templates}`` mapping."""
        ids: list[str] = []
        rows: list[np.ndarray] = []
        for rid, t in gallery.items():
            t = np.asarray(t, dtype=np.float32).reshape(-1, np.asarray(t).shape[-1])
            ids.extend([rid] * t.shape[0])
            rows.append(t)
        return cls(ids, np.vstack(rows) if rows else np.zeros((0, 128), np.float32))

    def __len__(self) -> int:
        return self.matrix.shape[0]

    def templates_of(self, recipient_id: str) -> np.ndarray:
        try:
            k = self.identities.index(recipient_id)
        except ValueError:
            return np.zeros((0, self.matrix.shape[1] if self.matrix.size else 128), np.float32)
        end = self.starts[k + 1] if k + 1 < len(self.starts) else len(self)
        return self.matrix[self.starts[k] : end]

    def identity_scores(self, probe: np.ndarray) -> np.ndarray:
        """Best cosine per identity (aligned with ``identities``)."""
        if len(self) == 0:
            return np.zeros(0, np.float32)
        scores = self.matrix @ np.asarray(probe, np.float32).ravel()
        return np.maximum.reduceat(scores, self.starts)

    def search(self, probe: np.ndarray, k: int = 5) -> list[Candidate]:
        """Top-k identities by best template score."""
        per_id = self.identity_scores(probe)
        if per_id.size == 0:
            return []
        k = min(k, per_id.size)
        top = np.argpartition(-per_id, k - 1)[:k]
        top = top[np.argsort(-per_id[top])]
        return [Candidate(self.identities[i], float(per_id[i])) for i in top]

    def identify(self, probe: np.ndarray, threshold: float, margin: float, k: int = 5) -> Identification:
        return Identification(self.search(probe, max(k, 2)), threshold, margin)
