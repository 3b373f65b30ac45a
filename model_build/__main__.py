"""``python -m model_build [--only NAME] [--calib-images N] [--out DIR]`` = ``edge models build``."""

import sys

from edge.cli import main

sys.exit(main(["models", "build", *sys.argv[1:]]))
