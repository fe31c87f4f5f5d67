#!/usr/bin/env bash
# k6-operator compatibility, opt-in (issue #14): k6io_test.sh CASE
# With herd's k6.io CRDs installed (kustomize deploy/k6-io, or the chart's k6io.enabled)
# the operator runs --k6-io and k6-operator manifests (apiVersion k6.io/v1alpha1, kind
# TestRun) apply unchanged and run like herd.dev ones. Without the opt-in kubectl refuses
# them; next to k6.io CRDs that are not herd's (k6-operator's) the operator refuses to start.
# Every case leaves the cluster as the other suites expect it: no k6.io CRDs, the operator
# from bundle.yaml without --k6-io.
. "$(dirname "${BASH_SOURCE[0]}")/operatorlib.sh"

K6IO_CRDS=(crd/testruns.k6.io crd/privateloadzones.k6.io)

# The script checks that runner.env reached the runners (threshold on checks).
SCRIPT='import http from "k6/http";
import { check } from "k6";
export const options = {
  scenarios: { main: { executor: "shared-iterations", vus: 4, iterations: 40, maxDuration: "60s" } },
  thresholds: { http_req_failed: ["rate<0.01"], checks: ["rate>0.99"] },
};
export default function () {
  const r = http.get(`${__ENV.BASE_URL}/`);
  check(r, { "status is 200": (res) => res.status === 200, "runner.env reached the runner": () => __ENV.K6IO_MARK === "from-runner-env" });
}'

# Back to the bundle's operator (no --k6-io), without the k6.io CRDs and RBAC.
remove_k6io() {
  quietly helm uninstall herd -n herd-helm --wait
  quietly kubectl apply -f "$KUBE_REPO/bundle.yaml"
  quietly kubectl delete clusterrolebinding,clusterrole herd-operator-k6-io --ignore-not-found
  quietly kubectl delete "${K6IO_CRDS[@]}" --ignore-not-found --wait=true
  # Refreshes kubectl's discovery cache, so later suites' "testrun" never maps to k6.io.
  retry 30 bash -c '! kubectl api-resources --api-group=k6.io -o name | grep -q .'
  quietly kubectl -n herd-system rollout status deploy/herd-operator --timeout=120s
}

# The opt-in on top of the bundle: kubectl apply -k deploy/k6-io (deploy/default + the component).
install_k6io() {
  kubectl apply -k "$KUBE_REPO/deploy/k6-io" >/dev/null || fail "kubectl apply -k deploy/k6-io failed"
  kubectl wait --for=condition=Established "${K6IO_CRDS[@]}" --timeout=60s >/dev/null
  [[ $(kubectl -n herd-system get deploy herd-operator -o jsonpath='{.spec.template.spec.containers[0].args}') == *--k6-io* ]] ||
    fail "the operator Deployment lacks --k6-io"
  kubectl -n herd-system rollout status deploy/herd-operator --timeout=120s >/dev/null ||
    fail "the operator did not become ready: $(kubectl -n herd-system get pods -o wide 2>&1)"
}

# k6_testrun NAME PARALLELISM [extra spec lines...]: a manifest as k6-operator documents it.
k6_testrun() {
  local name=$1 n=$2; shift 2
  {
    cat <<Y
apiVersion: k6.io/v1alpha1
kind: TestRun
metadata:
  name: $name
spec:
  parallelism: $n
  script:
    configMap:
      name: k6-test
      file: test.js
  arguments: -e BASE_URL=$TARGET --tag testid=$name
  cleanup: ${CLEANUP:-post}
  runner:
    image: grafana/k6:latest
    env:
    - name: BASE_URL
      value: $TARGET
    - name: K6IO_MARK
      value: from-runner-env
Y
    local line; for line in "$@"; do echo "  $line"; done
  } > "$TMP/$name.yaml"
  kubectl -n "$NS" apply -f "$TMP/$name.yaml" >/dev/null || fail "kubectl apply of the k6.io TestRun $name failed"
}

# await_stage NAME RESOURCE SECONDS: until the TestRun (testruns.k6.io or testruns.herd.dev:
# plain "testrun" is ambiguous with both groups installed) is finished or error; prints it.
await_stage() {
  local deadline=$((SECONDS + $3)) s=
  while ((SECONDS < deadline)); do
    s=$(jp "$1" '{.status.stage}' "$2" 2>/dev/null || true)
    [[ $s == finished || $s == error ]] && break
    sleep 1
  done
  echo "$s"
}

