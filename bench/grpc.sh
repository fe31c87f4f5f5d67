#!/usr/bin/env bash
# gRPC unary calls per second on one core (issue #16): herd's k6/net/grpc loop
# (bench/grpc_unary.js) beside ghz and a python3-grpcio baseline
# (bench/grpc_peer.py), all calling herd.demo.Demo/Echo on `herd target
# --grpc-listen` in the same run.
#
#   bench/grpc.sh [--duration SECONDS] [--repeats N] [--conns N] [--json FILE]
#
# The target (both listeners on free loopback ports) runs on core $TARGET_CORE
# (1), each client on core $GEN_CORE (0) with --conns callers that each keep
# one call in flight: herd `--workers 1` with --conns VUs (one channel per VU,
# the service found by reflection); ghz `--cpus 1 -c CONNS` (reflection, one
# connection); the Python client, CONNS tasks on one channel. ghz is taken from
# $GHZ, PATH or ~/.cache/herd-bench/bin (built with `GOBIN=~/.cache/herd-bench/bin
# GOFLAGS=-mod=mod go install github.com/bojand/ghz/cmd/ghz@v0.120.0`); without
# it the ghz column is skipped with a message. herd's figure is its checks'
# passes (one per call answered OK) over --duration; ghz's its OK calls over its
# total time (the calls it cancels at its end are not counted as errors); the
# baseline's its count over its loop time. Also client CPU % and calls per
# client CPU-second. Prints min/median/max per client; the order rotates.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

DURATION=10 REPEATS=3 CONNS=50 JSON_OUT=
while [[ $# -gt 0 ]]; do
  case $1 in
    --duration) DURATION=${2%s}; shift 2 ;;
    --repeats) REPEATS=$2; shift 2 ;;
    --conns) CONNS=$2; shift 2 ;;
    --json) JSON_OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) die "unknown argument $1" ;;
  esac
done
[[ $DURATION =~ ^[0-9]+$ ]] && (( DURATION >= 3 )) || die "--duration must be an integer >= 3 (seconds)"
[[ $REPEATS =~ ^[0-9]+$ ]] && (( REPEATS >= 1 )) || die "--repeats must be a positive integer"
[[ $CONNS =~ ^[0-9]+$ ]] && (( CONNS >= 1 )) || die "--conns must be a positive integer"
PY=/usr/bin/python3
CLIENTS=(herd)
GHZ=${GHZ:-$(command -v ghz || true)}
[[ -z $GHZ && -x $HOME/.cache/herd-bench/bin/ghz ]] && GHZ=$HOME/.cache/herd-bench/bin/ghz
if [[ -n $GHZ && -x $GHZ ]]; then CLIENTS+=(ghz); log "ghz: $GHZ ($("$GHZ" --version 2>&1 | head -1))"
else log "ghz not found (\$GHZ, PATH, ~/.cache/herd-bench/bin): its column is skipped"; fi
if $PY -c 'import grpc' 2>/dev/null; then CLIENTS+=(python)
else log "python3-grpcio missing (Debian package python3-grpcio): the baseline column is skipped"; fi
ulimit -n 65536 2>/dev/null || true

log "uptime: $(uptime)"
UPTIME_START=$(uptime)
start_grpc_target
log "target pid $TARGET_PID on core $TARGET_CORE: gRPC $ADDR"
RESULTS=$WORK/results.tsv
: >"$RESULTS"

# measure PID SECONDS -> "client_cpu% server_cpu%" over the middle of the run
measure() {
  local pid=$1 g0 g1 s0 s1 t0 t1
  sleep 1
  g0=$(cpu_ticks "$pid"); t0=$(cpu_ticks "$TARGET_PID"); s0=$(now_s)
  sleep $(($2 - 1))
  g1=$(cpu_ticks "$pid"); t1=$(cpu_ticks "$TARGET_PID"); s1=$(now_s)
  python3 -c "d=$s1-$s0; print(round(100*($g1-$g0)/$CLK_TCK/d,1), round(100*($t1-$t0)/$CLK_TCK/d,1))"
}

wait_bounded() { # PID NAME: the client ends on its own; killed 60 s after its time
  local t=0
  while kill -0 "$1" 2>/dev/null && (( t < 600 )); do sleep 0.1; t=$((t + 1)); done
  kill -0 "$1" 2>/dev/null && { kill -9 "$1"; log "$2 hung, killed"; }
  wait "$1" || log "$2 exited non-zero: $(tail -3 "$WORK/$2.out" 2>/dev/null)"
}

