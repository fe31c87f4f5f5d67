#!/usr/bin/env bash
# Arrival-rate accuracy: constant-arrival-rate at several rates against herd's
# loopback target; prints achieved ÷ target iterations and the p99 of
# iteration_start_lag (actual start − intended start).
#
#   bench/arrival.sh [--rates 1000,5000,20000] [--duration 10s] [--workers 1]
#
# Goal (issue #3): achieved/target ≥ 0.999 and p99 lag < 1 ms when the
# generator is not saturated. herd on core 0, target on core 1.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RATES=1000,5000,20000
DURATION=10s
WORKERS=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --rates) RATES=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) die "unknown argument $1" ;;
  esac
done
secs=${DURATION%s}
start_target 1
cat >"$WORK/arrival.js" <<'JS'
import http from 'k6/http';
const RATE = Number(__ENV.RATE);
export const options = {
  scenarios: { open: { executor: 'constant-arrival-rate', rate: RATE, timeUnit: '1s', duration: __ENV.DURATION,
    preAllocatedVUs: Math.max(50, RATE / 20), maxVUs: Math.max(200, RATE / 5) } },
  summaryTrendStats: ['avg', 'med', 'p(99)', 'max'],
};
export default function () { http.get(`${__ENV.BASE_URL}/`); }
JS
echo "| rate (it/s) | target iterations | started | dropped | achieved ÷ target | p99 start lag | median lag | load |"
echo "|---:|---:|---:|---:|---:|---:|---:|---|"
IFS=, read -ra rs <<<"$RATES"
for rate in "${rs[@]}"; do
  load=$(loadavg)
  t0=$(now_s)
  taskset -c "$GEN_CORE" "$HERD_BIN" run -q --workers "$WORKERS" -e RATE="$rate" -e DURATION="$DURATION" \
    -e BASE_URL="$BASE_URL" --summary-export "$WORK/exp.json" "$WORK/arrival.js" >/dev/null 2>"$WORK/err.txt" &
  pid=$!
  wait "$pid" || true
  t1=$(now_s)
  python3 - "$WORK/exp.json" "$rate" "$secs" "$load" "$t0" "$t1" <<'PY'
import json, sys
exp = json.load(open(sys.argv[1])); rate = float(sys.argv[2]); secs = float(sys.argv[3])
m = exp["metrics"]
target = rate * secs
started = m.get("iterations", {}).get("count", 0)
dropped = m.get("dropped_iterations", {}).get("count", 0)
lag = m.get("iteration_start_lag", {})
print(f"| {rate:.0f} | {target:.0f} | {started:.0f} | {dropped:.0f} | {started / target:.4f} | "
      f"{lag.get('p(99)', float('nan')):.3f} ms | {lag.get('med', float('nan')):.3f} ms | {sys.argv[4]} |")
PY
done
