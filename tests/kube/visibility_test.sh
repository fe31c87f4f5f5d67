#!/usr/bin/env bash
# What the operator shows of a run (issue #14): the coordinator's start skew in the
# TestRun's status, its summary and the operator's log; live metrics that resume soon
# after the operator restarts. visibility_test.sh CASE
. "$(dirname "${BASH_SOURCE[0]}")/operatorlib.sh"

operator_pod() { # the operator pods not being deleted, by name
  kubectl -n herd-system get pods -l app.kubernetes.io/name=herd-operator \
    -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.metadata.deletionTimestamp}{"\n"}{end}' | awk 'NF == 1 {print $1}'
}

stamp() { # each line of stdin prefixed with the time it arrived (seconds since the epoch)
  local l
  while IFS= read -r l; do echo "$(date +%s.%N) $l"; done
}

case_start_skew() { # parallelism 3: the start skew in status, summary ConfigMap, coordinator summary, operator log
  ensure_bundle_operator
  new_case skew
  script s 'import http from "k6/http";
export const options = { scenarios: { main: { executor: "shared-iterations", vus: 3, iterations: 30, maxDuration: "60s" } } };
export default function () { http.get(`${__ENV.BASE_URL}/`); }'
  testrun sk 3 s
  [[ $(wait_stage sk finished error 180) == finished ]] || fail "stage error: $(jp sk '{.status.message}' testrun)"
  local skew; skew=$(jp sk '{.status.startSkew}' testrun)
  [[ $skew =~ ^[0-9]+\.[0-9]{3}ms$ ]] || fail "status.startSkew is '$skew', want a duration like 1.234ms"
  pass "status.startSkew: $skew"
  # Generator health per runner (issue #14: generator health in status), healthy here.
  local gens; gens=$(jp sk '{range .status.generators[*]}{.name}={.saturated};{end}' testrun)
  [[ $(grep -o 'runner [1-3] ([^)]*)=false;' <<<"$gens" | wc -l) == 3 ]] ||
    fail "status.generators should list 3 healthy runners: '$gens'"
  [[ -z $(kubectl -n "$NS" get events --field-selector reason=GeneratorSaturated -o name) ]] ||
    fail "a GeneratorSaturated event on a healthy run"
  pass "status.generators: $gens"
  local text; text=$(kubectl -n "$NS" get configmap sk-summary -o jsonpath='{.data.summary\.txt}')
  local line; line=$(grep -E '^ +start skew: .+ across 3 runners$' <<<"$text") ||
    fail "summary.txt has no start skew line: $text"
  [[ $(grep -B1 -F "$line" <<<"$text" | head -1) == *COORDINATOR* ]] || fail "the line is not under COORDINATOR: $text"
  local result; result=$(kubectl -n "$NS" get configmap sk-summary -o jsonpath='{.data.result\.json}')
  [[ $result == *"\"startSkew\":\"$skew\""* ]] || fail "result.json lacks startSkew $skew: $result"
  pass "summary ConfigMap: '$(sed 's/^ *//' <<<"$line")', result.json startSkew $skew"
  local coord; coord=$(kubectl -n "$NS" get pods -l herd.dev/testrun=sk,herd.dev/component=coordinator -o name)
  kubectl -n "$NS" logs "$coord" | grep -qE 'start skew: .+ across 3 runners' ||
    fail "the coordinator's printed summary has no start skew line"
  pass "the coordinator's own summary shows it"
  local logs; logs=$(kubectl -n herd-system logs -l app.kubernetes.io/name=herd-operator --tail=-1)
  local want="TestRun $NS/sk started: 3 runners released together, start skew $skew"
  grep -qF "$want" <<<"$logs" || fail "the operator's log lacks '$want': $(grep -F "$NS" <<<"$logs" | tail -5)"
  pass "operator log: $want"
}

case_live_after_restart() { # live metrics resume within a poll of the new operator's caches being synced
  ensure_bundle_operator
  new_case live
  script s 'import http from "k6/http";
import { sleep } from "k6";
export const options = { vus: 2, duration: "60s" };
export default function () { http.get(`${__ENV.BASE_URL}/`); sleep(0.05); }'
  testrun lv 2 s
  wait_stage lv started 120 >/dev/null
  retry 30 bash -c "(( \$(kubectl -n $NS get testrun lv -o jsonpath='{.status.metrics.requests}' || echo 0) > 0 ))"
  local dir; dir=$(mktemp -d)
  # Every status update, stamped as it arrives (bounded by timeout; killing timeout ends kubectl).
  timeout 150 kubectl -n "$NS" get testrun lv -w -o jsonpath='{.status.metrics.requests}{"\n"}' \
    > >(stamp >"$dir/status") 2>/dev/null &
  WATCH_PID=$!
  trap 'quietly kill $WATCH_PID $TARGET_PID; quietly kubectl delete namespace "$NS" --wait=false' EXIT
  local old; old=$(operator_pod)
  old=${old%% *}
  kubectl -n herd-system delete pod "$old" --wait=false >/dev/null
  local pod="" deadline=$((SECONDS + 120)) line=""
  while [[ -z $line ]] && ((SECONDS < deadline)); do
    pod=$(operator_pod | grep -vx "$old" | head -1 || true)
    [[ -z $pod ]] || line=$(kubectl -n herd-system logs "$pod" 2>/dev/null | grep 'caches synced' || true)
    sleep 0.1
  done
  [[ -n $line ]] || fail "no new operator pod logged 'caches synced' within 120s: $(operator_pod)"
  # "herd operator: caches synced (2026-12-06T23:10:01.123456Z)": the operator's own clock (this machine's).
  local synced; synced=$(python3 -c 'import sys, datetime
t = sys.argv[1].split("(")[1].rstrip(")")
print(datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp())' "$line")
  echo "$synced caches synced" >"$dir/log"
  sleep 6 # at least two polls
  quietly kill "$WATCH_PID"
  local out
  out=$(python3 - "$dir/log" "$dir/status" <<'PY'
import sys
synced = next(float(l.split()[0]) for l in open(sys.argv[1]) if "caches synced" in l)
before, after = 0, None
for l in open(sys.argv[2]):
    parts = l.split()
    if len(parts) < 2: continue
    t, n = float(parts[0]), int(parts[1])
    if t <= synced: before = max(before, n)
    elif n > before: after = (t, n); break
if after is None: print(f"none {before}"); sys.exit(0)
print(f"{after[0] - synced:.2f} {before} {after[1]}")
PY
)
  read -r delay base n <<<"$out"
  [[ $delay != none ]] || fail "status.metrics.requests stayed at $base after the new operator's caches synced"
  echo "live metrics resumed ${delay}s after the new operator ($pod) logged 'caches synced' ($base -> $n requests)"
  python3 -c "import sys; sys.exit(0 if $delay <= 3.0 else 1)" ||
    fail "status.metrics.requests grew only ${delay}s after 'caches synced' (want at most the 2s poll + 1s)"
  pass "live metrics resumed ${delay}s after the new operator's caches synced"
  rm -rf "$dir"
  [[ $(wait_stage lv finished error 180) == finished ]] || fail "stage error: $(jp lv '{.status.message}' testrun)"
}

"case_$1"
