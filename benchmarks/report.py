"""Markdown tables, the machine description and the ROC plot of a comparison run."""

from __future__ import annotations

import datetime as dt
import os
import platform
from importlib import metadata
from pathlib import Path

import numpy as np

from benchmarks.metrics import fmt_pct, roc
from benchmarks.systems import LABELS

SECTION = "## Side-by-side comparison"
TARGETS = {"opencv-sface": 3.0, "face_recognition": 20.0}


def machine() -> str:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = int(Path("/proc/meminfo").read_text().split()[1]) / 2**20
        mem_s = f"{mem:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        mem_s = "RAM unknown"
    vers = []
    for pkg in ("numpy", "ai-edge-litert", "opencv-python-headless", "dlib-bin", "face-recognition", "faiss-cpu"):
        try:
            vers.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            vers.append(f"{pkg} not installed")
    from benchmarks.cpu import cpu_info

    flags = ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in cpu_info()["flags"].items())
    return (f"{platform.machine()} {cpu} ({flags}), {os.cpu_count()} CPUs, {mem_s}, {platform.platform()}, "
            f"Python {platform.python_version()}; " + ", ".join(vers))


def _ms(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f}"


def _ratio(r: dict | None) -> str:
    if not r or r.get("median") is None:
        return "–"
    return f"{r['median']:.2f}× ({r['p05']:.2f}–{r['p95']:.2f})"


def _ran(res: dict) -> dict:
    return {k: v for k, v in res["systems"].items() if "acc" in v}


def targets(res: dict) -> list[str]:
    ran = _ran(res)
    ref = ran.get("tepat-int8")
    out = []
    if ref is None:
        return ["Tepat int8 did not run: targets not evaluated."]
    for name, goal in TARGETS.items():
        s = ran.get(name)
        if s is None:
            out.append(f"- Tepat int8 ≥ {goal:g}× faster than {name}: not measured ({name} did not run).")
            continue
        r = s["ratio1"]["median"]
        ta, tb = ref["acc_common"]["tar"]["1e-3"], s["acc_common"]["tar"]["1e-3"]
        speed_ok = r is not None and r >= goal
        acc_ok = ta is not None and tb is not None and ta >= tb
        out.append(
            f"- Tepat int8 ≥ {goal:g}× faster than {name} per face on 250×250 dataset crops (1 thread, median of per-image "
            "ratios; the camera-frame headline above is the main workload): "
            f"**{r:.2f}× — {'met' if speed_ok else 'not met'}**; TAR@FAR=1e-3 on the common pairs "
            f"{fmt_pct(ta)} vs {fmt_pct(tb)} — **{'not resolvable on this subset' if ta is None or tb is None else 'equal or better' if acc_ok else 'worse'}**."
        )
    return out


def notes(res: dict) -> list[str]:
    """How to read the run: facts about the systems, plus remarks triggered by the measured numbers."""
    ran = _ran(res)
    out = [
        "- OpenCV's reference runs the *same* YuNet and SFace weights as Tepat (upstream ONNX through OpenCV DNN); "
        "differences against Tepat fp32 come from the runtime (OpenCV DNN vs TFLite/XNNPACK), the detector input "
        "(OpenCV: the whole image at its own size, score 0.9; Tepat: a 320×320 letterbox, score 0.8) and alignment "
        "(`alignCrop` vs Tepat's 5-point similarity warp).",
        "- face_recognition compares 128-d dlib embeddings by Euclidean distance (its own `face_distance`); "
        "scores here are minus that distance so that every system's threshold sweeps the same way.",
    ]
    fp32 = ran.get("tepat-fp32", {}).get("ratio1", {}).get("median")
    if fp32 is not None and fp32 < 1.1:
        out.append(
            f"- On this CPU Tepat fp32 takes {fp32:.2f}× the time of int8 per image: XNNPACK's int8 kernels are no faster "
            "than fp32 on AVX2 without VNNI (see 'Models: int8 conversion' in BENCHMARKS.md). The speed targets assume "
            "int8 acceleration as on the Raspberry Pi's Cortex-A76; run the same command there to judge them."
        )
    return out


