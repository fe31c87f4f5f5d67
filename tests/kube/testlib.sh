# Helpers for the end-to-end suites under tests/kube (bash, run by ctest with label kube-e2e).
# Needs HERD_TEST_KUBECONFIG (set by scripts/test.sh after tests/kube/up.sh); without it the
# suites exit 77, which ctest reports as skipped.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if [[ -z ${HERD_TEST_KUBECONFIG:-} ]]; then
  echo "SKIP: HERD_TEST_KUBECONFIG is not set (start a cluster with tests/kube/up.sh)"; exit 77
fi
export KUBECONFIG="$HERD_TEST_KUBECONFIG"
kube_bin
export PATH="$KUBE_BIN:$PATH"

fail() { echo "FAIL: $*" >&2; exit 1; }
# For EXIT traps: set -e also applies there, so a clean-up step must never fail.
quietly() { "$@" >/dev/null 2>&1 || true; }
pass() { echo "ok: $*"; }
# A fresh namespace for one test case, deleted when the case ends.
new_ns() {
  NS="t-$1-$RANDOM$RANDOM"
  kubectl create namespace "$NS" >/dev/null
  trap 'quietly kubectl delete namespace "$NS" --wait=false' EXIT
  # Pods need the namespace's default ServiceAccount (made by the controller-manager).
  retry 60 kubectl -n "$NS" get serviceaccount default
}
# retry SECONDS cmd...: until cmd succeeds (quietly), or fail.
retry() {
  local secs=$1; shift
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || fail "timed out after ${secs}s: $*"
    sleep 0.5
  done
}
# jp NAME JSONPATH [kind]: one field of an object in $NS.
jp() { kubectl -n "$NS" get "${3:-pod}" "$1" -o "jsonpath=$2"; }
