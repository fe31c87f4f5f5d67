#!/usr/bin/env bash
# What an output costs (issue #13): requests/s of herd's bare http.get loop
# without an output and with each of the outputs, at the same load.
#
#   bench/outputs.sh [--duration SECONDS] [--repeats N] [--vus N] [--json FILE]
#                    [--variants "none prw-native prw-stats influxdb influxdb-100ms json"]
#
# Variants: none; prw-native (-o experimental-prometheus-rw, trends as native
# histograms); prw-stats (trend stats, the default); influxdb; influxdb-100ms
# (pushInterval=100ms); json (per-sample reference). One `herd target --threads 1`
# on core $TARGET_CORE (1), herd on core $GEN_CORE (0), one /usr/bin/prometheus
# and one /usr/bin/influxd on a third core if there is one (else unpinned), all
# on loopback with their data in the scratch dir. Repeats alternate the variant order. After each run the
# sink is asked how many of the run's requests arrived (by the run's testid tag);
# a variant whose output did not deliver them all is reported FAILED, not as a figure.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

DURATION=10 REPEATS=3 VUS=50 JSON_OUT= VARIANT_ARG="none prw-native prw-stats influxdb influxdb-100ms json"
while [[ $# -gt 0 ]]; do
  case $1 in
    --duration) DURATION=${2%s}; shift 2 ;;
    --repeats) REPEATS=$2; shift 2 ;;
    --vus) VUS=$2; shift 2 ;;
    --json) JSON_OUT=$2; shift 2 ;;
    --variants) VARIANT_ARG=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) die "unknown argument $1" ;;
  esac
done
[[ $DURATION =~ ^[0-9]+$ ]] && (( DURATION >= 3 )) || die "--duration must be an integer >= 3 (seconds)"
[[ $REPEATS =~ ^[0-9]+$ ]] && (( REPEATS >= 1 )) || die "--repeats must be a positive integer"
[[ $VUS =~ ^[0-9]+$ ]] && (( VUS >= 1 )) || die "--vus must be a positive integer"
PROMETHEUS=${PROMETHEUS:-/usr/bin/prometheus}
INFLUXD=${INFLUXD:-/usr/bin/influxd}
[[ -x $PROMETHEUS ]] || die "$PROMETHEUS not found (Debian package prometheus; scripts/install-deps.sh)"
[[ -x $INFLUXD ]] || die "$INFLUXD not found (Debian package influxdb; scripts/install-deps.sh)"
ulimit -n 65536 2>/dev/null || true

read -r -a VARIANTS <<<"$VARIANT_ARG"
for v in "${VARIANTS[@]}"; do
  case $v in none|prw-native|prw-stats|influxdb|influxdb-100ms|json) ;; *) die "unknown variant $v (none prw-native prw-stats influxdb influxdb-100ms json)" ;; esac
