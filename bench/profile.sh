#!/usr/bin/env bash
# Profile the throughput case (bare http.get loop, 50 VUs, herd --workers 1):
#   1. syscalls and CPU per request, herd vs wrk   (perf stat -e raw_syscalls:sys_enter,task-clock)
#   2. per-syscall counts per request, herd vs wrk (perf trace -s)
#   3. where herd's CPU goes                       (perf record -g; perf report --no-children)
#
#   bench/profile.sh [--duration 5] [--out DIR]   (DIR keeps perf.data and reports; default: a temp dir, deleted)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

DURATION=5 VUS=50 OUTDIR=
while [[ $# -gt 0 ]]; do
  case $1 in
    --duration) DURATION=${2%s}; shift 2 ;;
    --out) OUTDIR=$2; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) die "unknown argument $1" ;;
  esac
done
command -v perf >/dev/null || die "perf is needed"
OUTDIR=${OUTDIR:-$WORK/prof}; mkdir -p "$OUTDIR"
ulimit -n 65536 2>/dev/null || true
cat >"$WORK/get.js" <<'JS'
import http from 'k6/http';
export default function () { http.get(__ENV.URL); }
JS
log "uptime: $(uptime)"
start_target 1
URL=$BASE_URL/
T=$((DURATION + 60))

herd_cmd() { echo taskset -c "$GEN_CORE" "$HERD_BIN" run --workers 1 -u "$VUS" -d "${DURATION}s" -q -e URL="$URL" --summary-export "$1" "$WORK/get.js"; }
wrk_cmd() { echo taskset -c "$GEN_CORE" wrk -t1 -c"$VUS" -d"${DURATION}s" "$URL"; }
herd_reqs() { python3 -c "import json,sys; print(int(json.load(open(sys.argv[1]))['metrics']['http_reqs']['count']))" "$1"; }
wrk_reqs() { awk '/requests in/ {print $1}' "$1"; }

echo "## syscalls and CPU per request ($VUS connections, ${DURATION} s, generator on core $GEN_CORE, target on core $TARGET_CORE)"
echo "| tool | requests | req/s | syscalls/request | generator CPU us/request | context switches/request |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for tool in herd wrk; do
  st=$OUTDIR/$tool.stat
  if [[ $tool == herd ]]; then
    timeout $T perf stat -x, -o "$st" -e raw_syscalls:sys_enter,task-clock,context-switches -- $(herd_cmd "$WORK/h.json") >/dev/null 2>&1
    n=$(herd_reqs "$WORK/h.json")
  else
    timeout $T perf stat -x, -o "$st" -e raw_syscalls:sys_enter,task-clock,context-switches -- $(wrk_cmd) >"$WORK/w.out" 2>&1
    n=$(wrk_reqs "$WORK/w.out")
  fi
  python3 - "$st" "$n" "$tool" "$DURATION" <<'PY'
import sys
st, n, tool, dur = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
v = {}
for line in open(st):
    f = line.strip().split(",")
    if len(f) > 3 and f[0] and not line.startswith("#"):
        try: v[f[2]] = float(f[0])
        except ValueError: pass
print(f"| {tool} | {n} | {n/dur:.0f} | {v['raw_syscalls:sys_enter']/n:.2f} | {1000*v['task-clock']/n:.2f} | {v['context-switches']/n:.4f} |")
PY
done

echo
echo "## per-syscall counts per request (perf trace -s; tracing slows the run, the ratios still hold)"
for tool in herd wrk; do
  if [[ $tool == herd ]]; then
    timeout $T perf trace -s -o "$OUTDIR/$tool.trace" -- $(herd_cmd "$WORK/h2.json") >/dev/null 2>&1 || true
    n=$(herd_reqs "$WORK/h2.json")
  else
    timeout $T perf trace -s -o "$OUTDIR/$tool.trace" -- $(wrk_cmd) >"$WORK/w2.out" 2>&1 || true
    n=$(wrk_reqs "$WORK/w2.out")
  fi
  echo "### $tool ($n requests)"
  python3 - "$OUTDIR/$tool.trace" "$n" <<'PY'
import re, sys, collections
path, n = sys.argv[1], int(sys.argv[2])
calls = collections.Counter()
for line in open(path):
    m = re.match(r"\s+(\w+)\s+(\d+)\s+(\d+)\s+[\d.]+", line)
    if m and m.group(1) != "syscall":
        calls[m.group(1)] += int(m.group(2))
print("| syscall | per request |\n| --- | ---: |")
for name, c in calls.most_common(12):
    if c / n >= 0.005:
        print(f"| {name} | {c/n:.3f} |")
PY
done

echo
echo "## herd perf record -g (${DURATION} s), self time"
timeout $T perf record -F 2000 -g -o "$OUTDIR/herd.perf.data" -- $(herd_cmd "$WORK/h3.json") >/dev/null 2>&1
echo '```'
perf report -i "$OUTDIR/herd.perf.data" --no-children --sort dso --stdio -g none 2>/dev/null | awk '/^ +[0-9]/ && n++ < 8' | cut -c1-60
echo
perf report -i "$OUTDIR/herd.perf.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null | awk '/^ +[0-9]/ && n++ < 30' | cut -c1-110
echo '```'
echo "caller view of the top kernel symbol:"
top=$(perf report -i "$OUTDIR/herd.perf.data" --no-children --sort symbol --stdio -g none 2>/dev/null | awk '/^ +[0-9]/ {print $NF; exit}' || true)
echo '```'
perf report -i "$OUTDIR/herd.perf.data" --no-children --sort symbol --stdio -G --symbol-filter="$top" 2>/dev/null \
  | awk '!/^#/ && !/^$/ && n++ < 40' | cut -c1-120
echo '```'
echo
echo "## herd inclusive cost of key functions (perf record --call-graph dwarf, 3 s; herd is built without frame pointers)"
timeout $T perf record -F 500 --call-graph dwarf,16384 -o "$OUTDIR/herd.dwarf.data" -- \
  taskset -c "$GEN_CORE" "$HERD_BIN" run --workers 1 -u "$VUS" -d 3s -q -e URL="$URL" "$WORK/get.js" >/dev/null 2>&1
echo '```'
perf report -i "$OUTDIR/herd.dwarf.data" --children --sort symbol --stdio -g none 2>/dev/null \
  | grep -E '\] (herd::k6::http_request|herd::k6::\(anonymous namespace\)::make_response|curl_multi_socket_action|__libc_send|__x64_sys_sendto|sock_def_readable|__x64_sys_recvfrom|__x64_sys_poll|__x64_sys_epoll_ctl|JS_CallInternal|herd::metrics::Sink::add|malloc|_int_free|cfree|__vdso_clock_gettime|herd::exec::Engine::Impl::vu_run_scenario)' \
  | awk '{printf "%8s inclusive %8s self  %s\n", $1, $2, substr($0, index($0, $4))}' | cut -c1-130
echo '```'
stop_target
