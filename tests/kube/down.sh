#!/usr/bin/env bash
# Stops the test cluster started by tests/kube/up.sh; idempotent. Leaves no process behind:
# the agent first (it stops its pods), then the control plane, then any process whose
# environment still points into the cluster's folder. Keeps logs; --purge removes the folder.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stop() { # name
  local f="$KUBE_STATE/pids/$1.pid"
  [[ -f $f ]] || return 0
  local pid; pid="$(cat "$f")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$f"
}
for p in herd-node-agent kube-scheduler kube-controller-manager kube-apiserver etcd; do stop "$p"; done

# Pods' processes carry HERD_FS_ROOT inside the state folder; kill any the agent missed.
for env in /proc/[0-9]*/environ; do
  if grep -qas "HERD_FS_ROOT=$KUBE_STATE/" "$env"; then
    pid="${env#/proc/}"; pid="${pid%/environ}"
    kill -KILL "$pid" 2>/dev/null && kube_log "killed leftover pod process $pid"
  fi
done
if [[ ${1:-} == --purge ]]; then rm -rf "$KUBE_STATE"; fi
exit 0
