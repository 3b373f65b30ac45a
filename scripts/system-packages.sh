#!/usr/bin/env bash
# Install the Debian packages the tests and the demo use (a real broker, real gpsd),
# when they are missing (with the argument pi-emu: the packages of `make pi-emu`). Needs root or password-less sudo; otherwise says what to install.
set -euo pipefail
want=(mosquitto mosquitto-clients gpsd gpsd-clients shellcheck chromium chromium-driver systemd postgresql)
# `scripts/system-packages.sh pi-emu`: what `make pi-emu` needs instead (an emulated arm64 Debian root).
if [ "${1:-}" = pi-emu ]; then want=(debootstrap qemu-user-static binfmt-support); fi
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# chronyd for the chrony config test (chronyd -p): only the binary, unpacked from Debian's package into
# .cache/chrony. Installing the chrony package would start (or at boot enable) a time daemon that sets
# this machine's clock, and on Debian it removes systemd-timesyncd; unpacking starts nothing.
chrony_dir="$(cd "$(dirname "$0")/.." && pwd)/.cache/chrony"
unpack_chronyd() {
  if command -v chronyd >/dev/null || [ -x "$chrony_dir/usr/sbin/chronyd" ] || ! command -v apt-get >/dev/null; then
    return 0
  fi
  local tmp
  tmp="$(mktemp -d)"
  mkdir -p "$chrony_dir"
  if (cd "$tmp" && apt-get download -qq chrony 2>/dev/null && dpkg-deb -x chrony_*.deb "$chrony_dir"); then
    echo "system-packages: unpacked chronyd into $chrony_dir (not installed, not started)" >&2
  else
    echo "system-packages: could not download chrony (apt-get update needed?); the chrony config test will fail" >&2
  fi
  rm -rf "$tmp"
}
[ ${#missing[@]} -eq 0 ] && { unpack_chronyd; exit 0; }
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "system-packages: cannot install ${missing[*]} (not root, no sudo); tests that need them will fail." >&2
  exit 0
fi
echo "system-packages: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
# policy-rc.d keeps the packages' own services from starting: the tests start their own on loopback.
"${SUDO[@]}" env RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
unpack_chronyd
