#!/usr/bin/env bash
# What the live web dashboard costs (issue #15): requests/s of herd's bare
# http.get loop with the dashboard off and on, at the same load.
#
#   bench/dashboard.sh [--duration SECONDS] [--repeats N] [--vus N] [--json FILE]
#
# off: no dashboard. on: K6_WEB_DASHBOARD=true on 127.0.0.1 with a free port
# (K6_WEB_DASHBOARD_PORT=0, the port herd prints), K6_WEB_DASHBOARD_PERIOD=1s,
# and one SSE client (`curl -N .../events`, pinned to the target's core)
# connected for the whole run; a run whose client got no update is FAILED.
# One `herd target --threads 1` on core $TARGET_CORE (1), herd `--workers 1` on
# core $GEN_CORE (0): the dashboard's thread shares herd's core. Repeats
# alternate the order; prints min/median/max req/s per variant and on/off.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

DURATION=10 REPEATS=5 VUS=50 JSON_OUT=
while [[ $# -gt 0 ]]; do
  case $1 in
    --duration) DURATION=${2%s}; shift 2 ;;
    --repeats) REPEATS=$2; shift 2 ;;
    --vus) VUS=$2; shift 2 ;;
    --json) JSON_OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) die "unknown argument $1" ;;
  esac
done
[[ $DURATION =~ ^[0-9]+$ ]] && (( DURATION >= 4 )) || die "--duration must be an integer >= 4 (seconds)"
[[ $REPEATS =~ ^[0-9]+$ ]] && (( REPEATS >= 1 )) || die "--repeats must be a positive integer"
[[ $VUS =~ ^[0-9]+$ ]] && (( VUS >= 1 )) || die "--vus must be a positive integer"
command -v curl >/dev/null || die "curl not found"
ulimit -n 65536 2>/dev/null || true

cat >"$WORK/get.js" <<'JS'
import http from 'k6/http';
export default function () { http.get(__ENV.URL); }
JS

log "uptime: $(uptime)"
start_target 1
URL=$BASE_URL/
RESULTS=$WORK/results.tsv
: >"$RESULTS"

# run_variant VARIANT REP -> appends "variant rep req/s gen_cpu% errors sse_updates"
run_variant() {
  local v=$1 rep=$2 out=$WORK/$1.$2.out sse=$WORK/sse.$1.$2 pid cpid= g0 g1 s0 s1 rps err dash= i updates=0
  local -a envs=()
  [[ $v == on ]] && envs=(K6_WEB_DASHBOARD=true K6_WEB_DASHBOARD_HOST=127.0.0.1 K6_WEB_DASHBOARD_PORT=0
                          K6_WEB_DASHBOARD_PERIOD=1s)
  env "${envs[@]}" taskset -c "$GEN_CORE" "$HERD_BIN" run --workers 1 -u "$VUS" -d "${DURATION}s" -q \
    -e URL="$URL" --summary-export "$WORK/herd.$v.$rep.json" "$WORK/get.js" >"$out" 2>&1 &
  pid=$!
  _BG_PIDS+=("$pid")
  if [[ $v == on ]]; then
    # herd logs "web dashboard: http://127.0.0.1:PORT" once the server listens (within 10 s)
    for i in $(seq 100); do
      dash=$(grep -o 'web dashboard: http://[0-9.:]*' "$out" | head -1 | sed 's/^web dashboard: //') || true
      [[ -n $dash ]] && break
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    [[ -n $dash ]] || die "no dashboard address from herd: $(tail -5 "$out")"
    # the browser: an SSE client for the whole run (bounded)
    taskset -c "$TARGET_CORE" curl -sN -m $((DURATION + 30)) "$dash/events" >"$sse" 2>/dev/null &
    cpid=$!
    _BG_PIDS+=("$cpid")
  fi
  sleep 1
  g0=$(cpu_ticks "$pid"); s0=$(now_s)
  sleep $((DURATION - 2))
  g1=$(cpu_ticks "$pid"); s1=$(now_s)
  local t=0; while kill -0 "$pid" 2>/dev/null && (( t < 600 )); do sleep 0.1; t=$((t+1)); done
  kill -0 "$pid" 2>/dev/null && { kill -9 "$pid"; log "$v hung, killed"; }
  wait "$pid" || log "$v: herd exited non-zero: $(tail -3 "$out")"
  if [[ -n $cpid ]]; then
    # the stream ends when herd exits; bounded by curl -m in any case
    wait "$cpid" 2>/dev/null || true
    updates=$(grep -c '^event: update' "$sse" || true)
  fi
  read -r rps err < <(python3 - "$WORK/herd.$v.$rep.json" <<'PY'
import json, sys
try:
    m = json.load(open(sys.argv[1]))["metrics"]
    print(m["http_reqs"]["rate"], int(m.get("http_req_failed", {}).get("passes", 0)))
except Exception:
    print("nan 0")
PY
)
  local gcpu
  gcpu=$(python3 -c "print(round(100*($g1-$g0)/$CLK_TCK/($s1-$s0),1))")
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$v" "$rep" "$rps" "$gcpu" "$err" "$updates" >>"$RESULTS"
  log "rep $rep $v: $rps req/s, generator cpu ${gcpu}%, errors $err, SSE updates $updates (load $(loadavg))"
}