done
(( ${#VARIANTS[@]} > 0 )) || die "--variants is empty"
SINK_CORE=${SINK_CORE:-}
if [[ -z $SINK_CORE ]] && (( $(nproc) >= 3 )); then SINK_CORE=2; fi
# Run in the background as `sink_run ... &`: exec, so that $! is the server's own pid (for
# its CPU ticks and for the cleanup's kill), not a subshell's.
sink_run() { if [[ -n $SINK_CORE ]]; then exec taskset -c "$SINK_CORE" "$@"; else exec "$@"; fi; }

# A free loopback port (the kernel's pick; released before the server binds it).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# http_code URL -> HTTP status (000 when nothing answered)
http_code() { curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" || true; }

cat >"$WORK/get.js" <<'JS'
import http from 'k6/http';
export default function () { http.get(__ENV.URL); }
JS

log "uptime: $(uptime)"

# --- Prometheus: no scrape jobs, remote-write receiver, native histograms.
PROM_PORT=$(free_port)
mkdir -p "$WORK/prom"
printf 'global:\n  scrape_interval: 1h\n' >"$WORK/prom/prometheus.yml"
sink_run "$PROMETHEUS" --config.file="$WORK/prom/prometheus.yml" --storage.tsdb.path="$WORK/prom/data" \
  --web.listen-address="127.0.0.1:$PROM_PORT" --web.enable-remote-write-receiver \
  --enable-feature=native-histograms >"$WORK/prom/prometheus.log" 2>&1 &
PROM_PID=$!
_BG_PIDS+=("$PROM_PID")

# --- InfluxDB 1.x: loopback HTTP and RPC, dirs in $WORK, no reporting/monitor.
INFLUX_PORT=$(free_port)
INFLUX_RPC=$(free_port)
while [[ $INFLUX_RPC == "$INFLUX_PORT" || $INFLUX_RPC == "$PROM_PORT" ]]; do INFLUX_RPC=$(free_port); done
mkdir -p "$WORK/influx"
cat >"$WORK/influx/influxd.conf" <<EOF
reporting-disabled = true
bind-address = "127.0.0.1:$INFLUX_RPC"
[meta]
  dir = "$WORK/influx/meta"
[data]
  dir = "$WORK/influx/data"
  wal-dir = "$WORK/influx/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:$INFLUX_PORT"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
EOF
sink_run "$INFLUXD" -config "$WORK/influx/influxd.conf" >"$WORK/influx/influxd.log" 2>&1 &
INFLUX_PID=$!
_BG_PIDS+=("$INFLUX_PID")

# Both must answer within 60 s.
for i in $(seq 600); do
  p=$(http_code "http://127.0.0.1:$PROM_PORT/-/ready")
  f=$(http_code "http://127.0.0.1:$INFLUX_PORT/ping")
  [[ $p == 200 && $f == 204 ]] && break
  kill -0 "$PROM_PID" 2>/dev/null || die "prometheus exited: $(tail -5 "$WORK/prom/prometheus.log")"
  kill -0 "$INFLUX_PID" 2>/dev/null || die "influxd exited: $(tail -5 "$WORK/influx/influxd.log")"
  sleep 0.1
done
[[ $p == 200 ]] || die "prometheus not ready within 60 s: $(tail -5 "$WORK/prom/prometheus.log")"
[[ $f == 204 ]] || die "influxd did not answer /ping within 60 s: $(tail -5 "$WORK/influx/influxd.log")"
log "prometheus pid $PROM_PID on 127.0.0.1:$PROM_PORT, influxd pid $INFLUX_PID on 127.0.0.1:$INFLUX_PORT (core ${SINK_CORE:-any})"

start_target 1
URL=$BASE_URL/
RESULTS=$WORK/results.tsv
: >"$RESULTS"

# delivered VARIANT TESTID -> what the sink holds for this run (0 when nothing)
delivered() {
  local v=$1 id=$2
  case $v in
    none) echo 0 ;;
    prw-*) curl -s -m 10 "http://127.0.0.1:$PROM_PORT/api/v1/query" \
             --data-urlencode "query=sum(k6_http_reqs_total{testid=\"$id\"})" |
           python3 -c 'import json,sys
try:
    r = json.load(sys.stdin)["data"]["result"]; print(float(r[0]["value"][1]) if r else 0)
except Exception: print(0)' ;;
    influxdb*) curl -s -m 10 -G "http://127.0.0.1:$INFLUX_PORT/query" --data-urlencode "db=bench" \
                --data-urlencode "q=SELECT count(\"value\") FROM \"http_reqs\" WHERE \"testid\"='$id'" |
              python3 -c 'import json,sys
try:
    s = json.load(sys.stdin)["results"][0].get("series", []); print(sum(x["values"][0][1] for x in s))
except Exception: print(0)' ;;
    # lines '{"type":"Point",...,"metric":"http_reqs"}' (grep: python is too slow for 1e6 lines)
    json) grep -F '{"type":"Point"' "$WORK/points.$id.json" 2>/dev/null | grep -cF '"metric":"http_reqs"}' || true ;;
  esac
}

