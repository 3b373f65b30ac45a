#!/usr/bin/env bash
# Install or upgrade Tepat Edge on Raspberry Pi OS Bookworm. Idempotent: running it again upgrades
# the code and units in place, never overwrites /etc/tepat-edge/edge.toml, and keeps one copy of the
# config.txt block.
#
#   sudo firmware_config/install.sh              # full install on the Pi
#   firmware_config/install.sh --root /tmp/img   # stage into a directory tree (image building, tests):
#                                                # no apt, no venv, no systemctl on the running system
#
# Code, models and the venv are installed root-owned and read-only to the service user; the Python
# dependencies come only from requirements/device-<arch>.lock (pip --require-hashes).
#
# Options: --root DIR, --no-apt, --no-venv, --no-firmware, --help
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=/
DO_APT=1
DO_VENV=1
DO_FIRMWARE=1
PREFIX=/opt/tepat-edge
ETC=/etc/tepat-edge
APT_PACKAGES=(python3-venv python3-picamera2 python3-libcamera gpsd gpsd-clients chrony mosquitto-clients sqlite3)
MARK_BEGIN="# >>> tepat-edge >>>"
MARK_END="# <<< tepat-edge <<<"

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; }
say() { printf 'install: %s\n' "$*"; }
die() { printf 'install: error: %s\n' "$*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --root) [ $# -ge 2 ] || die "--root needs a directory"; ROOT=$2; shift 2 ;;
    --no-apt) DO_APT=0; shift ;;
    --no-venv) DO_VENV=0; shift ;;
    --no-firmware) DO_FIRMWARE=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

LIVE=0
if [ "$ROOT" = / ]; then
  LIVE=1
  [ "$(id -u)" -eq 0 ] || die "run as root (sudo), or stage into a tree with --root DIR"
else
  mkdir -p "$ROOT"
  ROOT=$(cd "$ROOT" && pwd)
  DO_APT=0
  DO_VENV=0
fi
R=${ROOT%/}   # prefix for every path we write ("" on a live system)

