#!/usr/bin/env bash
# Events, conditions, Job status and exit codes agree with a TestRun's result (issue #14):
# verdicts_test.sh CASE. The operator runs from bundle.yaml, as in operator_test.sh.
. "$(dirname "${BASH_SOURCE[0]}")/operatorlib.sh"

# events NAME: "type reason message" per event of the TestRun NAME, one a line.
events() {
  kubectl -n "$NS" get events --field-selector "involvedObject.name=$1,involvedObject.kind=TestRun" \
    -o jsonpath='{range .items[*]}{.type} {.reason} {.message}{"\n"}{end}'
}
# condition NAME TYPE: "status reason message" of one condition.
condition() {
  jp "$1" "{.status.conditions[?(@.type==\"$2\")].status} {.status.conditions[?(@.type==\"$2\")].reason} {.status.conditions[?(@.type==\"$2\")].message}" testrun
}

case_threshold_warning() { # crossed thresholds: Warning event, Failed coordinator Job, final runner counts
  ensure_bundle_operator
  new_case thw
  script s 'import http from "k6/http";
export const options = { vus: 2, iterations: 10, thresholds: { http_req_duration: ["max<0"], checks: ["rate>=0"] } };
export default function () { http.get(`${__ENV.BASE_URL}/`); }'
  testrun thr 2 s
  [[ $(wait_stage thr finished error 180) == finished ]] || fail "stage error: $(jp thr '{.status.message}' testrun)"
  [[ $(jp thr '{.status.result}' testrun) == failed ]] || fail "result $(jp thr '{.status.result}' testrun)"
  local ev; ev=$(events thr)
  grep -q '^Warning ThresholdsFailed .*http_req_duration max<0' <<<"$ev" || fail "no Warning naming the threshold: $ev"
  grep -q 'checks' <<<"$(grep ThresholdsFailed <<<"$ev")" && fail "a passed threshold is named: $ev"
  grep -q '^Normal Finished' <<<"$ev" && fail "a Normal Finished event for a failed test: $ev"
  pass "failed thresholds: $(grep ThresholdsFailed <<<"$ev")"
  # The coordinator exits 99, as herd run: its Job is Failed, once (backoffLimit 0).
  retry 60 bash -c "[[ \$(kubectl -n $NS get job thr-coordinator -o jsonpath='{.status.conditions[?(@.type==\"Failed\")].status}') == True ]]"
  [[ $(jp thr-coordinator '{.spec.backoffLimit}' job) == 0 ]] || fail "backoffLimit"
  [[ $(jp thr-coordinator '{.status.failed}' job) == 1 ]] || fail "the coordinator ran $(jp thr-coordinator '{.status.failed}' job) times"
  local code; code=$(kubectl -n "$NS" get pods -l herd.dev/testrun=thr,herd.dev/component=coordinator \
    -o jsonpath='{.items[0].status.containerStatuses[0].state.terminated.exitCode}')
  [[ $code == 99 ]] || fail "the coordinator exited $code"
  pass "the coordinator Job is Failed (exit 99, one try)"
  # The runners end with the coordinator: the counts follow them.
  retry 60 bash -c "[[ \$(kubectl -n $NS get testrun thr -o jsonpath='{.status.runners.ready}/{.status.runners.finished}') == 0/2 ]]" ||
    fail "runners at the end: $(jp thr '{.status.runners}' testrun)"
  pass "runner counts at the end: $(jp thr '{.status.runners}' testrun)"
}

case_failed_start_conditions() { # Initialized tells what happened after a failed start
  ensure_bundle_operator
  new_case fsc
  script bad 'export default function () { let x = ; }'
  testrun bad 1 bad
  [[ $(wait_stage bad error finished 120) == error ]] || fail "a broken script finished"
  local c; c=$(condition bad Initialized)
  [[ $c == "False InitializerFailed "*"test.js"* ]] || fail "Initialized after a syntax error: $c"
  pass "syntax error: Initialized is $c"
  script ok 'export const options = { vus: 1, iterations: 1 };
export default function () {}'
  # The initializer has its own settings (it would take the runner's): only the runners are stuck.
  testrun stuck 1 ok 'timeouts: {ready: 8s}' 'runner: {nodeSelector: {herd.dev/no-such-node: "x"}}' \
    'initializer: {metadata: {labels: {role: init}}}'
  [[ $(wait_stage stuck error finished 120) == error ]] || fail "unschedulable runners finished"
  c=$(condition stuck Initialized)
  [[ $c == "True ScriptValid "* ]] || fail "Initialized after RunnersNotReady: $c"
  [[ $(condition stuck Finished) == "False RunnersNotReady "* ]] || fail "Finished: $(condition stuck Finished)"
  [[ $(jp stuck '{.status.runners.ready}' testrun) == 0 ]] || fail "runners $(jp stuck '{.status.runners}' testrun)"
  pass "runners never ready: Initialized $c; Finished $(condition stuck Finished | cut -c1-60)"
}

