"""Measure the liveness check on the shared datasets: attack samples and ordinary photos.

Runs the committed TFLite models through :class:`edge.face.liveness.LivenessChecker` (the
product code path) on

* ``hard/spoof``: ``attack_*`` must come out as attacks, ``live_*`` as live;
* ordinary photos from ``faces/`` (LFW news photos etc.): the false-reject rate at several
  thresholds, overall and for the South-East-Asian identities in ``SEA_IDENTITIES.csv``;
* how often the 4.0x crop had to be shrunk to fit the frame (the effective scale).

Face boxes come from OpenCV's ``FaceDetectorYN`` with the YuNet ONNX from ``../shared/models``
(the face nearest the image centre is the labelled person). Needs no TensorFlow.

Run: ``python -m model_build.liveness_eval [--every N] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.errors import ImageError, NotFoundError
from edge.face.liveness import DEFAULT_THRESHOLD

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


def shared_dir() -> Path:
    from edge.paths import shared_dir as resolve

    return resolve()


@dataclass
class FaceBoxFinder:
    """YuNet (OpenCV FaceDetectorYN on the upstream ONNX) returning the face nearest the centre."""

    onnx: Path
    score: float = 0.7

    def __post_init__(self) -> None:
        import cv2

        if not self.onnx.is_file():
            raise NotFoundError(f"YuNet ONNX not found at {self.onnx}")
        self._det = cv2.FaceDetectorYN.create(str(self.onnx), "", (320, 320), self.score, 0.3, 50)

    def __call__(self, bgr: np.ndarray) -> tuple[float, float, float, float] | None:
        h, w = bgr.shape[:2]
        self._det.setInputSize((w, h))
        _, faces = self._det.detect(bgr)
        if faces is None or len(faces) == 0:
            return None
        centres = faces[:, :2] + faces[:, 2:4] / 2
        x, y, bw, bh = faces[int(np.argmin(np.linalg.norm(centres - (w / 2, h / 2), axis=1))), :4]
        return float(x), float(y), float(x + bw), float(y + bh)


class ProductBoxFinder:
    """The terminal's own path: TFLite YuNet + ``choose_face`` + the quality gate; a photo failing the
    gate gives no box (on the terminal it is a retake, never a liveness decision)."""

    def __init__(self) -> None:
        from edge.config.face import FaceConfig
        from edge.face.pipeline import FacePipeline

        self.pipe = FacePipeline.from_config(FaceConfig(threads=1), require_calibration=False)
        self.gate_failed = 0

    def __call__(self, bgr: np.ndarray) -> tuple[float, float, float, float] | None:
        res = self.pipe.analyse(np.ascontiguousarray(bgr[:, :, ::-1]), gate=True)
        if res.face is None or not res.quality.ok:
            self.gate_failed += res.face is not None
            return None
        return tuple(float(v) for v in res.face.box)


def read_rgb(path: Path) -> np.ndarray:
    """Decode an image as RGB uint8, applying its EXIF orientation (cv2.imread does)."""
    import cv2

    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageError(f"cannot decode image {path}")
    return np.ascontiguousarray(bgr[:, :, ::-1])


def calibration_crops(scale: float, n: int = 200, datasets: Path | None = None) -> np.ndarray | None:
    """Up to ``n`` real 80x80 BGR float32 crops (NHWC) at ``scale`` from the calibration split of
    ``faces/`` (identities and images that pairs.csv does not use); None without the datasets."""
    from edge.face.liveness import scaled_crop
    from model_build.faces import split_images, spread

    datasets = datasets or shared_dir() / "datasets"
    onnx = shared_dir() / "models" / "face_detection_yunet_2023mar.onnx"
    if not (datasets / "faces").is_dir() or not onnx.is_file():
        return None
    find = FaceBoxFinder(onnx)
    crops = []
    for path in spread(split_images(datasets).calibration, n):
        rgb = read_rgb(path)
        box = find(rgb[:, :, ::-1])
        if box is not None:
            crops.append(scaled_crop(rgb, box, scale)[:, :, ::-1].astype(np.float32))
    return np.stack(crops) if crops else None


def effective_scale(box, scale: float, width: int, height: int) -> float:
    """The enlargement actually used after upstream's fit-in-frame reduction."""
    bw, bh = box[2] - box[0], box[3] - box[1]
    return min((height - 1) / bh, (width - 1) / bw, scale)


