#!/usr/bin/env bash
# Quick run of the throughput, memory and init benchmarks; prints a markdown table.
#
#   bench/run-all.sh [--soak DURATION]     (soak is skipped unless --soak is given)
#
# throughput: 5 s per tool per repeat, 5 repeats (bare loop and realistic script
# against wrk's bare loop, min/median/max of the per-repeat ratios); memory: 10 vs 5,000 VUs, 10 s;
# init: 10,000 VUs, 3 repeats; outputs (when /usr/bin/prometheus and /usr/bin/influxd
# exist): 5 s per variant, 2 repeats; dashboard: 5 s off and on, 5 repeats; ws and
# grpc: 5 s per client, 3 repeats. Full per-benchmark output goes to stderr.
set -euo pipefail
B=$(cd "$(dirname "$0")" && pwd)
SOAK=
while [[ $# -gt 0 ]]; do
  case $1 in
    --soak) SOAK=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$B/../build/bench"
OUT=$(mktemp -d "$B/../build/bench/all.XXXXXX")
trap 'rm -rf "$OUT"' EXIT

echo "date: $(date -u +%FT%TZ); machine: $(nproc) cores, $(uname -r); uptime at start: $(uptime)" >&2
L_TP=$(cut -d' ' -f1 /proc/loadavg); timeout 300 "$B/throughput.sh" --duration 5 --repeats 5 --json "$OUT/tp.json" >&2
L_MEM=$(cut -d' ' -f1 /proc/loadavg); timeout 300 "$B/memory.sh" --duration 10 --json "$OUT/mem.json" >&2
L_INIT=$(cut -d' ' -f1 /proc/loadavg); timeout 300 "$B/init.sh" --repeats 3 --json "$OUT/init.json" >&2
L_OUT=$(cut -d' ' -f1 /proc/loadavg)
if [[ -x /usr/bin/prometheus && -x /usr/bin/influxd ]]; then
  timeout 300 "$B/outputs.sh" --duration 5 --repeats 2 --json "$OUT/outputs.json" >&2 || echo "outputs.sh failed" >&2
else
  echo "outputs.sh skipped: /usr/bin/prometheus or /usr/bin/influxd missing" >&2
fi
L_DASH=$(cut -d' ' -f1 /proc/loadavg); timeout 300 "$B/dashboard.sh" --duration 5 --repeats 5 --json "$OUT/dashboard.json" >&2 || echo "dashboard.sh failed" >&2
timeout 900 "$B/scale.sh" --runners "100 1000" --repeats 5 --window 5 --json "$OUT/scale.json" >&2 || echo "scale.sh failed" >&2  # coordinator at scale (issue #17)
export L_WS; L_WS=$(cut -d' ' -f1 /proc/loadavg)
timeout 300 "$B/ws.sh" --duration 5 --repeats 3 --json "$OUT/ws.json" >&2 || echo "ws.sh failed" >&2  # WebSocket msgs/s (issue #16)
export L_GRPC; L_GRPC=$(cut -d' ' -f1 /proc/loadavg)
timeout 300 "$B/grpc.sh" --duration 5 --repeats 3 --json "$OUT/grpc.json" >&2 || echo "grpc.sh failed" >&2  # gRPC unary calls/s (issue #16)
L_SOAK=$(cut -d' ' -f1 /proc/loadavg)
if [[ -n $SOAK ]]; then
  d=$SOAK; case $d in *m) s=$(( ${d%m} * 60 )) ;; *) s=${d%s} ;; esac
  timeout $((s + 300)) "$B/soak.sh" --duration "$SOAK" --json "$OUT/soak.json" >&2
fi

python3 - "$OUT" "$L_TP" "$L_MEM" "$L_INIT" "$L_SOAK" "$L_OUT" "$L_DASH" <<'PY'
import json, os, sys
d, ltp, lmem, linit, lsoak, lout, ldash = sys.argv[1:8]
tp = json.load(open(f"{d}/tp.json")); mem = json.load(open(f"{d}/mem.json")); ini = json.load(open(f"{d}/init.json"))
t = tp["tools"]
def ok(b): return "yes" if b else "**no**"
print("| benchmark | herd | reference | goal | met | load avg (1 min) at start |")
print("| --- | ---: | ---: | --- | --- | ---: |")
others = ", ".join(f"{k} {v['rps_median']:.0f}" for k, v in t.items() if k not in ("herd", "realistic"))
for tool, key, what, goal in (("herd", "herd/wrk", "bare http.get loop", 0.9),
                              ("realistic", "realistic/wrk", "realistic script (bench/realistic.js)", 0.5)):
    if tool not in t: continue
    pr = tp.get("ratios_per_repeat", {}).get(key)
    rr = t[tool]["rps_all"]
    rng = f"{min(rr):.0f} / {t[tool]['rps_median']:.0f} / {max(rr):.0f}"
    fig = "-" if pr is None else f"{pr['min']:.2f} / {pr['median']:.2f} / {pr['max']:.2f}"
    print(f"| throughput, {what}, 50 VUs, req/s min / median / max of {tp['repeats']} x {tp['duration_s']} s "
          f"(gen CPU {t[tool]['gen_cpu_pct_median']:.0f}%, target CPU {t[tool]['target_cpu_pct_median']:.0f}%) | {rng} "
          f"| {others} | {key} >= {goal} in each run (min / median / max {fig}) | "
          f"{ok(pr is not None and pr['min'] >= goal)} | {ltp} |")
