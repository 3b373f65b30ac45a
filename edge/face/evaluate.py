"""Evaluation over a pairs file (``path_a,path_b,same``): TAR@FAR, EER, FTE, score distributions.

Each image is embedded once per run (cache by path). Images with no detected face count as
failed-to-enrol and their pairs are left out of the scores. No quality gate is applied:
the evaluation measures matching, not capture conditions.

Two impostor sets are reported: the file's impostor pairs, and *all cross-identity pairs*
among the embedded images (identity = the image's folder name). The file's 1500 impostor
pairs cannot resolve FAR 1e-4, so thresholds are calibrated on the larger set.
"""

from __future__ import annotations

import csv
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge.errors import EdgeError, ImageError
from edge.face import metrics
from edge.face.pipeline import FacePipeline

logger = logging.getLogger(__name__)

FARS = {"1e-2": 1e-2, "1e-3": 1e-3, "1e-4": 1e-4, "1e-5": 1e-5}


@dataclass
class Pair:
    a: str
    b: str
    same: bool


@dataclass
class EvalRun:
    pairs: list[Pair]
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    reference: dict[str, np.ndarray] = field(default_factory=dict)


def read_pairs(path: Path, limit: int | None = None) -> list[Pair]:
    """Rows of a pairs CSV; a malformed file raises EdgeError naming the line."""
    try:
        fh = open(path, newline="", encoding="utf-8")
    except OSError as exc:
        raise EdgeError(f"pairs file {path}: {exc.strerror}") from None
    out: list[Pair] = []
    with fh:
        reader = csv.DictReader(fh)
        missing = {"path_a", "path_b", "same"} - set(reader.fieldnames or [])
        if missing:
            raise EdgeError(f"pairs file {path}: missing column(s) {', '.join(sorted(missing))} (expected path_a,path_b,same)")
        for n, row in enumerate(reader, start=2):
            if row["same"] not in ("0", "1"):
                raise EdgeError(f"pairs file {path} line {n}: 'same' must be 0 or 1, got {row['same']!r}")
            out.append(Pair(row["path_a"], row["path_b"], row["same"] == "1"))
            if limit and len(out) >= limit:
                break
    if not out:
        raise EdgeError(f"pairs file {path} has no pairs")
    return out


