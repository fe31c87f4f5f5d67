#!/usr/bin/env bash
# WebSocket messages per second on one core (issue #16): herd's k6/ws echo loop
# (bench/ws_echo.js) beside a peer client, python3-websockets (bench/ws_peer.py),
# doing the same loop against the same plain echo server in the same run.
#
#   bench/ws.sh [--duration SECONDS] [--repeats N] [--conns N] [--size BYTES]
#               [--server target|python] [--json FILE]
#
# Each of --conns sockets keeps one SIZE-byte text message in flight: send, wait
# for the echo, send the next, for --duration seconds. The echo server runs on
# core $TARGET_CORE (1): `herd target`'s GET /ws route (default), or a
# python3-websockets echo server (--server python). The client runs on core
# $GEN_CORE (0): herd `--workers 1`, then the Python client (order alternates
# per repeat). herd's figure is ws_msgs_received (and _sent) from its
# --summary-export divided by --duration; the peer's is its own count over its
# own loop time. Also: client CPU % and messages per client CPU-second (the
# figure that holds up on a loaded machine). Prints min/median/max per client.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

DURATION=10 REPEATS=3 CONNS=50 SIZE=32 SERVER=target JSON_OUT=
while [[ $# -gt 0 ]]; do
  case $1 in
    --duration) DURATION=${2%s}; shift 2 ;;
    --repeats) REPEATS=$2; shift 2 ;;
    --conns) CONNS=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --server) SERVER=$2; shift 2 ;;
    --json) JSON_OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) die "unknown argument $1" ;;
  esac
done
[[ $DURATION =~ ^[0-9]+$ ]] && (( DURATION >= 3 )) || die "--duration must be an integer >= 3 (seconds)"
[[ $REPEATS =~ ^[0-9]+$ ]] && (( REPEATS >= 1 )) || die "--repeats must be a positive integer"
[[ $CONNS =~ ^[0-9]+$ ]] && (( CONNS >= 1 )) || die "--conns must be a positive integer"
[[ $SIZE =~ ^[0-9]+$ ]] && (( SIZE >= 1 )) || die "--size must be a positive integer (bytes)"
[[ $SERVER == target || $SERVER == python ]] || die "--server must be target or python"
PY=/usr/bin/python3
$PY -c 'import websockets' 2>/dev/null || die "python3-websockets is missing (Debian package python3-websockets)"
ulimit -n 65536 2>/dev/null || true

log "uptime: $(uptime)"
UPTIME_START=$(uptime)
if [[ $SERVER == target ]]; then
  start_target 1
  WS_URL=ws://${BASE_URL#http://}/ws
  SERVER_PID=$TARGET_PID
else
  taskset -c "$TARGET_CORE" "$PY" "$BENCH_DIR/ws_peer.py" server >"$WORK/server.out" 2>&1 &
  SERVER_PID=$!
  _BG_PIDS+=("$SERVER_PID")
  WS_URL=
  for _ in $(seq 100); do
    WS_URL=$(sed -n 's/^listening on //p' "$WORK/server.out")
    [[ -n $WS_URL ]] && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "the python echo server exited: $(cat "$WORK/server.out")"
    sleep 0.05
  done
  [[ -n $WS_URL ]] || die "the python echo server did not start"
  log "python3-websockets echo server pid $SERVER_PID on core $TARGET_CORE: $WS_URL"
fi
RESULTS=$WORK/results.tsv
: >"$RESULTS"

# measure PID SECONDS -> "client_cpu% server_cpu%" over the middle of the run
measure() {
  local pid=$1 g0 g1 s0 s1 t0 t1
  sleep 1
  g0=$(cpu_ticks "$pid"); t0=$(cpu_ticks "$SERVER_PID"); s0=$(now_s)
  sleep $(($2 - 1))
  g1=$(cpu_ticks "$pid"); t1=$(cpu_ticks "$SERVER_PID"); s1=$(now_s)
  python3 -c "d=$s1-$s0; print(round(100*($g1-$g0)/$CLK_TCK/d,1), round(100*($t1-$t0)/$CLK_TCK/d,1))"
}

# wait_bounded PID NAME: the client ends on its own; kill it 60 s after its time
wait_bounded() {
  local t=0
  while kill -0 "$1" 2>/dev/null && (( t < 600 )); do sleep 0.1; t=$((t + 1)); done
  kill -0 "$1" 2>/dev/null && { kill -9 "$1"; log "$2 hung, killed"; }
  wait "$1" || log "$2 exited non-zero"
}

