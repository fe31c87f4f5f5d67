#!/usr/bin/env bash
# Formatting and static analysis on the files changed since BASE (default: the
# previous commit): clang-format must leave them unchanged, and clang-tidy
# (.clang-tidy, every warning an error) must report nothing on the changed .cc
# files that the dev build compiles (build/dev/compile_commands.json; run
# `cmake --preset dev` first, or set LINT_NO_TIDY=1 to skip it knowingly).
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
if [ -n "${LINT_NO_TIDY:-}" ]; then
  echo "lint: ok (clang-tidy skipped: LINT_NO_TIDY is set)"
  exit 0
fi
db=build/dev/compile_commands.json
[ -f "$db" ] || { echo "lint: $db is missing: run 'cmake --preset dev' (or set LINT_NO_TIDY=1)" >&2; exit 1; }
# Only the sources the dev build compiles (fuzz targets and headers have no entry of their own).
tidy_files=()
for f in $(echo "$files" | grep '\.cc$' || true); do
  grep -q "\"file\": \"$PWD/$f\"" "$db" && tidy_files+=("$f")
done
if [ ${#tidy_files[@]} -gt 0 ]; then
  clang-tidy -p build/dev --quiet "${tidy_files[@]}" || { echo "lint: clang-tidy reported warnings (above)" >&2; exit 1; }
fi
echo "lint: ok"
