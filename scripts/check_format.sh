#!/usr/bin/env bash
# Fails (exit 1, naming the files) when a tracked C++ file differs from clang-format's layout
# (.clang-format); exit 77 (a skip for ctest) where clang-format or git is missing.
#   scripts/check_format.sh          # check;   fix with: git ls-files '*.cpp' '*.h' | xargs clang-format -i
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v clang-format >/dev/null || { echo "check_format: clang-format not installed; skipped"; exit 77; }
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || { echo "check_format: not a git checkout; skipped"; exit 77; }
mapfile -t files < <(git ls-files '*.cpp' '*.h' '*.hpp')
bad=()
for f in "${files[@]}"; do
  [[ -f "$f" ]] || continue
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [[ ${#bad[@]} -gt 0 ]]; then
  echo "check_format: ${#bad[@]} file(s) not clang-format clean: ${bad[*]} (fix: clang-format -i FILE)"
  exit 1
fi
echo "check_format: ${#files[@]} files clean"
