#!/usr/bin/env bash
# The face commands `make pi-emu` runs on both architectures (same photos, same config, same models):
# `edge enroll` + `edge verify` on a few photos, `edge eval` with the int8 and fp32 embedders on the
# pair sample (saving every embedding). Results go to OUT/<arch>-*.
#
#   face-checks.sh EDGE CONFIG DATA OUT      (EDGE: the installed `edge` executable)
set -euo pipefail
edge=$1 config=$2 data=$3 out=$4
arch=$(uname -m)
mkdir -p "$out"
# The same path on both architectures: an error line naming the gallery then reads the same on both.
gallery=/tmp/pi-emu-gallery.sqlite
rm -f "$gallery"
# The first four genuine pairs: enrol path_a, verify path_b as that person and as the next person
# (a photo the quality gate refuses at enrolment leaves that person not enrolled, on both architectures).
mapfile -t rows < <(awk -F, 'NR > 1 && $3 == 1 {print $1 "," $2}' "$data/pairs.csv" | head -n 4)
ids=()
for row in "${rows[@]}"; do
  a=${row%,*}; id=$(basename "$(dirname "$a")"); ids+=("$id")
  "$edge" --config "$config" enroll --db "$gallery" --id "$id" "$data/$a" > /dev/null || true
done
: > "$out/$arch-verify.jsonl"
for i in "${!rows[@]}"; do
  b=${rows[$i]#*,}
  for claimed in "${ids[$i]}" "${ids[$(( (i + 1) % ${#ids[@]} ))]}"; do
    rc=0
    "$edge" --config "$config" verify --db "$gallery" --id "$claimed" "$data/$b" > "$out/$arch-verify.tmp.json" 2> "$out/$arch-verify.tmp.err" || rc=$?
    python3 - "$out/$arch-verify.tmp.json" "$b" "$claimed" "$rc" "$out/$arch-verify.tmp.err" >> "$out/$arch-verify.jsonl" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except ValueError:
    r = {"decision": "error: " + open(sys.argv[5]).read().strip().splitlines()[-1][:120]}
print(json.dumps({"image": sys.argv[2], "claimed": sys.argv[3], "decision": r.get("decision"),
                  "score": r.get("score"), "exit": int(sys.argv[4])}))
PY
    printf '  edge verify --id %-22s %-40s -> %s\n' "$claimed" "$b" "$(tail -n 1 "$out/$arch-verify.jsonl")"
  done
done
rm -f "$gallery" "$out/$arch-verify.tmp.json" "$out/$arch-verify.tmp.err"
# Both embedders at once (two processes: under emulation this halves the wall time on a multi-core host).
pids=()
for emb in int8 fp32; do
  # --no-reference: the int8 run does not embed every crop with fp32 as well (the fp32 run does; fp32 is the slow
  # part under emulation, where QEMU computes every float instruction in software).
  extra=(); [ "$emb" = fp32 ] || extra=(--no-reference)
  "$edge" --config "$config" eval --pairs "$data/pairs.csv" --root "$data" --embedder "$emb" "${extra[@]}" \
    --json "$out/$arch-$emb.json" --embeddings "$out/$arch-$emb.npz" > "$out/$arch-$emb.summary.json" 2> "$out/$arch-$emb.log" &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
for emb in int8 fp32; do
  python3 - "$out/$arch-$emb.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
one = r.get("at_shipped_thresholds", {}).get("1:1", {})
print(f"  edge eval {r['embedder']}: {r['pairs']} pairs, failed to enrol {r['failed_to_enrol']}, EER {r['eer']}, "
      f"at the shipped 1:1 threshold {one.get('threshold')}: TAR {one.get('tar')} FAR {one.get('far')}")
PY
done
