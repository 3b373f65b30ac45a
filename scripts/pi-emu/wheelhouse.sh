#!/usr/bin/env bash
# Fetch (natively, fast) every file requirements/device-aarch64.lock names for CPython 3.11 on aarch64,
# hash-checked by pip, into CACHE/wheels-aarch64-<lock hash>; prints that folder. Inside the emulated root
# install.sh then installs from it offline (PIP_NO_INDEX + PIP_FIND_LINKS), still with --require-hashes:
# the same files a Pi downloads, without paying for emulated downloads on every run.
#   scripts/pi-emu/wheelhouse.sh SRC CACHE
set -euo pipefail
src=${1:?usage: wheelhouse.sh SRC CACHE}
cache=${2:?usage: wheelhouse.sh SRC CACHE}
lock=$src/requirements/device-aarch64.lock
dir=$cache/wheels-aarch64-$(sha256sum < "$lock" | cut -c1-16)
if [ -f "$dir/.complete" ]; then echo "$dir"; exit 0; fi
export PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1
unset PIP_FIND_LINKS PIP_CONSTRAINT PIP_INDEX_URL PIP_EXTRA_INDEX_URL
py=python3
rm -rf "$dir"
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Packages published only as source (gpsd-py3) are fetched as source; everything else as aarch64 wheels.
sdists=(gpsd-py3)
pattern="^($(IFS='|'; echo "${sdists[*]}"))=="
awk -v p="$pattern" '/^[^ #]/{keep = ($0 !~ p)} keep' "$lock" > "$tmp/wheels.txt"
awk -v p="$pattern" '/^[^ #]/{keep = ($0 ~ p)} keep' "$lock" > "$tmp/sdists.txt"
platforms=()
for glibc in 36 35 34 31 28 27 26 24 17; do platforms+=(--platform "manylinux_2_${glibc}_aarch64"); done
"$py" -m pip download -q --require-hashes --no-deps --only-binary=:all: "${platforms[@]}" --platform manylinux2014_aarch64 \
  --platform linux_aarch64 --python-version 3.11 --implementation cp --abi cp311 --abi abi3 --abi none \
  -r "$tmp/wheels.txt" -d "$dir" >&2
"$py" -m pip download -q --require-hashes --no-deps --no-binary=:all: -r "$tmp/sdists.txt" -d "$dir" >&2
touch "$dir/.complete"
echo "$dir"
