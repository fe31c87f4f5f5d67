#!/usr/bin/env bash
# Flat memory over a constant-VU run: sample herd's RSS every INTERVAL seconds.
#
#   bench/soak.sh [--duration 600s] [--vus 200] [--sleep 0.1] [--interval 5] [--workers N] [--json FILE]
#
# Script: http.get(`${__ENV.BASE_URL}/`); sleep(SLEEP) at a constant VUS.
# herd on core $GEN_CORE, herd target (--threads 1) on core $TARGET_CORE.
# Prints the RSS series (VmRSS from /proc/PID/status) and:
#   half slope : (mean RSS of 2nd half - mean RSS of 1st half) / (time between the half midpoints), KB/min
#   fit slope  : least-squares slope over the 2nd half, KB/min
# The first sample (t <= INTERVAL, VUs still connecting/warming) is excluded from the halves.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

DURATION=600 VUS=200 SLEEP=0.1 INTERVAL=5 WORKERS=${HERD_WORKERS:-1} JSON_OUT=
while [[ $# -gt 0 ]]; do
  case $1 in
    --duration) d=$2; case $d in *m) DURATION=$(( ${d%m} * 60 )) ;; *) DURATION=${d%s} ;; esac; shift 2 ;;
    --vus) VUS=$2; shift 2 ;;
    --sleep) SLEEP=$2; shift 2 ;;
    --interval) INTERVAL=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --json) JSON_OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) die "unknown argument $1" ;;
  esac
done
(( DURATION >= 4 * INTERVAL )) || die "--duration must be at least 4 intervals"
ulimit -n 65536 2>/dev/null || true

cat >"$WORK/soak.js" <<JS
import http from 'k6/http';
import { sleep } from 'k6';
export default function () { http.get(\`\${__ENV.BASE_URL}/\`); sleep($SLEEP); }
JS

log "uptime: $(uptime)"
start_target 1
taskset -c "$GEN_CORE" "$HERD_BIN" run --workers "$WORKERS" -q -u "$VUS" -d "${DURATION}s" \
  -e BASE_URL="$BASE_URL" --summary-export "$WORK/soak.json" "$WORK/soak.js" >"$WORK/soak.out" 2>&1 &
HP=$!
_BG_PIDS+=("$HP")
SERIES=$WORK/series.tsv
: >"$SERIES"
T0=$(now_s)
next=$INTERVAL
deadline=$((DURATION + 60))
while kill -0 "$HP" 2>/dev/null; do
  el=$(python3 -c "print($(now_s)-$T0)")
  if python3 -c "import sys; sys.exit(0 if $el >= $next else 1)"; then
    r=$(rss_kb "$HP" VmRSS)
    (( next <= DURATION - 1 )) && [[ -n $r ]] && { printf '%d\t%s\n' "$next" "$r" >>"$SERIES"; log "t=${next}s RSS ${r} KB"; }
    next=$((next + INTERVAL))
  fi
  python3 -c "import sys; sys.exit(0 if $el < $deadline else 1)" || { kill "$HP"; log "herd overran, killed"; break; }
  sleep 0.2
done
wait "$HP" || log "herd exited non-zero: $(tail -3 "$WORK/soak.out")"
stop_target

python3 - "$SERIES" "$WORK/soak.json" "$VUS" "$SLEEP" "$DURATION" "$INTERVAL" "$(loadavg)" "${JSON_OUT:-}" <<'PY'
import json, statistics, sys
series, summ, vus, slp, dur, interval, load, json_out = sys.argv[1:9]
interval = int(interval)
pts = [tuple(map(int, l.split())) for l in open(series) if l.strip()]
m = json.load(open(summ))["metrics"]
print(f"\nsoak: {vus} VUs, sleep({slp}), {dur} s; {int(m['http_reqs']['count'])} requests "
      f"({m['http_reqs']['rate']:.0f}/s), {int(m['http_req_failed'].get('passes', 0))} failed; load avg now {load}")
print("RSS series (s:KB): " + " ".join(f"{t}:{r}" for t, r in pts))
use = [p for p in pts if p[0] > interval]
h = len(use) // 2
a, b = use[:h], use[h:]
ta, tb = statistics.mean(t for t, _ in a), statistics.mean(t for t, _ in b)
ra, rb = statistics.mean(r for _, r in a), statistics.mean(r for _, r in b)
half = (rb - ra) / ((tb - ta) / 60)
def fit(p):
    mt = statistics.mean(t for t, _ in p); mr = statistics.mean(r for _, r in p)
    den = sum((t - mt) ** 2 for t, _ in p)
    return 60 * sum((t - mt) * (r - mr) for t, r in p) / den if den else float("nan")
fit2 = fit(b)
print(f"first half mean {ra:.0f} KB, second half mean {rb:.0f} KB, min {min(r for _, r in use)} KB, max {max(r for _, r in use)} KB")
print(f"slope between halves: {half:+.1f} KB/min; least-squares slope of 2nd half: {fit2:+.1f} KB/min")
if json_out:
    json.dump({"vus": int(vus), "duration_s": int(dur), "series": pts, "half_slope_kb_per_min": half,
               "fit2_slope_kb_per_min": fit2, "mean_first_kb": ra, "mean_second_kb": rb}, open(json_out, "w"), indent=1)
PY
