#!/usr/bin/env bash
# Runs examples/websocket.js against herd's own target (its GET /ws echo route),
# started here on a free loopback port. Extra arguments go to `herd run`
# (e.g. --parallelism 2). Exits with herd's code.
set -euo pipefail
cd "$(dirname "$0")/.."
source examples/target.sh
start_target run-websocket
base=$(target_address "listening on ")
set +e
WS_URL="ws://${base#http://}/ws" "$HERD" run "$@" examples/websocket.js
rc=$?
set -e
exit "$rc"