# run_variant VARIANT REP -> appends
#   "variant rep req/s gen_cpu% sink_cpu% errors http_reqs delivered wall_s"
run_variant() {
  local v=$1 rep=$2 id=$1-$2 out=$WORK/$1.$2.out pid g0 g1 k0 k1 s0 s1 w0 w1 rps err reqs got
  local -a args=(run --workers 1 -u "$VUS" -d "${DURATION}s" -q -e URL="$URL" --tag "testid=$id"
                 --summary-export "$WORK/herd.$id.json")
  local -a envs=()
  case $v in
    none) ;;
    prw-native|prw-stats)
      args+=(-o experimental-prometheus-rw)
      envs=(K6_PROMETHEUS_RW_SERVER_URL="http://127.0.0.1:$PROM_PORT/api/v1/write" K6_PROMETHEUS_RW_PUSH_INTERVAL=1s)
      [[ $v == prw-native ]] && envs+=(K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM=true) ;;
    influxdb) args+=(--out "influxdb=http://127.0.0.1:$INFLUX_PORT/bench") ;;
    # pushes 10x as often: smaller writes (one 1 s batch at ~40k req/s is over influxd's
    # default max-body-size of 25 MB and gets HTTP 413)
    influxdb-100ms) args+=(--out "influxdb=http://127.0.0.1:$INFLUX_PORT/bench?pushInterval=100ms") ;;
    json) args+=(--out "json=$WORK/points.$id.json") ;;
    *) die "unknown variant $v" ;;
  esac
  w0=$(now_s)
  env "${envs[@]}" taskset -c "$GEN_CORE" "$HERD_BIN" "${args[@]}" "$WORK/get.js" >"$out" 2>&1 &
  pid=$!
  _BG_PIDS+=("$pid")
  sleep 1
  g0=$(cpu_ticks "$pid"); k0=$(( $(cpu_ticks "$PROM_PID") + $(cpu_ticks "$INFLUX_PID") )); s0=$(now_s)
  sleep $((DURATION - 2))
  g1=$(cpu_ticks "$pid"); k1=$(( $(cpu_ticks "$PROM_PID") + $(cpu_ticks "$INFLUX_PID") )); s1=$(now_s)
  # bounded: herd stops after DURATION (+ its output's final flush); 60 s grace
  local t=0; while kill -0 "$pid" 2>/dev/null && (( t < 600 )); do sleep 0.1; t=$((t+1)); done
  kill -0 "$pid" 2>/dev/null && { kill -9 "$pid"; log "$v hung, killed"; }
  wait "$pid" || log "$v: herd exited non-zero: $(tail -3 "$out")"
  w1=$(now_s)
  grep -iE 'influxdb|prometheus-rw|json|dropped|error' "$out" | head -5 | sed "s/^/[$v herd] /" >&2 || true
  read -r rps err reqs < <(python3 - "$WORK/herd.$id.json" <<'PY'
import json, sys
try:
    m = json.load(open(sys.argv[1]))["metrics"]
    f = m.get("http_req_failed", {})
    print(m["http_reqs"]["rate"], int(f.get("passes", 0)), int(m["http_reqs"]["count"]))
except Exception:
    print("nan 0 0")
PY
)
  sleep 0.5  # let the sink make the last write visible
  got=$(delivered "$v" "$id")
  rm -f "$WORK/points.$id.json"  # ~200 bytes per sample
  local gcpu kcpu wall
  gcpu=$(python3 -c "print(round(100*($g1-$g0)/$CLK_TCK/($s1-$s0),1))")
  kcpu=$(python3 -c "print(round(100*($k1-$k0)/$CLK_TCK/($s1-$s0),1))")
  wall=$(python3 -c "print(round($w1-$w0,2))")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$v" "$rep" "$rps" "$gcpu" "$kcpu" "$err" "$reqs" "$got" "$wall" >>"$RESULTS"
  log "rep $rep $v: $rps req/s, generator cpu ${gcpu}%, sinks cpu ${kcpu}%, errors $err, http_reqs $reqs, sink holds $got, wall ${wall}s (load $(loadavg))"
}

