#!/usr/bin/env bash
# The x86_64 reference for `make pi-emu`: a venv built from requirements/device-x86_64.lock exactly as
# install.sh builds the device venv (Debian's python3, --system-site-packages, hashed lock, project built
# offline), cached under CACHE keyed by the lock's hash; the project is reinstalled on every run.
# Prints the venv path.   scripts/pi-emu/host-venv.sh SRC CACHE
set -euo pipefail
src=${1:?usage: host-venv.sh SRC CACHE}
cache=${2:?usage: host-venv.sh SRC CACHE}
lock=$src/requirements/device-x86_64.lock
key=$(sha256sum < "$lock" | cut -c1-16)
venv=$cache/venv-x86_64-$key
# Only the lock's sources: the machine's pip configuration (extra indexes, constraints) stays out.
export PIP_CONFIG_FILE=/dev/null PIP_CACHE_DIR=$cache/pip-cache-x86_64
unset PIP_FIND_LINKS PIP_CONSTRAINT PIP_INDEX_URL PIP_EXTRA_INDEX_URL
if [ ! -f "$venv/.complete" ]; then
  rm -rf "$venv"
  /usr/bin/python3 -m venv --system-site-packages "$venv"
  backend=$(mktemp)
  awk '/^[^ #]/{keep = ($0 ~ /^(setuptools|wheel)==/)} keep' "$lock" > "$backend"
  "$venv/bin/python" -m pip install -q --require-hashes --no-deps -r "$backend" >&2
  rm -f "$backend"
  "$venv/bin/python" -m pip install -q --require-hashes --no-build-isolation -r "$lock" >&2
  touch "$venv/.complete"
fi
build=$(mktemp -d)
for item in edge simulator benchmarks pyproject.toml README.md LICENSE; do cp -R "$src/$item" "$build/"; done
"$venv/bin/python" -m pip install -q --no-deps --no-build-isolation --upgrade "$build" >&2
rm -rf "$build"
echo "$venv"
