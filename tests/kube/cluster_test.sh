#!/usr/bin/env bash
# Proves the test cluster is real Kubernetes (issue #5): cluster_test.sh CASE
. "$(dirname "${BASH_SOURCE[0]}")/testlib.sh"

case_job() { # a Job's pod runs a shell command; its termination message reaches the status
  new_ns job
  kubectl -n "$NS" apply -f - >/dev/null <<'Y'
apiVersion: batch/v1
kind: Job
metadata: {name: hello}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "echo computed-$((6*7)) > /dev/termination-log; echo to-the-log"]
Y
  kubectl -n "$NS" wait --for=condition=complete job/hello --timeout=60s >/dev/null || fail "job did not complete"
  local pod; pod=$(kubectl -n "$NS" get pods -l job-name=hello -o jsonpath='{.items[0].metadata.name}')
  [[ $(jp "$pod" '{.status.phase}') == Succeeded ]] || fail "pod phase is not Succeeded"
  local msg; msg=$(jp "$pod" '{.status.containerStatuses[0].state.terminated.message}')
  [[ $msg == *computed-42* ]] || fail "termination message: '$msg'"
  [[ $(jp "$pod" '{.status.containerStatuses[0].state.terminated.exitCode}') == 0 ]] || fail "exit code"
  [[ -n $(jp "$pod" '{.status.podIP}') ]] || fail "no pod IP"
  pass "Job completed with termination message '$msg'"
  if kubectl -n "$NS" logs "$pod" 2>/dev/null | grep -q to-the-log; then pass "kubectl logs works"; fi
}

case_failed_job() { # a failing command is reported with its exit code, and the Job fails
  new_ns failjob
  kubectl -n "$NS" apply -f - >/dev/null <<'Y'
apiVersion: batch/v1
kind: Job
metadata: {name: broken}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: main, image: busybox, command: ["sh", "-c", "exit 3"]}
Y
  kubectl -n "$NS" wait --for=condition=failed job/broken --timeout=60s >/dev/null || fail "job did not fail"
  local pod; pod=$(kubectl -n "$NS" get pods -l job-name=broken -o jsonpath='{.items[0].metadata.name}')
  [[ $(jp "$pod" '{.status.containerStatuses[0].state.terminated.exitCode}') == 3 ]] || fail "exit code not 3"
  [[ $(jp "$pod" '{.status.phase}') == Failed ]] || fail "phase not Failed"
  pass "failed Job reported exit code 3"
}

case_configmap() { # a pod reads a mounted ConfigMap
  new_ns cm
  kubectl -n "$NS" create configmap settings --from-literal=greeting=hello-from-configmap >/dev/null
  kubectl -n "$NS" apply -f - >/dev/null <<'Y'
apiVersion: v1
kind: Pod
metadata: {name: reader}
spec:
  restartPolicy: Never
  volumes: [{name: cfg, configMap: {name: settings}}]
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "cat /etc/cfg/greeting > /dev/termination-log"]
    volumeMounts: [{name: cfg, mountPath: /etc/cfg}]
Y
  retry 60 bash -c "[[ \$(kubectl -n $NS get pod reader -o jsonpath='{.status.phase}') == Succeeded ]]"
  local msg; msg=$(jp reader '{.status.containerStatuses[0].state.terminated.message}')
  [[ $msg == hello-from-configmap ]] || fail "read '$msg' from the ConfigMap"
  pass "pod read the mounted ConfigMap"
}

# Runs COUNT pods from a template (with NAME replaced) and prints the nodes they landed on.
nodes_of_pods() { # prefix count yaml-with-NAME
  local prefix=$1 count=$2 tmpl=$3 i
  for i in $(seq 1 "$count"); do echo "${tmpl//NAME/$prefix-$i}" | kubectl -n "$NS" apply -f - >/dev/null; done
  for i in $(seq 1 "$count"); do
    retry 60 bash -c "[[ -n \$(kubectl -n $NS get pod $prefix-$i -o jsonpath='{.spec.nodeName}') ]]"
    jp "$prefix-$i" '{.spec.nodeName}'; echo
  done
}

