#!/usr/bin/env bash
# All set-up and every test on a fresh Debian machine: install dependencies,
# build the release and the sanitizer (ASan+UBSan) configurations, run every
# test in both, the threaded parts under ThreadSanitizer too, and replay the
# fuzz corpora with clang's libFuzzer.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

# ccache, when the machine has it, keeps compiled objects outside the clone (~/.cache/ccache) so that a
# later run on the same machine rebuilds only what changed. Paths are taken relative to the clone, so
# another clone of the same commit hits the same entries. Nothing needs it: without it every build is whole.
if command -v ccache >/dev/null && [ "${HERD_NO_CCACHE:-0}" != 1 ]; then
  export CMAKE_CXX_COMPILER_LAUNCHER=ccache CMAKE_C_COMPILER_LAUNCHER=ccache CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
  export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-20G}"
fi
# Each stage line carries the seconds since the start, so a slow stage shows in CI's log.
stage() { echo "== $* [${SECONDS}s]"; }

stage "formatting (clang-format, every tracked C++ file)"
bash scripts/lint.sh --all

jobs=$(nproc)
log=$(mktemp)
trap 'rm -f "$log"' EXIT

stage "release build"
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs"

# The test cluster (tests/kube/README.md): real kube-apiserver, controller-manager,
# scheduler (built once from the Go module proxy, then cached) and herd-node-agent.
# The kube-labelled tests need it; it is stopped when this script ends.
stage "test cluster: build (first run only) and start"
export HERD_KUBE_STATE="$PWD/build/kube-ci"
bash tests/kube/down.sh --purge >/dev/null 2>&1 || true
trap 'bash tests/kube/down.sh >/dev/null 2>&1; rm -f "$log"' EXIT
HERD_BIN="$PWD/build/bin/herd" bash tests/kube/up.sh
export HERD_TEST_KUBECONFIG="$HERD_KUBE_STATE/kubeconfig"
bash scripts/gen-bundle.sh --check

stage "release tests"
ctest --preset release -j "$jobs" | tee -a "$log"

stage "debug build (AddressSanitizer + UndefinedBehaviorSanitizer)"
cmake --preset debug >/dev/null
cmake --build --preset debug -j "$jobs"
stage "debug tests"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --preset debug -j "$jobs" -LE kube-e2e | tee -a "$log"  # the end-to-end suites ran on the release binary

# ThreadSanitizer over the multi-threaded parts: the engine (workers, controller,
# control calls), the control API server, the coordinator, the kube client, and
# the outputs' writer threads (metrics: json/csv/InfluxDB; export: remote write),
# gRPC's calls handed between its threads and the VU loops (herd_grpc_test).
# Only those test binaries are built (the whole tree under TSan is too slow for
# CI); the others show up as *_NOT_BUILT and are left out. A race fails the run
# (halt_on_error); the dashboards and webdash tests (Python, a herd binary the TSan build
# does not make) are left out. setarch -R: TSan's fixed memory layout needs no ASLR on
# kernels with many mmap random bits ("unexpected memory mapping").
stage "tsan build (ThreadSanitizer; engine, control API, coordinator, kube, metrics and export tests)"
cmake --preset tsan >/dev/null
cmake --build --preset tsan -j "$jobs" --target herd_engine_test herd_api_test herd_coord_test herd_kube_test \
  herd_metrics_test herd_export_test herd_grpc_test
stage "tsan tests"
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  setarch "$(uname -m)" -R ctest --preset tsan -j "$jobs" -LE 'kube-e2e|examples|dashboards|webdash' -E '_NOT_BUILT$' | tee -a "$log"

if [ "${HERD_SKIP_FUZZ:-0}" != 1 ]; then
  echo "== fuzz targets (clang, libFuzzer): corpus replay"
  cmake --preset fuzz >/dev/null
  fuzzers=$(sed -n 's/^herd_fuzzer(\([a-z0-9_]*\) .*/\1/p' fuzz/CMakeLists.txt)
  # shellcheck disable=SC2086
  cmake --build --preset fuzz -j "$jobs" --target $fuzzers
  ctest --test-dir build/fuzz -j "$jobs" --output-on-failure | tee -a "$log"
fi

# One closing line over every ctest run above (each run already failed the
# script if any of its tests failed).
total=$(sed -n 's/.*tests failed out of \([0-9]*\).*/\1/p' "$log" | paste -sd+ | bc)
failed=$(sed -n 's/.*, \([0-9]*\) tests failed out of.*/\1/p' "$log" | paste -sd+ | bc)
stage "done"
echo "$((total - failed)) passed, ${failed} failed"