def frr_table(scores: list[float]) -> dict[str, float]:
    arr = np.asarray(scores)
    return {f"{t:.1f}": float(np.mean(arr < t)) for t in THRESHOLDS}


def ordinary_images(datasets: Path, every: int) -> list[Path]:
    """Every ``every``-th image of ``faces/``, sorted by path (deterministic)."""
    return sorted((datasets / "faces").glob("*/*.jpg"))[::every]


def padded(rgb: np.ndarray, box, pad: str):
    """Frame and box with a border wide enough for the full 4.0x context (``pad``: none/reflect/black).

    An experiment on what the fit-in-frame rule costs: with a border, no crop is shrunk.
    """
    import cv2

    if pad == "none":
        return rgb, box
    n = 2 * max(rgb.shape[:2])
    mode = {"reflect": cv2.BORDER_REFLECT101, "black": cv2.BORDER_CONSTANT}[pad]
    return cv2.copyMakeBorder(rgb, n, n, n, n, mode, value=0), tuple(v + n for v in box)


HARD_LIVE = ("expression", "eyes_closed", "masked", "profile", "low_light", "low_resolution", "rotated",
             "occluded", "blur", "group", "non_photo_face")


def hard_categories(checker, find: FaceBoxFinder, datasets: Path) -> dict[str, dict]:
    """Per ``hard/`` category (all photos of real or drawn faces): faces found and share scored as attack."""
    out = {}
    for cat in HARD_LIVE:
        scores = []
        for path in sorted((datasets / "hard" / cat).glob("*")):
            try:
                rgb = read_rgb(path)
            except ImageError:
                continue
            box = find(rgb[:, :, ::-1])
            if box is not None:
                scores.append(checker.check(rgb, box).live_score)
        if scores:
            out[cat] = {"faces": len(scores), "below_threshold": float(np.mean(np.asarray(scores) < checker.threshold)),
                        "median_score": float(np.median(scores))}
    return out


def evaluate(models_dir: Path, datasets: Path, onnx: Path, every: int = 1, threads: int = 1,
             pad: str = "none", product: bool = False) -> dict:
    from edge.face.liveness import MODELS, LivenessChecker

    find = ProductBoxFinder() if product else FaceBoxFinder(onnx)
    sea = {r["identity"] for r in csv.DictReader((datasets / "SEA_IDENTITIES.csv").open())}
    report: dict = {"spoof": [], "ordinary": {}}
    with LivenessChecker(models_dir, threads=threads) as checker:
        for path in sorted((datasets / "hard" / "spoof").glob("*")):
            rgb = read_rgb(path)
            box = find(rgb[:, :, ::-1])
            gate = box is not None
            box = box or FaceBoxFinder(onnx)(rgb[:, :, ::-1])  # product path: a gate failure is a retake; score it anyway
            res = checker.check(rgb, box)
            report["spoof"].append({"file": path.name, "expected": "live" if path.name.startswith("live") else "attack",
                                    "score": res.live_score, "per_model": res.per_model, "box": box, "passed_gate": gate})
        scores, sea_scores, per_model, eff, times, names, missed = [], [], {m.name: [] for m in MODELS}, [], [], [], 0
        photos: list[dict] = []
        images = ordinary_images(datasets, every)
        for i, path in enumerate(images, 1):
            rgb = read_rgb(path)
            box = find(rgb[:, :, ::-1])
            if box is None:
                missed += 1
                continue
            eff.append(effective_scale(box, 4.0, rgb.shape[1], rgb.shape[0]))
            rgb, box = padded(rgb, box, pad)
            t0 = time.perf_counter()
            res = checker.check(rgb, box)
            times.append(time.perf_counter() - t0)
            scores.append(res.live_score)
            names.append(str(path.relative_to(datasets)))
            photos.append({"path": names[-1], "identity": path.parent.name, "sea": path.parent.name in sea,
                           "per_model": {k: round(v, 6) for k, v in res.per_model.items()}})
            for k, v in res.per_model.items():
                per_model[k].append(v)
            if path.parent.name in sea:
                sea_scores.append(res.live_score)
            if i % 500 == 0:
                logger.info("%d/%d ordinary photos", i, len(images))
        gate_failed = getattr(find, "gate_failed", 0)  # ordinary photos only (hard/ below uses the same finder)
        report["hard"] = hard_categories(checker, find, datasets)
    report["ordinary"] = {
        "images": len(images), "no_face": missed, "scored": len(scores),
        "frr_fused": frr_table(scores), "frr_sea": frr_table(sea_scores), "sea_scored": len(sea_scores),
        "frr_per_model": {k: frr_table(v) for k, v in per_model.items()},
        "score_percentiles": {p: float(np.percentile(scores, p)) for p in (1, 5, 10, 25, 50)},
        "v1se_effective_scale": {"median": float(np.median(eff)), "min": float(np.min(eff)),
                                 "share_below_4": float(np.mean(np.asarray(eff) < 3.999))},
        "lowest": sorted(zip(scores, names))[:10],
        "check_ms_median": 1000 * statistics.median(times), "threads": threads, "pad": pad,
        "path": "product (TFLite YuNet + quality gate; gate failures not scored)" if product else "OpenCV YuNet, no gate",
        "gate_failed": gate_failed,
    }
    report["photos"] = photos
    report["machine"] = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    return report