case_scheduling() { # nodeSelector and taints are honoured by the real scheduler
  new_ns sched
  local nodes; nodes=($(kubectl get nodes -o jsonpath='{.items[*].metadata.name}'))
  ((${#nodes[@]} >= 3)) || fail "need 3 nodes, have ${#nodes[@]}"
  local chosen=${nodes[1]}
  label="herd.dev/test-$NS"  # global: the EXIT trap removes it from every node
  trap 'quietly kubectl label node --all "$label-"; quietly kubectl taint node --all "$label-"
        quietly kubectl delete namespace "$NS" --wait=false' EXIT
  kubectl label node "$chosen" "$label=yes" >/dev/null
  local pod='{"apiVersion":"v1","kind":"Pod","metadata":{"name":"NAME"},"spec":{"restartPolicy":"Never",
    "nodeSelector":{"LABEL":"yes"},"containers":[{"name":"m","image":"busybox","command":["sleep","30"]}]}}'
  local landed; landed=$(nodes_of_pods sel 4 "${pod//LABEL/$label}" | sort -u)
  [[ $landed == "$chosen" ]] || fail "nodeSelector pods landed on: $landed (want $chosen)"
  pass "4 pods with a nodeSelector all landed on $chosen"

  # Taint every node but the last: pods with no toleration must all go to the last one.
  local n
  for n in "${nodes[@]:0:${#nodes[@]}-1}"; do kubectl taint node "$n" "$label=x:NoSchedule" >/dev/null; done
  pod='{"apiVersion":"v1","kind":"Pod","metadata":{"name":"NAME"},"spec":{"restartPolicy":"Never",
    "containers":[{"name":"m","image":"busybox","command":["sleep","30"]}]}}'
  landed=$(nodes_of_pods taint 4 "$pod" | sort -u)
  [[ $landed == "${nodes[-1]}" ]] || fail "untolerating pods landed on: $landed (want ${nodes[-1]})"
  pass "4 pods without tolerations avoided the tainted nodes"
  # ...and a pod tolerating the taint may land on a tainted node (prove the taint is the reason).
  pod='{"apiVersion":"v1","kind":"Pod","metadata":{"name":"NAME"},"spec":{"restartPolicy":"Never",
    "nodeSelector":{"kubernetes.io/hostname":"NODE"},
    "tolerations":[{"key":"LABEL","operator":"Exists","effect":"NoSchedule"}],
    "containers":[{"name":"m","image":"busybox","command":["sleep","30"]}]}}'
  pod=${pod//LABEL/$label}
  landed=$(nodes_of_pods tol 1 "${pod//NODE/${nodes[0]}}")
  [[ $landed == "${nodes[0]}" ]] || fail "tolerating pod landed on $landed"
  pass "a tolerating pod was placed on tainted ${nodes[0]}"
}

case_delete() { # deleting a running pod ends its process
  new_ns del
  kubectl -n "$NS" apply -f - >/dev/null <<'Y'
apiVersion: v1
kind: Pod
metadata: {name: sleeper}
spec:
  terminationGracePeriodSeconds: 2
  containers: [{name: main, image: busybox, command: ["sleep", "600"]}]
Y
  retry 60 bash -c "[[ \$(kubectl -n $NS get pod sleeper -o jsonpath='{.status.phase}') == Running ]]"
  local id pid; id=$(jp sleeper '{.status.containerStatuses[0].containerID}')
  pid=${id##*://}
  [[ $pid =~ ^[0-9]+$ ]] || fail "containerID '$id' carries no pid"
  kill -0 "$pid" 2>/dev/null || fail "process $pid of the running pod does not exist"
  grep -q sleep "/proc/$pid/cmdline" || fail "process $pid is not the pod's command"
  kubectl -n "$NS" delete pod sleeper --timeout=30s >/dev/null || fail "pod deletion did not finish"
  if kill -0 "$pid" 2>/dev/null; then fail "process $pid outlived its pod"; fi
  pass "deleting the pod ended process $pid"
}

case_rbac() { # a ServiceAccount with a narrow Role is refused what the Role does not grant
  new_ns rbac
  kubectl -n "$NS" create serviceaccount narrow >/dev/null
  kubectl -n "$NS" create role read-cm --verb=get,list --resource=configmaps >/dev/null
  kubectl -n "$NS" create rolebinding narrow --role=read-cm --serviceaccount="$NS:narrow" >/dev/null
  local token server ca
  token=$(kubectl -n "$NS" create token narrow --duration=10m)
  server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
  ca=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.certificate-authority}')
  as_sa() { kubectl --kubeconfig=/dev/null --server="$server" --certificate-authority="$ca" --token="$token" -n "$NS" "$@"; }
  retry 30 as_sa get configmaps
  pass "the ServiceAccount may list configmaps"
  local out
  if out=$(as_sa get pods 2>&1); then fail "listing pods was allowed: $out"; fi
  [[ $out == *Forbidden* || $out == *forbidden* ]] || fail "unexpected refusal: $out"
  if out=$(as_sa create configmap x --from-literal=a=b 2>&1); then fail "creating a configmap was allowed"; fi
  [[ $out == *orbidden* ]] || fail "unexpected refusal: $out"
  if out=$(as_sa -n default get configmaps 2>&1); then fail "another namespace was allowed"; fi
  pass "RBAC refused pods, create and other namespaces: ${out:0:120}"
}

