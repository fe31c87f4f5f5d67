#!/usr/bin/env bash
# Local distributed mode: start skew across N local runners (goal: < 20 ms at
# 64 runners, issue #17) and the coordinator's own CPU cost per runner per snapshot.
#
#   bench/coordinator.sh [--runners "8 32 64"] [--repeats 5] [--duration 10] [--json FILE]
#
# The skew is the coordinator's "start skew" line: with "start at T" the spread
# of the instants the runners report they started (their own clocks, which are
# one clock here); runners without it fall back to the spread of the PATCHes.
# The coordinator polls every runner's /v1/snapshot about once a second; its
# CPU (utime+stime of the coordinator process alone, from /proc, sampled just
# before the test ends) divided by runners × seconds gives the cost per runner
# per snapshot.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNNERS_LIST="8 32 64"
REPEATS=5
DURATION=10
JSON=
while [[ $# -gt 0 ]]; do
  case $1 in
    --runners) RUNNERS_LIST=$2; shift 2 ;;
    --json) JSON=$2; shift 2 ;;
    --repeats) REPEATS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
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
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo -n >"$WORK/rows"
for RUNNERS in $RUNNERS_LIST; do
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
  log "$RUNNERS runners, repeat $r: start skew ${skew:-?} ms, coordinator CPU ${cpu_ms[-1]} ms over ~$((DURATION - 1)) s, load $(loadavg)"
done
echo "$RUNNERS ${skews[*]} | ${cpu_ms[*]}" >>"$WORK/rows"
done
python3 - "$DURATION" "$WORK/rows" "$JSON" <<'PY'
import json, statistics, sys
dur = float(sys.argv[1])
out = {}
print("| runners | start skew min / median / max | coordinator CPU per runner per snapshot (median) | runs |")
print("|---:|---:|---:|---:|")
for line in open(sys.argv[2]):
    a, b = line.split("|")
    n, *sk = a.split()
    n = int(n)
    skews = sorted(float(x) for x in sk)
    per = sorted(float(c) / (n * (dur - 1)) for c in b.split())
    print(f"| {n} | {skews[0]:.2f} / {statistics.median(skews):.2f} / {skews[-1]:.2f} ms | {statistics.median(per):.3f} ms | {len(skews)} |")
    out[str(n)] = {"skew_min_ms": skews[0], "skew_median_ms": statistics.median(skews), "skew_max_ms": skews[-1]}
if sys.argv[3]:
    json.dump(out, open(sys.argv[3], "w"))
PY