# k6_finished NAME PARALLELISM: finished/passed with the merged counts; cleanup: post removed
# the Jobs and Pods; the summary ConfigMap and events belong to the k6.io TestRun.
k6_finished() {
  local name=$1 n=$2 tr=testruns.k6.io
  local s; s=$(await_stage "$name" $tr 180)
  [[ $s == finished ]] || fail "k6.io TestRun $name: stage '$s': $(jp "$name" '{.status.message}' $tr)"
  [[ $(jp "$name" '{.status.result}' $tr) == passed ]] || fail "result $(jp "$name" '{.status.result}' $tr): $(jp "$name" '{.status.thresholds}' $tr)"
  [[ $(jp "$name" '{.status.metrics.iterations}' $tr) == 40 ]] || fail "merged iterations $(jp "$name" '{.status.metrics.iterations}' $tr), want 40"
  [[ $(jp "$name" '{.status.metrics.requests}' $tr) == 40 ]] || fail "merged requests"
  [[ $(jp "$name" '{.status.runners.total}' $tr) == "$n" ]] || fail "runners.total"
  local text; text=$(jp "$name-summary" '{.data.summary\.txt}' configmap)
  [[ $text == *"iterations"*"40"* ]] || fail "summary ConfigMap lacks the merged iterations: $text"
  [[ $(jp "$name-summary" '{.metadata.ownerReferences[0].apiVersion}' configmap) == k6.io/v1alpha1 ]] ||
    fail "the summary ConfigMap's owner: $(jp "$name-summary" '{.metadata.ownerReferences}' configmap)"
  local events; events=$(kubectl -n "$NS" get events --field-selector "involvedObject.name=$name" \
    -o jsonpath='{range .items[*]}{.involvedObject.apiVersion} {.reason}{"\n"}{end}')
  [[ $events == *"k6.io/v1alpha1 Finished"* ]] || fail "no Finished event on the k6.io TestRun: $events"
  if [[ ${CLEANUP:-post} == post ]]; then
    no_pods "$name" 60
    retry 60 bash -c "[[ -z \$(kubectl -n $NS get jobs -l herd.dev/testrun=$name -o name) ]]"
  fi
  ! kubectl -n "$NS" get testruns.herd.dev "$name" >/dev/null 2>&1 || fail "a herd.dev TestRun $name appeared"
  [[ $(jp "$name" '{.status.stage}' $tr) == finished ]] || fail "cleanup: post deleted the TestRun (herd keeps it)"
}

k6_case() {
  new_case "$1"
  TMP=$(mktemp -d)
  trap 'quietly kill $TARGET_PID; quietly kubectl delete namespace "$NS" --wait=false; rm -rf "$TMP"; remove_k6io' EXIT
  script k6-test "$SCRIPT"
}

case_no_optin() { # without the opt-in kubectl refuses a k6.io manifest; bundle.yaml has no k6.io objects
  remove_k6io
  ensure_bundle_operator
  k6_case noopt
  ! grep -q 'k6\.io' "$KUBE_REPO/bundle.yaml" || fail "bundle.yaml mentions k6.io: $(grep -n 'k6\.io' "$KUBE_REPO/bundle.yaml" | head -3)"
  local out
  (k6_testrun refused 1 >/dev/null 2>&1) && fail "kubectl accepted a k6.io TestRun without the opt-in"
  ! kubectl get --raw /apis/k6.io/v1alpha1 >/dev/null 2>&1 || fail "the API server serves k6.io/v1alpha1"
  # A fresh discovery cache, as a user's kubectl has: one that saw k6.io (an earlier case)
  # would POST to the stale resource and get a NotFound instead.
  out=$(kubectl --cache-dir "$TMP/kube-cache" -n "$NS" apply -f "$TMP/refused.yaml" 2>&1) && fail "kubectl accepted it: $out"
  [[ $out == *'no matches for kind "TestRun" in version "k6.io/v1alpha1"'* ]] || fail "kubectl said: $out"
  pass "without the opt-in: $out"
}

case_parallel_1() { # kustomize opt-in; separate: true, runner.env, arguments, cleanup: post
  remove_k6io
  ensure_bundle_operator
  k6_case k1
  install_k6io
  [[ $(kubectl get crd testruns.k6.io -o jsonpath='{.metadata.labels.herd\.dev/k6-io}') == true ]] || fail "CRD label"
  k6_testrun single 1 "separate: true"
  k6_finished single 1
  [[ $(kubectl -n "$NS" get testruns.k6.io single -o jsonpath='{.status.testRunId}') != "" ]] || fail "status.testRunId"
  pass "k6.io TestRun, parallelism 1 (kustomize opt-in): finished/passed, 40 iterations, ConfigMap and events owned by k6.io, cleaned up"
}

