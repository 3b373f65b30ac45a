#!/usr/bin/env bash
# `make pi-emu`: Tepat Edge on the Raspberry Pi's architecture under QEMU user-mode emulation.
#
#  1. an arm64 Debian bookworm root (debootstrap + qemu-user-static), cached under $PI_EMU_CACHE
#     (default ~/.cache/tepat-edge/pi-emu), keyed by a hash of its inputs (scripts/pi-emu/base.sh);
#  2. the lock's aarch64 wheels fetched natively, hash-checked (scripts/pi-emu/wheelhouse.sh, cached);
#  3. a fresh copy of the root per run: firmware_config/install.sh runs inside as root (apt step, user, folders,
#     permissions, venv from requirements/device-aarch64.lock with --require-hashes, offline from those
#     wheels, config files), then
#     scripts/pi-emu/inside.sh checks the result, runs systemd-analyze verify, `edge models verify`,
#     `edge enroll/verify`, `edge eval` (int8 + fp32) on a fixed 200-pair sample of
#     ../shared/datasets/pairs.csv and a short `edge-sim run` against a loopback Mosquitto;
#  4. the same face commands on x86_64 from requirements/device-x86_64.lock (scripts/pi-emu/host-venv.sh);
#  5. scripts/pi-emu/compare.py prints the agreement table (exit 1 on any disagreement).
#
# Needs root (debootstrap, chroot, mounts) and binfmt_misc. Emulated timings are never speed figures.
# Environment: PI_EMU_CACHE, PI_EMU_DATA (default ../shared/datasets), PI_EMU_PAIRS (default 200),
# PI_EMU_CPU (QEMU CPU model: cortex-a72 = Pi 4, the default; cortex-a76 = Pi 5).
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE=${PI_EMU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tepat-edge/pi-emu}
DATA=${PI_EMU_DATA:-$SRC/../shared/datasets}
PAIRS=${PI_EMU_PAIRS:-200}
# The CPU QEMU presents: a Pi 4's Cortex-A72 (NEON, no dot-product instructions) by default, so XNNPACK picks
# the Pi 4's kernels; cortex-a76 for a Pi 5 (NEON + dot product). QEMU's default "max" would offer SVE and more.
CPU=${PI_EMU_CPU:-cortex-a72}
say() { printf 'pi-emu: %s\n' "$*" >&2; }
die() { printf 'pi-emu: error: %s\n' "$*" >&2; exit 2; }
t0=$(date +%s)
lap() { printf 'pi-emu: [%4ds] %s\n' "$(( $(date +%s) - t0 ))" "$*" >&2; }

case "${1:-}" in -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot and bind mounts); run: sudo make pi-emu"
[ "$PAIRS" -ge 200 ] || die "PI_EMU_PAIRS must be at least 200 (issue 17)"
[ -f "$DATA/pairs.csv" ] || die "no face dataset at $DATA (pairs.csv); set PI_EMU_DATA"
bash "$SRC/scripts/system-packages.sh" pi-emu

# binfmt_misc: the kernel hands arm64 ELF files to qemu-aarch64-static (F flag: works inside the chroot).
if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || die "cannot mount binfmt_misc (a container without the privilege?)"
fi
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64 \
  || die "cannot register qemu-aarch64 with binfmt_misc (update-binfmts --enable qemu-aarch64)"

base=$("$SRC/scripts/pi-emu/base.sh" "$CACHE")
lap "arm64 root ready: $base"
wheels=$("$SRC/scripts/pi-emu/wheelhouse.sh" "$SRC" "$CACHE")
lap "aarch64 files of the lock ready: $wheels"

