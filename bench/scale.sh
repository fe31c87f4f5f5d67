#!/usr/bin/env bash
# The coordinator at scale (issue #17): one `herd coordinator` driving N
# simulated runners (herd-sim-runners: one process, N loopback ports, real
# wire-format snapshots) for a short test. Per run:
#   - the coordinator's CPU (utime+stime from /proc, whole process) over a
#     window while it checks status between merge rounds (every 200 ms, at
#     least 1 ms per runner apart: 1 s at 1,000 runners) and merges every
#     runner's snapshot every second, as % of one core (goal at 1,000
#     runners: < 25 %);
#   - exact totals: the merged --summary-export counts (http_reqs, iterations,
#     data_sent, data_received, checks) must equal the sum the simulator served;
#   - the bytes the runners sent per runner per second (snapshot bandwidth;
#     snapshots in the binary form the coordinator asks for, or JSON with
#     --json-only: runners that ignore the Accept header, as older ones do);
#   - the coordinator's peak RSS.
#
#   bench/scale.sh [--runners "100 1000"] [--repeats 5] [--window 8] [--json-only] [--json FILE]
#
# Needs build/bin/herd and build/bin/herd-sim-runners (or $HERD and $HERD_SIM).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
RUNNERS_LIST="100 1000"
REPEATS=5
WINDOW=8
JSON=
SIM_FLAGS=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --runners) RUNNERS_LIST=$2; shift 2 ;;
    --repeats) REPEATS=$2; shift 2 ;;
    --window) WINDOW=$2; shift 2 ;;
    --json) JSON=$2; shift 2 ;;
    --json-only) SIM_FLAGS+=(--json-only); shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) die "unknown argument $1" ;;
  esac
done
SIM_SRC=${HERD_SIM:-$(dirname "$HERD_SRC")/herd-sim-runners}
[[ -x $SIM_SRC ]] || die "herd-sim-runners not found at $SIM_SRC (it is built with herd)"
cp "$SIM_SRC" "$WORK/sim"
cat >"$WORK/s.js" <<'JS'
export const options = { thresholds: { http_req_duration: ['p(95)<5000'], checks: ['rate>0.5'] } };
export default function () {}
JS
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "[]" >"$WORK/runs.json"
for n in $RUNNERS_LIST; do
  for r in $(seq "$REPEATS"); do
    d=$WORK/$n.$r
    mkdir -p "$d"
    dur=$((WINDOW + 6))
    "$WORK/sim" --runners "$n" --duration "${dur}s" --addresses "$d/addr" --expect "$d/expect.json" \
      --stats "$d/stats.json" "${SIM_FLAGS[@]}" 2>"$d/sim.err" &
    sim=$!
    _BG_PIDS+=("$sim")
    for _ in $(seq 600); do [[ -s $d/addr ]] && break; kill -0 "$sim" 2>/dev/null || break; sleep 0.1; done
    [[ -s $d/addr ]] || die "herd-sim-runners did not start: $(cat "$d/sim.err")"
    t0=$(now_s)
    # The address list is read here, not in the background command's words: a
    # $(cat ...) there is a short-lived child of the same pid, which the pgrep
    # below could take for the coordinator (a run then read 0 % or ended early).
    addrs=$(cat "$d/addr")
    /usr/bin/time -f '%M %U %S' -o "$d/rss" "$HERD_BIN" coordinator --runners "$addrs" --script "$WORK/s.js" \
      --no-summary --summary-export "$d/summary.json" --ready-timeout 120s >"$d/out" 2>"$d/err" &
    tpid=$!
    cpid=
    # time's child, once it is the herd binary (before its exec it is time itself).
    for _ in $(seq 100); do
      cpid=$(pgrep -P "$tpid" | head -1 || true)
      [[ -n $cpid && $(readlink "/proc/$cpid/exe" 2>/dev/null) == "$(readlink -f "$HERD_BIN")" ]] && break
      cpid=
      sleep 0.05
    done
    [[ -n $cpid ]] || die "coordinator did not start: $(cat "$d/err")"
    # Wait until it runs (the start line), then 2 s more; measure over WINDOW seconds.
    for _ in $(seq 1200); do grep -q 'started together' "$d/err" && break; kill -0 "$cpid" 2>/dev/null || break; sleep 0.05; done
    sleep 2
    # A reading is valid only if the coordinator lived through it (cpu_ticks
    # reads 0 for a pid that is gone: a run that ended early would read 0 %).
    valid=
    kill -0 "$cpid" 2>/dev/null || valid+="coordinator gone before the window; "
    c0=$(cpu_ticks "$cpid"); s0=$(cpu_ticks "$sim"); w0=$(now_s)
    cp "$d/stats.json" "$d/stats0.json" || valid+="no simulator stats; "
    sleep "$WINDOW"
    c1=$(cpu_ticks "$cpid"); s1=$(cpu_ticks "$sim"); w1=$(now_s)
    kill -0 "$cpid" 2>/dev/null || valid+="coordinator gone before the window's end; "
    cp "$d/stats.json" "$d/stats1.json" || valid+="no simulator stats; "
    [[ -z $valid ]] || valid+="the window began $(awk -v a="$t0" -v b="$w0" 'BEGIN { printf "%.1f", b - a }') s after the coordinator's start (pid $cpid)"
    rc=0; wait "$tpid" || rc=$?
    wait "$sim" || true
    python3 - "$d" "$n" "$rc" "$c0" "$c1" "$s0" "$s1" "$w0" "$w1" "$CLK_TCK" "$(loadavg)" "$WORK/runs.json" "${valid:-}" <<'PY'