case_parallel_4() { # Helm opt-in (k6io.enabled); a herd.dev TestRun runs beside a k6.io one
  k6_case k4
  kubectl delete -f "$KUBE_REPO/bundle.yaml" --ignore-not-found --wait=true >/dev/null 2>&1 || true
  quietly kubectl delete clusterrolebinding,clusterrole herd-operator-k6-io --ignore-not-found
  quietly kubectl delete "${K6IO_CRDS[@]}" --ignore-not-found --wait=true
  helm install herd "$KUBE_REPO/charts/herd-operator" -n herd-helm --create-namespace --wait --timeout 120s \
    --set k6io.enabled=true >/dev/null || fail "helm install --set k6io.enabled=true failed"
  kubectl wait --for=condition=Established "${K6IO_CRDS[@]}" crd/testruns.herd.dev --timeout=60s >/dev/null
  local sa; sa=$(kubectl -n herd-helm get deploy -o jsonpath='{.items[0].spec.template.spec.serviceAccountName}')
  [[ $(kubectl auth can-i update testruns.k6.io --subresource=status -n "$NS" --as="system:serviceaccount:herd-helm:$sa") == yes ]] ||
    fail "the chart's RBAC lacks k6.io testruns/status"
  k6_testrun four 4 "separate: false"
  testrun beside 2 k6-test 'runner: {env: [{name: K6IO_MARK, value: from-runner-env}]}'
  k6_finished four 4
  [[ $(await_stage beside testruns.herd.dev 180) == finished ]] || fail "the herd.dev TestRun: $(jp beside '{.status.message}' testruns.herd.dev)"
  [[ $(jp beside '{.status.metrics.iterations}' testruns.herd.dev) == 40 ]] || fail "herd.dev iterations"
  pass "k6.io TestRun, parallelism 4 (Helm k6io.enabled): finished/passed, 40 iterations merged, cleaned up; a herd.dev TestRun beside it passed"
}

case_load_zone() { # a k6.io PrivateLoadZone gets its status; a k6.io TestRun naming it runs on its node
  remove_k6io
  ensure_bundle_operator
  k6_case kz
  zone_label="herd.dev/load-zone"  # global: the EXIT trap removes it
  trap 'quietly kill $TARGET_PID; quietly kubectl label node --all "$zone_label-"
        quietly kubectl delete namespace "$NS" --wait=false; rm -rf "$TMP"; remove_k6io' EXIT
  install_k6io
  local node; node=$(kubectl get nodes -o jsonpath='{.items[1].metadata.name}')
  kubectl label node "$node" "$zone_label=$NS" --overwrite >/dev/null
  kubectl -n "$NS" apply -f - >/dev/null <<Y || fail "kubectl apply of a k6.io PrivateLoadZone failed"
apiVersion: k6.io/v1alpha1
kind: PrivateLoadZone
metadata:
  name: pool
spec:
  nodeSelector:
    $zone_label: $NS
Y
  retry 60 bash -c "[[ \$(kubectl -n $NS get privateloadzones.k6.io pool -o jsonpath='{.status.readyNodes}') == 1 ]]"
  CLEANUP=never  # the runner Pods stay, to see their node
  k6_testrun zoned 2 "privateLoadZone: pool"
  k6_finished zoned 2
  local used; used=$(kubectl -n "$NS" get pods -l herd.dev/testrun=zoned,herd.dev/component=runner -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | sort -u)
  [[ $used == "$node" ]] || fail "zone runners ran on: $used (want $node)"
  pass "k6.io PrivateLoadZone: 1 ready node in its status; the k6.io TestRun naming it finished/passed"
}

