"""Cross-architecture agreement for `make pi-emu`: embeddings and 1:1 decisions, arm64 vs x86_64.

    python3 scripts/pi-emu/compare.py RESULTS_DIR MODELS_DIR PAIRS_CSV [--json OUT]

RESULTS_DIR holds <arch>-<embedder>.npz (from `edge eval --embeddings`) for arch x86_64 and aarch64 and
embedder int8 and fp32. For each embedder: the cosine between the two architectures' embeddings of every
image both embedded; the 1:1 decision (score >= the shipped threshold at FAR 1e-3 for that model's
sha256 in models/thresholds.json) of every pair on both; and, reported but not failed, the same decision for every
comparison between two different images of the sample (what `edge eval` counts as impostors). Prints the agreement table and every
disagreement with its scores. Exit 1 when an fp32 image is below cosine 0.999, a decision differs, or an
image was embedded on one architecture only.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import sys
from pathlib import Path

import numpy as np

EMBEDDERS = {"int8": "sface_2021dec_int8.tflite", "fp32": "sface_2021dec_fp32.tflite"}
FP32_MIN_COSINE = 0.999
FAR_1TO1 = "1e-3"
GALLERY_NAME = re.compile(r"/tmp/pi-emu-gallery[^ ]*\.sqlite")
COSINE_BINS = [("<0.99", -2.0, 0.99), ("[0.99,0.999)", 0.99, 0.999), ("[0.999,0.9999)", 0.999, 0.9999),
               ("[0.9999,0.99999)", 0.9999, 0.99999), (">=0.99999", 0.99999, 2.0)]


def load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: np.asarray(z[k], np.float32) for k in z.files}


def threshold(models: Path, filename: str) -> float:
    sha = hashlib.sha256((models / filename).read_bytes()).hexdigest()
    entry = json.loads((models / "thresholds.json").read_text())[sha]
    return float(entry["thresholds"][FAR_1TO1])


def compare(x86: dict, arm: dict, pairs: list[dict], t: float) -> dict:
    common = sorted(set(x86) & set(arm))
    cos = np.array([float(x86[k] @ arm[k]) for k in common])
    only = sorted(set(x86) ^ set(arm))
    agree, total, diffs = 0, 0, []
    for p in pairs:
        a, b = p["path_a"], p["path_b"]
        if a not in common or b not in common:
            continue
        sx, sa = float(x86[a] @ x86[b]), float(arm[a] @ arm[b])
        total += 1
        if (sx >= t) == (sa >= t):
            agree += 1
        else:
            diffs.append({"pair": f"{a} {b}", "same": p["same"], "x86_64": round(sx, 5), "aarch64": round(sa, 5)})
    order = np.argsort(cos)
    every = every_comparison(x86, arm, common, t)
    return {
        "every_comparison": every,
        "images_compared": len(common), "only_one_arch": only, "threshold": t,
        "cosine_min": float(cos.min()) if cos.size else None, "cosine_median": float(np.median(cos)) if cos.size else None,
        "cosine_p01": float(np.percentile(cos, 1)) if cos.size else None,
        "cosine_below_0.999": int((cos < FP32_MIN_COSINE).sum()),
        "cosine_bins": {label: int(((cos >= lo) & (cos < hi)).sum()) for label, lo, hi in COSINE_BINS},
        "lowest": [{"image": common[i], "cosine": round(float(cos[i]), 6)} for i in order[:5]],
        "decisions_agree": agree, "decisions_total": total, "disagreements": diffs,
        "max_abs_score_diff": max((abs(float(x86[p["path_a"]] @ x86[p["path_b"]]) - float(arm[p["path_a"]] @ arm[p["path_b"]]))
                                   for p in pairs if p["path_a"] in common and p["path_b"] in common), default=None),
    }


def every_comparison(x86: dict, arm: dict, common: list[str], t: float) -> dict:
    """The 1:1 decision for every comparison between two different images, on both architectures."""
    if len(common) < 2:
        return {"agree": 0, "total": 0, "disagreements": []}
    ex, ea = np.stack([x86[k] for k in common]), np.stack([arm[k] for k in common])
    iu = np.triu_indices(len(common), k=1)
    sx, sa = (ex @ ex.T)[iu], (ea @ ea.T)[iu]  # each pair once, scores in the same order on both
    flips = np.nonzero((sx >= t) != (sa >= t))[0]
    diffs = [{"pair": f"{common[iu[0][i]]} {common[iu[1][i]]}", "x86_64": round(float(sx[i]), 5),
              "aarch64": round(float(sa[i]), 5)} for i in flips]
    return {"agree": len(sx) - len(diffs), "total": len(sx), "disagreements": diffs,
            "max_abs_score_diff": float(np.abs(sx - sa).max())}


def compare_verify(results: Path) -> dict:
    """`edge verify` lines (face-checks.sh) from both architectures, in the same order."""
    rows = {}
    for arch in ("x86_64", "aarch64"):
        path = results / f"{arch}-verify.jsonl"
        rows[arch] = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    agree, diffs, deltas = 0, [], []

    def key(row: dict) -> tuple:
        # a temporary gallery's name (older face-checks.sh made one per run) is not part of the decision
        return row["image"], row["claimed"], GALLERY_NAME.sub("<gallery>", str(row["decision"])), row.get("exit")

    for x, a in zip(rows["x86_64"], rows["aarch64"]):
        same = key(x) == key(a)
        agree += same
        if not same:
            diffs.append({"x86_64": x, "aarch64": a})
        if x.get("score") is not None and a.get("score") is not None:
            deltas.append(abs(x["score"] - a["score"]))
    total = max(len(rows["x86_64"]), len(rows["aarch64"]))
    return {"agree": agree, "total": total, "disagreements": diffs, "max_abs_score_diff": max(deltas) if deltas else None}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", type=Path)
    ap.add_argument("models", type=Path)
    ap.add_argument("pairs", type=Path)
    ap.add_argument("--json", type=Path, help="write the full comparison here")
    args = ap.parse_args(argv)
    with open(args.pairs, newline="", encoding="utf-8") as fh:
        pairs = list(csv.DictReader(fh))
    out, ok = {}, True
    for name, filename in EMBEDDERS.items():
        res = compare(load(args.results / f"x86_64-{name}.npz"), load(args.results / f"aarch64-{name}.npz"),
                      pairs, threshold(args.models, filename))
        out[name] = res
        ok &= not res["disagreements"] and not res["only_one_arch"]
        if name == "fp32":
            ok &= res["cosine_below_0.999"] == 0
    print("\nCross-architecture agreement: aarch64 (qemu-user, Debian bookworm) vs x86_64, same images, same locked wheels")
    print(f"{'embedder':<9}{'images':>8}{'min cos':>11}{'p1 cos':>11}{'median cos':>12}{'<0.999':>8}{'max |Δscore|':>14}"
          f"{'decisions agree':>18}  threshold (FAR {FAR_1TO1})")
    for name, r in out.items():
        print(f"{name:<9}{r['images_compared']:>8}{r['cosine_min']:>11.6f}{r['cosine_p01']:>11.6f}{r['cosine_median']:>12.6f}"
              f"{r['cosine_below_0.999']:>8}{r['max_abs_score_diff']:>14.6f}{r['decisions_agree']:>11}/{r['decisions_total']:<6}  {r['threshold']}")
    for name, r in out.items():
        bins = ", ".join(f"{k} {v}" for k, v in r["cosine_bins"].items())
        print(f"{name} per-image cosine distribution: {bins}")
    for name, r in out.items():
        for d in r["disagreements"]:
            print(f"DISAGREE {name}: {d['pair']} same={d['same']} x86_64={d['x86_64']} aarch64={d['aarch64']} (threshold {r['threshold']})")
        for img in r["only_one_arch"]:
            print(f"ONE-ARCH {name}: {img} embedded on one architecture only")
        print(f"lowest {name} cosines: " + ", ".join(f"{x['image']} {x['cosine']}" for x in r["lowest"][:3]))
    for name, r in out.items():
        e = r["every_comparison"]
        print(f"{name}: every comparison of two different images of the sample: {e['agree']}/{e['total']} decisions agree"
              f", largest score difference {e['max_abs_score_diff']:.5f} (reported, not a failure: the pairs above are the check)")
        for d in e["disagreements"]:
            print(f"  differs {name}: {d['pair']} x86_64={d['x86_64']} aarch64={d['aarch64']} (threshold {r['threshold']})")
    verify = compare_verify(args.results)
    out["edge_verify"] = verify
    ok &= verify["agree"] == verify["total"] > 0
    print(f"edge verify on a few photos: {verify['agree']}/{verify['total']} decisions agree"
          + (f", largest score difference {verify['max_abs_score_diff']:.5f}" if verify["max_abs_score_diff"] is not None else ""))
    for d in verify["disagreements"]:
        print(f"DISAGREE edge verify: {d}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print("agreement: " + ("PASS" if ok else "FAIL") + f" (fp32 cosine >= {FP32_MIN_COSINE} per image; every 1:1 decision equal)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
