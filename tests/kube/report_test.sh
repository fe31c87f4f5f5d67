#!/usr/bin/env bash
# The test's HTML report and live dashboard on the cluster (issue #15): a k6-operator style
# TestRun with K6_WEB_DASHBOARD* in spec.runner.env gets its report stored (gzip) in the summary
# ConfigMap and named in status; `herd kube run --report` writes it out; the coordinator's
# dashboard is reachable while the test runs. report_test.sh CASE
. "$(dirname "${BASH_SOURCE[0]}")/operatorlib.sh"

# The test cluster runs every pod as a process on this machine's loopback, so the coordinator's
# dashboard listens on its pod IP (K6_WEB_DASHBOARD_HOST=$(POD_IP)), not on the 127.0.0.1:5665
# that every other process would share. On a real cluster the default 127.0.0.1 is what
# `kubectl port-forward` reaches (docs/operator.md).
DASHBOARD_ENV='{name: K6_WEB_DASHBOARD, value: "true"}, {name: K6_WEB_DASHBOARD_HOST, value: $(POD_IP)}'

SCRIPT='import http from "k6/http";
import { check } from "k6";
export const options = {
  scenarios: { main: { executor: "shared-iterations", vus: 2, iterations: 40, maxDuration: "60s" } },
  thresholds: { http_req_duration: ["p(95)<5000"] },
};
export default function () { check(http.get(`${__ENV.BASE_URL}/`), { "status 200": (r) => r.status === 200 }); }'

# gunzip_cm CM: the report in the ConfigMap's binaryData, decompressed (fails on bad base64 or gzip).
gunzip_cm() {
  kubectl -n "$NS" get configmap "$1" -o jsonpath='{.binaryData.report\.html\.gz}' | base64 -d | gzip -dc
}

case_stored() { # runner.env asks for the report: stored gzip beside the summary, named in status
  ensure_bundle_operator
  new_case rep
  script s "$SCRIPT"
  testrun rp 2 s "runner: {env: [$DASHBOARD_ENV, {name: K6_WEB_DASHBOARD_EXPORT, value: html-report.html}]}"
  [[ $(wait_stage rp finished error 180) == finished ]] || fail "stage error: $(jp rp '{.status.message}' testrun)"
  local cm key compressed bytes
  cm=$(jp rp '{.status.report.configMap}' testrun)
  key=$(jp rp '{.status.report.key}' testrun)
  compressed=$(jp rp '{.status.report.compressed}' testrun)
  bytes=$(jp rp '{.status.report.bytes}' testrun)
  [[ $cm == rp-summary && $key == report.html.gz && $compressed == true ]] ||
    fail "status.report is '$(jp rp '{.status.report}' testrun)', want configMap rp-summary, key report.html.gz"
  pass "status.report: $(jp rp '{.status.report}' testrun)"
  local dir; dir=$(mktemp -d)
  gunzip_cm rp-summary >"$dir/report.html" || fail "binaryData report.html.gz of rp-summary is not base64 gzip"
  [[ $(stat -c %s "$dir/report.html") == "$bytes" ]] ||
    fail "the report is $(stat -c %s "$dir/report.html") bytes decompressed, status.report.bytes says $bytes"
  grep -q '<title>herd: test report</title>' "$dir/report.html" || fail "not the HTML report: $(head -c 300 "$dir/report.html")"
  grep -q 'window.herdReport = \[' "$dir/report.html" || fail "the report embeds no updates"
  grep -q '"final":true' "$dir/report.html" || fail "the report lacks the run's final update"
  grep -q 'http_req_duration' "$dir/report.html" || fail "the report has no http_req_duration data"
  grep -q 'Dygraph' "$dir/report.html" || fail "the report does not inline its charting library"
  [[ -n $(kubectl -n "$NS" get configmap rp-summary -o jsonpath='{.data.summary\.txt}') ]] ||
    fail "the summary is no longer in the ConfigMap"
  pass "rp-summary holds the report: $(stat -c %s "$dir/report.html") bytes of HTML, final update, charts inlined"
  rm -rf "$dir"
  # One report, the coordinator's: the runners got none of the dashboard's settings.
  local r
  for r in $(kubectl -n "$NS" get pods -l herd.dev/testrun=rp,herd.dev/component=runner -o name); do
    [[ $(kubectl -n "$NS" get "$r" -o jsonpath='{.spec.containers[0].env[*].name}') != *K6_WEB_DASHBOARD* ]] ||
      fail "$r got K6_WEB_DASHBOARD* (only the coordinator serves the dashboard and writes the report)"
  done
  pass "the runners serve no dashboard and write no report"
}

