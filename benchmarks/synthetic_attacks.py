"""``python -m benchmarks.synthetic_attacks``: how often the simulator's synthetic attacks pass the passive liveness check.

Every 167th photo of ``../shared/datasets/faces`` (30 photos), each attack from ``simulator.degrade``
with a fixed seed, the terminal's detector + quality gate, then both MiniFASNet models; the share of
usable frames scored live under the shipped setting (min fusion, 0.027) and the earlier one (mean,
0.5). The attacks are synthetic: this measures the simulator's stand-ins, **not** the check's
detection rate on real attacks (docs/LIVENESS.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
ATTACKS = ("none", "printed_photo", "screen_replay", "cutout_mask")


def main() -> int:
    import cv2

    from edge.config.face import FaceConfig
    from edge.face.liveness import LivenessChecker
    from edge.face.liveness_calibration import fuse
    from edge.face.pipeline import FacePipeline
    from simulator import degrade

    cfg = FaceConfig(threads=1)
    pipe = FacePipeline.from_config(cfg, require_calibration=False)
    checker = LivenessChecker(cfg.models_dir, threads=1)
    shared = Path(os.environ.get("TEPAT_SHARED", REPO.parent / "shared"))
    photos = sorted((shared / "datasets" / "faces").glob("*/*.jpg"))[::167][:30]
    for name in ATTACKS:
        mins, means = [], []
        for i, path in enumerate(photos):
            rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            img = rgb if name == "none" else degrade.DEGRADATIONS[name](rgb, np.random.default_rng(i))
            res = pipe.analyse(img, gate=True)
            if res.face is None or not res.quality.ok:
                continue
            per_model = checker.scores(img, res.face.box)
            mins.append(fuse(per_model, "min"))
            means.append(fuse(per_model, "mean"))
        lo, av = np.asarray(mins), np.asarray(means)
        print(f"{name:<14} usable {lo.size} of {len(photos)}  pass min>=0.027: {100 * (lo >= 0.027).mean():.0f} %  "
              f"pass mean>=0.5: {100 * (av >= 0.5).mean():.0f} %  median min-fused {np.median(lo):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
