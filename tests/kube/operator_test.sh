#!/usr/bin/env bash
# The herd operator end to end on the test cluster (issue #6): operator_test.sh CASE
# The operator is installed from bundle.yaml (the helm case installs the chart instead) and
# runs as a pod under its own ServiceAccount, so RBAC is real. The image
# ghcr.io/herd-dev/herd maps to $HERD_BIN through the node agent's image table.
. "$(dirname "${BASH_SOURCE[0]}")/operatorlib.sh"
ITER_SCRIPT='import http from "k6/http";
import { check } from "k6";
export const options = {
  scenarios: { main: { executor: "shared-iterations", vus: 4, iterations: 40, maxDuration: "60s" } },
  thresholds: { http_req_failed: ["rate<0.01"], checks: ["rate>0.99"] },
};
export default function () {
  check(http.get(`${__ENV.BASE_URL}/`), { "status is 200": (r) => r.status === 200 });
}'

passes_with() { # parallelism [extra spec lines]
  ensure_bundle_operator
  new_case "p$1"
  script s "$ITER_SCRIPT"
  local n=$1; shift
  testrun run "$n" s "$@"
  [[ $(wait_stage run finished error 180) == finished ]] || fail "stage error: $(jp run '{.status.message}' testrun)"
  [[ $(jp run '{.status.result}' testrun) == passed ]] || fail "result $(jp run '{.status.result}' testrun)"
  local iters; iters=$(jp run '{.status.metrics.iterations}' testrun)
  [[ $iters == 40 ]] || fail "merged iterations $iters, the plan has 40"
  [[ $(jp run '{.status.metrics.requests}' testrun) == 40 ]] || fail "merged requests"
  [[ $(jp run '{.status.runners.total}' testrun) == "$n" ]] || fail "runners.total"
  local text; text=$(kubectl -n "$NS" get configmap run-summary -o jsonpath='{.data.summary\.txt}')
  [[ $text == *"iterations"*"40"* ]] || fail "summary ConfigMap lacks the merged iterations: $text"
  [[ $(grep -c "TOTAL RESULTS" <<<"$text") == 1 ]] || fail "not exactly one summary"
  kubectl -n "$NS" get configmap run-summary -o jsonpath='{.data.summary\.json}' | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["metrics"]["iterations"]["values"]["count"] == 40 if "values" in d["metrics"]["iterations"] else d["metrics"]["iterations"]["count"] == 40, d["metrics"]["iterations"]' ||
    fail "summary.json iterations"
  pass "parallelism $n: finished/passed, 40 iterations merged, one summary in the ConfigMap"
  local reasons; reasons=$(kubectl -n "$NS" get events --field-selector involvedObject.name=run,involvedObject.kind=TestRun -o jsonpath='{.items[*].reason}')
  local r; for r in Initializing Initialized RunnersCreated Started Finished; do
    [[ " $reasons " == *" $r "* ]] || fail "no $r event; events: $reasons"
  done
  local ip; ip=$(kubectl -n herd-system get pods -l app.kubernetes.io/name=herd-operator --field-selector status.phase=Running -o jsonpath='{.items[0].status.podIP}')
  curl -sf "http://$ip:8081/healthz" >/dev/null || fail "/healthz"
  curl -sf "http://$ip:8081/readyz" >/dev/null || fail "/readyz"
  curl -sf "http://$ip:8080/metrics" | grep -q '^herd_operator_reconciles_total [1-9]' || fail "/metrics"
  pass "events for each stage; the operator serves /healthz, /readyz and /metrics"
}
case_parallel_1() { passes_with 1; }
# Written as for k6-operator: its runner image (grafana/k6) runs herd's.
case_parallel_4() { passes_with 4 'runner: {image: "grafana/k6:latest", env: [{name: K6_NO_USAGE_REPORT, value: "true"}]}' 'separate: false' 'quiet: "false"'; }

