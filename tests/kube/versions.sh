# Pinned versions of the test cluster (tests/kube). Changing one rebuilds into a new cache folder.
KUBE_VERSION=v1.36.3
HELM_VERSION=v3.22.0
