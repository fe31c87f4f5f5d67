#!/usr/bin/env bash
# Time to initialise N VUs (default 10,000): herd run -u N -i N (shared-iterations)
# on a script whose default function does nothing.
#
#   bench/init.sh [--vus 10000] [--repeats 3] [--workers N] [--json FILE]
#
# Method: the script logs Date.now() (ms, wall clock) with console.log at
#   - the init context of VU 0 (herd's options-parsing evaluation),
#   - the init context of VU 1 and of VU N,
#   - setup() (which, as in k6, runs after every VU is initialised),
#   - the first iteration of each VU (__ITER === 0).
# The bash side takes its own wall-clock ms timestamp just before exec'ing herd.
# Reported (median of the repeats):
#   start->first_iter : process start until the first iteration runs (what a user waits)
#   vu_init           : VU 1 init start until setup() starts (= initialising N VUs)
#   baseline          : start->first_iter with 1 VU (process start, script load, JS engine)
#   init_cost         : start->first_iter(N) - baseline(1)   <- compared with the goal (< 1 s)
# plus peak RSS of the run. herd runs on core $GEN_CORE with --workers 1 by default.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

VUS=10000 REPEATS=3 WORKERS=${HERD_WORKERS:-1} JSON_OUT=
while [[ $# -gt 0 ]]; do
  case $1 in
    --vus) VUS=$2; shift 2 ;;
    --repeats) REPEATS=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --json) JSON_OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) die "unknown argument $1" ;;
  esac
done
ulimit -n 65536 2>/dev/null || true

cat >"$WORK/init.js" <<'JS'
const N = Number(__ENV.N_VUS);
if (__VU === 0) console.log(`T init0 ${Date.now()}`);
if (__VU === 1) console.log(`T vu1 ${Date.now()}`);
if (__VU === N) console.log(`T vulast ${Date.now()}`);
export function setup() { console.log(`T setup ${Date.now()}`); }
export default function () { if (__ITER === 0) console.log(`T iter ${Date.now()}`); }
JS

log "uptime: $(uptime)"
RES=$WORK/init.tsv
: >"$RES"

# one_run N REP -> appends "n rep start first_iter_ms vu_init_ms total_ms peak_kb"
one_run() {
  local n=$1 rep=$2 clog=$WORK/console.$1.$2.log t0 t1 peak
  t0=$(date +%s%3N)
  timeout 120 /usr/bin/time -f "%M" -o "$WORK/time.$n.$rep" taskset -c "$GEN_CORE" "$HERD_BIN" run \
    --workers "$WORKERS" -q --no-summary -u "$n" -i "$n" -e N_VUS="$n" \
    --console-output "$clog" "$WORK/init.js" >"$WORK/out.$n.$rep" 2>&1 || log "herd exited non-zero: $(tail -3 "$WORK/out.$n.$rep")"
  t1=$(date +%s%3N)
  peak=$(tail -1 "$WORK/time.$n.$rep")
  python3 - "$clog" "$n" "$rep" "$t0" "$t1" "$peak" >>"$RES" <<'PY'
import re, sys
clog, n, rep, t0, t1, peak = sys.argv[1:7]
t0, t1 = int(t0), int(t1)
ev = {}
for line in open(clog):
    m = re.search(r'T (\w+) (\d+)', line)
    if m:
        ev.setdefault(m.group(1), []).append(int(m.group(2)))
first = min(ev["iter"]); vu1 = min(ev["vu1"]); setup = min(ev["setup"])
print(n, rep, t0, first - t0, setup - vu1, t1 - t0, peak, len(ev["iter"]), sep="\t")
PY
  log "$(tail -1 "$RES" | awk '{printf "%s VUs rep %s: start->first iteration %s ms, VU init %s ms, total %s ms, peak RSS %s KB, %s VUs iterated", $1, $2, $4, $5, $6, $7, $8}') (load $(loadavg))"
}

for ((r = 1; r <= REPEATS; r++)); do
  one_run 1 "$r"
  one_run "$VUS" "$r"
done

python3 - "$RES" "$VUS" "$WORKERS" "$(loadavg)" "${JSON_OUT:-}" <<'PY'
import json, statistics, sys
path, n, workers, load, json_out = sys.argv[1:6]
n = int(n)
rows = [l.split("\t") for l in open(path) if l.strip()]
def med(vus, col):
    return statistics.median(float(r[col]) for r in rows if int(r[0]) == vus)
base = med(1, 3)
first = med(n, 3); vu_init = med(n, 4); total = med(n, 5); peak = med(n, 6)
cost = first - base
print(f"\ninit: herd --workers {workers}, -u {n} -i {n}, empty default function, "
      f"{len([r for r in rows if int(r[0]) == n])} repeats, load avg now {load}")
print("| measure | median ms |\n| --- | ---: |")
print(f"| 1 VU: process start -> first iteration (baseline) | {base:.0f} |")
print(f"| {n} VUs: process start -> first iteration | {first:.0f} |")
print(f"| {n} VUs: VU 1 init -> setup() (all VUs initialised) | {vu_init:.0f} |")
print(f"| {n} VUs: whole run (wall) | {total:.0f} |")
print(f"init cost of {n} VUs (first iteration minus 1-VU baseline): {cost:.0f} ms  "
      f"(goal < 1000 ms: {'MET' if cost < 1000 else 'NOT met'}); per VU {1000 * cost / n:.1f} us; "
      f"peak RSS {peak / 1024:.0f} MB ({peak / n:.0f} KB per VU)")
if json_out:
    json.dump({"vus": n, "baseline_ms": base, "first_iter_ms": first, "vu_init_ms": vu_init,
               "init_cost_ms": cost, "total_ms": total, "peak_rss_kb": peak}, open(json_out, "w"), indent=1)
PY