def calibrate(report: dict, target: float) -> dict:
    """Per fusion rule: the threshold fitted on the calibration identities at FRR <= ``target`` (overall and SEA),
    and the FRR it gives on held-out identities (overall / SEA / rest), on all photos, and the attacks caught."""
    from edge.face.calibration import split_of
    from edge.face.liveness_calibration import FUSIONS, attack_catch, frr, fuse, threshold_for_frr

    out: dict = {"target_frr": target, "fusions": {}}
    photos = report["photos"]
    attacks = {s["file"]: s for s in report["spoof"] if s["expected"] == "attack"}
    for rule in FUSIONS:
        rows = [(fuse(p["per_model"], rule), p["sea"], split_of(p["identity"])) for p in photos]
        cal = [r for r in rows if r[2] == "calibration"]
        held = [r for r in rows if r[2] == "held_out"]
        t = threshold_for_frr({"all": [r[0] for r in cal], "sea": [r[0] for r in cal if r[1]]}, target)

        def rates(rs: list, t: float = t) -> dict:
            return {"all": frr([r[0] for r in rs], t), "sea": frr([r[0] for r in rs if r[1]], t),
                    "rest": frr([r[0] for r in rs if not r[1]], t), "n": len(rs), "n_sea": sum(1 for r in rs if r[1])}

        out["fusions"][rule] = {
            "threshold": t, "frr_calibration": rates(cal), "frr_held_out": rates(held), "frr_all_photos": rates(rows),
            "attack_scores": {n: round(fuse(a["per_model"], rule), 4) for n, a in attacks.items()},
            "attacks": attack_catch({n: fuse(a["per_model"], rule) for n, a in attacks.items()}, t),
            "live_sample_scores": {s["file"]: round(fuse(s["per_model"], rule), 4) for s in report["spoof"] if s["expected"] == "live"},
        }
    return out


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.1f} %"


def print_calibration(c: dict) -> None:
    print(f"threshold for FRR <= {100 * c['target_frr']:.1f} % (fitted on calibration identities, overall and SEA):")
    for rule, f in c["fusions"].items():
        h, a = f["frr_held_out"], f["frr_all_photos"]
        print(f"  {rule:<8} threshold {f['threshold']:.3f}  held-out FRR all {_pct(h['all'])} (n={h['n']}), "
              f"SEA {_pct(h['sea'])} (n={h['n_sea']}), rest {_pct(h['rest'])};  all photos: all {_pct(a['all'])}, "
              f"SEA {_pct(a['sea'])} (n={a['n_sea']});  attacks caught {f['attacks']['caught']}/{f['attacks']['attacks']}"
              f" {f['attack_scores']}")


def bench(models_dir: Path, datasets: Path, onnx: Path, runs: int = 200) -> list[str]:
    """Median check() time (crop + resize + both models) on the live sample scaled to camera
    frame sizes, per thread count, and the resident memory the checker adds."""
    import cv2
    import psutil

    rgb = read_rgb(datasets / "hard" / "spoof" / "live_image_T1.jpg")
    box = FaceBoxFinder(onnx)(rgb[:, :, ::-1])
    from edge.face.liveness import LivenessChecker

    lines = []
    for threads in (1, 2):
        rss0 = psutil.Process().memory_info().rss
        with LivenessChecker(models_dir, threads=threads) as checker:
            rss = psutil.Process().memory_info().rss - rss0
            for w, h in ((480, 640), (1280, 960)):
                frame = cv2.resize(rgb, (w, h))
                b = (box[0] * w / 480, box[1] * h / 640, box[2] * w / 480, box[3] * h / 640)
                for _ in range(20):
                    checker.check(frame, b)
                times = []
                for _ in range(runs):
                    t0 = time.perf_counter()
                    checker.check(frame, b)
                    times.append(time.perf_counter() - t0)
                lines.append(f"threads {threads}  frame {w}x{h}  check() median {1000 * statistics.median(times):.2f} ms"
                             f"  p90 {1000 * float(np.percentile(times, 90)):.2f} ms")
        if threads == 1:  # a second load reuses freed memory, so only the first is meaningful
            lines.append(f"loading both models added {rss / 2**20:.0f} MiB resident memory")
    return lines


