"""``python -m benchmarks.liveness_invoke [DIR ...]``: one MiniFASNet ``interpreter.invoke()``, median ms.

Times each ``minifasnet*.tflite`` file in the given folders (default: the shipped ``models/``), one
interpreter thread, XNNPACK, a fixed random input of the model's own shape and type, 20 warm-up
invokes then ``--runs`` timed ones. The quantised variants written by
``python -m model_build.liveness --variants DIR`` are timed by passing ``DIR/<variant>``.
The figures in docs/LIVENESS.md ("Quantised variants", "Speed") and docs/BENCHMARKS.md come from it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def time_invoke(path: Path, runs: int, threads: int = 1) -> float:
    """Median milliseconds of one ``invoke()`` of the model at ``path``."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(path), num_threads=threads)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    rng = np.random.default_rng(0)
    if np.issubdtype(inp["dtype"], np.integer):
        info = np.iinfo(inp["dtype"])
        data = rng.integers(info.min, info.max, inp["shape"], dtype=inp["dtype"], endpoint=True)
    else:
        data = rng.random(inp["shape"], dtype=np.float32).astype(inp["dtype"])
    interp.set_tensor(inp["index"], data)
    for _ in range(20):
        interp.invoke()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        interp.invoke()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.liveness_invoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("dirs", nargs="*", type=Path, default=[REPO / "models"], help="folders with minifasnet*.tflite (default: models/)")
    parser.add_argument("--runs", type=int, default=200, help="timed invokes per model (default %(default)s)")
    parser.add_argument("--threads", type=int, default=1, help="interpreter threads (default %(default)s)")
    args = parser.parse_args(argv)
    files = [f for d in args.dirs for f in sorted(d.glob("minifasnet*.tflite"))]
    if not files:
        print(f"liveness_invoke: no minifasnet*.tflite in {', '.join(map(str, args.dirs))}", file=sys.stderr)
        return 2
    for f in files:
        size_mb = f.stat().st_size / 1e6
        print(f"{f.parent.name}/{f.name}  {size_mb:.2f} MB  invoke median {time_invoke(f, args.runs, args.threads):.2f} ms "
              f"({args.threads} thread{'s' if args.threads != 1 else ''}, {args.runs} runs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
