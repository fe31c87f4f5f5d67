#!/usr/bin/env bash
# Runs examples/grpc.js against herd's own target with its demo gRPC service on
# free loopback ports. Extra arguments go to `herd run`. Exits with herd's code.
set -euo pipefail
cd "$(dirname "$0")/.."
source examples/target.sh
start_target run-grpc --grpc-listen 127.0.0.1:0
addr=$(target_address "gRPC listening on ")
GRPC_ADDR="$addr" "$HERD" run "$@" examples/grpc.js