def comparison_markdown(res: dict) -> str:
    ran = _ran(res)
    L = ["# Side-by-side comparison", ""]
    L.append(f"Generated {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC by:")
    L += ["", "```", res["command"], "```", ""]
    L.append(f"Machine: {machine()}. Load average at start / end: {res['load'][0][0]:.1f} / {res['load'][1][0]:.1f} (the 2 CPUs were shared with other jobs; expect ±30 % on absolute times, less on the paired ratios).")
    L.append("")
    n_gen = sum(p[2] for p in res["pairs"])
    subset = f"a seeded random subset (seed {res['seed']}) of {len(res['pairs'])} pairs" if res["limit"] and len(res["pairs"]) == res["limit"] else f"all {len(res['pairs'])} pairs"
    L.append(
        f"Data: {subset} of `{res['pairs_file']}` ({n_gen} genuine, {len(res['pairs']) - n_gen} impostor), {res['images']} distinct images, "
        "the same for every system. Every system embeds the face nearest the image centre (the dataset's labelled person). "
        "TAR@FAR uses all cross-identity pairs among the images the system embedded as impostors (the file's impostor pairs "
        "alone cannot resolve 1e-3); EER uses the file's pairs. FTD = images where the system found no face (their pairs are left out of that system's own row)."
    )
    L += ["", "## Accuracy", ""]
    L.append("| system | FTD | pairs scored | EER | TAR@1e-2 | TAR@1e-3 | TAR@1e-3, common pairs | pairs right only for this / only for Tepat int8 (FAR 1e-3, common pairs) |")
    L.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, s in ran.items():
        a, c = s["acc"], s["acc_common"]
        vs = s.get("vs_ref")
        vs_s = "–" if name == "tepat-int8" or not vs else f"{vs['only_this_right']} / {vs['only_ref_right']}"
        L.append(f"| {LABELS[name]} | {s['ftd']} / {res['images']} | {a['pairs_scored']} | {fmt_pct(a['eer'])} | {fmt_pct(a['tar']['1e-2'])} | {fmt_pct(a['tar']['1e-3'])} | {fmt_pct(c['tar']['1e-3'])} | {vs_s} |")
    L.append("")
    L.append(f"Common pairs: the {res['common_pairs']} pairs whose two images every system embedded (impostors for FAR: cross-identity pairs among those images).")
    L += ["", "## Speed, memory, size", ""]
    L.append(
        f"Per-image latency = detect + choose face + align + embed on an already decoded RGB image (decode excluded, the same for all), "
        f"after one warm-up image. 1 thread: every image of the run; 2 threads: a seeded sample of {res['sample']} of them. "
        "Ratio = median over images of (system ms / Tepat int8 ms) on the same image, with the 5th–95th percentile of those ratios. "
        "Peak RSS = the worker process's maximum resident set over the 1-thread pass (Python + libraries + models + images)."
    )
    L.append("")
    L.append("| system | 1 thread median / p95 ms | × Tepat int8 (1 thread) | 2 threads median / p95 ms | × Tepat int8 (2 threads) | peak RSS | model files on disk |")
    L.append("| --- | --- | --- | --- | --- | --- | --- |")
    for name, s in ran.items():
        m = s["meta"]
        L.append(
            f"| {LABELS[name]} | {_ms(s['lat1']['median'])} / {_ms(s['lat1']['p95'])} | {_ratio(s.get('ratio1'))} | "
            f"{_ms(s['lat2']['median'])} / {_ms(s['lat2']['p95'])} | {_ratio(s.get('ratio2'))} | {m['peak_rss_mb']:.0f} MB | {m['model_bytes'] / 1e6:.1f} MB |"
        )
    L += ["", "Model files: " + "; ".join(f"{name}: " + ", ".join(Path(f).name for f in s["meta"]["model_files"]) for name, s in ran.items())]
    skipped = {k: v["unavailable"] for k, v in res["systems"].items() if "unavailable" in v and k != "deepface"}
    if skipped:
        L += ["", "Not run:", ""] + [f"- {LABELS.get(k, k)}: {v}" for k, v in skipped.items()]
    L += ["", "## Targets (tracked, not asserted)", ""] + targets(res)
    L += ["", "## Notes", ""] + notes(res)
    if res["search"]:
        L += ["", "## 1:N search", ""]
        L.append(
            "One query (top 5) over N random unit 128-d templates (2 per identity), 1 thread, median / p95 of 30 queries after one warm-up; "
            "memory = process RSS growth from before generating the templates to the built index (each matcher and N in a fresh process). "
            "Tepat = `edge.face.match.GalleryIndex.search` (best template per identity, then top 5 identities); "
            "numpy = `matrix @ probe` + `argpartition` over templates; FAISS = `IndexFlatIP` (exact inner product)."
        )
        L += ["", "| N | raw float32 | Tepat GalleryIndex ms (median / p95) | memory | numpy ms | memory | FAISS IndexFlatIP ms | memory |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for n in sorted({r["n"] for r in res["search"]}):
            row = [f"{n:,}"]
            rows = {r["matcher"]: r for r in res["search"] if r["n"] == n}
            raw = next((r["raw_mb"] for r in rows.values() if "raw_mb" in r), None)
            row.append("–" if raw is None else f"{raw:.1f} MB")
            for m in ("tepat", "numpy", "faiss"):
                r = rows.get(m, {})
                if "median_ms" in r:
                    row += [f"{r['median_ms']:.2f} / {r['p95_ms']:.2f}", f"{r['memory_mb']:.0f} MB"]
                else:
                    row += [f"not run ({r.get('unavailable', 'missing')})", "–"]
            L.append("| " + " | ".join(row) + " |")
    L += ["", "## DeepFace", "", res["deepface"], "", "ROC of every system: `docs/roc_comparison.png`.", ""]
    return "\n".join(L)


def summary_markdown(res: dict) -> str:
    ran = _ran(res)
    L = [SECTION, ""]
    L.append(f"Same images, same pairs, one run: `{res['command']}` ({len(res['pairs'])} pairs, {res['images']} images; full tables, 1:N and the machine in [COMPARISON.md](COMPARISON.md); ROC in `docs/roc_comparison.png`).")
    L += ["", "| system | FTD | TAR@1e-3 (common pairs) | EER | 1 thread median ms | × Tepat int8 | 2 threads median ms | peak RSS | models on disk |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, s in ran.items():
        L.append(
            f"| {name} | {s['ftd']} | {fmt_pct(s['acc_common']['tar']['1e-3'])} | {fmt_pct(s['acc']['eer'])} | {_ms(s['lat1']['median'])} | "
            f"{_ratio(s.get('ratio1')).split(' ')[0]} | {_ms(s['lat2']['median'])} | {s['meta']['peak_rss_mb']:.0f} MB | {s['meta']['model_bytes'] / 1e6:.1f} MB |"
        )
    L += [""] + targets(res)
    big = [r for r in res["search"] if "median_ms" in r and r["n"] == max(x["n"] for x in res["search"])]
    if big:
        names = {"tepat": "Tepat GalleryIndex", "numpy": "plain numpy", "faiss": "FAISS IndexFlatIP"}
        L.append(f"- 1:N search over {big[0]['n']:,} templates, 1 thread: " + ", ".join(f"{names[r['matcher']]} {r['median_ms']:.0f} ms ({r['memory_mb']:.0f} MB)" for r in big) + ".")
    L += [n for n in notes(res)[2:]]
    L.append(f"- DeepFace: {res['deepface'].split('.')[0]} (reason in COMPARISON.md).")
    L.append("")
    return "\n".join(L)


def update_benchmarks_section(path: Path, section: str, heading: str = SECTION) -> None:
    """Replace the section starting with ``heading`` (up to the next '## ' heading) or append it at the end."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    start = text.find(heading)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
    else:
        nxt = text.find("\n## ", start + len(heading))
        tail = text[nxt + 1 :] if nxt >= 0 else ""
        text = text[:start] + section.rstrip("\n") + "\n" + ("\n" + tail if tail else "")
    path.write_text(text)


def plot_roc(res: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 5))
    for name, s in _ran(res).items():
        c = s["acc_common"]
        far, tar = roc(c["genuine"], c["cross_identity"])
        if far.size:
            ax.plot(np.maximum(far, 0.5 / c["cross_identity"].size), tar, label=f"{name} (TAR@1e-3 {fmt_pct(c['tar']['1e-3'])})")
    ax.set_xscale("log")
    ax.set_xlabel("false accept rate (cross-identity pairs)")
    ax.set_ylabel("true accept rate")
    ax.set_title(f"ROC on the same {res['common_pairs']} pairs ({Path(res['pairs_file']).name})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)


def jsonable(res: dict) -> dict:
    """The results without embeddings and score arrays (summaries kept)."""

    def clean(o):  # noqa: ANN001, ANN202
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items() if k not in ("emb", "genuine", "impostor", "cross_identity", "correct_common", "ms1", "ms2")}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        return o

    return clean(res)
