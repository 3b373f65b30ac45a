"""``python -m benchmarks.synthetic_attacks``: how often the simulator's synthetic attacks pass the passive liveness check.

Every 167th photo of ``../shared/datasets/faces`` (30 photos), each attack from ``simulator.degrade``
with a fixed seed, the terminal's detector + quality gate, then both MiniFASNet models; the share of
usable frames scored live under the shipped setting (min fusion, 0.027) and the earlier one (mean,
0.5). The attacks are synthetic: this measures the simulator's stand-ins, **not** the check's
detection rate on real attacks (docs/LIVENESS.md).
"""
import numpy as np, cv2
from pathlib import Path
from edge.config.face import FaceConfig
from edge.face.pipeline import FacePipeline
from edge.face.liveness import LivenessChecker
from edge.face.liveness_calibration import fuse
from simulator import degrade
cfg=FaceConfig(threads=1)
p=FacePipeline.from_config(cfg, require_calibration=False)
lc=LivenessChecker(cfg.models_dir, threads=1)
photos=sorted(Path('/work/shared/datasets/faces').glob('*/*.jpg'))[::167][:30]
for name in ('none','printed_photo','screen_replay','cutout_mask'):
    mins, means, n = [], [], 0
    for i,ph in enumerate(photos):
        rgb=cv2.cvtColor(cv2.imread(str(ph)),cv2.COLOR_BGR2RGB)
        img=rgb if name=='none' else degrade.DEGRADATIONS[name](rgb,np.random.default_rng(i))
        r=p.analyse(img,gate=True)
        if r.face is None or not r.quality.ok: continue
        pm=lc.scores(img,r.face.box); n+=1
        mins.append(fuse(pm,'min')); means.append(fuse(pm,'mean'))
    mins,means=np.array(mins),np.array(means)
    print(name, 'usable',n,'of',len(photos),'pass min>=0.027: %.0f%%'%(100*(mins>=0.027).mean()),'pass mean>=0.5: %.0f%%'%(100*(means>=0.5).mean()), 'median min %.3f'%np.median(mins))
