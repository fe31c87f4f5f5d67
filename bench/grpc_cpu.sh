#!/usr/bin/env bash
# CPU per gRPC unary call, independent of machine load: herd (`--workers 1`,
# --vus VUs, each with its own Client connected once with reflection, as
# bench/grpc_unary.js) makes N calls and 10 x VUS calls to herd.demo.Demo/Echo
# on `herd target --grpc-listen` (outside any measurement). The figure is the
# difference of the two runs over the difference of their calls, so process
# start, script load, connects and reflection cancel out:
#   - CPU µs per call: utime+stime of `herd run` (all its threads, gRPC's too);
#   - with --callgrind: instructions per call (valgrind --tool=callgrind).
#
#   bench/grpc_cpu.sh [--iterations N] [--vus N] [--callgrind] [--repeats N] [--out DIR]
#
# --out DIR keeps callgrind.out.N for callgrind_annotate (the hot functions).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ITERS=20000 VUS=10 CALLGRIND=0 REPEATS=3 OUTDIR=
while [[ $# -gt 0 ]]; do
  case $1 in
    --iterations) ITERS=$2; shift 2 ;;
    --vus) VUS=$2; shift 2 ;;
    --callgrind) CALLGRIND=1; shift ;;
    --repeats) REPEATS=$2; shift 2 ;;
    --out) OUTDIR=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) die "unknown argument $1" ;;
  esac
done
[[ $VUS =~ ^[0-9]+$ ]] && (( VUS >= 1 )) || die "--vus must be a positive integer"
[[ $ITERS =~ ^[0-9]+$ ]] && (( ITERS > 10 * VUS )) || die "--iterations must be an integer > 10 x --vus"
[[ $REPEATS =~ ^[0-9]+$ ]] && (( REPEATS >= 1 )) || die "--repeats must be a positive integer"
(( CALLGRIND == 0 )) || command -v valgrind >/dev/null || die "valgrind is needed for --callgrind"
OUTDIR=${OUTDIR:-$WORK/cg}; mkdir -p "$OUTDIR"
cat >"$WORK/script.js" <<'JS'
import { Client, StatusOK } from 'k6/net/grpc';
import { check } from 'k6';
const client = new Client();
let connected = false;
export default function () {
  if (!connected) {
    client.connect(__ENV.GRPC_ADDR, { plaintext: true, reflect: true, timeout: '10s' });
    connected = true;
  }
  const res = client.invoke('herd.demo.Demo/Echo', { text: 'hello' });
  check(res, { 'Echo OK': (r) => r && r.status === StatusOK });
}
JS

log "uptime: $(uptime)"
start_grpc_target

# run N -> "cost calls": cost = CPU µs (utime+stime) or callgrind instructions
run() {
  local n=$1 tag=$2 cost calls
  local cmd=("$HERD_BIN" run --workers 1 -u "$VUS" -i "$n" -q -e GRPC_ADDR="$ADDR" --summary-export "$WORK/s.$tag.json"
    "$WORK/script.js")
  if (( CALLGRIND )); then
    timeout 3600 valgrind --tool=callgrind --callgrind-out-file="$OUTDIR/callgrind.out.$tag" -q "${cmd[@]}" \
      >"$WORK/run.$tag.out" 2>&1 || die "herd under callgrind failed: $(tail -5 "$WORK/run.$tag.out")"
    cost=$(awk '/^summary:/ {print $2}' "$OUTDIR/callgrind.out.$tag")
  else
    taskset -c "$GEN_CORE" /usr/bin/time -f '%U %S' -o "$WORK/time.$tag" "${cmd[@]}" >"$WORK/run.$tag.out" 2>&1 ||
      die "herd run failed: $(tail -5 "$WORK/run.$tag.out")"
    cost=$(awk '{printf "%.0f", ($1 + $2) * 1e6}' "$WORK/time.$tag")
  fi
  calls=$(python3 -c "import json,sys; m=json.load(open(sys.argv[1]))['metrics']; c=m['checks']
print(int(c['passes']) if not c['fails'] else -1)" "$WORK/s.$tag.json")
  (( calls > 0 )) || die "calls failed in run $tag: $(cat "$WORK/s.$tag.json" | head -c 400)"
  echo "$cost $calls"
}
unit=$( (( CALLGRIND )) && echo "instructions" || echo "CPU µs")
figures=()
for r in $(seq "$REPEATS"); do
  read -r lo_cost lo_calls < <(run $((10 * VUS)) "lo$r")
  read -r hi_cost hi_calls < <(run "$ITERS" "hi$r")
  f=$(python3 -c "import sys; a,b,c,d=map(float,sys.argv[1:]); print(f'{(c-a)/(d-b):.1f}')" \
    "$lo_cost" "$lo_calls" "$hi_cost" "$hi_calls")
  log "repeat $r: $hi_cost $unit for $hi_calls calls, $lo_cost for $lo_calls: $f $unit per call"
  figures+=("$f")
  (( CALLGRIND )) && break  # deterministic enough: one repeat
done
log "uptime: $(uptime)"
echo "gRPC unary, herd --workers 1, $VUS VUs: $unit per call, median $(median "${figures[@]}") (${figures[*]})"