# run_client herd|python REP -> appends "client rep msgs/s sent received client_cpu% server_cpu% errors"
run_client() {
  local c=$1 rep=$2 out=$WORK/$1.$2.out pid cpu sent recv secs err
  if [[ $c == herd ]]; then
    taskset -c "$GEN_CORE" "$HERD_BIN" run --workers 1 -q -e WS_URL="$WS_URL" -e VUS="$CONNS" \
      -e HOLD_S="$DURATION" -e SIZE="$SIZE" --summary-export "$WORK/herd.$rep.json" \
      "$BENCH_DIR/ws_echo.js" >"$out" 2>&1 &
  else
    taskset -c "$GEN_CORE" "$PY" "$BENCH_DIR/ws_peer.py" client "$WS_URL" "$CONNS" "$DURATION" "$SIZE" >"$out" 2>&1 &
  fi
  pid=$!
  _BG_PIDS+=("$pid")
  cpu=$(measure "$pid" "$DURATION")
  wait_bounded "$pid" "$c"
  read -r sent recv secs err < <(python3 - "$c" "$out" "$WORK/herd.$rep.json" "$DURATION" "$CONNS" <<'PY'
import json, sys
c, out, summary, dur, conns = sys.argv[1:6]
try:
    if c == "herd":
        m = json.load(open(summary))["metrics"]
        sent, recv = m["ws_msgs_sent"]["count"], m["ws_msgs_received"]["count"]
        # every socket opened (a refused one is not a session) and none lost more than its one message
        err = abs(int(conns) - int(m.get("ws_sessions", {}).get("count", 0))) + int(sent - recv > int(conns))
        print(int(sent), int(recv), dur, err)
    else:
        d = json.loads([l for l in open(out) if l.startswith("{")][-1])
        print(d["sent"], d["received"], d["seconds"], d["errors"])
except Exception as e:
    print("nan nan", dur, f"unreadable:{type(e).__name__}")
PY
)
  [[ $recv == nan ]] && log "$c rep $rep: no counts: $(tail -3 "$out")"
  local rate
  rate=$(python3 -c "print(round(float('$recv')/float('$secs'),1))")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$c" "$rep" "$rate" "$sent" "$recv" $cpu "$err" >>"$RESULTS"
  log "rep $rep $c: $rate msgs/s received ($sent sent, $recv received), client cpu $(cut -d' ' -f1 <<<"$cpu")%, server cpu $(cut -d' ' -f2 <<<"$cpu")%, errors $err (load $(loadavg))"
}

for ((r = 1; r <= REPEATS; r++)); do
  if (( r % 2 )); then run_client herd "$r"; sleep 1; run_client python "$r"
  else run_client python "$r"; sleep 1; run_client herd "$r"; fi
  sleep 1
done

python3 - "$RESULTS" "$DURATION" "$REPEATS" "$CONNS" "$SIZE" "$SERVER" "$UPTIME_START" "$(uptime)" "${JSON_OUT:-}" <<'PY'
import json, math, statistics, sys
path, dur, reps, conns, size, server, up0, up1, json_out = sys.argv[1:10]
rows = [l.rstrip("\n").split("\t") for l in open(path) if l.strip()]
names = {"herd": "herd (k6/ws, --workers 1)", "python": "python3-websockets client (asyncio)"}
res = {}
for c in ("herd", "python"):
    rr = [r for r in rows if r[0] == c]
    rate = [float(r[2]) for r in rr if not math.isnan(float(r[2]))]
    cpu = [float(r[5]) for r in rr]
    eff = [float(r[2]) / (float(r[5]) / 100) for r in rr if float(r[5]) > 0 and not math.isnan(float(r[2]))]
    ok = len(rate) == len(rr) and all(r[7] in ("0", "0.0") for r in rr)
    res[c] = {"ok": ok, "msgs_per_s_all": rate,
              "msgs_per_s_min": min(rate) if rate else None, "msgs_per_s_median": statistics.median(rate) if rate else None,
              "msgs_per_s_max": max(rate) if rate else None,
              "sent": [r[3] for r in rr], "received": [r[4] for r in rr], "errors": [r[7] for r in rr],
              "client_cpu_pct_median": statistics.median(cpu), "server_cpu_pct_median": statistics.median(float(r[6]) for r in rr),
              "msgs_per_client_cpu_s_median": statistics.median(eff) if eff else None}
print(f"\nws: {conns} sockets, one {size}-byte text message in flight each, {dur} s per run, {reps} runs each, "
      f"echo server: {'herd target GET /ws' if server == 'target' else 'python3-websockets'}")
print(f"uptime at start: {up0.strip()}\nuptime at end:   {up1.strip()}")
print("| client | min msgs/s | median msgs/s | max msgs/s | client CPU % | server CPU % | msgs per client CPU-second | errors |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
f = lambda x: "FAILED" if x is None else f"{x:.0f}"
for c, x in res.items():
    print(f"| {names[c]} | {f(x['msgs_per_s_min'])} | {f(x['msgs_per_s_median'])} | {f(x['msgs_per_s_max'])} | "
          f"{x['client_cpu_pct_median']:.0f} | {x['server_cpu_pct_median']:.0f} | {f(x['msgs_per_client_cpu_s_median'])} | "
          f"{', '.join(x['errors'])} |")
h, p = res["herd"]["msgs_per_s_median"], res["python"]["msgs_per_s_median"]
ratio = h / p if h and p else None
print(f"herd/python: {ratio:.2f} (median msgs/s)" if ratio else "herd/python: -")
if res["herd"]["client_cpu_pct_median"] < 90 and res["herd"]["server_cpu_pct_median"] < 90:
    print("warning: neither herd nor the server was near 100% of its core: the machine was probably loaded (see uptime)")
if json_out:
    json.dump({"duration_s": int(dur), "repeats": int(reps), "conns": int(conns), "size": int(size), "server": server,
               "uptime_start": up0.strip(), "uptime_end": up1.strip(), "ratio_herd_python": ratio, "clients": res},
              open(json_out, "w"), indent=1)
PY