case_threshold_fails() { # finished/failed, and herd kube run exits 99
  ensure_bundle_operator
  new_case thr
  local dir; dir=$(mktemp -d)
  cat > "$dir/fails.js" <<'JS'
import http from "k6/http";
export const options = { vus: 2, iterations: 10, thresholds: { http_req_duration: ["max<0"] } };
export default function () { http.get(`${__ENV.BASE_URL}/`); }
JS
  local rc=0 out
  out=$("$HERD" kube run "$dir/fails.js" --namespace "$NS" --name fails --parallelism 2 --keep -q -- -e "BASE_URL=$TARGET" 2>&1) || rc=$?
  rm -rf "$dir"
  [[ $rc == 99 ]] || fail "herd kube run exited $rc, want 99: $out"
  [[ $out == *"max<0"* ]] || fail "the merged summary was not printed: $out"
  [[ $(jp fails '{.status.stage}' testrun) == finished ]] || fail "stage $(jp fails '{.status.stage}' testrun)"
  [[ $(jp fails '{.status.result}' testrun) == failed ]] || fail "result $(jp fails '{.status.result}' testrun)"
  [[ $(jp fails '{.status.thresholds[0].ok}' testrun) == false ]] || fail "threshold verdict"
  pass "failing threshold: finished/failed, herd kube run exited 99"
}

case_kube_run() { # herd kube run passes, prints one summary, leaves nothing behind
  ensure_bundle_operator
  new_case kr
  local dir; dir=$(mktemp -d)
  # A local import: herd kube run uploads an archive (binaryData) instead of the bare script.
  printf '%s\n' "$ITER_SCRIPT" | sed 's|^export default function () {|import { path } from "./lib/paths.js";\nexport default function () {|; s|/`)|${path}`)|' > "$dir/iter.js"
  mkdir -p "$dir/lib" && echo 'export const path = "/";' > "$dir/lib/paths.js"
  local rc=0 out
  out=$("$HERD" kube run "$dir/iter.js" --namespace "$NS" --parallelism 2 -- -e "BASE_URL=$TARGET" 2>"$dir/err") || rc=$?
  [[ $rc == 0 ]] || fail "herd kube run exited $rc: $(cat "$dir/err")"
  grep -q "herd kube: started" "$dir/err" || grep -q "herd kube: created" "$dir/err" || fail "no progress: $(cat "$dir/err")"
  rm -rf "$dir"
  [[ $(grep -c "TOTAL RESULTS" <<<"$out") == 1 ]] || fail "want one summary: $out"
  retry 60 bash -c "[[ -z \$(kubectl -n $NS get testruns,jobs,pods,configmaps -l app=herd -o name) ]]"
  pass "herd kube run: exit 0, one summary, nothing left"
}

case_kube_run_interrupt() { # Ctrl-C: herd kube run deletes what it made and exits 105
  ensure_bundle_operator
  new_case krint
  local dir; dir=$(mktemp -d)
  cat > "$dir/long.js" <<'JS'
import http from "k6/http";
import { sleep } from "k6";
export const options = { vus: 2, duration: "120s" };
export default function () { http.get(`${__ENV.BASE_URL}/`); sleep(0.1); }
JS
  "$HERD" kube run "$dir/long.js" --namespace "$NS" --name long --parallelism 2 -q -- -e "BASE_URL=$TARGET" \
    >"$dir/out" 2>&1 &
  local pid=$!
  wait_stage long started 120 >/dev/null
  kill -INT "$pid"
  local rc=0; wait "$pid" || rc=$?
  [[ $rc == 105 ]] || fail "herd kube run exited $rc after SIGINT, want 105: $(cat "$dir/out")"
  rm -rf "$dir"
  retry 60 bash -c "[[ -z \$(kubectl -n $NS get testruns,jobs,pods,configmaps -l app=herd -o name) ]]"
  [[ -z $(kubectl -n "$NS" get testrun long -o name 2>/dev/null) ]] || fail "the TestRun is still there"
  pass "Ctrl-C: exit 105, the TestRun and its pods were deleted"
}

