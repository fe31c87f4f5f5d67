# Shared by tests/kube/up.sh, down.sh and the suites. Source it; it sets:
#   KUBE_REPO   the repository root
#   KUBE_STATE  the cluster's folder (HERD_KUBE_STATE, default <repo>/build/kube-cluster):
#               pki/, etcd/, logs/<process>.log, pids/<process>.pid, agent/ (pods), ports, kubeconfig
#   KUBE_BIN    the cached binaries (after kube_bin)
KUBE_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
KUBE_STATE="${HERD_KUBE_STATE:-$KUBE_REPO/build/kube-cluster}"
. "$KUBE_REPO/tests/kube/versions.sh"

kube_log() { echo "kube: $*" >&2; }

kube_bin() { # builds (first time only) and sets KUBE_BIN
  local cache="${HERD_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/herd/kube}"
  KUBE_BIN="$cache/k8s-$KUBE_VERSION-helm-$HELM_VERSION/bin"
  local b
  for b in kube-apiserver kube-controller-manager kube-scheduler kubectl helm herd-node-agent; do
    if [[ ! -x "$KUBE_BIN/$b" ]] || [[ $b == herd-node-agent ]]; then
      KUBE_BIN="$(bash "$KUBE_REPO/tests/kube/build.sh" | tail -n1)"
      break
    fi
  done
}

kube_pid_alive() { # name
  local f="$KUBE_STATE/pids/$1.pid"
  [[ -f $f ]] && kill -0 "$(cat "$f")" 2>/dev/null
}

kube_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
