#!/usr/bin/env bash
# Instructions per request (callgrind), independent of machine load: herd runs a
# script for N iterations and for 10 iterations under `valgrind --tool=callgrind`
# (herd --workers 1, 10 VUs, against `herd target`, which runs outside valgrind);
# the figure is (Ir(N) - Ir(10)) / (requests(N) - requests(10)), so process start,
# script load and VU setup cancel out.
#
#   bench/instructions.sh [--iterations N] [--vus N] [--script bare|realistic|FILE] [--out DIR]
#
# --out DIR keeps callgrind.out.N for callgrind_annotate (the hot functions).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ITERS=5000 VUS=10 SCRIPT=bare OUTDIR=
while [[ $# -gt 0 ]]; do
  case $1 in
    --iterations) ITERS=$2; shift 2 ;;
    --vus) VUS=$2; shift 2 ;;
    --script) SCRIPT=$2; shift 2 ;;
    --out) OUTDIR=$2; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) die "unknown argument $1" ;;
  esac
done
command -v valgrind >/dev/null || die "valgrind is needed"
(( ITERS > 10 )) || die "--iterations must be > 10"
case $SCRIPT in
  bare) printf '%s\n' "import http from 'k6/http';" \
          "export default function () { http.get(__ENV.URL + '/'); }" >"$WORK/script.js" ;;
  realistic) cp "$BENCH_DIR/realistic.js" "$WORK/script.js" ;;
  *) cp "$SCRIPT" "$WORK/script.js" ;;
esac
OUTDIR=${OUTDIR:-$WORK/cg}; mkdir -p "$OUTDIR"
log "uptime: $(uptime)"
start_target 1

# run N -> "instructions requests"
run() {
  local n=$1 cg=$OUTDIR/callgrind.out.$1
  timeout 1200 valgrind --tool=callgrind --callgrind-out-file="$cg" -q \
    "$HERD_BIN" run --workers 1 -u "$VUS" -i "$n" -q -e URL="$BASE_URL" \
    --summary-export "$WORK/s.$n.json" "$WORK/script.js" >"$WORK/run.$n.out" 2>&1 ||
    die "herd under callgrind failed: $(tail -5 "$WORK/run.$n.out")"
  local ir reqs
  ir=$(awk '/^summary:/ {print $2}' "$cg")
  reqs=$(python3 -c "import json,sys; print(int(json.load(open(sys.argv[1]))['metrics']['http_reqs']['count']))" "$WORK/s.$n.json")
  echo "$ir $reqs"
}
read -r ir_lo req_lo < <(run 10)
read -r ir_hi req_hi < <(run "$ITERS")
python3 - "$ir_lo" "$req_lo" "$ir_hi" "$req_hi" "$SCRIPT" "$VUS" <<'PY'
import sys
ir_lo, req_lo, ir_hi, req_hi = (int(x) for x in sys.argv[1:5])
print(f"script {sys.argv[5]}, {sys.argv[6]} VUs: {ir_hi} instructions for {req_hi} requests, {ir_lo} for {req_lo}: "
      f"{(ir_hi - ir_lo) / (req_hi - req_lo):.0f} instructions per request")
PY
