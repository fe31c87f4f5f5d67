#!/usr/bin/env bash
# WebSockets and gRPC on the cluster (issue #16): examples/websocket.js and examples/grpc.js,
# unchanged, as TestRuns with parallelism 2 against a loopback `herd target` (GET /ws echo,
# --grpc-listen demo service) started for the case. The TestRun must finish/passed, and the
# merged summary (the <name>-summary ConfigMap) must hold the whole plan's ws_* / grpc_* counts:
# each runner runs half of the iterations, so one runner's figures alone are half of them.
# protocols_test.sh CASE
. "$(dirname "${BASH_SOURCE[0]}")/operatorlib.sh"

# Like operatorlib's start_target, with the demo gRPC service on a second free port:
# TARGET_HOST (host:port of HTTP and /ws) and GRPC_ADDR.
start_proto_target() {
  local port gport; port=$(kube_free_port); gport=$(kube_free_port)
  "$HERD" target --listen "127.0.0.1:$port" --grpc-listen "127.0.0.1:$gport" >"$CASE_DIR/target.log" 2>&1 &
  TARGET_PID=$!
  TARGET_HOST="127.0.0.1:$port"
  GRPC_ADDR="127.0.0.1:$gport"
  retry 10 curl -sf "http://$TARGET_HOST/"
  retry 10 grep -q "^gRPC listening on $GRPC_ADDR" "$CASE_DIR/target.log"
}

# proto_case NAME EXAMPLE ARGUMENTS: namespace, target, the example as ConfigMap "s", and a
# TestRun NAME of parallelism 2 with ARGUMENTS; waits for its end and checks finished/passed.
proto_case() {
  local name=$1 example=$2 args=$3
  ensure_bundle_operator
  new_ns "$name"
  CASE_DIR=$(mktemp -d)
  start_proto_target
  trap 'quietly kill $TARGET_PID; quietly rm -rf "$CASE_DIR"; quietly kubectl delete namespace "$NS" --wait=false' EXIT
  kubectl -n "$NS" create configmap s --from-file=test.js="$KUBE_REPO/examples/$example" >/dev/null
  args=${args//@TARGET@/$TARGET_HOST}
  args=${args//@GRPC@/$GRPC_ADDR}
  kubectl -n "$NS" apply -f - >/dev/null <<YAML
apiVersion: herd.dev/v1alpha1
kind: TestRun
metadata: {name: $name}
spec:
  parallelism: 2
  script: {configMap: {name: s, file: test.js}}
  arguments: $args --summary-trend-stats avg,p(95),count
YAML
  [[ $(wait_stage "$name" finished error 180) == finished ]] || fail "stage error: $(jp "$name" '{.status.message}' testrun)"
  [[ $(jp "$name" '{.status.result}' testrun) == passed ]] ||
    fail "result $(jp "$name" '{.status.result}' testrun): $(kubectl -n "$NS" get configmap "$name-summary" -o jsonpath='{.data.summary\.txt}')"
  [[ $(jp "$name" '{.status.runners.total}' testrun) == 2 ]] || fail "runners.total $(jp "$name" '{.status.runners.total}' testrun), want 2"
  local r n=0
  for r in $(kubectl -n "$NS" get jobs -l herd.dev/testrun="$name",herd.dev/component=runner -o name); do
    [[ $(kubectl -n "$NS" get "$r" -o jsonpath='{.status.succeeded}') == 1 ]] || fail "$r did not succeed"
    n=$((n + 1))
  done
  [[ $n == 2 ]] || fail "$n runner Jobs, want 2"
  pass "$example, parallelism 2: finished/passed, both runner Jobs succeeded"
}

# want_counts NAME METRIC=COUNT...: the merged summary.json has exactly these counts.
want_counts() {
  local name=$1; shift
  kubectl -n "$NS" get configmap "$name-summary" -o jsonpath='{.data.summary\.json}' >"$CASE_DIR/summary.json"
  python3 - "$CASE_DIR/summary.json" "$@" <<'PY' || fail "merged summary of $name: see above"
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
bad = []
for want in sys.argv[2:]:
    k, n = want.rsplit("=", 1)
    v = m.get(k, {}); v = v.get("values", v)
    got = v.get("passes") if k == "checks" else v.get("count")
    if got is None or int(got) != int(n):
        bad.append(f"{k}: {got}, want {n}")
if bad:
    sys.exit("FAIL: " + "; ".join(bad) + f" (metrics: {sorted(m)})")
PY
  pass "merged summary of $name: $*"
}

case_websocket() { # examples/websocket.js: 20 iterations of 2 + 4 messages and 1 + 4 sockets
  proto_case ws websocket.js "-e WS_URL=ws://@TARGET@/ws"
  want_counts ws iterations=20 ws_msgs_sent=120 ws_msgs_received=120 ws_sessions=100 ws_connecting=100 ws_ping=20 checks=60
}

case_grpc() { # examples/grpc.js: 10 iterations of 1 unary call and 2 streams
  proto_case grpc grpc.js "-e GRPC_ADDR=@GRPC@"
  want_counts grpc iterations=10 'grpc_req_duration{rpc_type:unary}=10' grpc_req_duration=30 grpc_streams=20 \
    grpc_streams_msgs_sent=20 grpc_streams_msgs_received=40 checks=40
}

"case_$1"
