#!/usr/bin/env bash
# Resident memory per VU of `herd run`:
#   (peak RSS at HIGH VUs - peak RSS at LOW VUs) / (HIGH - LOW)
#
#   bench/memory.sh [--high 5000] [--low 10] [--duration 10s] [--workers N] [--json FILE]
#
# Script shape: http.get(`${__ENV.BASE_URL}/`); sleep(1) per iteration, so every
# VU holds one keep-alive connection to the target. Peak RSS is ru_maxrss of the
# herd process from GNU time ("Maximum resident set size"); VmHWM sampled from
# /proc is printed as a cross-check. The target (`--threads 2`, two SO_REUSEPORT
# listeners with backlog 4096 each) runs on core $TARGET_CORE, herd on core $GEN_CORE.
# Checks that at least HIGH requests were made (every VU did one) and that the
# target saw ~HIGH established connections.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

HIGH=5000 LOW=10 DURATION=10 WORKERS=${HERD_WORKERS:-1} JSON_OUT=
while [[ $# -gt 0 ]]; do
  case $1 in
    --high) HIGH=$2; shift 2 ;;
    --low) LOW=$2; shift 2 ;;
    --duration) DURATION=${2%s}; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --json) JSON_OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) die "unknown argument $1" ;;
  esac
done
(( DURATION >= 3 )) || die "--duration must be >= 3 s (VUs ramp their connections up in the first second)"
need=$((HIGH * 2 + 1000))
ulimit -n "$need" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
(( $(ulimit -n) >= HIGH + 100 )) || die "ulimit -n $(ulimit -n) too low for $HIGH VUs"
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) is needed"

log "uptime: $(uptime)"
start_target 2

# measure N -> prints "peak_rss_kb hwm_kb reqs failed max_established"
measure() {
  local n=$1 js=$WORK/mem.$1.js out=$WORK/mem.$1.out pid hwm=0 h est=0 e t
  cat >"$js" <<JS
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { vus: $n, duration: '${DURATION}s' };
export default function () { http.get(\`\${__ENV.BASE_URL}/\`); sleep(1); }
JS
  /usr/bin/time -v -o "$WORK/time.$n" taskset -c "$GEN_CORE" "$HERD_BIN" run --workers "$WORKERS" -q \
      -e BASE_URL="$BASE_URL" --summary-export "$WORK/mem.$n.json" "$js" >"$out" 2>&1 &
  pid=$!
  _BG_PIDS+=("$pid")
  # sample VmHWM of the herd process (child of time) and established connections
  local hp=""
  for ((t = 0; t < (DURATION + 30) * 4; t++)); do
    kill -0 "$pid" 2>/dev/null || break
    [[ -z $hp ]] && hp=$(pgrep -P "$pid" -x herd || true)
    if [[ -n $hp ]]; then
      h=$(rss_kb "$hp" VmHWM); [[ -n $h ]] && (( h > hwm )) && hwm=$h
    fi
    if (( t % 4 == 2 )); then
      e=$(ss -Htn state established "( sport = :$TARGET_PORT )" 2>/dev/null | wc -l)
      (( e > est )) && est=$e
    fi
    sleep 0.25
  done
  kill -0 "$pid" 2>/dev/null && { kill "$pid"; log "herd at $n VUs overran, killed"; }
  wait "$pid" || log "herd at $n VUs exited non-zero: $(tail -3 "$out")"
  local peak
  peak=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.$n")
  python3 - "$WORK/mem.$n.json" "$peak" "$hwm" "$est" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
print(sys.argv[2], sys.argv[3], int(m["http_reqs"]["count"]), int(m["http_req_failed"].get("passes", 0)), sys.argv[4])
PY
}

read -r lo_peak lo_hwm lo_reqs lo_fail lo_est < <(measure "$LOW")
log "$LOW VUs: peak RSS $lo_peak KB (VmHWM $lo_hwm KB), $lo_reqs requests, $lo_fail failed, max $lo_est established (load $(loadavg))"
read -r hi_peak hi_hwm hi_reqs hi_fail hi_est < <(measure "$HIGH")
log "$HIGH VUs: peak RSS $hi_peak KB (VmHWM $hi_hwm KB), $hi_reqs requests, $hi_fail failed, max $hi_est established (load $(loadavg))"
stop_target

python3 - "$LOW" "$HIGH" "$lo_peak" "$hi_peak" "$lo_hwm" "$hi_hwm" "$hi_reqs" "$hi_fail" "$hi_est" "$DURATION" "$WORKERS" "${JSON_OUT:-}" <<'PY'
import json, sys
lo, hi, lop, hip, loh, hih, reqs, fail, est, dur, workers = map(int, sys.argv[1:12])
json_out = sys.argv[12]
per = (hip - lop) / (hi - lo)
per_hwm = (hih - loh) / (hi - lo) if hih and loh else float("nan")
ok = reqs >= hi and fail == 0
print(f"\nmemory: herd --workers {workers}, {dur} s, http.get + sleep(1)")
print(f"| VUs | peak RSS (KB) |\n| ---: | ---: |\n| {lo} | {lop} |\n| {hi} | {hip} |")
print(f"per VU: {per:.1f} KB (VmHWM samples: {per_hwm:.1f} KB)  (goal <= 64 KB, issue #17: {'MET' if per <= 64 else 'NOT met'})")
print(f"check at {hi} VUs: {reqs} requests ({'>=' if reqs >= hi else '<'} {hi}), {fail} failed, "
      f"max {est} established connections seen by the target -> {'valid' if ok else 'INVALID run'}")
if json_out:
    json.dump({"low": lo, "high": hi, "peak_rss_kb_low": lop, "peak_rss_kb_high": hip, "kb_per_vu": per,
               "kb_per_vu_hwm": per_hwm, "requests_high": reqs, "failed_high": fail,
               "max_established": est, "valid": ok}, open(json_out, "w"), indent=1)
PY
