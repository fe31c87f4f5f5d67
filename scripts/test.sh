#!/usr/bin/env bash
# All set-up and every test on a fresh Debian machine: install dependencies,
# build the release and the sanitizer (ASan+UBSan) configurations, run every
# test in both, and replay the fuzz corpora with clang's libFuzzer.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

jobs=$(nproc)
echo "== release build"
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs"
echo "== release tests"
ctest --preset release -j "$jobs"

echo "== debug build (AddressSanitizer + UndefinedBehaviorSanitizer)"
cmake --preset debug >/dev/null
cmake --build --preset debug -j "$jobs"
echo "== debug tests"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --preset debug -j "$jobs"

if [ "${HERD_SKIP_FUZZ:-0}" != 1 ]; then
  echo "== fuzz targets (clang, libFuzzer): corpus replay"
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz -j "$jobs" --target duration_fuzz options_fuzz metrics_threshold_fuzz metrics_snapshot_fuzz
  ctest --test-dir build/fuzz -j "$jobs" --output-on-failure
fi
