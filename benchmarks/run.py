"""``python -m benchmarks``: every system on the same images and pairs in one run, then tables and a ROC plot.

Each system runs in its own worker process (its own peak RSS and thread settings): once with
1 thread over every image of the pair subset (embeddings for accuracy + per-image latency), once
with 2 threads over a seeded sample of those images. Pair subsets are seeded, so every system
sees exactly the same pairs.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import report
from benchmarks.metrics import (
    common_pairs,
    cross_identity_scores,
    eer,
    latency_stats,
    pair_scores,
    paired_ratio,
    tar_at_far,
)
from benchmarks.systems import SYSTEMS, deepface_status
from edge.paths import shared_datasets_dir

logger = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[1]
FARS = {"1e-2": 1e-2, "1e-3": 1e-3}
REF = "tepat-int8"


def thread_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        env[k] = str(threads)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    return env


def run_worker(system: str, threads: int, root: Path, images: list[str], work: Path) -> tuple[dict, dict]:
    """Run one worker process; returns (metadata, {"ms": ..., "emb": ...}) or (metadata with 'unavailable', {})."""
    lst = work / f"{system}-{threads}.images.json"
    lst.write_text(json.dumps(images))
    out = work / f"{system}-{threads}.npz"
    cmd = [sys.executable, "-m", "benchmarks.worker", "--system", system, "--threads", str(threads), "--root", str(root), "--images", str(lst), "--out", str(out)]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, env=thread_env(threads), stderr=None, stdout=subprocess.DEVNULL, check=False)
    meta_path = out.with_suffix(".json")
    if proc.returncode != 0 or not meta_path.exists():
        return {"system": system, "unavailable": f"worker failed with exit code {proc.returncode} (see stderr above)"}, {}
    meta = json.loads(meta_path.read_text())
    meta["wall_s"] = round(time.monotonic() - t0, 1)
    if "unavailable" in meta:
        return meta, {}
    d = np.load(out)
    return meta, {"ms": d["ms"], "emb": d["emb"]}


def select_pairs(pairs_path: Path, limit: int | None, seed: int) -> list[tuple[str, str, bool]]:
    from edge.face.evaluate import read_pairs

    allp = [(p.a, p.b, p.same) for p in read_pairs(pairs_path)]
    if limit and limit < len(allp):
        idx = np.sort(np.random.default_rng(seed).choice(len(allp), size=limit, replace=False))
        return [allp[i] for i in idx]
    return allp


def accuracy(emb: dict[str, np.ndarray], pairs: list[tuple[str, str, bool]], metric: str) -> dict:
    gen, imp = pair_scores(emb, pairs, metric)
    ext = cross_identity_scores(emb, metric)
    e, _ = eer(gen, imp)
    return {
        "pairs_scored": int(gen.size + imp.size),
        "genuine": gen,
        "impostor": imp,
        "cross_identity": ext,
        "eer": e,
        "tar": {k: tar_at_far(gen, ext, f) for k, f in FARS.items()},
    }


def decisions(emb: dict[str, np.ndarray], pairs: list[tuple[str, str, bool]], metric: str, ext: np.ndarray, far: float) -> np.ndarray:
    """Per pair: True when the system decides the pair correctly at its own threshold for ``far``."""
    from edge.face.thresholds import threshold_at_far
    from benchmarks.metrics import similarity

    t = threshold_at_far(ext, far)
    out = []
    for a, b, same in pairs:
        s = float(similarity(emb[a], emb[b], metric)[0])
        out.append((s >= t) == same if t is not None else False)
    return np.asarray(out)


def compare(args: argparse.Namespace) -> dict:
    pairs = select_pairs(args.pairs, args.limit, args.seed)
    images = sorted({p[0] for p in pairs} | {p[1] for p in pairs})
    sample = sorted(np.random.default_rng(args.seed + 1).choice(images, size=min(args.sample, len(images)), replace=False).tolist())
    print(f"benchmarks: {len(pairs)} pairs ({sum(p[2] for p in pairs)} genuine), {len(images)} images; 2-thread sample {len(sample)} images", file=sys.stderr)
    load0 = os.getloadavg()
    systems: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="tepat-bench-") as tmp:
        work = Path(tmp)
        for name in args.systems:
            print(f"benchmarks: {name}", file=sys.stderr, flush=True)
            meta, data = run_worker(name, 1, args.root, images, work)
            if not data:
                systems[name] = {"unavailable": meta.get("unavailable", "unavailable")}
                print(f"benchmarks: {name} {systems[name]['unavailable']}", file=sys.stderr)
                continue
            meta2, data2 = run_worker(name, 2, args.root, sample, work)
            emb = {rel: data["emb"][i] for i, rel in enumerate(images) if np.isfinite(data["emb"][i]).all() and data["emb"].shape[1]}
            systems[name] = {"meta": meta, "meta2": meta2, "ms1": data["ms"], "ms2": data2.get("ms", np.full(len(sample), np.nan)), "emb": emb}
    load1 = os.getloadavg()
    ran = {k: v for k, v in systems.items() if "emb" in v}
    common = common_pairs(pairs, [set(v["emb"]) for v in ran.values()])
    common_imgs = set.intersection(*[set(v["emb"]) for v in ran.values()]) if ran else set()
    for name, s in ran.items():
        metric = s["meta"]["metric"]
        s["acc"] = accuracy(s["emb"], pairs, metric)
        sub = {k: s["emb"][k] for k in common_imgs}
        s["acc_common"] = accuracy(sub, common, metric)
        s["lat1"], s["lat2"] = latency_stats(s["ms1"]), latency_stats(s["ms2"])
        s["ftd"] = len(s["meta"]["no_face"])
        s["correct_common"] = decisions(sub, common, metric, s["acc_common"]["cross_identity"], 1e-3)
    if REF in ran:
        ref = ran[REF]
        for name, s in ran.items():
            s["ratio1"] = paired_ratio(s["ms1"], ref["ms1"])
            s["ratio2"] = paired_ratio(s["ms2"], ref["ms2"])
            s["vs_ref"] = {
                "only_this_right": int((s["correct_common"] & ~ref["correct_common"]).sum()),
                "only_ref_right": int((~s["correct_common"] & ref["correct_common"]).sum()),
            }
    search = run_search(args) if args.sizes else []
    return {
        "pairs_file": str(args.pairs),
        "limit": args.limit,
        "seed": args.seed,
        "pairs": pairs,
        "images": len(images),
        "sample": len(sample),
        "common_pairs": len(common),
        "systems": systems,
        "deepface": deepface_status(),
        "search": search,
        "load": (load0, load1),
        "command": " ".join([".venv/bin/python -m benchmarks"] + sys.argv[1:]),
    }


def run_search(args: argparse.Namespace) -> list[dict]:
    rows = []
    for n in args.sizes:
        for m in ("tepat", "numpy", "faiss"):
            print(f"benchmarks: 1:N search {m} over {n} templates", file=sys.stderr, flush=True)
            cmd = [sys.executable, "-m", "benchmarks.search", "--matcher", m, "--n", str(n)]
            proc = subprocess.run(cmd, env=thread_env(1), capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                rows.append({"matcher": m, "n": n, "unavailable": (proc.stderr.strip().splitlines() or ["failed"])[-1]})
            else:
                rows.append(json.loads(proc.stdout))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=Path, default=shared_datasets_dir() / "pairs.csv", help="pairs CSV (path_a,path_b,same); default $TEPAT_SHARED/datasets/pairs.csv, else ../shared/datasets/pairs.csv")
    ap.add_argument("--root", type=Path, default=None, help="folder the pair paths are relative to (default: the pairs file's folder)")
    ap.add_argument("--limit", type=int, default=600, help="seeded random subset of N pairs, the same for every system (0 = all; default 600)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the pair subset and the 2-thread image sample (default 0)")
    ap.add_argument("--sample", type=int, default=100, help="images timed again with 2 threads (default 100)")
    ap.add_argument("--systems", default=",".join(SYSTEMS), help=f"comma-separated subset of {','.join(SYSTEMS)}")
    ap.add_argument("--sizes", default="1000,10000,100000,1000000", help="1:N gallery sizes, comma-separated ('' to skip)")
    ap.add_argument("--json", type=Path, help="also write the raw results here")
    ap.add_argument("--raw", type=Path, help="also pickle the full results (scores, latencies) here, for --from-raw")
    ap.add_argument("--from-raw", type=Path, help="do not measure: re-render the tables and plot from a --raw pickle")
    ap.add_argument("--write-docs", action="store_true", help="write docs/COMPARISON.md, docs/roc_comparison.png and the summary section of docs/BENCHMARKS.md")
    args = ap.parse_args(argv)
    args.systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    bad = [s for s in args.systems if s not in SYSTEMS]
    if bad:
        ap.error(f"unknown system(s) {', '.join(bad)}; choose from {', '.join(SYSTEMS)}")
    args.sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    args.root = args.root or args.pairs.parent
    if args.from_raw:
        import pickle

        with open(args.from_raw, "rb") as fh:
            res = pickle.load(fh)  # noqa: S301 - our own file
        res["deepface"] = deepface_status()
    elif not args.pairs.is_file():
        print(f"benchmarks: pairs file {args.pairs} not found (pass --pairs)", file=sys.stderr)
        return 2
    else:
        res = compare(args)
    if args.raw:
        import pickle

        with open(args.raw, "wb") as fh:
            pickle.dump(res, fh)
    md = report.comparison_markdown(res)
    print(md)
    if args.json:
        args.json.write_text(json.dumps(report.jsonable(res), indent=1))
    if args.write_docs:
        docs = REPO / "docs"
        report.plot_roc(res, docs / "roc_comparison.png")
        (docs / "COMPARISON.md").write_text(md)
        report.update_benchmarks_section(docs / "BENCHMARKS.md", report.summary_markdown(res))
        print(f"benchmarks: wrote {docs / 'COMPARISON.md'}, {docs / 'roc_comparison.png'} and the 'Side-by-side comparison' section of {docs / 'BENCHMARKS.md'}", file=sys.stderr)
    return 0
