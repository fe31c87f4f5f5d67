#!/usr/bin/env bash
# Issue #13: the optional observability objects of the Helm chart and of kustomize render
# (no cluster needed): off by default; with podMonitor/serviceMonitor/grafanaDashboards
# enabled (Helm) or deploy/observability (kustomize), a PodMonitor on the test Pods' "api"
# port, a ServiceMonitor on the operator's "metrics" Service port, and one ConfigMap per
# dashboard labelled grafana_dashboard "1" holding the repository's JSON byte for byte.
# helm: the test cluster's pinned build (tests/kube/build.sh), else helm on PATH;
# missing: skipped (77), or a failure when CI=true.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
missing() {
  [[ ${CI:-} == true ]] && fail "$1 is missing"
  echo "SKIP: $1 is missing"; exit 77
}
cache="${HERD_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/herd/kube}/k8s-$KUBE_VERSION-helm-$HELM_VERSION/bin"
helm=$cache/helm; [[ -x $helm ]] || helm=$(command -v helm) || missing helm
kubectl=$cache/kubectl; [[ -x $kubectl ]] || kubectl=$(command -v kubectl) || missing kubectl
chart=$KUBE_REPO/charts/herd-operator
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

"$helm" template herd "$chart" >"$tmp/default.yaml" 2>/dev/null || fail "helm template (defaults) failed"
grep -Eq '^kind: (PodMonitor|ServiceMonitor)$' "$tmp/default.yaml" && fail "monitors rendered by default"
grep -q 'grafana_dashboard' "$tmp/default.yaml" && fail "dashboards rendered by default"
"$kubectl" kustomize "$KUBE_REPO/deploy/default" >"$tmp/kdefault.yaml" || fail "kustomize deploy/default"
grep -Eq '^kind: (PodMonitor|ServiceMonitor)$|grafana_dashboard' "$tmp/kdefault.yaml" && fail "deploy/default has observability objects"
pass "off by default (Helm and deploy/default)"

"$helm" template herd "$chart" --set podMonitor.enabled=true --set serviceMonitor.enabled=true \
  --set grafanaDashboards.enabled=true >"$tmp/helm.yaml" 2>/dev/null || fail "helm template (enabled) failed"
"$kubectl" kustomize "$KUBE_REPO/deploy/observability" >"$tmp/kustomize.yaml" || fail "kustomize deploy/observability"
if "$helm" template herd "$chart" --set serviceMonitor.enabled=true --set metrics.service.enabled=false \
  >/dev/null 2>"$tmp/err"; then fail "a ServiceMonitor without the metrics Service was accepted"; fi
grep -q 'serviceMonitor.enabled needs' "$tmp/err" || fail "unclear error: $(cat "$tmp/err")"

python3 - "$tmp/helm.yaml" "$tmp/kustomize.yaml" "$KUBE_REPO/dashboards" <<'PY' || fail "rendered objects"
import glob, json, os, sys, yaml
dashboards = {os.path.basename(p): open(p).read() for p in glob.glob(os.path.join(sys.argv[3], "*.json"))}
assert len(dashboards) == 3, sorted(dashboards)
for source in sys.argv[1:3]:
    docs = [d for d in yaml.safe_load_all(open(source)) if d]
    kinds = {}
    for d in docs:
        kinds.setdefault(d["kind"], []).append(d)
    pm, = kinds["PodMonitor"]
    assert pm["spec"]["selector"]["matchLabels"] == {"app": "herd"}, pm["spec"]["selector"]
    assert pm["spec"]["selector"]["matchExpressions"][0]["values"] == ["runner", "coordinator"]
    assert pm["spec"]["podMetricsEndpoints"][0]["port"] == "api"
    assert pm["spec"]["podMetricsEndpoints"][0]["path"] == "/metrics"
    sm, = kinds["ServiceMonitor"]
    svc, = [s for s in kinds["Service"] if s["metadata"]["name"].endswith("-metrics")]
    sel = sm["spec"]["selector"]["matchLabels"]
    assert all(svc["metadata"]["labels"].get(k) == v for k, v in sel.items()), (sel, svc["metadata"]["labels"])
    assert sm["spec"]["endpoints"][0]["port"] in [p["name"] for p in svc["spec"]["ports"]]
    deploy, = kinds["Deployment"]
    ports = [p["name"] for p in deploy["spec"]["template"]["spec"]["containers"][0]["ports"]]
    assert "metrics" in ports, ports
    cms = [c for c in kinds.get("ConfigMap", []) if c["metadata"].get("labels", {}).get("grafana_dashboard") == "1"]
    got = {k: v for c in cms for k, v in c["data"].items()}
    assert sorted(got) == sorted(dashboards), (source, sorted(got))
    for k, v in got.items():
        assert json.loads(v) == json.loads(dashboards[k]), k
print("ok")
PY
pass "Helm (values enabled) and deploy/observability: PodMonitor on port api, ServiceMonitor on the metrics Service, 3 dashboard ConfigMaps"
