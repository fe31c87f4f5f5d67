#!/usr/bin/env bash
# Formatting and static analysis on the files changed since BASE (default: the
# previous commit): clang-format must leave them unchanged; clang-tidy reports.
set -euo pipefail
cd "$(dirname "$0")/.."
base="${1:-HEAD~1}"
files=$(git diff --name-only --diff-filter=ACMR "$base" -- '*.cc' '*.h' | grep -E '^(src|apps|tests|fuzz|bench)/' || true)
[ -n "$files" ] || { echo "lint: no changed C++ files"; exit 0; }
# shellcheck disable=SC2086
clang-format --dry-run --Werror $files
if [ -f build/release/compile_commands.json ]; then
  # shellcheck disable=SC2086
  clang-tidy -p build/release --quiet $(echo "$files" | grep '\.cc$') 2>/dev/null || true
fi
echo "lint: ok"
