#!/usr/bin/env bash
# Local distributed mode: start skew across N local runners (goal: p100 < 20 ms
# at 8 runners) and the coordinator's own CPU cost per runner per snapshot.
#
#   bench/coordinator.sh [--runners 8] [--repeats 5] [--duration 10]
#
# The coordinator polls every runner's /v1/snapshot about once a second; its
# CPU (utime+stime of the coordinator process alone, from /proc, sampled just
# before the test ends) divided by runners × seconds gives the cost per runner
# per snapshot.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNNERS=8
REPEATS=5
DURATION=10
while [[ $# -gt 0 ]]; do
  case $1 in
    --runners) RUNNERS=$2; shift 2 ;;
    --repeats) REPEATS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) die "unknown argument $1" ;;
  esac
done
start_target 1
cat >"$WORK/c.js" <<'JS'
import http from 'k6/http';
import { sleep } from 'k6';
export const options = { vus: 16, duration: __ENV.DUR };
export default function () { http.get(`${__ENV.BASE_URL}/`); sleep(0.1); }
JS
skews=()
cpu_ms=()
for r in $(seq "$REPEATS"); do
  "$HERD_BIN" run --parallelism "$RUNNERS" --no-summary -e DUR="${DURATION}s" -e BASE_URL="$BASE_URL" "$WORK/c.js" \
    >"$WORK/out.txt" 2>"$WORK/err.txt" &
  pid=$!
  sleep $(( DURATION - 1 ))
  ticks=$(cpu_ticks "$pid")
  wait "$pid" || true
  skew=$(sed -n 's/.*start skew \([0-9.]*\) ms.*/\1/p' "$WORK/err.txt" | head -1)
  skews+=("${skew:-nan}")
  cpu_ms+=("$(python3 -c "print(round($ticks * 1000 / $CLK_TCK, 1))")")
  log "repeat $r: start skew ${skew:-?} ms, coordinator CPU ${cpu_ms[-1]} ms over ~$((DURATION - 1)) s"
done
python3 - "$RUNNERS" "$DURATION" "${skews[*]}" "${cpu_ms[*]}" <<'PY'
import sys
n, dur = int(sys.argv[1]), float(sys.argv[2])
skews = [float(x) for x in sys.argv[3].split()]
cpu = [float(x) for x in sys.argv[4].split()]
per = [c / (n * (dur - 1)) for c in cpu]
print(f"| runners | start skew p100 over {len(skews)} runs | median skew | coordinator CPU per runner per snapshot |")
print("|---:|---:|---:|---:|")
print(f"| {n} | {max(skews):.2f} ms | {sorted(skews)[len(skews)//2]:.2f} ms | {sorted(per)[len(per)//2]:.3f} ms |")
PY
