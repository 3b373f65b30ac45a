"""Face pipeline benchmark: per-stage medians on real photos, 1:N search scaling, peak RSS."""

from __future__ import annotations

import logging
import os
import platform
import resource
import statistics
import time
from pathlib import Path

import numpy as np

from edge.config.face import FaceConfig
from edge.errors import EdgeError
from edge.face.detect import open_detector
from edge.face.embed import open_embedder
from edge.face.match import GalleryIndex
from edge.face.pipeline import FacePipeline
from edge.paths import shared_datasets_dir

logger = logging.getLogger(__name__)


def default_images() -> Path:
    return shared_datasets_dir() / "faces"


def search_ms(n: int, dim: int = 128, identities_per: int = 2, repeats: int = 50) -> float:
    """Median ms of one 1:N search (per-identity best + top-5) over ``n`` random unit templates."""
    rng = np.random.default_rng(0)
    m = rng.standard_normal((n, dim), dtype=np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    ids = [f"r{i // identities_per:07d}" for i in range(n)]
    index = GalleryIndex(ids, m)
    del m
    probe = index.matrix[n // 3] + 0.1 * rng.standard_normal(dim).astype(np.float32)
    probe /= np.linalg.norm(probe)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        index.search(probe, 5)
        times.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(times), 3)


def run_bench(cfg: FaceConfig, *, embedder: str, detector: str, images: Path | None, runs: int, sizes: list[int]) -> dict:
    folder = images or default_images()
    photos = sorted(folder.glob("*/*.jpg")) or sorted(folder.glob("*.jpg"))
    if not photos:
        raise EdgeError(f"no .jpg photos under {folder} (pass --images DIR)")
    photos = photos[:: max(1, len(photos) // runs)][:runs]
    det = open_detector(cfg.models_dir, detector, score_threshold=cfg.detect_score, threads=cfg.threads)
    emb = open_embedder(cfg.models_dir, embedder, threads=cfg.threads)
    pipe = FacePipeline(det, emb, cfg.quality)
    template = None
    stages: dict[str, list[float]] = {}
    pipe.analyse_file(photos[0], gate=False)  # warm-up
    for p in photos:
        res = pipe.analyse_file(p, gate=False)
        if res.embedding is not None:
            if template is None:
                template = np.stack([res.embedding] * 3)
            t0 = time.perf_counter()
            pipe.verify_score([res.embedding], template)
            res.latency_ms["match"] = (time.perf_counter() - t0) * 1000
        for k, v in res.latency_ms.items():
            stages.setdefault(k, []).append(v)
    stage_ms = {k: round(statistics.median(v), 3) for k, v in stages.items()}
    stage_ms["total"] = round(sum(stage_ms.values()), 3)
    pipeline_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    searches = {}
    for n in sizes:
        logger.info("1:N search over %d synthetic templates", n)
        searches[str(n)] = search_ms(n)
    return {
        "embedder": emb.name,
        "model_sha256": emb.sha256,
        "detector": det.name,
        "threads": cfg.threads,
        "photos": len(photos),
        "stages_ms": stage_ms,
        "search_ms": searches,
        "pipeline_peak_rss_mb": round(pipeline_rss, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "machine": f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cpus, Python {platform.python_version()}".strip(),
    }
