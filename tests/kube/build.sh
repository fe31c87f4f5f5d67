#!/usr/bin/env bash
# Builds the test cluster's binaries from the Go module proxy and caches them,
# keyed by version, under ${HERD_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/herd/kube}.
# Prints the folder holding the binaries on its last line.
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (k8s.io/kubernetes, tools/go.mod)
#   helm (helm.sh/helm/v3, helm/go.mod)
#   herd-node-agent (tools/agent/, the stand-in for kubelet + container runtime)
#   etcd: Debian's etcd-server (installed by scripts/install-deps.sh --kube)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/versions.sh"
cache="${HERD_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/herd/kube}"
bin="$cache/k8s-$KUBE_VERSION-helm-$HELM_VERSION/bin"
if ! command -v go >/dev/null; then
  echo "kube/build: error: the Go toolchain (go) is needed to build the test cluster's binaries" >&2
  exit 1
fi
mkdir -p "$bin"
export GOFLAGS="${GOFLAGS:-} -trimpath -mod=mod"
export CGO_ENABLED=0
ldflags="-s -w"
log() { echo "kube/build: $*" >&2; }

build_if_missing() { # name dir pkg [ldflags]
  local name=$1 dir=$2 pkg=$3 extra=${4:-}
  if [[ -x "$bin/$name" ]]; then return; fi
  log "building $name ($pkg)"
  local t0=$SECONDS
  (cd "$dir" && go build -ldflags "$ldflags $extra" -o "$bin/$name.tmp" "$pkg")
  mv "$bin/$name.tmp" "$bin/$name"
  log "built $name in $((SECONDS - t0)) s"
}

kver="-X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION"
minor="$(echo "$KUBE_VERSION" | cut -d. -f2)"
kver="$kver -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
build_if_missing kube-apiserver "$here/tools" k8s.io/kubernetes/cmd/kube-apiserver "$kver"
build_if_missing kube-controller-manager "$here/tools" k8s.io/kubernetes/cmd/kube-controller-manager "$kver"
build_if_missing kube-scheduler "$here/tools" k8s.io/kubernetes/cmd/kube-scheduler "$kver"
build_if_missing kubectl "$here/tools" k8s.io/kubernetes/cmd/kubectl "$kver"
build_if_missing helm "$here/helm" helm.sh/helm/v3/cmd/helm
# The agent is ours and changes with the tree: rebuild when its sources are newer.
agent="$bin/herd-node-agent"
if [[ -x "$agent" ]] && [[ -n "$(find "$here/tools/agent" "$here/tools/go.mod" -newer "$agent" -print -quit)" ]]; then
  rm -f "$agent"
fi
build_if_missing herd-node-agent "$here/tools" herd.dev/tests/kube/tools/agent
echo "$bin"
