#!/usr/bin/env bash
# Build (once) the cached arm64 Debian bookworm root for `make pi-emu`: debootstrap + qemu-user-static.
# Prints the root's path on stdout. The cache key is a hash of everything that goes into the root
# (suite, mirror, package list, this script), so changing any of them builds a new root.
#
#   scripts/pi-emu/base.sh CACHE_DIR
set -euo pipefail
cache=${1:?usage: base.sh CACHE_DIR}
SUITE=bookworm
ARCH=arm64
MIRROR=${PI_EMU_MIRROR:-http://deb.debian.org/debian}
# What a Raspberry Pi OS Bookworm image already has (python3, systemd) plus the packages install.sh asks
# for that exist in Debian for arm64 (python3-picamera2/python3-libcamera live only in the Raspberry Pi
# archive), mosquitto for the loopback broker, ca-certificates for pip.
# debootstrap does not resolve virtual packages: gpsd-clients' GTK chain needs dconf-service, which needs
# "dbus-session-bus", so dbus-user-session (its provider) is named explicitly, and libpam-systemd needs
# "dbus-system-bus", so dbus (its provider) is named too.
PACKAGES=(python3 python3-venv systemd systemd-sysv gpsd gpsd-clients dbus dbus-user-session chrony mosquitto
          mosquitto-clients sqlite3 ca-certificates procps)
key=$( { echo "$SUITE $ARCH $MIRROR ${PACKAGES[*]}"; cat "$0"; } | sha256sum | cut -c1-16)
root=$cache/base-$ARCH-$SUITE-$key
if [ -f "$root/.pi-emu-complete" ]; then echo "$root"; exit 0; fi
say() { printf 'pi-emu: %s\n' "$*" >&2; }
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || { say "error: qemu-aarch64 is not registered with binfmt_misc"; exit 1; }
rm -rf "$root" "$root.tmp"
mkdir -p "$cache"
say "debootstrap $SUITE/$ARCH from $MIRROR into $root (first run only; several minutes under emulation)"
include=$(IFS=,; echo "${PACKAGES[*]}")
debootstrap --arch="$ARCH" --variant=minbase --include="$include" "$SUITE" "$root.tmp" "$MIRROR" >&2
# No daemons start inside the root while packages are configured later on.
printf '#!/bin/sh\nexit 101\n' > "$root.tmp/usr/sbin/policy-rc.d"
chmod 0755 "$root.tmp/usr/sbin/policy-rc.d"
rm -rf "$root.tmp/var/cache/apt/archives/"*.deb
touch "$root.tmp/.pi-emu-complete"
mv "$root.tmp" "$root"
echo "$root"
