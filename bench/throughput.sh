#!/usr/bin/env bash
# Requests/s of a bare http.get loop: herd vs wrk vs hey (or ab), side by side,
# and of the realistic script bench/realistic.js (tool `realistic`: herd running a
# JSON POST to /echo with headers, tags, res.json(), two checks, a Trend add).
#
#   bench/throughput.sh [--duration SECONDS] [--repeats N] [--vus N] [--json FILE] [--tools "herd realistic wrk"]
#
# One `herd target --threads 1` pinned to core $TARGET_CORE (1); each generator
# in turn pinned to core $GEN_CORE (0). Repeats alternate the tool order.
# Reports median req/s, ratios to wrk, and the CPU utilisation of generator and
# target over the steady part of each run (from /proc/PID/stat utime+stime,
# sampled 1 s after start and 1 s before the end), so you can tell which side
# was saturated.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

DURATION=10 REPEATS=3 VUS=50 JSON_OUT= TOOLS=
while [[ $# -gt 0 ]]; do
  case $1 in
    --duration) DURATION=${2%s}; shift 2 ;;
    --repeats) REPEATS=$2; shift 2 ;;
    --vus) VUS=$2; shift 2 ;;
    --json) JSON_OUT=$2; shift 2 ;;
    --tools) TOOLS=$2; shift 2 ;;   # e.g. "herd wrk hey"
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) die "unknown argument $1" ;;
  esac
done
(( DURATION >= 3 )) || die "--duration must be >= 3 s"

if [[ -z $TOOLS ]]; then
  TOOLS="herd realistic"
  command -v wrk >/dev/null && TOOLS+=" wrk"
  if command -v hey >/dev/null; then TOOLS+=" hey"; elif command -v ab >/dev/null; then TOOLS+=" ab"; fi
fi
read -r -a TOOL_LIST <<<"$TOOLS"
ulimit -n 65536 2>/dev/null || true

cat >"$WORK/get.js" <<'JS'
import http from 'k6/http';
export default function () { http.get(__ENV.URL); }
JS
cp "$BENCH_DIR/realistic.js" "$WORK/realistic.js"

log "uptime: $(uptime)"
start_target 1
URL=$BASE_URL/
RESULTS=$WORK/results.tsv
: >"$RESULTS"

# run_tool TOOL REP -> appends "tool rep reqs_per_s gen_cpu% target_cpu% errors"
run_tool() {
  local tool=$1 rep=$2 out=$WORK/$1.$2.out pid g0 g1 x0 x1 s0 s1 rps err=0
  case $tool in
    herd) taskset -c "$GEN_CORE" "$HERD_BIN" run --workers 1 -u "$VUS" -d "${DURATION}s" -q \
            -e URL="$URL" --summary-export "$WORK/herd.$rep.json" "$WORK/get.js" >"$out" 2>&1 & ;;
    realistic) taskset -c "$GEN_CORE" "$HERD_BIN" run --workers 1 -u "$VUS" -d "${DURATION}s" -q \
            -e URL="$BASE_URL" --summary-export "$WORK/realistic.$rep.json" "$WORK/realistic.js" >"$out" 2>&1 & ;;
    wrk)  taskset -c "$GEN_CORE" wrk -t1 -c"$VUS" -d"${DURATION}s" "$URL" >"$out" 2>&1 & ;;
    hey)  taskset -c "$GEN_CORE" hey -z "${DURATION}s" -c "$VUS" "$URL" >"$out" 2>&1 & ;;
    ab)   taskset -c "$GEN_CORE" ab -q -k -c "$VUS" -t "$DURATION" -n 100000000 "$URL" >"$out" 2>&1 & ;;
    *) die "unknown tool $tool" ;;
  esac
  pid=$!
  _BG_PIDS+=("$pid")
  sleep 1
  g0=$(cpu_ticks "$pid"); x0=$(cpu_ticks "$TARGET_PID"); s0=$(now_s)
  sleep $((DURATION - 2))
  g1=$(cpu_ticks "$pid"); x1=$(cpu_ticks "$TARGET_PID"); s1=$(now_s)
  # bounded: the tool stops itself after DURATION; give it 30 s grace
  local t=0; while kill -0 "$pid" 2>/dev/null && (( t < 300 )); do sleep 0.1; t=$((t+1)); done
  kill -0 "$pid" 2>/dev/null && { kill -9 "$pid"; log "$tool hung, killed"; }
  wait "$pid" || log "$tool exited non-zero: $(tail -3 "$out")"
  case $tool in
    herd) read -r rps err < <(python3 - "$WORK/herd.$rep.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
f = m.get("http_req_failed", {})
print(m["http_reqs"]["rate"], int(f.get("passes", 0)))  # passes = failed requests
PY
) ;;
    realistic) read -r rps err < <(python3 - "$WORK/realistic.$rep.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
f, c, t = m.get("http_req_failed", {}), m.get("checks", {}), m.get("bench_echo_wait", {})
n = int(m["http_reqs"]["count"])
# errors: failed requests + failed checks + a run whose checks or Trend samples
# do not match its request count (two checks and one Trend add per request)
err = int(f.get("passes", 0)) + int(c.get("fails", 0))
err += int(c.get("passes", 0)) + int(c.get("fails", 0)) != 2 * n
err += int(t.get("count", n)) != n
print(m["http_reqs"]["rate"], err)
PY
) ;;
    wrk) rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
         err=$(awk '/Non-2xx/ {print $NF}' "$out"); err=${err:-0} ;;
    hey) rps=$(awk '/Requests\/sec:/ {print $2}' "$out")
         err=$(awk '/^Error distribution/ {e=1} e && /\[[0-9]+\]/ {gsub(/[\[\]]/,"",$1); n+=$1} END {print n+0}' "$out") ;;
    ab)  rps=$(awk '/^Requests per second:/ {print $4}' "$out")
         err=$(awk '/^Failed requests:/ {print $3}' "$out") ;;
  esac
  local gcpu tcpu
  gcpu=$(python3 -c "print(round(100*($g1-$g0)/$CLK_TCK/($s1-$s0),1))")
  tcpu=$(python3 -c "print(round(100*($x1-$x0)/$CLK_TCK/($s1-$s0),1))")
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$rep" "${rps:-nan}" "$gcpu" "$tcpu" "${err:-0}" >>"$RESULTS"
  log "rep $rep $tool: ${rps:-nan} req/s, generator cpu ${gcpu}%, target cpu ${tcpu}%, errors ${err:-0} (load $(loadavg))"
}