case_kube_run_exit_codes() { # herd kube run exits as docs/operator.md's table says
  ensure_bundle_operator
  new_case kre
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"; quietly kill $TARGET_PID; quietly kubectl delete namespace "$NS" --wait=false' EXIT
  expect() { # CODE WHAT herd-kube-run-args...
    local want=$1 what=$2; shift 2
    local rc=0; "$HERD" kube run "$@" --namespace "$NS" -q --no-summary >"$dir/out" 2>&1 || rc=$?
    [[ $rc == "$want" ]] || fail "$what: exit $rc, want $want: $(tail -5 "$dir/out")"
    pass "$what: exit $rc ($(grep -m1 -o 'herd.*error.*' "$dir/out" | cut -c1-100))"
  }
  printf 'export const options = { vus: 2, iterations: 4 };\nexport default function () {}\n' > "$dir/two.js"
  printf 'export default function () { let x = ; }\n' > "$dir/bad.js"
  expect 107 "parallelism 5 for 2 VUs" "$dir/two.js" --parallelism 5
  expect 107 "syntax error" "$dir/bad.js"
  expect 107 "no such script" "$dir/missing.js"
  expect 2 "--parallelism abc" "$dir/two.js" --parallelism abc
  expect 2 "--parallelism 0" "$dir/two.js" --parallelism 0
  expect 2 "--timeout soon" "$dir/two.js" --timeout soon
  [[ -z $(kubectl -n "$NS" get testruns,configmaps -l app=herd -o name) ]] || fail "a usage error left objects behind"
  printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {}\n' > "$dir/pod.yaml"
  expect 104 "a manifest that is not a TestRun" "$dir/pod.yaml"
  script two "$(cat "$dir/two.js")"
  cat > "$dir/zone.yaml" <<YAML
apiVersion: herd.dev/v1alpha1
kind: TestRun
metadata: {name: zone}
spec: {parallelism: 1, privateLoadZone: nowhere, script: {configMap: {name: two, file: test.js}}}
YAML
  expect 1 "no such PrivateLoadZone" "$dir/zone.yaml"
  sed 's/parallelism: 1,/parallelism: 0,/' "$dir/zone.yaml" > "$dir/zero.yaml"
  expect 107 "a TestRun the API server refuses" "$dir/zero.yaml"
  cat > "$dir/stuck.yaml" <<YAML
apiVersion: herd.dev/v1alpha1
kind: TestRun
metadata: {name: stuck}
spec:
  parallelism: 1
  script: {configMap: {name: two, file: test.js}}
  timeouts: {ready: 8s}
  runner: {nodeSelector: {herd.dev/no-such-node: "x"}}
  initializer: {metadata: {labels: {role: init}}}
YAML
  expect 97 "runners never ready" "$dir/stuck.yaml"
  printf 'import { sleep } from "k6";\nexport const options = { vus: 1, duration: "60s" };\nexport default function () { sleep(1); }\n' > "$dir/long.js"
  expect 1 "no result within --timeout" "$dir/long.js" --timeout 20s
  retry 60 bash -c "[[ -z \$(kubectl -n $NS get testruns -o name) ]]"
  pass "every exit code as documented; nothing left behind"
}

case_quiet_watch() { # kubectl get tr -w: a line only when something shown changed
  ensure_bundle_operator
  new_case qw
  out=$(mktemp)
  script s 'import http from "k6/http";
import { sleep } from "k6";
export const options = { vus: 2, duration: "15s" };
export default function () { http.get(`${__ENV.BASE_URL}/`); sleep(0.1); }'
  kubectl -n "$NS" get testruns -w >"$out" 2>/dev/null &
  watch=$!
  trap 'quietly kill $watch; rm -f "$out"; quietly kill $TARGET_PID; quietly kubectl delete namespace "$NS" --wait=false' EXIT
  testrun q 2 s
  [[ $(wait_stage q finished error 180) == finished ]] || fail "stage error: $(jp q '{.status.message}' testrun)"
  local i; for i in $(seq 30); do  # the runner counts' last lines (threshold_warning checks them)
    [[ $(jp q '{.status.runners.ready}' testrun) == 0 ]] && break
    sleep 1
  done
  sleep 3
  kill $watch
  echo "--- kubectl get tr -w:"; cat "$out"
  # The AGE column (the last) is the client's clock, not the object's content.
  local lines; lines=$(tail -n +2 "$out" | awk '{$NF=""; print}')
  local dup; dup=$(uniq -d <<<"$lines")
  [[ -z $dup ]] || fail "identical lines in a row: $dup"
  local n; n=$(wc -l <<<"$lines")
  ((n <= 14)) || fail "$n lines for a 15 s run"
  pass "$n watch lines, each different from the one before"
}

"case_$1"