run=$CACHE/run
root=$run/root
mounts=()
unmount_all() {
  local i
  for (( i=${#mounts[@]}-1; i>=0; i-- )); do umount -R "${mounts[$i]}" 2>/dev/null || umount -lR "${mounts[$i]}" 2>/dev/null || true; done
  mounts=()
}
trap unmount_all EXIT
trap 'unmount_all; exit 143' TERM INT  # a stopped run leaves nothing mounted
bind() {  # bind SRC DEST [ro]
  mkdir -p "$2"
  mount --rbind "$1" "$2"
  mount --make-rslave "$2"
  if [ "${3:-}" = ro ]; then mount -o remount,bind,ro "$2"; fi
  mounts+=("$2")
}
# Never delete a tree with something still mounted in it (a bind of /dev would take the host's with it).
if findmnt -rn -o TARGET | grep -q "^$run/"; then
  findmnt -rn -o TARGET | grep "^$run/" | sort -r | while read -r m; do umount -lR "$m" || true; done
fi
! findmnt -rn -o TARGET | grep -q "^$run/" || die "something is still mounted under $run; unmount it first"
rm -rf "$run"
mkdir -p "$run"
cp -a --reflink=auto "$base" "$root"
lap "fresh copy of the root in $root"

python3 "$SRC/scripts/pi-emu/sample.py" "$DATA" "$root/pi-emu/data" --pairs "$PAIRS"
mkdir -p "$root/pi-emu/out" "$CACHE/apt-lists-arm64/partial"
chmod 0777 "$root/pi-emu/out"
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"; mounts+=("$root/proc")
bind /sys "$root/sys"
# The host's /proc/cpuinfo describes x86 cores; XNNPACK's cpuinfo, which also sees /sys's CPU list, then crashes
# (SIGSEGV under qemu-user when both are mounted: found by the first full run). The Pi's own cpuinfo describes
# the emulated cores, so that is what the root sees.
case "$CPU" in
  cortex-a76) part=0xd0b; features="fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp" ;;
  *) part=0xd08; features="fp asimd evtstrm crc32 cpuid" ;;
esac
for (( i=0; i<$(nproc); i++ )); do
  printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: %s\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: %s\nCPU revision\t: 3\n\n' "$i" "$features" "$part"
done > "$run/cpuinfo"
mount --bind "$run/cpuinfo" "$root/proc/cpuinfo"; mounts+=("$root/proc/cpuinfo")
bind /dev "$root/dev"
bind "$SRC" "$root/src" ro
bind "$wheels" "$root/pi-emu/wheels" ro
bind "$CACHE/apt-lists-arm64" "$root/var/lib/apt/lists"

# The x86_64 reference (native, a few minutes) runs meanwhile on the same sample and config.
(
  venv=$("$SRC/scripts/pi-emu/host-venv.sh" "$SRC" "$CACHE")
  echo "$venv" > "$run/x86_64.venv"
  TEPAT__FACE__MODELS_DIR=$SRC/models bash "$SRC/scripts/pi-emu/face-checks.sh" "$venv/bin/edge" \
    "$SRC/firmware_config/edge.toml.example" "$root/pi-emu/data" "$root/pi-emu/out"
) > "$run/x86_64.log" 2>&1 &
x86_pid=$!
lap "running scripts/pi-emu/inside.sh in the arm64 root (emulated $CPU)"
arm_rc=0
env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb \
  PIP_NO_INDEX=1 PIP_FIND_LINKS=/pi-emu/wheels PIP_DISABLE_PIP_VERSION_CHECK=1 QEMU_CPU="$CPU" PI_EMU_CPU="$CPU" \
  chroot "$root" /bin/bash /src/scripts/pi-emu/inside.sh || arm_rc=$?
unmount_all
lap "arm64 part finished (exit $arm_rc)"

x86_rc=0
wait "$x86_pid" || x86_rc=$?
lap "x86_64 reference finished (exit $x86_rc; log $run/x86_64.log)"
[ "$x86_rc" -eq 0 ] || { tail -n 20 "$run/x86_64.log" >&2; die "the x86_64 reference run failed"; }
venv=$(tail -n 1 "$run/x86_64.venv")

cmp_rc=0
"$venv/bin/python" "$SRC/scripts/pi-emu/compare.py" "$root/pi-emu/out" "$SRC/models" "$root/pi-emu/data/pairs.csv" \
  --json "$root/pi-emu/out/agreement.json" || cmp_rc=$?
lap "done; results in $root/pi-emu/out (cache: $CACHE)"
if [ "$arm_rc" -ne 0 ] || [ "$cmp_rc" -ne 0 ]; then say "FAILED (arm64 checks exit $arm_rc, agreement exit $cmp_rc)"; exit 1; fi
say "PASSED"
