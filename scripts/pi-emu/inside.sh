#!/usr/bin/env bash
# shellcheck disable=SC2317,SC1091  # helpers are called through check(); os-release is the root's own
# Runs as root INSIDE the emulated arm64 root (started by scripts/pi-emu/run.sh): installs Tepat Edge with
# firmware_config/install.sh as on a Pi, checks what it installed, then runs the terminal's commands.
#   /src      the checkout (read-only)      /pi-emu/data  the pair sample      /pi-emu/out  results
set -uo pipefail
SRC=/src DATA=/pi-emu/data OUT=/pi-emu/out
PREFIX=/opt/tepat-edge CONFIG=/etc/tepat-edge/edge.toml
fails=0
step() { printf '\npi-emu[%s]: == %s\n' "$(uname -m)" "$*"; }
check() {
  local what=$1; shift
  if "$@"; then printf '  ok    %s\n' "$what"; else printf '  FAIL  %s\n' "$what"; fails=$((fails + 1)); fi
}
not() { ! "$@"; }
quiet() { "$@" > /dev/null 2>&1; }
# Commands run as the service user with the unit's environment (setpriv keeps PATH, unlike runuser).
as_tepat() { setpriv --reuid=tepat --regid=tepat --init-groups env HOME=/tmp STATE_DIRECTORY=/var/lib/tepat-edge "$@"; }
stat_is() { [ "$(stat -c '%U:%G %a' "$1")" = "$2" ] || { echo "    $1 is $(stat -c '%U:%G %a' "$1"), want $2"; return 1; }; }

step "machine: $(uname -m) (QEMU CPU model ${PI_EMU_CPU:-max}), $(. /etc/os-release && echo "$PRETTY_NAME"), $(python3 -V)"

step "install.sh (as root, live mode; systemd is not running in a chroot)"
bash "$SRC/firmware_config/install.sh" 2>&1 | sed 's/^/  /'
check "install.sh exits 0" test "${PIPESTATUS[0]}" -eq 0
step "install.sh again (idempotent upgrade)"
bash "$SRC/firmware_config/install.sh" > /tmp/install2.log 2>&1
check "second run exits 0" test $? -eq 0
sed 's/^/  /' /tmp/install2.log
check "second run keeps the operator's edge.toml" grep -q "kept existing /etc/tepat-edge/edge.toml" /tmp/install2.log

step "what install.sh installed"
check "user tepat exists, no login shell" sh -c 'getent passwd tepat | grep -q ":/usr/sbin/nologin$"'
check "tepat is in group video" sh -c 'id -nG tepat | grep -qw video'
check "venv made with --system-site-packages" grep -qx 'include-system-site-packages = true' "$PREFIX/venv/pyvenv.cfg"
check "venv packages are exactly the aarch64 lock's pins" "$PREFIX/venv/bin/python" - "$SRC/requirements/device-aarch64.lock" <<'PY'
import re, sys
from importlib import metadata
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^ \\]+)", open(sys.argv[1]).read(), re.M))
venv = {norm(d.metadata["Name"]): d.version for d in metadata.distributions(path=[p for p in sys.path if "/opt/tepat-edge/venv/" in p])}
bad = {n: (v, venv.get(norm(n))) for n, v in pins.items() if venv.get(norm(n)) != v}
extra = sorted(set(venv) - {norm(n) for n in pins} - {"tepat-edge"})
for n, (want, got) in bad.items():
    print(f"    {n}: lock {want}, venv {got}")
if extra:
    print(f"    not in the lock: {extra}")
sys.exit(1 if bad or extra else 0)
PY
check "code, models and venv owned by root:root" test -z "$(find "$PREFIX" \( ! -user root -o ! -group root \) -print -quit)"
check "nothing under $PREFIX writable by group or others" test -z "$(find "$PREFIX" ! -type l -perm /022 -print -quit)"
check "service user cannot create files in models/" not quiet as_tepat touch "$PREFIX/models/planted"
check "service user cannot change models/thresholds.json" not quiet as_tepat sh -c ": >> $PREFIX/models/thresholds.json"
check "service user cannot change models/manifest.json" not quiet as_tepat sh -c ": >> $PREFIX/models/manifest.json"
check "service user cannot change the code" not quiet as_tepat sh -c ": >> $PREFIX/src/edge/cli.py"
check "service user cannot add to the venv" not quiet as_tepat touch "$PREFIX/venv/lib/python3.11/site-packages/planted.pth"
check "service user can read the models" quiet as_tepat cat "$PREFIX/models/thresholds.json"
check "/etc/tepat-edge root:tepat 0750" stat_is /etc/tepat-edge "root:tepat 750"
check "edge.toml root:tepat 0640" stat_is "$CONFIG" "root:tepat 640"
check "credentials/ root:tepat 0700" stat_is /etc/tepat-edge/credentials "root:tepat 700"
check "mqtt-password root 0600" stat_is /etc/tepat-edge/credentials/mqtt-password "root:tepat 600"
check "service user reads edge.toml" quiet as_tepat cat "$CONFIG"
check "service user cannot read the MQTT password file" not quiet as_tepat cat /etc/tepat-edge/credentials/mqtt-password
check "/var/lib/tepat-edge tepat:tepat 0750" stat_is /var/lib/tepat-edge "tepat:tepat 750"
check "unit enabled (multi-user.target.wants)" test -L /etc/systemd/system/multi-user.target.wants/tepat-edge.service
check "config.txt block present once" test "$(grep -c '^# >>> tepat-edge >>>' /boot/firmware/config.txt)" -eq 1

step "systemd-analyze verify (the unit in the arm64 root)"
systemd-analyze verify /etc/systemd/system/tepat-edge.service > /tmp/verify.log 2>&1
rc=$?
check "systemd-analyze verify exits 0 with no output" test "$rc" -eq 0 -a ! -s /tmp/verify.log
sed 's/^/  /' /tmp/verify.log

step "edge models verify (as tepat)"
as_tepat "$PREFIX/venv/bin/edge" --config "$CONFIG" models verify 2>&1 | tail -n 12 | sed 's/^/  /'
check "edge models verify exits 0" test "${PIPESTATUS[0]}" -eq 0

step "edge enroll / verify / eval (as tepat; int8 and fp32; results in $OUT)"
start=$(date +%s)
as_tepat bash "$SRC/scripts/pi-emu/face-checks.sh" "$PREFIX/venv/bin/edge" "$CONFIG" "$DATA" "$OUT" 2> "$OUT/aarch64-face.log"
check "face checks exit 0" test $? -eq 0
grep -v "XNNPACK\|\[#*\.*\]" "$OUT/aarch64-face.log" | tail -n 5 | sed 's/^/  /'
echo "  (emulated: $(( $(date +%s) - start )) s — not a speed figure)"

step "edge-sim run: a short scenario against a loopback Mosquitto (arm64 mosquitto in this root)"
as_tepat "$PREFIX/venv/bin/edge-sim" run --new-broker mosquitto --faces "$DATA/faces" --models-dir "$PREFIX/models" \
  --json "$SRC/scripts/pi-emu/scenario.toml" > "$OUT/aarch64-sim.txt" 2>&1
check "edge-sim run passes its expectations" test $? -eq 0
grep -v "XNNPACK" "$OUT/aarch64-sim.txt" | tail -n 25 | sed 's/^/  /'

step "arm64 result: $fails failed check(s)"
exit $(( fails > 0 ))
