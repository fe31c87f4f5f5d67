#!/usr/bin/env bash
# The main job on a fresh Debian machine: install dependencies, build herd,
# start herd's own loopback target, and run the demo load test against it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release

PORT="${HERD_DEMO_PORT:-18080}"
build/bin/herd target --listen "127.0.0.1:${PORT}" > /tmp/herd-demo-target.log 2>&1 &
target_pid=$!
trap 'kill "$target_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  grep -q listening /tmp/herd-demo-target.log 2>/dev/null && break
  sleep 0.1
done

# The embedded default: a distributed run of 2 local runner processes and one coordinator.
BASE_URL="http://127.0.0.1:${PORT}" build/bin/herd run --parallelism 2 "${@:-examples/demo.js}"