for ((r = 1; r <= REPEATS; r++)); do
  if (( r % 2 )); then run_variant off "$r"; sleep 1; run_variant on "$r"
  else run_variant on "$r"; sleep 1; run_variant off "$r"; fi
  sleep 1
done
stop_target

python3 - "$RESULTS" "$DURATION" "$REPEATS" "$VUS" "$(loadavg)" "${JSON_OUT:-}" <<'PY'
import json, statistics, sys
path, dur, reps, vus, load, json_out = sys.argv[1:7]
rows = [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]
res = {}
for v in ("off", "on"):
    rr = [r for r in rows if r[0] == v]
    rps = [float(r[2]) for r in rr]
    gcpu = [float(r[3]) for r in rr]
    eff = [float(r[2]) / (float(r[3]) / 100) for r in rr if float(r[3]) > 0]
    # "on" counts only when its SSE client got updates: the dashboard was really serving
    bad = [int(r[1]) for r in rr if v == "on" and int(r[5]) < 1]
    res[v] = {"ok": not bad, "failed_runs": bad, "rps_all": rps,
              "rps_min": min(rps), "rps_median": statistics.median(rps), "rps_max": max(rps),
              "gen_cpu_pct_median": statistics.median(gcpu),
              "req_per_gen_cpu_s_median": statistics.median(eff) if eff else float("nan"),
              "errors": sum(int(float(r[4])) for r in rr), "sse_updates": [int(r[5]) for r in rr]}
off, on = res["off"], res["on"]
ratio = on["rps_median"] / off["rps_median"] if on["ok"] and off["rps_median"] > 0 else None
eff_ratio = on["req_per_gen_cpu_s_median"] / off["req_per_gen_cpu_s_median"] if on["ok"] else None
print(f"\ndashboard: {vus} VUs, {dur} s per run, {reps} runs each, period 1s, one SSE client; load avg now {load}")
print("| dashboard | min req/s | median req/s | max req/s | generator CPU % | req per generator CPU-second | SSE updates per run |")
print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
for v, x in res.items():
    ups = "-" if v == "off" else ", ".join(map(str, x["sse_updates"])) + ("" if x["ok"] else f" **FAILED** in {x['failed_runs']}")
    print(f"| {v} | {x['rps_min']:.0f} | {x['rps_median']:.0f} | {x['rps_max']:.0f} | {x['gen_cpu_pct_median']:.0f} | "
          f"{x['req_per_gen_cpu_s_median']:.0f} | {ups} |")
if ratio is None:
    print("on/off: FAILED (the SSE client got no update in some run)")
else:
    print(f"on/off: {ratio:.3f} (median req/s), {eff_ratio:.3f} (req per generator CPU-second)")
errs = {v: x["errors"] for v, x in res.items() if x["errors"]}
if errs: print(f"warning: failed requests: {errs}")
if off["gen_cpu_pct_median"] < 90:
    print("warning: herd was below 90% of its core without the dashboard: the machine was probably loaded (see load avg)")
if json_out:
    json.dump({"duration_s": int(dur), "repeats": int(reps), "vus": int(vus), "loadavg_end": load,
               "ratio_on_off": ratio, "cpu_eff_ratio_on_off": eff_ratio, "variants": res}, open(json_out, "w"), indent=1)
PY
