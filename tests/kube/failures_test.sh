#!/usr/bin/env bash
# Failures that name their cause (issue #14): failures_test.sh CASE
# A lost runner is blamed, not the runners the coordinator stopped after it; Jobs orphaned by
# an earlier TestRun of the same name are named, with the command that clears them.
. "$(dirname "${BASH_SOURCE[0]}")/operatorlib.sh"

# Each iteration prints a line: the runners' console logs (their termination messages) are long.
LOUD_SCRIPT='import http from "k6/http";
import { sleep } from "k6";
export const options = { vus: 3, duration: "60s" };
export default function () {
  http.get(`${__ENV.BASE_URL}/`);
  console.log(`vu ${__VU} iteration ${__ITER}: a line of console output, as long tests print`);
  sleep(0.05);
}'

SHORT_SCRIPT='import http from "k6/http";
export const options = { vus: 1, iterations: 3 };
export default function () { http.get(`${__ENV.BASE_URL}/`); }'

# runner_pod NAME INDEX: the pod of runner INDEX of TestRun NAME.
runner_pod() {
  kubectl -n "$NS" get pods -l "herd.dev/testrun=$1,herd.dev/runner-index=$2" -o jsonpath='{.items[0].metadata.name}'
}

# warnings NAME REASON: the messages of the TestRun's Warning events with REASON, one a line.
warnings() {
  kubectl -n "$NS" get events --field-selector "involvedObject.kind=TestRun,involvedObject.name=$1,type=Warning,reason=$2" \
    -o jsonpath='{range .items[*]}{.message}{"\n"}{end}'
}

case_lost_runner_named() { # 3 runners, one killed: the message blames it, not the two the coordinator stopped
  ensure_bundle_operator
  new_case lost
  script s "$LOUD_SCRIPT"
  testrun victim 3 s
  wait_stage victim started 120 >/dev/null
  sleep 3
  local lost healthy=() i id
  lost=$(runner_pod victim 2)
  for i in 1 3; do healthy+=("$(runner_pod victim $i)"); done
  id=$(jp "$lost" '{.status.containerStatuses[0].containerID}')
  kill -KILL "${id##*://}" || fail "cannot kill the runner process ${id##*://}"
  [[ $(wait_stage victim error finished 90) == error ]] || fail "a killed runner gave a finished run"
  local msg event
  msg=$(jp victim '{.status.message}' testrun)
  event=$(warnings victim TestFailed)
  local text; for text in "$msg" "$event"; do
    [[ $text == *"$lost"* ]] || fail "the message does not name the lost runner $lost: $text"
    for i in "${healthy[@]}"; do
      [[ $text != *"$i"* ]] || fail "the message names the healthy runner $i (stopped by the coordinator): $text"
    done
  done
  ((${#msg} < 1024)) || fail "the message is ${#msg} bytes: $msg"
  [[ $(jp victim '{.status.exitCode}' testrun) == 97 ]] || fail "exit code $(jp victim '{.status.exitCode}' testrun), want 97"
  [[ -n $(kubectl -n "$NS" get configmap victim-summary -o name 2>/dev/null) ]] || fail "partial results were not kept"
  [[ $(jp victim-summary '{.data.result\.json}' configmap) == *'"partial":true'* ]] || fail "the summary is not marked partial"
  pass "killed $lost: the ${#msg}-byte message names it and neither stopped runner: $msg"
}

case_orphaned_jobs() { # Jobs orphaned by an earlier TestRun: a Warning with the command, an error after timeouts.ready
  ensure_bundle_operator
  new_case orphan
  script s "$SHORT_SCRIPT"
  testrun o 1 s "timeouts: {ready: 20s}"
  [[ $(wait_stage o finished error 120) == finished ]] || fail "the first run: $(jp o '{.status.message}' testrun)"
  kubectl -n "$NS" delete testrun o --cascade=orphan --wait=true --timeout=60s >/dev/null
  retry 60 bash -c "[[ -z \$(kubectl -n $NS get jobs -l herd.dev/testrun=o -o jsonpath='{.items[*].metadata.ownerReferences}') ]]"
  local jobs; jobs=$(kubectl -n "$NS" get jobs -l herd.dev/testrun=o -o jsonpath='{.items[*].metadata.name}')
  [[ $jobs == *o-initializer* ]] || fail "jobs left: $jobs"

  testrun o 1 s "timeouts: {ready: 20s}"
  local t0=$SECONDS event
  until event=$(warnings o OrphanedJobs) && [[ -n $event ]]; do
    ((SECONDS - t0 < 30)) || fail "no Warning event OrphanedJobs after 30s; message: $(jp o '{.status.message}' testrun)"
    sleep 1
  done
  local j; for j in $jobs; do [[ $event == *"$j"* ]] || fail "the event does not name the Job $j: $event"; done
  [[ $event == *"kubectl -n $NS delete job "* ]] || fail "the event has no command: $event"
  [[ $(wait_stage o error finished 90) == error ]] || fail "finished?"
  local took=$((SECONDS - t0)) msg cmd
  ((took >= 15 && took < 60)) || fail "error after ${took}s, want about spec.timeouts.ready (20s)"
  msg=$(jp o '{.status.message}' testrun)
  for j in $jobs; do [[ $msg == *"$j"* ]] || fail "the message does not name the Job $j: $msg"; done
  cmd=$(sed -n 's/.*\(kubectl -n [^ ]* delete job [^(;]*[^ (;]\).*/\1/p' <<<"$msg")
  [[ -n $cmd ]] || fail "no command in the message: $msg"

  $cmd >/dev/null || fail "the command of the message failed: $cmd"
  kubectl -n "$NS" delete testrun o --wait=true --timeout=60s >/dev/null
  retry 60 bash -c "[[ -z \$(kubectl -n $NS get jobs -l herd.dev/testrun=o -o name) ]]"
  testrun o 1 s "timeouts: {ready: 20s}"
  [[ $(wait_stage o finished error 120) == finished ]] || fail "the re-applied TestRun: $(jp o '{.status.message}' testrun)"
  pass "orphaned Jobs ($jobs): Warning with '$cmd', error after ${took}s; after the command a re-apply runs"
}

"case_$1"
