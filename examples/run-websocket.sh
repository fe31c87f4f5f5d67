#!/usr/bin/env bash
# Runs examples/websocket.js against herd's own target (its GET /ws echo route),
# started here on a free loopback port. Extra arguments go to `herd run`
# (e.g. --parallelism 2). Exits with herd's code.
set -euo pipefail
cd "$(dirname "$0")/.."
HERD="${HERD_BIN:-build/bin/herd}"
work=$(mktemp -d)
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
"$HERD" target --listen 127.0.0.1:0 >"$work/target.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do grep -q listening "$work/target.log" && break; sleep 0.05; done
base=$(sed -n 's/^listening on //p' "$work/target.log")
[ -n "$base" ] || { echo "run-websocket: the target did not start" >&2; exit 1; }
set +e
WS_URL="ws://${base#http://}/ws" "$HERD" run "$@" examples/websocket.js
rc=$?
set -e
exit "$rc"