print(f"| memory per VU, ({mem['high']} - {mem['low']} VUs) | {mem['kb_per_vu']:.1f} KB | - | <= 64 KB | "
      f"{ok(mem['kb_per_vu'] <= 64 and mem['valid'])} | {lmem} |")
print(f"| init {ini['vus']} VUs (first iteration, minus 1-VU baseline) | {ini['init_cost_ms']:.0f} ms | - | < 1000 ms | "
      f"{ok(ini['init_cost_ms'] < 1000)} | {linit} |")
if os.path.exists(f"{d}/outputs.json"):
    o = json.load(open(f"{d}/outputs.json"))
    for v, x in o["variants"].items():
        if v == "none": continue
        fig = "FAILED" if not x["ok"] else f"{x['rps_median']:.0f} req/s ({x['ratio_to_none']:.2f} of none)"
        print(f"| output {v}, {o['vus']} VUs (median of {o['repeats']} x {o['duration_s']} s) | {fig} | "
              f"none {o['variants']['none']['rps_median']:.0f} | works | {ok(x['ok'])} | {lout} |")
if os.path.exists(f"{d}/dashboard.json"):
    w = json.load(open(f"{d}/dashboard.json")); on, off = w["variants"]["on"], w["variants"]["off"]
    fig = "FAILED" if w["ratio_on_off"] is None else f"{on['rps_median']:.0f} req/s ({w['ratio_on_off']:.2f} of off)"
    print(f"| web dashboard on (1 s period, 1 SSE client), {w['vus']} VUs (median of {w['repeats']} x {w['duration_s']} s) | "
          f"{fig} | off {off['rps_median']:.0f} | works | {ok(w['ratio_on_off'] is not None)} | {ldash} |")
if os.path.exists(f"{d}/soak.json"):
    s = json.load(open(f"{d}/soak.json"))
    print(f"| soak {s['vus']} VUs, {s['duration_s']} s: RSS slope between halves | {s['half_slope_kb_per_min']:+.0f} KB/min "
          f"({s['mean_first_kb']:.0f} -> {s['mean_second_kb']:.0f} KB) | - | flat | {ok(abs(s['half_slope_kb_per_min']) < 100)} | {lsoak} |")
if os.path.exists(f"{d}/ws.json"):
    w = json.load(open(f"{d}/ws.json")); h, p = w["clients"]["herd"], w["clients"]["python"]
    f = lambda x: "FAILED" if x is None else f"{x:.0f}"
    print(f"| WebSocket echo msgs/s, {w['conns']} sockets, one core (median of {w['repeats']} x {w['duration_s']} s) | "
          f"{f(h['msgs_per_s_median'])} ({f(h['msgs_per_client_cpu_s_median'])} per CPU-s) | python3-websockets {f(p['msgs_per_s_median'])} "
          f"({f(p['msgs_per_client_cpu_s_median'])} per CPU-s) | works | {ok(h['ok'])} | {os.environ.get('L_WS', '-')} |")
if os.path.exists(f"{d}/grpc.json"):
    g = json.load(open(f"{d}/grpc.json")); c = g["clients"]
    f = lambda x: "FAILED" if x is None else f"{x:.0f}"
    others = ", ".join(f"{k} {f(v['calls_per_s_median'])}" for k, v in c.items() if k != "herd") or "-"
    print(f"| gRPC unary calls/s, {g['conns']} callers, one core (median of {g['repeats']} x {g['duration_s']} s) | "
          f"{f(c['herd']['calls_per_s_median'])} ({f(c['herd']['calls_per_client_cpu_s_median'])} per CPU-s) | {others} | works | "
          f"{ok(c['herd']['ok'])} | {os.environ.get('L_GRPC', '-')} |")
PY
