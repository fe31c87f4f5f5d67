# Helpers shared by the operator suites (operator_test.sh and the suites beside it): the
# operator from bundle.yaml, a loopback target, a namespace per case, TestRuns and their stages.
. "$(dirname "${BASH_SOURCE[0]}")/testlib.sh"
HERD="${HERD_BIN:-$KUBE_REPO/build/bin/herd}"

ensure_bundle_operator() {
  if helm status herd -n herd-helm >/dev/null 2>&1; then helm uninstall herd -n herd-helm --wait >/dev/null; fi
  kubectl apply -f "$KUBE_REPO/bundle.yaml" >/dev/null
  kubectl wait --for=condition=Established crd/testruns.herd.dev --timeout=60s >/dev/null
  kubectl -n herd-system rollout status deploy/herd-operator --timeout=120s >/dev/null ||
    fail "the operator did not become ready: $(kubectl -n herd-system get pods -o wide 2>&1)"
}

# A loopback target for the test's traffic; TARGET is its base URL.
start_target() {
  local port; port=$(kube_free_port)
  "$HERD" target --listen "127.0.0.1:$port" >/dev/null 2>&1 &
  TARGET_PID=$!
  TARGET="http://127.0.0.1:$port"
  retry 10 curl -sf "$TARGET/"
}

# new_case NAME: namespace, target, cleanup of both.
new_case() {
  new_ns "$1"
  start_target
  trap 'quietly kill $TARGET_PID; quietly kubectl delete namespace "$NS" --wait=false' EXIT
}

# script NAME BODY: a ConfigMap NAME holding test.js.
script() {
  local dir; dir=$(mktemp -d)
  printf '%s\n' "$2" > "$dir/test.js"
  kubectl -n "$NS" create configmap "$1" --from-file=test.js="$dir/test.js" >/dev/null
  rm -rf "$dir"
}

# testrun NAME PARALLELISM SCRIPT_CM [extra spec YAML lines...]
testrun() {
  local name=$1 n=$2 cm=$3; shift 3
  {
    echo "apiVersion: herd.dev/v1alpha1"
    echo "kind: TestRun"
    echo "metadata: {name: $name}"
    echo "spec:"
    echo "  parallelism: $n"
    echo "  script: {configMap: {name: $cm, file: test.js}}"
    echo "  arguments: -e BASE_URL=$TARGET"
    local line; for line in "$@"; do echo "  $line"; done
  } | kubectl -n "$NS" apply -f - >/dev/null
}

# wait_stage NAME STAGE... SECONDS: until the TestRun reaches one of the stages; prints it.
wait_stage() {
  local name=$1; shift
  local secs=${*: -1} stages=("${@:1:$#-1}")
  local deadline=$((SECONDS + secs)) s
  while ((SECONDS < deadline)); do
    s=$(jp "$name" '{.status.stage}' testrun 2>/dev/null || true)
    local w; for w in "${stages[@]}"; do [[ $s == "$w" ]] && { echo "$s"; return 0; }; done
    sleep 1
  done
  fail "TestRun $name is in stage '$s' after ${secs}s, want ${stages[*]}: $(jp "$name" '{.status.message}' testrun)"
}

# no_pods NAME SECONDS: until no pod of the TestRun is left.
no_pods() {
  retry "$2" bash -c "[[ -z \$(kubectl -n $NS get pods -l herd.dev/testrun=$1 -o name) ]]"
}