case_crd_validation() { # the API server rejects an object that breaks its CRD's schema
  new_ns crd
  group="t$RANDOM$RANDOM.herd.dev"  # global: the EXIT trap deletes the CRD
  trap 'quietly kubectl delete crd "widgets.$group" --wait=false; quietly kubectl delete namespace "$NS" --wait=false' EXIT
  kubectl apply -f - >/dev/null <<Y
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.$group}
spec:
  group: $group
  names: {kind: Widget, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {type: integer, minimum: 1}
              mode: {type: string, enum: [fast, slow]}
Y
  kubectl wait --for=condition=Established "crd/widgets.$group" --timeout=30s >/dev/null
  retry 30 kubectl -n "$NS" get "widgets.$group"
  local good="{\"apiVersion\":\"$group/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"ok\"},\"spec\":{\"size\":2,\"mode\":\"fast\"}}"
  echo "$good" | kubectl -n "$NS" create -f - >/dev/null || fail "a valid Widget was rejected"
  local out bad
  for bad in '{"size":0}' '{"size":"big"}' '{"size":1,"mode":"warp"}' '{}'; do
    if out=$(echo "${good/\"ok\"/\"bad\"}" | sed "s/\"spec\":{[^}]*}/\"spec\":$bad/" | kubectl -n "$NS" create -f - 2>&1); then
      fail "invalid spec $bad was accepted"
    fi
    [[ $out == *Invalid* || $out == *invalid* ]] || fail "unexpected error for $bad: $out"
  done
  pass "the API server rejected 4 invalid Widgets, e.g.: ${out:0:160}"
}

case_oom() { # a container over its memory limit is killed and reported as OOMKilled
  new_ns oom
  kubectl -n "$NS" apply -f - >/dev/null <<'Y'
apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  restartPolicy: Never
  containers:
  - name: main
    image: busybox
    command: ["python3", "-c", "import time; x = bytearray(300 << 20); x[::4096] = b'x' * len(x[::4096]); time.sleep(30)"]
    resources: {limits: {memory: 64Mi}}
Y
  retry 60 bash -c "[[ \$(kubectl -n $NS get pod hog -o jsonpath='{.status.phase}') == Failed ]]"
  [[ $(jp hog '{.status.containerStatuses[0].state.terminated.reason}') == OOMKilled ]] || fail "reason is not OOMKilled"
  [[ $(jp hog '{.status.containerStatuses[0].state.terminated.exitCode}') == 137 ]] || fail "exit code is not 137"
  pass "over-limit container reported OOMKilled (137)"
}

case_up_again() { # up.sh on a healthy cluster changes nothing
  [[ $HERD_TEST_KUBECONFIG == "$KUBE_STATE/kubeconfig" ]] || { echo "SKIP: the cluster was not started from $KUBE_STATE"; exit 77; }
  local before after out
  before=$(cat "$KUBE_STATE"/pids/*.pid | sort)
  out=$(bash "$KUBE_REPO/tests/kube/up.sh" 2>&1) || fail "up.sh failed: $out"
  [[ $out == *"already up"* ]] || fail "up.sh did not see the running cluster: $out"
  after=$(cat "$KUBE_STATE"/pids/*.pid | sort)
  [[ $before == "$after" ]] || fail "up.sh restarted processes"
  pass "up.sh on a running cluster: no change"
}

"case_$1"