case_foreign_crds() { # k6.io CRDs without herd's label (k6-operator's): the operator refuses to start
  remove_k6io
  ensure_bundle_operator
  TMP=$(mktemp -d)
  trap 'rm -rf "$TMP"; remove_k6io' EXIT
  local kind plural
  for kind in TestRun PrivateLoadZone; do
    plural="$(tr '[:upper:]' '[:lower:]' <<<"$kind")s"
    kubectl apply -f - >/dev/null <<Y || fail "creating a foreign $plural.k6.io CRD"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: $plural.k6.io
  labels: {app.kubernetes.io/name: k6-operator}
spec:
  group: k6.io
  scope: Namespaced
  names: {kind: $kind, listKind: ${kind}List, plural: $plural, singular: ${plural%s}}
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
Y
  done
  kubectl wait --for=condition=Established "${K6IO_CRDS[@]}" --timeout=60s >/dev/null
  local rc=0
  timeout 60 "$HERD" operator --k6-io --kubeconfig "$KUBECONFIG" --metrics-address 0 --health-address 0 \
    >"$TMP/out" 2>"$TMP/err" || rc=$?
  [[ $rc == 1 ]] || fail "herd operator --k6-io next to foreign CRDs exited $rc, want 1: $(cat "$TMP/err")"
  grep -q 'herd: error: --k6-io: the CRD testruns.k6.io exists but is not herd.s (no label herd.dev/k6-io=true; it has app.kubernetes.io/name=k6-operator): another controller, e.g. k6-operator, owns the k6.io group' "$TMP/err" ||
    fail "unclear message: $(cat "$TMP/err")"
  pass "a local operator refused: $(cat "$TMP/err")"
  # The in-cluster operator with the component's RBAC and --k6-io refuses too (and so never becomes ready).
  kubectl apply -f "$KUBE_REPO/deploy/components/k6-io/cluster_role.yaml" >/dev/null
  kubectl -n herd-system patch deploy herd-operator --type=json \
    -p '[{"op":"add","path":"/spec/template/spec/containers/0/args/-","value":"--k6-io"}]' >/dev/null
  local logs=
  local deadline=$((SECONDS + 90))
  while ((SECONDS < deadline)); do
    local pod
    for pod in $(kubectl -n herd-system get pods -l app.kubernetes.io/name=herd-operator -o name); do
      logs+=$(kubectl -n herd-system logs "$pod" 2>/dev/null || true)
      logs+=$(kubectl -n herd-system logs "$pod" --previous 2>/dev/null || true)
    done
    [[ $logs == *"is not herd's"* ]] && break
    sleep 2
  done
  [[ $logs == *"herd: error: --k6-io: the CRD testruns.k6.io exists but is not herd's"* ]] ||
    fail "the in-cluster operator did not refuse: $(kubectl -n herd-system get pods -o wide 2>&1) $logs"
  pass "the in-cluster operator with --k6-io refused to start next to foreign k6.io CRDs"
}

case_crds() { # the k6.io CRDs are herd.dev's but for group and names, and only with the opt-in
  TMP=$(mktemp -d)
  trap 'rm -rf "$TMP"' EXIT
  bash "$KUBE_REPO/scripts/gen-bundle.sh" --check >/dev/null || fail "gen-bundle.sh --check: generated files are stale"
  kubectl kustomize "$KUBE_REPO/deploy/k6-io" >"$TMP/kustomize.yaml"
  helm template herd "$KUBE_REPO/charts/herd-operator" --set k6io.enabled=true >"$TMP/helm.yaml" 2>/dev/null
  helm template herd "$KUBE_REPO/charts/herd-operator" >"$TMP/helm-off.yaml" 2>/dev/null
  ! grep -q 'k6\.io\|--k6-io' "$TMP/helm-off.yaml" || fail "the chart renders k6.io objects by default"
  python3 - "$KUBE_REPO" "$TMP/kustomize.yaml" "$TMP/helm.yaml" <<'PY' || fail "the k6.io CRDs differ from herd.dev's"
import sys, yaml
root = sys.argv[1]
for plural in ["testruns", "privateloadzones"]:
    herd = yaml.safe_load(open(f"{root}/deploy/crd/herd.dev_{plural}.yaml"))
    for source in sys.argv[2:]:
        docs = [d for d in yaml.safe_load_all(open(source)) if d]
        k6, = [d for d in docs if d["kind"] == "CustomResourceDefinition" and d["metadata"]["name"] == f"{plural}.k6.io"]
        assert k6["metadata"]["labels"]["herd.dev/k6-io"] == "true", (source, k6["metadata"]["labels"])
        assert k6["spec"]["group"] == "k6.io"
        names = dict(herd["spec"]["names"]); names.pop("shortNames")
        assert k6["spec"]["names"] == names, (k6["spec"]["names"], names)
        assert k6["spec"]["versions"] == herd["spec"]["versions"], f"{source}: {plural} versions differ"
        assert k6["spec"]["scope"] == herd["spec"]["scope"]
        deploy, = [d for d in docs if d["kind"] == "Deployment"]
        assert "--k6-io" in deploy["spec"]["template"]["spec"]["containers"][0]["args"], source
        rules = [r for d in docs if d["kind"] == "ClusterRole" for r in d["rules"]]
        assert any(r["apiGroups"] == ["k6.io"] and r["resources"] == ["testruns/status"] for r in rules), source
print("ok")
PY
  pass "k6.io CRDs equal herd.dev's but for group, name, shortNames and the label (kustomize and Helm); nothing by default"
}

"case_$1"