import json, sys
d, n, rc, c0, c1, s0, s1, w0, w1, tck, load, runs, valid = sys.argv[1:14]
n, rc, tck = int(n), int(rc), float(tck)
def invalid(why):
    all_runs = json.load(open(runs)); all_runs.append({"runners": n, "exit": rc, "invalid": why, "load": load})
    json.dump(all_runs, open(runs, "w"))
    print(f"[{n} runners] exit {rc}, INVALID run ({why}), load {load}", file=sys.stderr)
    sys.exit(0)
if valid:
    invalid(valid.rstrip("; "))
wall = float(w1) - float(w0)
cpu = (float(c1) - float(c0)) / tck / wall * 100
sim_cpu = (float(s1) - float(s0)) / tck / wall * 100
e = json.load(open(f"{d}/expect.json")); st = json.load(open(f"{d}/stats.json"))
# Merge rounds in the window (snapshots served / runners): on a loaded machine
# the coordinator may get less than one round a second; its CPU per round is
# what one merge of N snapshots costs, and x 1/s is the goal's "% of one core".
st0, st1 = json.load(open(f"{d}/stats0.json")), json.load(open(f"{d}/stats1.json"))
rounds = (st1["snapshots"] - st0["snapshots"]) / n
win_s = st1["seconds"] - st0["seconds"]
if win_s <= 0:
    invalid("the simulator's counters did not move during the window")
cpu_ms = (float(c1) - float(c0)) / tck * 1000
# On a machine this loaded the window may hold no whole round: then the whole
# run's CPU (start, ready polls and the summary included: an over-estimate)
# over all its rounds.
rss, ut, stt = open(f"{d}/rss").read().split()[-3:]
rss = int(rss)
rounds_all = st["snapshots"] / n
whole_ms = (float(ut) + float(stt)) * 1000 / rounds_all if rounds_all else float("inf")
per_round_ms = cpu_ms / rounds if rounds >= 2 else whole_ms
bw = (st1["bytesOut"] - st0["bytesOut"]) / n / win_s
try:
    m = json.load(open(f"{d}/summary.json"))["metrics"]
    got = {"http_reqs": m["http_reqs"]["count"], "iterations": m["iterations"]["count"],
           "data_sent": m["data_sent"]["count"], "data_received": m["data_received"]["count"],
           "checks_passes": m["checks"]["passes"], "checks_total": m["checks"]["passes"] + m["checks"]["fails"]}
    exact = all(got[k] == e[k] for k in got)
    bad = {k: (got[k], e[k]) for k in got if got[k] != e[k]}