case_kube_run() { # herd kube run --report FILE: the report decompressed at the end; --help says so
  ensure_bundle_operator
  new_case krep
  "$HERD" kube run --help | grep -q -- '--report FILE' || fail "herd kube run --help does not document --report"
  local dir; dir=$(mktemp -d)
  printf '%s\n' "$SCRIPT" >"$dir/rep.js"
  local rc=0
  "$HERD" kube run "$dir/rep.js" --namespace "$NS" --parallelism 2 --report "$dir/out.html" -q \
    -- -e "BASE_URL=$TARGET" >"$dir/out" 2>"$dir/err" || rc=$?
  [[ $rc == 0 ]] || fail "herd kube run --report exited $rc: $(cat "$dir/err")"
  [[ -s $dir/out.html ]] || fail "no report written: $(cat "$dir/err")"
  grep -q '<title>herd: test report</title>' "$dir/out.html" || fail "not the HTML report: $(head -c 300 "$dir/out.html")"
  grep -q '"final":true' "$dir/out.html" || fail "the report lacks the run's final update"
  grep -q 'TOTAL RESULTS' "$dir/out" || fail "the summary is not printed any more: $(cat "$dir/out")"
  pass "herd kube run --report: $(stat -c %s "$dir/out.html") bytes of HTML, exit 0"
  rm -rf "$dir"
}

case_live() { # the coordinator's live dashboard answers while the TestRun runs
  ensure_bundle_operator
  new_case live
  script s 'import http from "k6/http";
import { sleep } from "k6";
export const options = { vus: 2, duration: "40s" };
export default function () { http.get(`${__ENV.BASE_URL}/`); sleep(0.05); }'
  testrun lv 2 s "runner: {env: [$DASHBOARD_ENV, {name: K6_WEB_DASHBOARD_PERIOD, value: 1s}]}"
  wait_stage lv started 120 >/dev/null
  local coord ip
  coord=$(kubectl -n "$NS" get pods -l herd.dev/testrun=lv,herd.dev/component=coordinator -o name)
  ip=$(kubectl -n "$NS" get "$coord" -o jsonpath='{.status.podIP}')
  # The node agent implements no port-forward: the pod's own address instead.
  retry 30 curl -sf "http://$ip:5665/"
  curl -sf "http://$ip:5665/" | grep -q '<title>herd: live dashboard</title>' || fail "GET / is not the dashboard"
  local events; events=$(curl -sN --max-time 4 "http://$ip:5665/events" || true)
  grep -q '^event: update' <<<"$events" || fail "no update streamed in 4 s: $(head -c 300 <<<"$events")"
  grep -q '"vus":' <<<"$events" || fail "the update carries no VUs: $(head -c 300 <<<"$events")"
  pass "the dashboard of a running TestRun answers at $ip:5665 (page and event stream)"
  local r rip
  for r in $(kubectl -n "$NS" get pods -l herd.dev/testrun=lv,herd.dev/component=runner -o name); do
    rip=$(kubectl -n "$NS" get "$r" -o jsonpath='{.status.podIP}')
    ! curl -s --max-time 2 "http://$rip:5665/" >/dev/null || fail "runner $r serves a dashboard too"
  done
  pass "one dashboard: no runner serves one"
  [[ $(wait_stage lv finished error 180) == finished ]] || fail "stage error: $(jp lv '{.status.message}' testrun)"
  [[ -z $(jp lv '{.status.report}' testrun) ]] || fail "status.report without a report asked for"
}

"case_$1"