for ((r = 1; r <= REPEATS; r++)); do
  n=${#VARIANTS[@]}
  for ((i = 0; i < n; i++)); do
    # odd repeats forwards, even repeats backwards, each rotated by the repeat
    if (( r % 2 )); then j=$(((i + r - 1) % n)); else j=$(((n - 1 - i + r - 1) % n)); fi
    run_variant "${VARIANTS[$j]}" "$r"
    sleep 1
  done
done
stop_target

python3 - "$RESULTS" "$DURATION" "$REPEATS" "$VUS" "$(loadavg)" "${JSON_OUT:-}" "${SINK_CORE:-unpinned}" <<'PY'
import json, math, statistics, sys
path, dur, reps, vus, load, json_out, sink_core = sys.argv[1:8]
rows = [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]
order = ["none", "prw-native", "prw-stats", "influxdb", "influxdb-100ms", "json"]
res = {}
for v in order:
    rr = [r for r in rows if r[0] == v]
    if not rr: continue
    rps = [float(r[2]) for r in rr]
    gcpu = [float(r[3]) for r in rr]
    # an output works when every request of every run reached the sink (none has no sink):
    # a sink holding only the first few points (the rest dropped) is not a working output
    bad_runs = [int(r[1]) for r in rr if v != "none" and not (0 < int(r[6]) <= float(r[7]))]
    ok = not bad_runs
    res[v] = {
        "ok": ok,
        "failed_runs": bad_runs,
        "rps_median": statistics.median(rps),
        "rps_all": rps,
        "gen_cpu_pct_median": statistics.median(gcpu),
        "sink_cpu_pct_median": statistics.median(float(r[4]) for r in rr),
        "req_per_gen_cpu_s_median": statistics.median(
            float(r[2]) / (float(r[3]) / 100) if float(r[3]) > 0 else float("nan") for r in rr),
        "errors": sum(int(float(r[5])) for r in rr),
        "http_reqs": [int(r[6]) for r in rr],
        "delivered": [float(r[7]) for r in rr],
        "wall_s_median": statistics.median(float(r[8]) for r in rr),
    }
base = res.get("none")
for v, x in res.items():
    x["ratio_to_none"] = (x["rps_median"] / base["rps_median"]) if base and base["rps_median"] > 0 and x["ok"] else None
    x["cpu_eff_ratio_to_none"] = (x["req_per_gen_cpu_s_median"] / base["req_per_gen_cpu_s_median"]
                                  if base and x["ok"] else None)
print(f"\noutputs: {vus} VUs, {dur} s per run, {reps} repeats, sinks on core {sink_core}, load avg now {load}")
print("| variant | median req/s | runs req/s | ratio to none | generator CPU % | req per generator CPU-second "
      "(ratio to none) | sinks CPU % | output check (sink holds / herd http_reqs) | herd wall s |")
print("| --- | ---: | --- | ---: | ---: | ---: | ---: | --- | ---: |")
for v, x in res.items():
    runs = ", ".join(f"{a:.0f}" for a in x["rps_all"])
    if v == "none":
        check = "-"
    else:
        what = "k6_http_reqs_total" if v.startswith("prw") else "points" if v == "json" else "count"
        check = ", ".join(f"{d:.0f}/{h}" for d, h in zip(x["delivered"], x["http_reqs"])) + f" ({what})"
    if not x["ok"]:
        print(f"| {v} | FAILED | ({runs}) | FAILED | {x['gen_cpu_pct_median']:.0f} | FAILED | {x['sink_cpu_pct_median']:.0f} | "
              f"**FAILED** in run(s) {x['failed_runs']}: {check} | {x['wall_s_median']:.1f} |")
        continue
    ratio = "1" if v == "none" else "-" if x["ratio_to_none"] is None else f"{x['ratio_to_none']:.3f}"
    eff = "" if v == "none" or x["cpu_eff_ratio_to_none"] is None else f" ({x['cpu_eff_ratio_to_none']:.3f})"
    print(f"| {v} | {x['rps_median']:.0f} | {runs} | {ratio} | {x['gen_cpu_pct_median']:.0f} | "
          f"{x['req_per_gen_cpu_s_median']:.0f}{eff} | {x['sink_cpu_pct_median']:.0f} | ok: {check} | {x['wall_s_median']:.1f} |")
errs = {v: x["errors"] for v, x in res.items() if x["errors"]}
if errs: print(f"warning: failed requests: {errs}")
if base and base["gen_cpu_pct_median"] < 90:
    print("warning: herd was below 90% of its core without an output: the machine was probably loaded (see load avg)")
if sink_core == "unpinned":
    print("note: fewer than 3 cores: prometheus and influxd were unpinned and compete with herd and the target")
if json_out:
    json.dump({"duration_s": int(dur), "repeats": int(reps), "vus": int(vus), "loadavg_end": load,
               "sink_core": sink_core, "variants": res}, open(json_out, "w"), indent=1)
PY
