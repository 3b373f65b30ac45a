"""Make the fixed pair sample of `make pi-emu`: the first N/2 genuine and first N/2 impostor rows of
pairs.csv (file order, no randomness), with their photos copied to OUT/ (never into the repository).

    python3 scripts/pi-emu/sample.py DATASET_DIR OUT_DIR [--pairs N]

Writes OUT/pairs.csv (same columns, paths relative to OUT) and OUT/faces/<identity>/<n>.jpg.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
from pathlib import Path


def choose(rows: list[dict[str, str]], n: int) -> list[dict[str, str]]:
    genuine = [r for r in rows if r["same"] == "1"][: n // 2]
    impostor = [r for r in rows if r["same"] == "0"][: n - n // 2]
    return genuine + impostor


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", type=Path, help="folder holding pairs.csv and faces/")
    ap.add_argument("out", type=Path)
    ap.add_argument("--pairs", type=int, default=200, help="pairs in the sample (default 200, half genuine)")
    args = ap.parse_args(argv)
    src = args.dataset / "pairs.csv"
    if not src.is_file():
        print(f"sample: {src} not found (the face dataset lives in ../shared/datasets)", file=sys.stderr)
        return 2
    with open(src, newline="", encoding="utf-8") as fh:
        rows = choose(list(csv.DictReader(fh)), args.pairs)
    args.out.mkdir(parents=True, exist_ok=True)
    for rel in sorted({r["path_a"] for r in rows} | {r["path_b"] for r in rows}):
        dest = args.out / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(args.dataset / rel, dest)
    with open(args.out / "pairs.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["path_a", "path_b", "same"], lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    print(f"sample: {len(rows)} pairs, {sum(1 for _ in args.out.rglob('*.jpg'))} images in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
