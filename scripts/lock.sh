#!/usr/bin/env bash
# Regenerate the hashed lock files of the device install (`make lock`):
#   requirements/device-x86_64.lock   requirements/device-aarch64.lock (Raspberry Pi OS Bookworm, 64-bit)
# Both resolve pyproject.toml's runtime dependencies + requirements/device.in for CPython 3.11 (Bookworm's
# python3) with uv, which resolves for another platform than the one it runs on. Every pin carries the
# sha256 of each PyPI file; firmware_config/install.sh installs with `pip install --require-hashes`.
set -euo pipefail
cd "$(dirname "$0")/.."
uv=${UV:-.venv/bin/uv}
[ -x "$uv" ] || uv=$(command -v uv) || { echo "lock: uv not found (pip install -e '.[lock]')" >&2; exit 1; }
for arch in x86_64 aarch64; do
  "$uv" pip compile pyproject.toml requirements/device.in \
    --python-version 3.11 --python-platform "$arch-manylinux_2_36" \
    --generate-hashes --no-strip-extras --index-url https://pypi.org/simple \
    --custom-compile-command "make lock" --quiet \
    --output-file "requirements/device-$arch.lock"
  echo "lock: wrote requirements/device-$arch.lock" >&2
done
