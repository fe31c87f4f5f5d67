#!/usr/bin/env bash
# Runs examples/grpc.js against herd's own target with its demo gRPC service on
# free loopback ports. Extra arguments go to `herd run`. Exits with herd's code.
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
"$HERD" target --listen 127.0.0.1:0 --grpc-listen 127.0.0.1:0 >"$work/target.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do grep -q 'gRPC listening' "$work/target.log" && break; sleep 0.05; done
addr=$(sed -n 's/^gRPC listening on //p' "$work/target.log")
[ -n "$addr" ] || { echo "run-grpc: the target did not start" >&2; cat "$work/target.log" >&2; exit 1; }
GRPC_ADDR="$addr" "$HERD" run "$@" examples/grpc.js