# run_client herd|ghz|python REP -> appends "client rep calls/s calls client_cpu% server_cpu% errors"
run_client() {
  local c=$1 rep=$2 out=$WORK/$1.$2.out pid cpu calls rate err
  case $c in
    herd) taskset -c "$GEN_CORE" "$HERD_BIN" run --workers 1 -q -e GRPC_ADDR="$ADDR" -e VUS="$CONNS" \
            -e DURATION="${DURATION}s" --summary-export "$WORK/herd.$rep.json" "$BENCH_DIR/grpc_unary.js" >"$out" 2>&1 & ;;
    ghz) taskset -c "$GEN_CORE" "$GHZ" --insecure --cpus 1 --call herd.demo.Demo/Echo -d '{"text":"hello"}' \
           -c "$CONNS" -z "${DURATION}s" --format json -o "$WORK/ghz.$rep.json" "$ADDR" >"$out" 2>&1 & ;;
    python) taskset -c "$GEN_CORE" "$PY" "$BENCH_DIR/grpc_peer.py" "$ADDR" "$CONNS" "$DURATION" >"$out" 2>&1 & ;;
  esac
  pid=$!
  _BG_PIDS+=("$pid")
  cpu=$(measure "$pid" "$DURATION")
  wait_bounded "$pid" "$c"
  read -r rate calls err < <(python3 - "$c" "$out" "$WORK" "$rep" "$DURATION" <<'PY'
import json, sys
c, out, work, rep, dur = sys.argv[1:6]
try:
    if c == "herd":
        k = json.load(open(f"{work}/herd.{rep}.json"))["metrics"]["checks"]
        print(k["passes"] / float(dur), int(k["passes"]), int(k["fails"]))
    elif c == "ghz":
        g = json.load(open(f"{work}/ghz.{rep}.json"))
        ok = g.get("statusCodeDistribution", {}).get("OK", 0)
        # ghz -z cancels the calls in flight when its time is up ("use of closed network
        # connection", "the client connection is closing"): not errors of the target's
        ended = sum(n for e, n in g.get("errorDistribution", {}).items()
                    if "closed network connection" in e or "connection is closing" in e)
        print(ok / (g["total"] / 1e9), ok, g["count"] - ok - ended)
    else:
        d = json.loads([l for l in open(out) if l.startswith("{")][-1])
        print(d["calls"] / d["seconds"], d["calls"], d["errors"])
except Exception as e:
    print("nan nan", f"unreadable:{type(e).__name__}")
PY
)
  [[ $rate == nan ]] && log "$c rep $rep: no counts: $(tail -3 "$out")"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$rep" "$rate" "$calls" $cpu "$err" >>"$RESULTS"
  log "rep $rep $c: $rate calls/s ($calls calls), client cpu $(cut -d' ' -f1 <<<"$cpu")%, target cpu $(cut -d' ' -f2 <<<"$cpu")%, errors $err (load $(loadavg))"
}

for ((r = 1; r <= REPEATS; r++)); do
  n=${#CLIENTS[@]}
  for ((i = 0; i < n; i++)); do run_client "${CLIENTS[$(((i + r - 1) % n))]}" "$r"; sleep 1; done
done

python3 - "$RESULTS" "$DURATION" "$REPEATS" "$CONNS" "$UPTIME_START" "$(uptime)" "${JSON_OUT:-}" <<'PY'
import json, math, statistics, sys
path, dur, reps, conns, up0, up1, json_out = sys.argv[1:8]
rows = [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]
names = {"herd": "herd (k6/net/grpc, --workers 1)", "ghz": "ghz (--cpus 1)", "python": "python3-grpcio baseline (asyncio)"}
res = {}
for c in ("herd", "ghz", "python"):
    rr = [r for r in rows if r[0] == c]
    if not rr:
        continue
    rate = [float(r[2]) for r in rr if not math.isnan(float(r[2]))]
    eff = [float(r[2]) / (float(r[4]) / 100) for r in rr if float(r[4]) > 0 and not math.isnan(float(r[2]))]
    ok = len(rate) == len(rr) and all(r[6] == "0" for r in rr)
    res[c] = {"ok": ok, "calls_per_s_all": rate,
              "calls_per_s_min": min(rate) if rate else None,
              "calls_per_s_median": statistics.median(rate) if rate else None,
              "calls_per_s_max": max(rate) if rate else None, "calls": [r[3] for r in rr], "errors": [r[6] for r in rr],
              "client_cpu_pct_median": statistics.median(float(r[4]) for r in rr),
              "server_cpu_pct_median": statistics.median(float(r[5]) for r in rr),
              "calls_per_client_cpu_s_median": statistics.median(eff) if eff else None}
print(f"\ngrpc: herd.demo.Demo/Echo on herd target --grpc-listen, {conns} callers, {dur} s per run, {reps} runs each")
print(f"uptime at start: {up0.strip()}\nuptime at end:   {up1.strip()}")
if "ghz" not in res:
    print("ghz: not found, column skipped")
print("| client | min calls/s | median calls/s | max calls/s | client CPU % | target CPU % | calls per client CPU-second | errors |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
f = lambda x: "FAILED" if x is None else f"{x:.0f}"
for c, x in res.items():
    print(f"| {names[c]} | {f(x['calls_per_s_min'])} | {f(x['calls_per_s_median'])} | {f(x['calls_per_s_max'])} | "
          f"{x['client_cpu_pct_median']:.0f} | {x['server_cpu_pct_median']:.0f} | {f(x['calls_per_client_cpu_s_median'])} | "
          f"{', '.join(x['errors'])} |")
ratios = {}
for c in ("ghz", "python"):
    h, p = res["herd"]["calls_per_s_median"], res.get(c, {}).get("calls_per_s_median")
    if h and p:
        ratios[f"herd/{c}"] = h / p
        print(f"herd/{c}: {h / p:.2f} (median calls/s)")
if res["herd"]["client_cpu_pct_median"] < 90 and res["herd"]["server_cpu_pct_median"] < 90:
    print("warning: neither herd nor the target was near 100% of its core: the machine was probably loaded (see uptime)")
if json_out:
    json.dump({"duration_s": int(dur), "repeats": int(reps), "conns": int(conns), "uptime_start": up0.strip(),
               "uptime_end": up1.strip(), "ratios": ratios, "clients": res}, open(json_out, "w"), indent=1)
PY
