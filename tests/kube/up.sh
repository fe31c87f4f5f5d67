#!/usr/bin/env bash
# Starts a real Kubernetes control plane on loopback for tests (issue #5):
# etcd, kube-apiserver (TLS, Node+RBAC, service-account tokens), kube-controller-manager,
# kube-scheduler, and herd-node-agent (N Nodes whose pods run as local processes).
#   bash tests/kube/up.sh [agent flags...]    e.g. --nodes 3 --node-label 'herd-node-0:zone=a'
#   export KUBECONFIG=$(bash tests/kube/up.sh --print-kubeconfig)
# Idempotent: a healthy cluster is left as it is. State in $HERD_KUBE_STATE (default build/kube-cluster).
# Binaries are built once and cached (tests/kube/build.sh). Stop with tests/kube/down.sh.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [[ ${1:-} == --print-kubeconfig ]]; then echo "$KUBE_STATE/kubeconfig"; exit 0; fi

kube_bin
export PATH="$KUBE_BIN:$PATH"
kc="$KUBE_STATE/kubeconfig"

healthy() {
  local p
  for p in etcd kube-apiserver kube-controller-manager kube-scheduler herd-node-agent; do
    kube_pid_alive "$p" || return 1
  done
  kubectl --kubeconfig "$kc" get --raw /readyz >/dev/null 2>&1
}
if healthy; then
  kube_log "cluster already up: KUBECONFIG=$kc"
  exit 0
fi
bash "$KUBE_REPO/tests/kube/down.sh" >/dev/null 2>&1 || true
t0=$SECONDS
pki="$KUBE_STATE/pki"
mkdir -p "$pki" "$KUBE_STATE/logs" "$KUBE_STATE/pids" "$KUBE_STATE/agent"
rm -rf "$KUBE_STATE/etcd"

# --- certificates -----------------------------------------------------------------------
ossl() { openssl "$@" 2>>"$KUBE_STATE/logs/openssl.log"; }
if [[ ! -f $pki/ca.crt ]]; then
  ossl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=herd-test-ca" \
    -keyout "$pki/ca.key" -out "$pki/ca.crt"
  ossl genrsa -out "$pki/sa.key" 2048
  ossl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub"
  cert() { # name subject [san]
    local name=$1 subj=$2 san=${3:-}
    ossl req -newkey rsa:2048 -nodes -subj "$subj" -keyout "$pki/$name.key" -out "$pki/$name.csr"
    local ext="$pki/$name.ext"
    { echo "basicConstraints=CA:FALSE"; echo "keyUsage=digitalSignature,keyEncipherment"
      if [[ -n $san ]]; then echo "extendedKeyUsage=serverAuth,clientAuth"; echo "subjectAltName=$san"
      else echo "extendedKeyUsage=clientAuth"; fi; } > "$ext"
    ossl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
      -days 3650 -extfile "$ext" -out "$pki/$name.crt"
    rm -f "$pki/$name.csr" "$ext"
  }
  cert apiserver "/CN=kube-apiserver" \
    "IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  cert admin "/O=system:masters/CN=herd-test-admin"
  cert controller-manager "/CN=system:kube-controller-manager"
  cert scheduler "/CN=system:kube-scheduler"
  cert kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
fi

# --- ports and kubeconfigs -------------------------------------------------------------------
etcd_port=$(kube_free_port); etcd_peer=$(kube_free_port); api_port=$(kube_free_port)
kcm_port=$(kube_free_port); sched_port=$(kube_free_port)
printf 'etcd=%s\napiserver=%s\n' "$etcd_port" "$api_port" > "$KUBE_STATE/ports"
server="https://127.0.0.1:$api_port"
kubeconfig() { # file user
  cat > "$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: herd-test
  cluster:
    server: $server
    certificate-authority: $pki/ca.crt
users:
- name: $2
  user:
    client-certificate: $pki/$2.crt
    client-key: $pki/$2.key
contexts:
- name: herd-test
  context: {cluster: herd-test, user: $2, namespace: default}
current-context: herd-test
KC
}
kubeconfig "$kc" admin
kubeconfig "$KUBE_STATE/controller-manager.kubeconfig" controller-manager
kubeconfig "$KUBE_STATE/scheduler.kubeconfig" scheduler

