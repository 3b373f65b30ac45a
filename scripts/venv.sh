#!/usr/bin/env bash
# Create .venv (once) and install the project with the given extras, e.g. `scripts/venv.sh dev`.
set -euo pipefail
cd "$(dirname "$0")/.."
extras=${1:-dev}
py=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi
stamp=".venv/.installed-$extras"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q -e ".[$extras]"
  touch "$stamp"
fi
