"""Evaluation over a pairs file (``path_a,path_b,same[,identity_a,identity_b]``): TAR@FAR, EER, FTE, score distributions.

Each image is embedded once per run (cache by path). Images with no detected face count as
failed-to-enrol and their pairs are left out of the scores. No quality gate is applied:
the evaluation measures matching, not capture conditions.

Two impostor sets are reported: the file's impostor pairs, and *all cross-identity pairs*
among the embedded images (identity = the ``identity_a``/``identity_b`` column when the file has
them, else the image's folder name). The file's 1500 impostor pairs cannot resolve FAR 1e-4.
Shipped thresholds are calibrated on an identity-disjoint split with a safety margin
(:mod:`edge.face.calibration`); :func:`calibrate` and :func:`at_shipped_thresholds` do that.

Memory: one embedding per image and the cross-identity scores (float32, block by block); no
n×n pair matrix.
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
from edge.face import calibration, metrics
from edge.face.pipeline import FacePipeline

logger = logging.getLogger(__name__)

FARS = {"1e-2": 1e-2, "1e-3": 1e-3, "1e-4": 1e-4, "1e-5": 1e-5}


@dataclass
class Pair:
    a: str
    b: str
    same: bool
    id_a: str | None = None
    id_b: str | None = None


def identity_of(path: str) -> str:
    """Identity of an image without an identity column: its folder."""
    return Path(path).parent.as_posix()


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
        id_cols = {"identity_a", "identity_b"} & set(reader.fieldnames or [])
        if len(id_cols) == 1:
            raise EdgeError(f"pairs file {path}: has {id_cols.pop()} but not its partner (give both identity_a and identity_b, or neither)")
        for n, row in enumerate(reader, start=2):
            if row["same"] not in ("0", "1"):
                raise EdgeError(f"pairs file {path} line {n}: 'same' must be 0 or 1, got {row['same']!r}")
            ia = ((row.get("identity_a") or "").strip() or None) if id_cols else None
            ib = ((row.get("identity_b") or "").strip() or None) if id_cols else None
            if id_cols and (ia is None or ib is None):
                raise EdgeError(f"pairs file {path} line {n}: empty identity_a/identity_b")
            if ia is not None and (ia == ib) != (row["same"] == "1"):
                raise EdgeError(f"pairs file {path} line {n}: same={row['same']} but identities {ia!r} and {ib!r} say otherwise")
            out.append(Pair(row["path_a"], row["path_b"], row["same"] == "1", ia, ib))
            if limit and len(out) >= limit:
                break
    if not out:
        raise EdgeError(f"pairs file {path} has no pairs")
    return out


def image_identities(pairs: list[Pair]) -> dict[str, str]:
    """Identity of every image: the identity columns when present, else the folder; one image, one identity."""
    ids: dict[str, str] = {}
    for p in pairs:
        for path, ident in ((p.a, p.id_a), (p.b, p.id_b)):
            ident = ident or identity_of(path)
            if ids.setdefault(path, ident) != ident:
                raise EdgeError(f"pairs file: image {path} is labelled both {ids[path]!r} and {ident!r}")
    return ids


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
    """Run the evaluation; returns (report for --json, scores and embeddings for plots/calibration)."""
    pairs = read_pairs(pairs_path, limit)
    ident_of = image_identities(pairs)
    paths = sorted(ident_of)
    run = embed_images(pipeline, root, paths, reference)
    gen, imp, gen_ids = [], [], []
    for p in pairs:
        ea, eb = run.embeddings.get(p.a), run.embeddings.get(p.b)
        if ea is None or eb is None:
            continue
        (gen if p.same else imp).append(float(ea @ eb))
        if p.same:
            gen_ids.append(ident_of[p.a])
    genuine, impostor = np.asarray(gen), np.asarray(imp)
    keys = sorted(run.embeddings)
    matrix = np.stack([run.embeddings[k] for k in keys]).astype(np.float32) if keys else np.zeros((0, 128), np.float32)
    identities = [ident_of[k] for k in keys]
    ext = calibration.cross_scores(matrix, calibration.codes(identities))
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
        "identities": len(set(ident_of.values())),
        "identity_source": "columns" if pairs[0].id_a else "folder",
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
    data = {"genuine": genuine, "impostor": impostor, "cross_identity": ext, "genuine_identities": gen_ids,
            "matrix": matrix, "identities": identities, "embeddings": run.embeddings}
    return report, data


def _held_out(data: dict, salt: str, share: float) -> tuple[np.ndarray, list[str], np.ndarray, int]:
    """Rows, identities and genuine scores of identities outside the calibration split, and how many identities were excluded."""
    ids = data["identities"]
    cal = {i for i in set(ids) | set(data["genuine_identities"]) if calibration.split_of(i, salt, share) == "calibration"}
    rows = np.asarray([r for r, i in enumerate(ids) if i not in cal], dtype=np.int64)
    gen = np.asarray([s for s, i in zip(data["genuine"], data["genuine_identities"]) if i not in cal])
    return rows, [ids[r] for r in rows], gen, len(cal)


def calibrate(data: dict, *, rounds: int = 6) -> dict:
    """Thresholds from the calibration identities plus a safety margin, checked on the held-out identities."""
    ids, matrix = data["identities"], data["matrix"]
    salt, share = calibration.SPLIT_SALT, calibration.CALIBRATION_SHARE
    ident = calibration.codes(ids)
    cal_rows = np.asarray([r for r, i in enumerate(ids) if calibration.split_of(i, salt, share) == "calibration"], dtype=np.int64)
    cal_ids = [ids[r] for r in cal_rows]
    fitted = calibration.thresholds_at(calibration.cross_scores(matrix, ident, cal_rows), FARS)
    margins = calibration.safety_margins(matrix[cal_rows], cal_ids, FARS, rounds=rounds)
    shipped = {k: _r(fitted[k] + margins[k]["margin"]) for k in FARS
               if fitted[k] is not None and margins[k]["margin"] is not None}
    rows, held_ids, gen_held, _ = _held_out(data, salt, share)
    imp_held = calibration.cross_scores(matrix, ident, rows)
    held = {}
    for k, t in shipped.items():
        held[k] = calibration.far_tar(gen_held, imp_held, t) | {
            "target_far": FARS[k], "far_without_margin": _r((imp_held >= fitted[k]).mean()) if imp_held.size else None}
    return {
        "thresholds": shipped,
        "fitted_thresholds": {k: _r(v) for k, v in fitted.items()},
        "safety_margin": {k: v["margin"] for k, v in margins.items()},
        "margin_gaps": {k: v["gaps"] for k, v in margins.items()},
        "split": {"method": "identity-disjoint: sha256(salt:identity) < share -> calibration, else held out",
                  "salt": salt, "share": share,
                  "calibration_identities": len(set(cal_ids)), "calibration_images": int(cal_rows.size),
                  "held_out_identities": len(set(held_ids)), "held_out_images": int(rows.size),
                  "margin_rounds": rounds,
                  "margin_rule": "largest threshold gap between disjoint halves of the calibration identities, rounded up to 0.001"},
        "held_out_at_shipped": held,
    }


def at_shipped_thresholds(data: dict, entry: dict, far_1to1: float, far_1toN: float, margin_1toN: float) -> dict:
    """TAR and measured FAR at the shipped thresholds for 1:1 and 1:N, on identities the calibration never saw."""
    from edge.face.thresholds import far_key

    split = entry.get("split") or {}
    salt = split.get("salt", calibration.SPLIT_SALT)
    share = split.get("share", 0.0)  # an entry with no recorded split: nothing is known to be excluded
    rows, held_ids, gen_held, excluded = _held_out(data, salt, share)
    out: dict = {"calibrated_on": entry.get("pairs_file"), "excluded_calibration_identities": excluded,
                 "evaluated_identities": len(set(held_ids))}
    t11 = entry.get("thresholds", {}).get(far_key(far_1to1))
    t1n = entry.get("thresholds", {}).get(far_key(far_1toN))
    imp = calibration.cross_scores(data["matrix"], calibration.codes(data["identities"]), rows)
    out["1:1"] = None if t11 is None else calibration.far_tar(gen_held, imp, t11) | {"target_far": far_1to1}
    if t1n is None:
        out["1:N"] = None
    else:
        sub = data["matrix"][rows] if rows.size else np.zeros((0, data["matrix"].shape[1]), np.float32)
        out["1:N"] = calibration.open_set_1toN(sub, held_ids, t1n, margin_1toN) | {
            "target_far_per_comparison": far_1toN,
            "far_per_comparison": _r((imp >= t1n).mean()) if imp.size else None}
    return out


def cross_identity_scores(embeddings: dict[str, np.ndarray]) -> np.ndarray:
    """Cosine of every pair of embedded images whose folders (identities) differ (float32, block by block)."""
    if len(embeddings) < 2:
        return np.zeros(0, np.float32)
    keys = sorted(embeddings)
    m = np.stack([embeddings[k] for k in keys]).astype(np.float32)
    return calibration.cross_scores(m, calibration.codes([identity_of(k) for k in keys]))


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
