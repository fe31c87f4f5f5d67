#!/usr/bin/env bash
# Formatting and static analysis on the files changed since BASE (default: the
# previous commit): clang-format must leave them unchanged; clang-tidy reports.
# `lint.sh --all` checks the formatting of every tracked C++ file (CI runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --all ]; then
  # shellcheck disable=SC2046
  clang-format --dry-run --Werror $(git ls-files '*.cc' '*.h')
  echo "lint: every C++ file is clang-format clean"
  exit 0
fi
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