start() { # name cmd...
  local name=$1; shift
  setsid "$@" >>"$KUBE_STATE/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$KUBE_STATE/pids/$name.pid"
}
wait_for() { # what seconds cmd...
  local what=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS > deadline)); then
      kube_log "timed out waiting for $what; logs in $KUBE_STATE/logs"
      tail -n 20 "$KUBE_STATE"/logs/*.log >&2 || true
      exit 1
    fi
    sleep 0.3
  done
}

# --- processes --------------------------------------------------------------------------------
start etcd etcd --name herd-test --data-dir "$KUBE_STATE/etcd" \
  --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
  --initial-cluster "herd-test=http://127.0.0.1:$etcd_peer" --log-level warn \
  --quota-backend-bytes 2147483648 --unsafe-no-fsync
wait_for etcd 30 curl -sf "http://127.0.0.1:$etcd_port/health"

start kube-apiserver kube-apiserver --etcd-servers "http://127.0.0.1:$etcd_port" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
  --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
  --client-ca-file "$pki/ca.crt" --authorization-mode Node,RBAC \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
  --service-cluster-ip-range 10.0.0.0/24 --endpoint-reconciler-type none \
  --kubelet-client-certificate "$pki/kubelet-client.crt" --kubelet-client-key "$pki/kubelet-client.key" \
  --kubelet-preferred-address-types InternalIP,Hostname \
  --allow-privileged --enable-priority-and-fairness=false --profiling=false \
  --cert-dir "$pki/apiserver-tmp" --v 1
wait_for kube-apiserver 90 kubectl --kubeconfig "$kc" get --raw /readyz

start kube-controller-manager kube-controller-manager --kubeconfig "$KUBE_STATE/controller-manager.kubeconfig" \
  --authentication-kubeconfig "$KUBE_STATE/controller-manager.kubeconfig" \
  --authorization-kubeconfig "$KUBE_STATE/controller-manager.kubeconfig" \
  --bind-address 127.0.0.1 --secure-port "$kcm_port" --leader-elect=false \
  --use-service-account-credentials --service-account-private-key-file "$pki/sa.key" \
  --root-ca-file "$pki/ca.crt" --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key" \
  --controllers '*' --profiling=false --v 1
start kube-scheduler kube-scheduler --kubeconfig "$KUBE_STATE/scheduler.kubeconfig" \
  --authentication-kubeconfig "$KUBE_STATE/scheduler.kubeconfig" \
  --authorization-kubeconfig "$KUBE_STATE/scheduler.kubeconfig" \
  --bind-address 127.0.0.1 --secure-port "$sched_port" --leader-elect=false --profiling=false --v 1

herd_bin="${HERD_BIN:-$KUBE_REPO/build/bin/herd}"
sed "s|@HERD@|$herd_bin|" "$KUBE_REPO/tests/kube/image-map.txt" > "$KUBE_STATE/image-map"
agent_args=("$@")
if [[ ${#agent_args[@]} -eq 0 ]]; then agent_args=(--nodes 3); fi
# Clusters side by side (HERD_KUBE_STATE set) give their pods addresses of their own:
# runners all bind :6565, so two clusters from the same base clash.
if [[ -n ${HERD_KUBE_STATE:-} && " ${agent_args[*]} " != *" --pod-ip-base "* ]]; then
  agent_args+=(--pod-ip-base "127.$(($(cksum <<<"$KUBE_STATE" | cut -d' ' -f1) % 200 + 20)).1.1")
fi
start herd-node-agent herd-node-agent --kubeconfig "$kc" --state-dir "$KUBE_STATE/agent" \
  --image-map "$KUBE_STATE/image-map" "${agent_args[@]}"

# Ready when: the default ServiceAccount and root CA ConfigMap exist (controller-manager works),
# and every node is Ready (agent works).
wait_for "the default ServiceAccount" 60 kubectl --kubeconfig "$kc" get serviceaccount default
wait_for "kube-root-ca.crt" 60 kubectl --kubeconfig "$kc" get configmap kube-root-ca.crt
wait_for "nodes" 60 bash -c "kubectl --kubeconfig '$kc' get nodes -o name | grep -q ."
wait_for "Ready nodes" 60 kubectl --kubeconfig "$kc" wait --for=condition=Ready node --all --timeout=5s
kube_log "cluster up in $((SECONDS - t0)) s: export KUBECONFIG=$kc  (binaries: $KUBE_BIN)"
