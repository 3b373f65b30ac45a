"""``python -m benchmarks.profile_frame``: where Tepat's frame → decision time goes, sub-stage by sub-stage, one thread.

Each dataset face is placed in a camera-size scene (as ``benchmarks.camera`` does); then every
sub-stage of the product path is timed on its own, repeated back to back (warm caches): the
detector's letterbox, the YuNet invoke and its decoding, the quality gate, the alignment, the
SFace invoke, and per liveness model the crop and the invoke. ``--cold`` evicts the CPU caches
(a 64 MiB write) before every call, closer to a frame that follows other work. Medians in ms.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np


def _median_ms(fn, runs: int, evict: np.ndarray | None) -> float:  # noqa: ANN001
    fn()
    times = []
    for _ in range(runs):
        if evict is not None:
            evict += 1
        t0 = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - t0))
    return float(np.median(times))


def profile(root: Path, images: int, runs: int, cold: bool, sizes: list[tuple[int, int]]) -> dict[str, dict[str, float]]:
    import cv2

    from benchmarks.camera import scene
    from edge.config.face import FaceConfig
    from edge.face import quality as q
    from edge.face.align import align
    from edge.face.geometry import letterbox
    from edge.face.liveness import LivenessChecker, scaled_crop
    from edge.face.pipeline import FacePipeline
    from edge.face.yunet import INPUT, decode

    cv2.setNumThreads(1)
    cfg = FaceConfig(threads=1, embedder="int8")
    pipe = FacePipeline.from_config(cfg, embedder="int8", require_calibration=False)
    live = LivenessChecker(cfg.models_dir, threads=1, threshold=cfg.liveness_threshold, fusion=cfg.liveness_fusion)
    det, emb = pipe.detector, pipe.embedder
    evict = np.zeros(64 * 2**20 // 8) if cold else None
    faces = sorted((root / "faces").glob("*/*.jpg"))
    picks = [faces[i] for i in np.random.default_rng(0).choice(len(faces), size=min(images, len(faces)), replace=False)]
    out: dict[str, dict[str, float]] = {}
    for w, h in sizes:
        rows: dict[str, list[float]] = {}
        for i, path in enumerate(picks):
            frame = scene(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB), (w, h), np.random.default_rng(i))
            res = pipe.analyse(frame, gate=False)
            if res.face is None:
                continue
            canvas, _ = letterbox(frame, INPUT)
            x = cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR).astype(np.float32)[None]
            raw = det.model(x)
            aligned = res.aligned.astype(np.float32)[None]
            steps = {
                "detect: letterbox": lambda: letterbox(frame, INPUT),
                "detect: YuNet invoke": lambda: det.model(x),
                "detect: decode + NMS": lambda: decode(raw, INPUT, det.score_threshold),
                "quality gate": lambda: q.check_crop(res.aligned, pipe.quality_cfg, q.check_geometry(res.faces, res.face, frame.shape, pipe.quality_cfg)),
                "align": lambda: align(frame, res.face.landmarks),
                "embed: SFace invoke": lambda: emb.model(aligned),
            }
            for spec, model in live._models:  # noqa: SLF001 - profiling the checker's own models
                crop = np.ascontiguousarray(scaled_crop(frame, res.face.box, spec.scale)[:, :, ::-1], dtype=np.float32)[None]
                steps[f"liveness: {spec.name} crop"] = lambda s=spec: scaled_crop(frame, res.face.box, s.scale)
                steps[f"liveness: {spec.name} invoke"] = lambda m=model, c=crop: m(c)
            steps["whole: analyse + liveness check"] = lambda: (pipe.analyse(frame), live.check(frame, res.face.box))
            for name, fn in steps.items():
                rows.setdefault(name, []).append(_median_ms(fn, runs, evict))
        out[f"{w}x{h}"] = {k: round(float(np.median(v)), 2) for k, v in rows.items()}
    return out


def main(argv: list[str] | None = None) -> int:
    from benchmarks.camera import SIZES, cpu_info
    from edge.paths import shared_datasets_dir

    p = argparse.ArgumentParser(prog="python -m benchmarks.profile_frame", description=__doc__.split("\n")[0])
    p.add_argument("--root", type=Path, default=shared_datasets_dir(), help="datasets folder (default: %(default)s)")
    p.add_argument("--images", type=int, default=8, help="dataset faces per frame size (default: %(default)s)")
    p.add_argument("--runs", type=int, default=20, help="timed calls per sub-stage and image (default: %(default)s)")
    p.add_argument("--cold", action="store_true", help="evict the CPU caches before every call")
    args = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if not (args.root / "faces").is_dir():
        print(f"profile_frame: no faces/ folder under {args.root} (pass --root)")
        return 2
    c = cpu_info()
    flags = ", ".join(k for k, v in c["flags"].items() if v) or "none of the listed"
    print(f"CPU: {c['model']} ({c['machine']}; flags: {flags}); load average {c['load_average']}; "
          f"{'cold' if args.cold else 'warm'} caches, one thread, median ms")
    rep = profile(args.root, args.images, args.runs, args.cold, list(SIZES))
    names = list(next(iter(rep.values())))
    print("| sub-stage | " + " | ".join(rep) + " |")
    print("| --- |" + " --- |" * len(rep))
    for n in names:
        print(f"| {n} | " + " | ".join(str(rep[s].get(n, "–")) for s in rep) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
