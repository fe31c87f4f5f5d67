#!/usr/bin/env bash
# k6-operator users moving to herd (issue #14): migrate_test.sh CASE
# TestRuns written as for k6-operator (settings in spec.runner only, results read from
# runner logs) work unchanged apart from the apiVersion.
. "$(dirname "${BASH_SOURCE[0]}")/operatorlib.sh"

# The script fails in its init code (as the initializer, each runner and the coordinator load
# it) unless BASE_URL (spec.runner.env) and GREETING (a ConfigMap via spec.runner.envFrom) are set.
ENV_SCRIPT='import http from "k6/http";
import { check } from "k6";
if (!__ENV.BASE_URL) throw new Error("BASE_URL is not set");
if (__ENV.GREETING !== "hello") throw new Error(`GREETING is "${__ENV.GREETING}", want hello`);
export const options = {
  scenarios: { main: { executor: "shared-iterations", vus: 2, iterations: 20, maxDuration: "60s" } },
  thresholds: { checks: ["rate==1"] },
};
export default function () {
  check(http.get(`${__ENV.BASE_URL}/`), { "status is 200": (r) => r.status === 200 });
}'

# k6_style_testrun NAME: parallelism 2, no arguments: everything through spec.runner.
k6_style_testrun() {
  kubectl -n "$NS" create configmap settings --from-literal=GREETING=hello >/dev/null
  kubectl -n "$NS" apply -f - >/dev/null <<YAML
apiVersion: herd.dev/v1alpha1
kind: TestRun
metadata: {name: $1}
spec:
  parallelism: 2
  script: {configMap: {name: s, file: test.js}}
  runner:
    image: grafana/k6:latest
    env:
    - {name: BASE_URL, value: "$TARGET"}
    envFrom:
    - configMapRef: {name: settings}
YAML
}

case_runner_env() { # BASE_URL only in spec.runner.env, GREETING via envFrom: finished/passed
  ensure_bundle_operator
  new_case env
  script s "$ENV_SCRIPT"
  k6_style_testrun run
  [[ $(wait_stage run finished error 180) == finished ]] || fail "stage error: $(jp run '{.status.message}' testrun)"
  [[ $(jp run '{.status.result}' testrun) == passed ]] || fail "result $(jp run '{.status.result}' testrun)"
  [[ $(jp run '{.status.metrics.iterations}' testrun) == 20 ]] || fail "merged iterations $(jp run '{.status.metrics.iterations}' testrun)"
  local job
  for job in run-initializer run-1 run-2 run-coordinator; do
    [[ $(jp "$job" '{.spec.template.spec.containers[0].envFrom[0].configMapRef.name}' job) == settings ]] ||
      fail "$job lacks the runner's envFrom"
  done
  pass "spec.runner.env and envFrom reach the initializer, both runners and the coordinator: finished/passed, 20 iterations"
}

case_log_pointer() { # a runner pod's log ends with where the merged result is
  ensure_bundle_operator
  new_case ptr
  script s "$ENV_SCRIPT"
  k6_style_testrun ptr
  [[ $(wait_stage ptr finished error 180) == finished ]] || fail "stage error: $(jp ptr '{.status.message}' testrun)"
  local i log last
  for i in 1 2; do
    # The runner ends once the operator has read the result (it ends the coordinator's linger).
    retry 60 bash -c "[[ \$(kubectl -n $NS get job ptr-$i -o jsonpath='{.status.succeeded}') == 1 ]]"
    log=$(kubectl -n "$NS" logs "job/ptr-$i")
    last=$(tail -n 1 <<<"$log")
    [[ $last == "herd: runner $i of 2 of TestRun $NS/ptr ended; the merged result:"* ]] ||
      fail "runner $i's log does not end with the pointer: $last"
    [[ $last == *"\`kubectl -n $NS logs job/ptr-coordinator\`"* && $last == *"\`kubectl -n $NS get cm ptr-summary -o yaml\`"* &&
      $last == *"\`kubectl -n $NS describe tr ptr\`"* ]] || fail "the pointer names the wrong objects: $last"
  done
  # Each command it names works (read whole: grep -q would cut kubectl's pipe).
  local out
  out=$(kubectl -n "$NS" logs job/ptr-coordinator)
  [[ $out == *"TOTAL RESULTS"* ]] || fail "the coordinator's log has no summary: $out"
  out=$(kubectl -n "$NS" get cm ptr-summary -o yaml)
  [[ $out == *"summary.txt"* ]] || fail "no summary ConfigMap: $out"
  out=$(kubectl -n "$NS" describe tr ptr)
  grep -Eq "Stage: +finished" <<<"$out" || fail "kubectl describe tr: $out"
  pass "both runner logs end with the pointer to job/ptr-coordinator, cm/ptr-summary and tr/ptr in $NS"
}

"case_$1"