def print_report(r: dict) -> None:
    print("hard/spoof:")
    for s in r["spoof"]:
        pm = ", ".join(f"{k} {v:.3f}" for k, v in s["per_model"].items())
        print(f"  {s['file']:<22} expected {s['expected']:<6} live score {s['score']:.3f}  ({pm})")
    print(f"hard/ categories (threshold {DEFAULT_THRESHOLD}): faces found, share scored as attack, median score")
    for cat, h in r.get("hard", {}).items():
        print(f"  {cat:<15} {h['faces']:>4}  {100 * h['below_threshold']:5.1f} %  {h['median_score']:.3f}")
    o = r["ordinary"]
    print(f"ordinary photos ({o.get('path', '')}; border: {o['pad']}): {o['scored']} scored of {o['images']} "
          f"({o['no_face']} not scored, of which {o.get('gate_failed', 0)} failed the quality gate)")
    print("  threshold  " + "  ".join(f"{t:>5}" for t in o["frr_fused"]))
    print("  FRR fused  " + "  ".join(f"{v:5.3f}" for v in o["frr_fused"].values()))
    print(f"  FRR SEA({o['sea_scored']:>3})" + "  ".join(f"{v:5.3f}" for v in o["frr_sea"].values()))
    for k, v in o["frr_per_model"].items():
        print(f"  {k.removeprefix('minifasnet_'):<10} " + "  ".join(f"{x:5.3f}" for x in v.values()))
    e = o["v1se_effective_scale"]
    print(f"  4.0x crop: effective scale median {e['median']:.2f}, min {e['min']:.2f}, "
          f"shrunk to fit in {100 * e['share_below_4']:.0f}% of photos")
    print(f"  score percentiles {o['score_percentiles']}")
    print(f"  check() median {o['check_ms_median']:.1f} ms ({o['threads']} thread(s)); {r['machine']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_build.liveness_eval", description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=Path, default=ROOT / "models", help="models folder (default: %(default)s)")
    parser.add_argument("--datasets", type=Path, default=shared_dir() / "datasets", help="(default: %(default)s)")
    parser.add_argument("--yunet", type=Path, default=shared_dir() / "models" / "face_detection_yunet_2023mar.onnx")
    parser.add_argument("--every", type=int, default=1, help="use every N-th photo of faces/ (default: all)")
    parser.add_argument("--threads", type=int, default=1, help="interpreter threads (default: %(default)s)")
    parser.add_argument("--pad", choices=("none", "reflect", "black"), default="none",
                        help="experiment: add a border so no crop is shrunk to fit (default: none = product rule)")
    parser.add_argument("--product", action="store_true",
                        help="find faces as the terminal does (TFLite YuNet + quality gate) and score only photos that pass the gate")
    parser.add_argument("--bench", action="store_true", help="only time check() (1 and 2 threads) and exit")
    parser.add_argument("--json", type=Path, help="also write the full report here (with every photo's per-model scores)")
    parser.add_argument("--target-frr", type=float, default=0.03,
                        help="choose the threshold at this genuine false-refusal rate, overall and for SEA (default: %(default)s)")
    parser.add_argument("--from-json", type=Path, metavar="REPORT",
                        help="re-run only the threshold choice on a report written earlier with --json (no models run)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.bench:
        print("\n".join(bench(args.models, args.datasets, args.yunet)))
        return 0
    if args.from_json:
        report = json.loads(args.from_json.read_text())
        report["calibration"] = calibrate(report, args.target_frr)
        print_calibration(report["calibration"])
        return 0
    report = evaluate(args.models, args.datasets, args.yunet, args.every, args.threads, args.pad, args.product)
    print_report(report)
    report["calibration"] = calibrate(report, args.target_frr)
    print_calibration(report["calibration"])
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
