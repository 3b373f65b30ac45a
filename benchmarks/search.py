"""1:N search at N templates: Tepat's GalleryIndex vs a plain numpy scan vs FAISS IndexFlatIP.

Each (matcher, N) runs in a fresh process (``python -m benchmarks.search``) so the memory figure is
that matcher's own: RSS after building the index minus RSS before generating the templates, with
the generator's temporary freed. Templates are random unit 128-d vectors, 2 per identity; the
probe is a noisy copy of one template; the query asks for the top 5.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

MATCHERS = ("tepat", "numpy", "faiss")


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _templates(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    m = rng.standard_normal((n, dim), dtype=np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    return m


def measure(matcher: str, n: int, *, dim: int = 128, repeats: int = 30, threads: int = 1) -> dict:
    rng = np.random.default_rng(0)
    try:  # import before the baseline so library code is not counted as index memory
        if matcher == "faiss":
            import faiss
        else:
            from edge.face.match import GalleryIndex
    except ImportError:
        return {"matcher": matcher, "n": n, "unavailable": "faiss-cpu not installed"}
    base = _rss_mb()
    m = _templates(n, dim, rng)
    probe = m[n // 3] + 0.1 * rng.standard_normal(dim).astype(np.float32)
    probe /= np.linalg.norm(probe)
    if matcher == "tepat":
        index = GalleryIndex([f"r{i // 2:07d}" for i in range(n)], m)
        del m

        def query() -> object:
            return index.search(probe, 5)
    elif matcher == "numpy":
        index = m

        def query() -> object:
            s = index @ probe
            top = np.argpartition(-s, 4)[:5]
            return top[np.argsort(-s[top])]
    elif matcher == "faiss":
        faiss.omp_set_num_threads(threads)
        index = faiss.IndexFlatIP(dim)
        index.add(m)
        del m
        q = probe.reshape(1, -1)

        def query() -> object:
            return index.search(q, 5)
    else:
        raise ValueError(f"unknown matcher {matcher!r}")
    mem = _rss_mb() - base
    query()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        query()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {
        "matcher": matcher,
        "n": n,
        "median_ms": statistics.median(times),
        "p95_ms": times[min(len(times) - 1, int(0.95 * len(times)))],
        "memory_mb": round(mem, 1),
        "raw_mb": round(n * dim * 4 / 2**20, 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--matcher", choices=MATCHERS, required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    print(json.dumps(measure(a.matcher, a.n, repeats=a.repeats, threads=a.threads)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
