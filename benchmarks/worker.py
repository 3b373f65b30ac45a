"""One system, one thread count, a list of images: embeddings, per-image latency, peak RSS.

Run in its own process (``python -m benchmarks.worker``) so that each system's peak RSS and
thread settings are its own. Thread-count environment variables must be set by the parent.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np


def run(system: str, threads: int, root: Path, images: list[str], out: Path) -> None:
    from benchmarks.systems import Unavailable, open_system
    from edge.errors import EdgeError
    from edge.face.image import read_image

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    try:
        sysm = open_system(system, threads)
    except (Unavailable, EdgeError) as exc:
        out.with_suffix(".json").write_text(json.dumps({"system": system, "unavailable": str(exc)}))
        return
    ms = np.full(len(images), np.nan)
    embs: list[np.ndarray | None] = []
    errors: dict[str, str] = {}
    warm = read_image(root / images[0])
    sysm.embed(warm)  # warm-up: first-call allocations are not per-face cost
    t_start = time.monotonic()
    for i, rel in enumerate(images):
        try:
            rgb = read_image(root / rel)
        except EdgeError as exc:
            errors[rel] = str(exc)
            embs.append(None)
            continue
        t0 = time.perf_counter()
        e = sysm.embed(rgb)
        ms[i] = (time.perf_counter() - t0) * 1000
        embs.append(e)
        if (i + 1) % max(1, len(images) // 10) == 0:
            rate = (i + 1) / max(time.monotonic() - t_start, 1e-6)
            print(f"  {system} x{threads}: {i + 1}/{len(images)} images, {rate:.1f}/s", file=sys.stderr, flush=True)
    dim = next((e.size for e in embs if e is not None), 0)
    mat = np.full((len(images), dim), np.nan, np.float32)
    for i, e in enumerate(embs):
        if e is not None:
            mat[i] = e.ravel()
    np.savez(out, ms=ms, emb=mat)
    files = sysm.model_files()
    meta = {
        "system": system,
        "threads": threads,
        "metric": sysm.metric,
        "images": len(images),
        "no_face": [rel for rel, e in zip(images, embs) if e is None and rel not in errors],
        "errors": errors,
        "model_files": [str(f) for f in files],
        "model_bytes": int(sum(Path(f).stat().st_size for f in files)),
        "startup_rss_mb": round(rss0, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    out.with_suffix(".json").write_text(json.dumps(meta))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--system", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--root", type=Path, required=True)
    ap.add_argument("--images", type=Path, required=True, help="JSON list of image paths relative to --root")
    ap.add_argument("--out", type=Path, required=True, help="output .npz (metadata goes beside it as .json)")
    a = ap.parse_args()
    run(a.system, a.threads, a.root, json.loads(a.images.read_text()), a.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