# 1. System packages ------------------------------------------------------------------------
if [ "$DO_APT" -eq 1 ]; then
  missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    # python3-picamera2/python3-libcamera exist only in the Raspberry Pi archive: on plain Debian arm64
    # (a USB camera, or the emulated test root of `make pi-emu`) they are skipped with a warning.
    available=()
    for pkg in "${missing[@]}"; do
      if apt-cache policy "$pkg" 2>/dev/null | grep -q 'Candidate: [^(]'; then available+=("$pkg")
      else say "warning: $pkg is not in the apt sources (not Raspberry Pi OS?); skipped"; fi
    done
    if [ ${#available[@]} -gt 0 ]; then
      say "installing ${available[*]}"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${available[@]}"
    fi
  else
    say "system packages already installed"
  fi
fi

# 2. The service user (systemd-sysusers: creates it once, then does nothing) -------------------
install -D -m 0644 "$SRC/systemd/tepat-edge.sysusers" "$R/usr/lib/sysusers.d/tepat-edge.conf"
if [ "$LIVE" -eq 1 ]; then
  systemd-sysusers /usr/lib/sysusers.d/tepat-edge.conf
elif command -v systemd-sysusers >/dev/null; then
  mkdir -p "$R/etc"
  for f in passwd group shadow gshadow; do [ -e "$R/etc/$f" ] || : > "$R/etc/$f"; done
  grep -q '^video:' "$R/etc/group" || echo 'video:x:44:' >> "$R/etc/group"
  systemd-sysusers --root="$ROOT" "$R/usr/lib/sysusers.d/tepat-edge.conf"
fi

# 3. Code and models: stage a fresh copy, then swap it in (a failed copy leaves the old one) ----
install -d -m 0755 "$R$PREFIX"
stage=$(mktemp -d "$R$PREFIX/.src.XXXXXX")
trap 'rm -rf "$stage"' EXIT
# cp -R without -a: the copies belong to the installing user (root), never to the clone's owner.
# benchmarks/: `edge bench` measures this Pi's own speed (model_build/ stays on the build machine).
for item in edge simulator benchmarks requirements pyproject.toml README.md LICENSE docs; do
  if [ -e "$SRC/$item" ]; then cp -R "$SRC/$item" "$stage/"; fi
done
find "$stage" -name __pycache__ -type d -prune -exec rm -rf {} +
rm -rf "$R$PREFIX/src.old"
if [ -d "$R$PREFIX/src" ]; then mv "$R$PREFIX/src" "$R$PREFIX/src.old"; fi
mv "$stage" "$R$PREFIX/src"
rm -rf "$R$PREFIX/src.old"
chmod 0755 "$R$PREFIX/src"
if [ -d "$SRC/models" ]; then
  rm -rf "$R$PREFIX/models.new"
  cp -R "$SRC/models" "$R$PREFIX/models.new"
  rm -rf "$R$PREFIX/models"
  mv "$R$PREFIX/models.new" "$R$PREFIX/models"
fi
ln -sfn "$PREFIX/src/docs" "$R$PREFIX/docs"

# 4. Virtual environment: --system-site-packages so apt's picamera2/libcamera are importable --------
#    Dependencies only from the hashed lock for this machine; the project itself is built offline from
#    the locked setuptools (no build isolation: nothing unpinned is downloaded).
if [ "$DO_VENV" -eq 1 ]; then
  lock="$PREFIX/src/requirements/device-$(uname -m).lock"
  [ -f "$lock" ] || die "no lock file for $(uname -m) ($lock); supported: x86_64, aarch64"
  [ -x "$PREFIX/venv/bin/python" ] || python3 -m venv --system-site-packages "$PREFIX/venv"
  # First the locked build backend (gpsd-py3 ships only as source), then everything with no build
  # isolation: pip never fetches an unpinned build dependency.
  backend=$(mktemp)
  awk '/^[^ #]/{keep = ($0 ~ /^(setuptools|wheel)==/)} keep' "$lock" > "$backend"
  "$PREFIX/venv/bin/python" -m pip install -q --require-hashes --no-deps -r "$backend"
  rm -f "$backend"
  "$PREFIX/venv/bin/python" -m pip install -q --require-hashes --no-build-isolation -r "$lock"
  "$PREFIX/venv/bin/python" -m pip install -q --no-deps --no-build-isolation --upgrade "$PREFIX/src"
  # apt's python3-* packages are visible too (system site packages) and may want other versions.
  "$PREFIX/venv/bin/python" -m pip check >/dev/null 2>&1 || say "warning: '$PREFIX/venv/bin/python -m pip check' reports conflicts (apt's Python packages?)"
  "$PREFIX/venv/bin/python" -c "import picamera2" 2>/dev/null || say "warning: picamera2 not importable in the venv (no CSI camera support)"
fi

# Sealed: code, models (with thresholds.json and the manifest) and the venv belong to root and are
# read-only to everyone else, so the service user (or the clone's owner) cannot change a threshold.
[ "$(id -u)" -ne 0 ] || chown -R root:root "$R$PREFIX"
chmod -R u+rwX,go+rX,go-w "$R$PREFIX"

# 5. Configuration (never overwritten) and credentials ----------------------------------------
install -d -m 0750 "$R$ETC" "$R$ETC/credentials"
# LoadCredential= needs the file to exist; an empty one keeps the unit startable until the password is set.
if [ ! -e "$R$ETC/credentials/mqtt-password" ]; then install -m 0600 /dev/null "$R$ETC/credentials/mqtt-password"; fi
if [ ! -e "$R$ETC/edge.toml" ]; then
  install -m 0640 "$SRC/firmware_config/edge.toml.example" "$R$ETC/edge.toml"
  say "wrote $ETC/edge.toml: set device_id, region, distribution_point and the broker before starting"
else
  say "kept existing $ETC/edge.toml"
fi
install -m 0644 "$SRC/firmware_config/edge.toml.example" "$R$ETC/edge.toml.example"
if [ "$LIVE" -eq 1 ]; then
  chown -R root:tepat "$R$ETC"
  chmod 0700 "$R$ETC/credentials"
  # systemd creates StateDirectory= on first start; create it now so 'edge keys init' can run before that.
  install -d -m 0750 -o tepat -g tepat /var/lib/tepat-edge
else
  install -d -m 0750 "$R/var/lib/tepat-edge"
fi

# 6. systemd units and drop-ins -----------------------------------------------------------------
install -D -m 0644 "$SRC/systemd/tepat-edge.service" "$R/etc/systemd/system/tepat-edge.service"
install -D -m 0644 "$SRC/firmware_config/systemd/tepat-watchdog.conf" "$R/etc/systemd/system.conf.d/tepat-watchdog.conf"
install -D -m 0644 "$SRC/firmware_config/systemd/journald-tepat.conf" "$R/etc/systemd/journald.conf.d/tepat-edge.conf"
# GPS and time pieces, when that part of the tree ships them.
if [ -f "$SRC/firmware_config/gps/gpsd" ]; then
  install -D -m 0644 "$SRC/firmware_config/gps/gpsd" "$R/etc/default/gpsd"
fi
if [ -d "$SRC/firmware_config/chrony" ]; then
  for conf in "$SRC"/firmware_config/chrony/*.conf; do
    if [ -e "$conf" ]; then install -D -m 0644 "$conf" "$R/etc/chrony/conf.d/$(basename "$conf")"; fi
  done
fi

# 7. Firmware config.txt: replace our marked block (or append it once) ----------------------------
if [ "$DO_FIRMWARE" -eq 1 ]; then
  boot=$R/boot/firmware/config.txt
  [ -e "$boot" ] || [ ! -e "$R/boot/config.txt" ] || boot=$R/boot/config.txt
  mkdir -p "$(dirname "$boot")"
  touch "$boot"
  tmp=$(mktemp)
  awk -v b="$MARK_BEGIN" -v e="$MARK_END" '$0==b{skip=1;next} $0==e{skip=0;next} !skip' "$boot" > "$tmp"
  { cat "$tmp"; echo "$MARK_BEGIN"; cat "$SRC/firmware_config/config.txt.fragment"; echo "$MARK_END"; } > "$boot"
  rm -f "$tmp"
  if [ "$LIVE" -eq 1 ] && command -v raspi-config >/dev/null; then
    raspi-config nonint do_serial_cons 1   # no login console on the GPS UART
    raspi-config nonint do_serial_hw 0     # but keep the UART hardware enabled
  fi
  say "updated $(basename "$boot") (takes effect after a reboot)"
fi

# 8. Enable the service ---------------------------------------------------------------------------
if [ "$LIVE" -eq 1 ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable tepat-edge.service
  say "enabled tepat-edge.service; start it with: systemctl start tepat-edge (logs: journalctl -u tepat-edge -f)"
else
  if ! systemctl --root="$ROOT" enable tepat-edge.service >/dev/null 2>&1; then
    mkdir -p "$R/etc/systemd/system/multi-user.target.wants"
    ln -sfn /etc/systemd/system/tepat-edge.service "$R/etc/systemd/system/multi-user.target.wants/tepat-edge.service"
  fi
  say "staged into $ROOT"
fi
