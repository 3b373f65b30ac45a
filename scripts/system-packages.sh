#!/usr/bin/env bash
# Install the Debian packages the tests and the demo use (a real broker, real gpsd),
# when they are missing (with the argument pi-emu: the packages of `make pi-emu`). Needs root or password-less sudo; otherwise says what to install.
set -euo pipefail
want=(mosquitto mosquitto-clients gpsd gpsd-clients shellcheck chromium systemd)
# `scripts/system-packages.sh pi-emu`: what `make pi-emu` needs instead (an emulated arm64 Debian root).
if [ "${1:-}" = pi-emu ]; then want=(debootstrap qemu-user-static binfmt-support); fi
missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
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