for ((r = 1; r <= REPEATS; r++)); do
  n=${#TOOL_LIST[@]}
  for ((i = 0; i < n; i++)); do
    run_tool "${TOOL_LIST[$(((i + r - 1) % n))]}" "$r"
    sleep 1
  done
done
stop_target

python3 - "$RESULTS" "$DURATION" "$REPEATS" "$VUS" "$(loadavg)" "${JSON_OUT:-}" <<'PY'
import json, statistics, sys
path, dur, reps, vus, load, json_out = sys.argv[1:7]
rows = [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]
tools = []
for r in rows:
    if r[0] not in tools: tools.append(r[0])
res = {}
for t in tools:
    rr = [r for r in rows if r[0] == t]
    res[t] = {
        "rps_median": statistics.median(float(r[2]) for r in rr),
        "rps_all": [float(r[2]) for r in rr],
        "gen_cpu_pct_median": statistics.median(float(r[3]) for r in rr),
        "target_cpu_pct_median": statistics.median(float(r[4]) for r in rr),
        "errors": sum(int(float(r[5])) for r in rr),
        # requests per second of generator CPU time: robust to a loaded machine
        "req_per_gen_cpu_s_median": statistics.median(
            float(r[2]) / (float(r[3]) / 100) if float(r[3]) > 0 else float("nan") for r in rr),
    }
print(f"\nthroughput: {vus} VUs/connections, {dur} s per run, {reps} repeats, load avg now {load}")
print("| tool | median req/s | runs req/s | generator CPU % | target CPU % | req per generator CPU-second | errors |")
print("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
for t in tools:
    x = res[t]
    print(f"| {t} | {x['rps_median']:.0f} | {', '.join(f'{v:.0f}' for v in x['rps_all'])} | "
          f"{x['gen_cpu_pct_median']:.0f} | {x['target_cpu_pct_median']:.0f} | {x['req_per_gen_cpu_s_median']:.0f} | {x['errors']} |")
ratios = {}
if "herd" in res:
    for other in tools:
        if other not in ("herd", "realistic") and res[other]["rps_median"] > 0:
            ratios[f"herd/{other}"] = res["herd"]["rps_median"] / res[other]["rps_median"]
if "realistic" in res and "wrk" in res and res["wrk"]["rps_median"] > 0:
    ratios["realistic/wrk"] = res["realistic"]["rps_median"] / res["wrk"]["rps_median"]
eff = {}
if "herd" in res:
    for other in tools:
        if other not in ("herd", "realistic"):
            eff[f"herd/{other}"] = res["herd"]["req_per_gen_cpu_s_median"] / res[other]["req_per_gen_cpu_s_median"]
for k, v in eff.items():
    print(f"CPU-efficiency ratio {k} (requests per generator CPU-second) = {v:.3f}")
for t in tools:
    if res[t]["gen_cpu_pct_median"] < 90 and res[t]["target_cpu_pct_median"] < 90:
        print(f"warning: {t}: neither generator nor target was near 100% CPU: the machine was probably loaded (see load avg)")
# Per-repeat ratios: each herd run against the wrk run of the same repeat (minutes
# apart at most), so a load change between repeats moves both sides.
GOALS = {"herd/wrk": 0.9, "realistic/wrk": 0.5}
per_rep = {}
if "wrk" in res:
    wrk = {r[1]: float(r[2]) for r in rows if r[0] == "wrk"}
    for t in tools:
        if t == "wrk": continue
        v = [float(r[2]) / wrk[r[1]] for r in rows if r[0] == t and wrk.get(r[1], 0) > 0]
        if v: per_rep[f"{t}/wrk"] = {"min": min(v), "median": statistics.median(v), "max": max(v), "all": v}
for k, v in ratios.items():
    goal = f"  (goal >= {GOALS[k]}: " + ("MET" if v >= GOALS[k] else "NOT met") + ")" if k in GOALS else ""
    print(f"ratio {k} = {v:.3f} (medians){goal}")
for k, v in per_rep.items():
    goal = f"  (goal >= {GOALS[k]} in every run: " + ("MET" if v["min"] >= GOALS[k] else "NOT met") + ")" if k in GOALS else ""
    print(f"per-repeat ratio {k}: min {v['min']:.3f} / median {v['median']:.3f} / max {v['max']:.3f}{goal}")
if json_out:
    json.dump({"duration_s": int(dur), "repeats": int(reps), "vus": int(vus), "loadavg_end": load,
               "tools": res, "ratios": ratios, "ratios_per_repeat": per_rep,
               "cpu_efficiency_ratios": eff}, open(json_out, "w"), indent=1)
PY
