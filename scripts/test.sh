#!/usr/bin/env bash
# All set-up and every test on a fresh Debian machine: install dependencies,
# build the release and the sanitizer (ASan+UBSan) configurations, run every
# test in both, the threaded parts under ThreadSanitizer too, and replay the
# fuzz corpora with clang's libFuzzer.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

echo "== formatting (clang-format, every tracked C++ file)"
bash scripts/lint.sh --all

jobs=$(nproc)
log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "== release build"
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs"

# The test cluster (tests/kube/README.md): real kube-apiserver, controller-manager,
# scheduler (built once from the Go module proxy, then cached) and herd-node-agent.
# The kube-labelled tests need it; it is stopped when this script ends.
echo "== test cluster: build (first run only) and start"
export HERD_KUBE_STATE="$PWD/build/kube-ci"
bash tests/kube/down.sh --purge >/dev/null 2>&1 || true
trap 'bash tests/kube/down.sh >/dev/null 2>&1; rm -f "$log"' EXIT
HERD_BIN="$PWD/build/bin/herd" bash tests/kube/up.sh
export HERD_TEST_KUBECONFIG="$HERD_KUBE_STATE/kubeconfig"
bash scripts/gen-bundle.sh --check

echo "== release tests"
ctest --preset release -j "$jobs" | tee -a "$log"

echo "== debug build (AddressSanitizer + UndefinedBehaviorSanitizer)"
cmake --preset debug >/dev/null
cmake --build --preset debug -j "$jobs"
echo "== debug tests"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --preset debug -j "$jobs" -LE kube-e2e | tee -a "$log"  # the end-to-end suites ran on the release binary

# ThreadSanitizer over the multi-threaded parts: the engine (workers, controller,
# control calls), the control API server, the coordinator, the kube client, and
# the outputs' writer threads (metrics: json/csv/InfluxDB; export: remote write).
# Only those test binaries are built (the whole tree under TSan is too slow for
# CI); the others show up as *_NOT_BUILT and are left out. A race fails the run
# (halt_on_error); the dashboards and webdash tests (Python, a herd binary the TSan build
# does not make) are left out. setarch -R: TSan's fixed memory layout needs no ASLR on
# kernels with many mmap random bits ("unexpected memory mapping").
echo "== tsan build (ThreadSanitizer; engine, control API, coordinator, kube, metrics and export tests)"
cmake --preset tsan >/dev/null
cmake --build --preset tsan -j "$jobs" --target herd_engine_test herd_api_test herd_coord_test herd_kube_test \
  herd_metrics_test herd_export_test
echo "== tsan tests"
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  setarch "$(uname -m)" -R ctest --preset tsan -j "$jobs" -LE 'kube-e2e|examples|dashboards|webdash' -E '_NOT_BUILT$' | tee -a "$log"

if [ "${HERD_SKIP_FUZZ:-0}" != 1 ]; then
  echo "== fuzz targets (clang, libFuzzer): corpus replay"
  cmake --preset fuzz >/dev/null
  fuzzers=$(sed -n 's/^herd_fuzzer(\([a-z_]*\) .*/\1/p' fuzz/CMakeLists.txt)
  # shellcheck disable=SC2086
  cmake --build --preset fuzz -j "$jobs" --target $fuzzers
  ctest --test-dir build/fuzz -j "$jobs" --output-on-failure | tee -a "$log"
fi

# One closing line over every ctest run above (each run already failed the
# script if any of its tests failed).
total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$log" | paste -sd+ | bc)
failed=$(sed -n 's/.*, \([0-9]*\) tests failed out of.*/\1/p' "$log" | paste -sd+ | bc)
echo "$((total - failed)) passed, ${failed} failed"