except Exception as ex:
    exact, bad = False, {"error": str(ex)}
skew = None
for line in open(f"{d}/err"):
    if "start skew" in line:
        skew = float(line.split("start skew ")[1].split(" ms")[0])
run = {"runners": n, "exit": rc, "cpu_pct": cpu, "sim_cpu_pct": sim_cpu, "exact": exact, "mismatch": bad,
       "rounds_per_s": rounds / win_s, "cpu_ms_per_round": per_round_ms, "cpu_ms_per_round_whole_run": whole_ms, "cpu_pct_at_1hz": per_round_ms / 10,
       "bytes_per_runner_s": bw, "snapshot_bytes": e["snapshot_bytes_mid_avg"],
       "snapshot_bytes_served": e["snapshot_bytes_mid_avg"] if e.get("json_only", True) else e["binary_bytes_mid_avg"],
       "requests_per_runner_s": st["requests"] / n / st["seconds"], "rss_kb": rss, "skew_ms": skew, "load": load}
all_runs = json.load(open(runs)); all_runs.append(run); json.dump(all_runs, open(runs, "w"))
print(f"[{n} runners] exit {rc}, coordinator CPU {cpu:.1f}% of a core at {rounds / win_s:.2f} merges/s = "
      f"{per_round_ms:.0f} ms per merge round = {per_round_ms / 10:.1f}% at 1/s (simulator {sim_cpu:.1f}%), "
      f"exact totals: {exact} {bad if bad else ''}, {run['bytes_per_runner_s']:.0f} B/s per runner, "
      f"RSS {rss/1024:.0f} MB, start skew {skew} ms, load {load}", file=sys.stderr)
PY
  done
done
python3 - "$WORK/runs.json" "$JSON" <<'PY'
import json, statistics, sys
runs = json.load(open(sys.argv[1]))
bad = [r for r in runs if r.get("invalid")]
if bad:
    print(f"{len(bad)} invalid run(s) left out: " + "; ".join(f"{r['runners']} runners: {r['invalid']}" for r in bad), file=sys.stderr)
runs = [r for r in runs if not r.get("invalid")]
out = {}
print("| runners | coordinator CPU at one merge/s, % of one core (min / median / max) | measured CPU % (merges/s) | exact totals | bytes/s per runner | snapshot bytes served (JSON size) | coordinator RSS | runs |")
print("|---:|---:|---:|---|---:|---:|---:|---:|")
for n in sorted({r["runners"] for r in runs}):
    rs = [r for r in runs if r["runners"] == n]
    cpu = sorted(r["cpu_pct_at_1hz"] for r in rs)
    raw = statistics.median(r["cpu_pct"] for r in rs)
    rps = statistics.median(r["rounds_per_s"] for r in rs)
    ok = all(r["exact"] and r["exit"] == 0 for r in rs)
    bw = statistics.median(r["bytes_per_runner_s"] for r in rs)
    rss = statistics.median(r["rss_kb"] for r in rs)
    print(f"| {n} | {cpu[0]:.1f} / {statistics.median(cpu):.1f} / {cpu[-1]:.1f} | {raw:.1f} ({rps:.2f}) | {'yes' if ok else '**no**'} | "
          f"{bw:.0f} | {rs[0]['snapshot_bytes_served']:.0f} ({rs[0]['snapshot_bytes']:.0f}) | {rss/1024:.0f} MB | {len(rs)} |")
    out[str(n)] = {"cpu_min": cpu[0], "cpu_median": statistics.median(cpu), "cpu_max": cpu[-1], "exact": ok,
                   "bytes_per_runner_s": bw, "rss_kb": rss, "runs": rs}
if sys.argv[2]:
    json.dump(out, open(sys.argv[2], "w"), indent=1)
PY
