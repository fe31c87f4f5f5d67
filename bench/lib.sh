# Shared helpers for the bench/ scripts. Source it; do not run it.
# Everything here is loopback-only and time-bounded.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$BENCH_DIR/.." && pwd)
HERD_SRC=${HERD:-$REPO_DIR/build/bin/herd}
GEN_CORE=${GEN_CORE:-0}      # core for the load generator
TARGET_CORE=${TARGET_CORE:-1} # core for herd target

# Scratch and output files live under build/bench/ (git-ignored), never in the
# repo root or bench/; KEEP_WORK=1 keeps them after the run.
mkdir -p "$REPO_DIR/build/bench"
WORK=$(mktemp -d "$REPO_DIR/build/bench/run.XXXXXX")
_BG_PIDS=()

bench_cleanup() {
  local rc=$? p
  set +e
  for p in "${_BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${_BG_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  [[ -n ${KEEP_WORK:-} ]] || rm -rf "$WORK"
  exit "$rc"
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

die() { echo "error: $*" >&2; exit 1; }

# Private copy of the herd binary, so a rebuild by someone else in the middle
# of a run does not change (or break) the binary under test.
[[ -x $HERD_SRC ]] || die "herd binary not found at $HERD_SRC (build it: cmake --preset release && cmake --build --preset release)"
cp "$HERD_SRC" "$WORK/herd"
HERD_BIN=$WORK/herd

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# wait_listening FILE PREFIX -> prints the rest of FILE's first line starting with PREFIX,
# waiting up to 5 s while TARGET_PID lives; else prints why and fails (call it in $(...) || exit 1).
wait_listening() {
  local out=$1 prefix=$2 got=
  for _ in $(seq 100); do
    got=$(sed -n "s/^$prefix//p" "$out")
    [[ -n $got ]] && { echo "$got"; return; }
    kill -0 "$TARGET_PID" 2>/dev/null || die "herd target exited: $(cat "$out")"
    sleep 0.05
  done
  die "herd target did not print '$prefix': $(cat "$out")"
}

# start_target THREADS -> sets TARGET_PID, BASE_URL, TARGET_PORT
start_target() {
  local threads=${1:-1} out=$WORK/target.$RANDOM.out
  taskset -c "$TARGET_CORE" "$HERD_BIN" target --listen 127.0.0.1:0 --threads "$threads" >"$out" 2>&1 &
  TARGET_PID=$!
  _BG_PIDS+=("$TARGET_PID")
  BASE_URL=$(wait_listening "$out" "listening on ") || exit 1  # the message is printed already
  TARGET_PORT=${BASE_URL##*:}
  log "target pid $TARGET_PID on core $TARGET_CORE, $threads thread(s): $BASE_URL"
}

# start_grpc_target -> sets TARGET_PID and ADDR (host:port of `herd target --grpc-listen`)
start_grpc_target() {
  local out=$WORK/target.$RANDOM.out
  taskset -c "$TARGET_CORE" "$HERD_BIN" target --listen 127.0.0.1:0 --grpc-listen 127.0.0.1:0 >"$out" 2>&1 &
  TARGET_PID=$!
  _BG_PIDS+=("$TARGET_PID")
  ADDR=$(wait_listening "$out" "gRPC listening on ") || exit 1
}

stop_target() {
  kill "$TARGET_PID" 2>/dev/null; wait "$TARGET_PID" 2>/dev/null || true
}

# utime+stime (clock ticks, all threads) of PID
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
now_s() { date +%s.%N; }
CLK_TCK=$(getconf CLK_TCK)

# rss_kb PID [VmRSS|VmHWM]
rss_kb() { awk -v k="${2:-VmRSS}:" '$1==k {print $2}' "/proc/$1/status" 2>/dev/null; }

median() { python3 -c 'import sys,statistics; v=[float(x) for x in sys.argv[1:]]; print(statistics.median(v) if v else "nan")' "$@"; }