case_syntax_error() { # error at the initializer with file:line in the status
  ensure_bundle_operator
  new_case syn
  script bad 'import http from "k6/http";
export default function () {
  http.get("x"
}'
  testrun bad 2 bad
  [[ $(wait_stage bad error finished 120) == error ]] || fail "a broken script finished"
  local msg; msg=$(jp bad '{.status.message}' testrun)
  [[ $msg =~ test\.js:[0-9]+:[0-9]+ ]] || fail "message lacks file:line:column: $msg"
  [[ -z $(kubectl -n "$NS" get jobs -l herd.dev/component=runner -o name) ]] || fail "runners were created"
  [[ $(jp bad '{.status.exitCode}' testrun) == 107 ]] || fail "exitCode $(jp bad '{.status.exitCode}' testrun)"
  pass "syntax error: stage error at the initializer: $msg"
  script small 'export const options = { vus: 2, iterations: 4 };
export default function () {}'
  testrun wide 5 small
  [[ $(wait_stage wide error finished 120) == error ]] || fail "parallelism 5 for 2 VUs finished"
  msg=$(jp wide '{.status.message}' testrun)
  [[ $msg == *"maximum VUs"* ]] || fail "message: $msg"
  pass "parallelism above the script's VUs: error: $msg"
}

case_runner_killed() { # error naming the pod; nothing left running
  ensure_bundle_operator
  new_case kill
  script s 'import http from "k6/http";
import { sleep } from "k6";
export const options = { vus: 2, duration: "60s" };
export default function () { http.get(`${__ENV.BASE_URL}/`); sleep(0.05); }'
  testrun victim 2 s
  wait_stage victim started 120 >/dev/null
  sleep 2
  local pod id; pod=$(kubectl -n "$NS" get pods -l herd.dev/testrun=victim,herd.dev/runner-index=2 -o jsonpath='{.items[0].metadata.name}')
  id=$(jp "$pod" '{.status.containerStatuses[0].containerID}')
  kill -KILL "${id##*://}" || fail "cannot kill the runner process ${id##*://}"
  [[ $(wait_stage victim error finished 90) == error ]] || fail "a killed runner gave a finished run"
  local msg; msg=$(jp victim '{.status.message}' testrun)
  [[ $msg == *"$pod"* ]] || fail "message does not name the pod $pod: $msg"
  no_pods victim 60
  [[ -n $(kubectl -n "$NS" get configmap victim-summary -o name 2>/dev/null) ]] || fail "partial results were not kept"
  pass "killed runner: error naming $pod, partial summary kept, no pods left"
}

case_separate() { # separate: true puts each of 3 runners on its own node
  ensure_bundle_operator
  new_case sep
  script s "$ITER_SCRIPT"
  testrun sep 3 s "separate: true"
  [[ $(wait_stage sep finished error 180) == finished ]] || fail "stage error: $(jp sep '{.status.message}' testrun)"
  local nodes; nodes=$(kubectl -n "$NS" get pods -l herd.dev/testrun=sep,herd.dev/component=runner -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | sort -u | wc -l)
  [[ $nodes == 3 ]] || fail "runners used $nodes nodes, want 3"
  [[ $(jp sep '{.status.metrics.iterations}' testrun) == 40 ]] || fail "iterations"
  pass "separate: 3 runners on 3 nodes, passed"
}

case_unschedulable() { # a nodeSelector matching no node: error after the ready timeout, not a hang
  ensure_bundle_operator
  new_case unsch
  script s "$ITER_SCRIPT"
  testrun nowhere 2 s "timeouts: {ready: 15s}" "runner: {nodeSelector: {herd.dev/no-such-pool: x}}"
  local t0=$SECONDS
  [[ $(wait_stage nowhere error finished 120) == error ]] || fail "finished?"
  local msg; msg=$(jp nowhere '{.status.message}' testrun)
  [[ $msg == *"not scheduled"* || $msg == *Unschedulable* || $msg == *"node"* ]] || fail "message: $msg"
  no_pods nowhere 60
  pass "unschedulable runners: error after $((SECONDS - t0)) s: ${msg:0:160}"
}

case_operator_restart() { # the operator restarted mid-run still drives the test to its end
  ensure_bundle_operator
  new_case restart
  script s 'import http from "k6/http";
import { sleep } from "k6";
export const options = { vus: 2, duration: "15s", thresholds: { http_req_failed: ["rate<0.01"] } };
export default function () { http.get(`${__ENV.BASE_URL}/`); sleep(0.1); }'
  testrun r 2 s
  wait_stage r started 120 >/dev/null
  local old; old=$(kubectl -n herd-system get pods -l app.kubernetes.io/name=herd-operator -o jsonpath='{.items[0].metadata.name}')
  kubectl -n herd-system delete pod "$old" --wait=true --timeout=60s >/dev/null
  [[ $(wait_stage r finished error 180) == finished ]] || fail "stage error: $(jp r '{.status.message}' testrun)"
  [[ $(jp r '{.status.result}' testrun) == passed ]] || fail "result"
  local now; now=$(kubectl -n herd-system get pods -l app.kubernetes.io/name=herd-operator -o jsonpath='{.items[0].metadata.name}')
  [[ $now != "$old" ]] || fail "the operator pod was not replaced"
  pass "operator pod $old replaced by $now mid-run; the run finished/passed"
}

case_cleanup_reapply() { # cleanup: post deletes every child; the same name runs again
  ensure_bundle_operator
  new_case clean
  script s "$ITER_SCRIPT"
  testrun again 2 s "cleanup: post"
  [[ $(wait_stage again finished error 180) == finished ]] || fail "first run: $(jp again '{.status.message}' testrun)"
  retry 60 bash -c "[[ -z \$(kubectl -n $NS get jobs,pods -l herd.dev/testrun=again -o name) ]]"
  pass "cleanup: post deleted every Job and Pod"
  kubectl -n "$NS" delete testrun again --wait=true >/dev/null
  testrun again 2 s "cleanup: post"
  [[ $(wait_stage again finished error 180) == finished ]] || fail "second run: $(jp again '{.status.message}' testrun)"
  [[ $(jp again '{.status.result}' testrun) == passed ]] || fail "second result"
  pass "the same TestRun name ran again after cleanup"
}

case_load_zone() { # a PrivateLoadZone counts its nodes and places runners on them
  ensure_bundle_operator
  new_case zone
  zone_label="herd.dev/load-zone"  # global: the EXIT trap removes it
  trap 'quietly kill $TARGET_PID; quietly kubectl label node --all "$zone_label-"
        quietly kubectl delete namespace "$NS" --wait=false' EXIT
  local node; node=$(kubectl get nodes -o jsonpath='{.items[2].metadata.name}')
  kubectl label node "$node" "$zone_label=$NS" --overwrite >/dev/null
  kubectl -n "$NS" apply -f - >/dev/null <<Y
apiVersion: herd.dev/v1alpha1
kind: PrivateLoadZone
metadata: {name: pool}
spec:
  nodeSelector: {$zone_label: $NS}
  maxParallelism: 2
Y
  retry 60 bash -c "[[ \$(kubectl -n $NS get privateloadzone pool -o jsonpath='{.status.readyNodes}') == 1 ]]"
  [[ $(jp pool '{.status.nodes}' privateloadzone) == 1 ]] || fail "zone status nodes"
  pass "the zone counts 1 ready node"
  script s "$ITER_SCRIPT"
  testrun zoned 2 s "privateLoadZone: pool"
  [[ $(wait_stage zoned finished error 180) == finished ]] || fail "stage error: $(jp zoned '{.status.message}' testrun)"
  local used; used=$(kubectl -n "$NS" get pods -l herd.dev/testrun=zoned,herd.dev/component=runner -o jsonpath='{range .items[*]}{.spec.nodeName}{"\n"}{end}' | sort -u)
  [[ $used == "$node" ]] || fail "zone runners ran on: $used (want $node)"
  pass "both runners ran on the zone's node $node"
  testrun toobig 3 s "privateLoadZone: pool"
  [[ $(wait_stage toobig error finished 120) == error ]] || fail "parallelism above maxParallelism finished"
  [[ $(jp toobig '{.status.message}' testrun) == *maxParallelism* ]] || fail "message: $(jp toobig '{.status.message}' testrun)"
  pass "parallelism 3 in a zone of maxParallelism 2 was refused"
}

case_helm() { # the Helm chart installs a working operator
  new_case helm
  kubectl delete -f "$KUBE_REPO/bundle.yaml" --ignore-not-found --wait=true >/dev/null 2>&1 || true
  trap 'quietly kill $TARGET_PID; quietly helm uninstall herd -n herd-helm
        quietly kubectl delete namespace "$NS" --wait=false' EXIT
  # Namespaced: a Role in the watched namespace only, WATCH_NAMESPACE set to it.
  helm install herd "$KUBE_REPO/charts/herd-operator" -n herd-helm --create-namespace --wait --timeout 120s \
    --set rbac.namespaced=true --set "watchNamespaces={$NS}" >/dev/null || fail "helm install failed"
  local sa; sa=$(kubectl -n herd-helm get deploy -o jsonpath='{.items[0].spec.template.spec.serviceAccountName}')
  [[ $(kubectl auth can-i list testruns.herd.dev -n "$NS" --as="system:serviceaccount:herd-helm:$sa") == yes ]] ||
    fail "the operator may not list TestRuns in its watched namespace"
  [[ $(kubectl auth can-i list testruns.herd.dev -n default --as="system:serviceaccount:herd-helm:$sa" || true) == no ]] ||
    fail "namespaced RBAC grants TestRuns outside the watched namespace"
  kubectl wait --for=condition=Established crd/testruns.herd.dev --timeout=60s >/dev/null
  script s "$ITER_SCRIPT"
  testrun h 2 s
  [[ $(wait_stage h finished error 180) == finished ]] || fail "stage error: $(jp h '{.status.message}' testrun)"
  [[ $(jp h '{.status.result}' testrun) == passed ]] || fail "result"
  pass "operator installed by Helm (namespaced RBAC, WATCH_NAMESPACE) ran a TestRun to finished/passed"
}


case_prometheus_rw() { # issue #13: a k6-operator user's -o experimental-prometheus-rw exports from the coordinator only
  ensure_bundle_operator
  new_case prw
  local prom; prom=$(command -v prometheus) || {
    [[ ${CI:-} == true ]] && fail "prometheus is not installed (Debian package prometheus)"
    echo "skip: no prometheus binary"; exit 77; }
  local port dir; port=$(kube_free_port); dir=$(mktemp -d)
  printf 'global: {scrape_interval: 1h}\n' > "$dir/prometheus.yml"
  "$prom" --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
    --web.listen-address="127.0.0.1:$port" --web.enable-remote-write-receiver \
    --enable-feature=native-histograms >"$dir/prom.log" 2>&1 &
  local prom_pid=$!
  # prom_pid and dir are expanded now: they are locals, gone when the EXIT trap runs.
  trap 'quietly kill $TARGET_PID; quietly kill '"$prom_pid"'; rm -rf '"'$dir'"'; quietly kubectl delete namespace "$NS" --wait=false' EXIT
  retry 30 curl -sf "http://127.0.0.1:$port/-/ready"
  script s "$ITER_SCRIPT"
  # Written as a k6-operator user would: the output in arguments, its settings in runner.env.
  kubectl -n "$NS" apply -f - >/dev/null <<YAML
apiVersion: herd.dev/v1alpha1
kind: TestRun
metadata: {name: prw}
spec:
  parallelism: 3
  script: {configMap: {name: s, file: test.js}}
  arguments: -e BASE_URL=$TARGET -o experimental-prometheus-rw --tag testid=prw-$NS
  runner:
    env:
    - {name: K6_PROMETHEUS_RW_SERVER_URL, value: "http://127.0.0.1:$port/api/v1/write"}
    - {name: K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM, value: "true"}
    - {name: K6_PROMETHEUS_RW_PUSH_INTERVAL, value: "1s"}
YAML
  [[ $(wait_stage prw finished error 180) == finished ]] || fail "stage error: $(jp prw '{.status.message}' testrun)"
  local i args envs
  for i in 1 2 3; do
    args=$(jp "prw-$i" '{.spec.template.spec.containers[0].args}' job)
    envs=$(jp "prw-$i" '{.spec.template.spec.containers[0].env[*].name}' job)
    [[ $args != *prometheus* ]] || fail "runner $i was given the remote-write output: $args"
    [[ $envs != *K6_PROMETHEUS_RW_* ]] || fail "runner $i has the remote-write settings: $envs"
  done
  args=$(jp prw-coordinator '{.spec.template.spec.containers[0].args}' job)
  envs=$(jp prw-coordinator '{.spec.template.spec.containers[0].env[*].name}' job)
  [[ $args == *'"--out","experimental-prometheus-rw"'* ]] || fail "the coordinator lacks the output: $args"
  [[ $envs == *K6_PROMETHEUS_RW_SERVER_URL* ]] || fail "the coordinator lacks the settings: $envs"
  # One set of series: the merged count, exactly, with no per-runner duplicates.
  local q='sum(max_over_time(k6_http_reqs_total{testid="prw-'"$NS"'"}[10m]))' n
  n=$(curl -sfG "http://127.0.0.1:$port/api/v1/query" --data-urlencode "query=$q" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "none")')
  [[ $n == 40 ]] || fail "k6_http_reqs_total in Prometheus is $n, the test made 40 requests"
  pass "3 runners: only the coordinator exports; Prometheus holds the merged 40 requests once"
}

"case_$1"