class Progress:
    """A one-line progress bar on stderr (a line per 10% when stderr is not a terminal)."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label, self.t0, self.last = total, label, time.monotonic(), -1
        self.tty = sys.stderr.isatty()

    def update(self, done: int) -> None:
        pct = int(100 * done / max(self.total, 1))
        if not self.tty and pct // 10 == self.last // 10 and done != self.total:
            return
        if self.tty and pct == self.last and done != self.total:
            return
        self.last = pct
        rate = done / max(time.monotonic() - self.t0, 1e-6)
        eta = (self.total - done) / rate if rate else 0
        bar = "#" * (pct // 5) + "." * (20 - pct // 5)
        line = f"{self.label} [{bar}] {done}/{self.total} images {rate:.1f}/s eta {eta:.0f}s"
        sys.stderr.write(("\r" + line) if self.tty else line + "\n")
        if self.tty and done == self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def embed_images(pipeline: FacePipeline, root: Path, paths: list[str], reference=None) -> EvalRun:  # noqa: ANN001
    """Embed every distinct image once; with ``reference`` (an fp32 embedder) also embed its aligned crop."""
    run = EvalRun(pairs=[])
    progress = Progress(len(paths), f"eval {pipeline.embedder.name}")
    for i, rel in enumerate(paths, 1):
        try:
            res = pipeline.analyse_file(root / rel, gate=False)
        except ImageError as exc:
            run.failed[rel] = str(exc)
        else:
            if res.embedding is None:
                run.failed[rel] = "no_face"
            else:
                run.embeddings[rel] = res.embedding
                if reference is not None:
                    run.reference[rel] = reference.embed(res.aligned)
        progress.update(i)
    return run


def evaluate(pipeline: FacePipeline, pairs_path: Path, root: Path, *, limit: int | None = None, reference=None) -> tuple[dict, dict]:  # noqa: ANN001
    """Run the evaluation; returns (report for --json, raw score arrays for plots/calibration)."""
    pairs = read_pairs(pairs_path, limit)
    paths = sorted({p.a for p in pairs} | {p.b for p in pairs})
    run = embed_images(pipeline, root, paths, reference)
    gen, imp = [], []
    for p in pairs:
        ea, eb = run.embeddings.get(p.a), run.embeddings.get(p.b)
        if ea is None or eb is None:
            continue
        (gen if p.same else imp).append(float(ea @ eb))
    genuine, impostor = np.asarray(gen), np.asarray(imp)
    ext = cross_identity_scores(run.embeddings)
    tar_pairs, _ = metrics.tar_table(genuine, impostor, FARS)
    tar_ext, thr_ext = metrics.tar_table(genuine, ext, FARS)
    e, e_t = metrics.eer(genuine, impostor)
    report = {
        "embedder": pipeline.embedder.name,
        "model_sha256": pipeline.embedder.sha256,
        "detector": pipeline.detector.name,
        "pairs_file": str(pairs_path),
        "pairs": len(pairs),
        "pairs_scored": int(genuine.size + impostor.size),
        "images": len(paths),
        "failed_to_enrol": len(run.failed),
        "failed_images": dict(sorted(run.failed.items())[:50]),
        "eer": round(e, 4),
        "eer_threshold": round(e_t, 4),
        "tar_at_far": {k: _r(v) for k, v in tar_ext.items()},
        "thresholds": {k: _r(v) for k, v in thr_ext.items()},
        "tar_at_far_pairs_only": {k: _r(v) for k, v in tar_pairs.items()},
        "impostor_set": {"pairs_file": int(impostor.size), "cross_identity": int(ext.size)},
        "scores": {"genuine": metrics.summary(genuine), "impostor": metrics.summary(impostor), "cross_identity_impostor": metrics.summary(ext)},
        "mean_cosine_to_fp32": None,
    }
    if reference is not None and run.reference:
        cos = [float(run.embeddings[k] @ run.reference[k]) for k in run.reference]
        report["mean_cosine_to_fp32"] = round(float(np.mean(cos)), 5)
        report["min_cosine_to_fp32"] = round(float(np.min(cos)), 5)
    return report, {"genuine": genuine, "impostor": impostor, "cross_identity": ext, "embeddings": run.embeddings}


def cross_identity_scores(embeddings: dict[str, np.ndarray]) -> np.ndarray:
    """Cosine of every pair of embedded images whose folders (identities) differ."""
    if len(embeddings) < 2:
        return np.zeros(0)
    keys = sorted(embeddings)
    ident = np.asarray([Path(k).parent.as_posix() for k in keys])
    m = np.stack([embeddings[k] for k in keys]).astype(np.float32)
    sims = m @ m.T
    iu = np.triu_indices(len(keys), k=1)
    diff = ident[iu[0]] != ident[iu[1]]
    return sims[iu][diff].astype(np.float64)


def plot_roc(scores: dict, report: dict, out: Path) -> None:
    """ROC (TAR vs FAR, log FAR axis) and score histograms to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
    for imp, label in ((scores["impostor"], "file impostor pairs"), (scores["cross_identity"], "all cross-identity pairs")):
        if imp.size and scores["genuine"].size:
            far, tar = metrics.roc(scores["genuine"], imp)
            ax1.plot(np.maximum(far, 0.5 / imp.size), tar, label=f"{label} (n={imp.size})")
    ax1.set_xscale("log")
    ax1.set_xlabel("false accept rate")
    ax1.set_ylabel("true accept rate")
    ax1.set_title(f"ROC: {report['embedder']} / {report['detector']}")
    ax1.grid(True, which="both", alpha=0.3)
    ax1.legend(loc="lower right")
    bins = np.linspace(-0.3, 1.0, 66)
    ax2.hist(scores["genuine"], bins=bins, alpha=0.6, density=True, label="genuine")
    ax2.hist(scores["impostor"], bins=bins, alpha=0.6, density=True, label="impostor")
    for k in ("1e-3", "1e-4"):
        t = report["thresholds"].get(k)
        if t is not None:
            ax2.axvline(t, linestyle="--", color="k" if k == "1e-3" else "r", label=f"threshold FAR {k}")
    ax2.set_xlabel("cosine score")
    ax2.set_title(f"scores ({report['pairs_file'].split('/')[-1]})")
    ax2.legend()
    fig.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)


def _r(v: float | None) -> float | None:
    return None if v is None else round(float(v), 5)
