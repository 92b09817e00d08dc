#!/usr/bin/env bash
# ASan + UBSan build of the unit tests, in its own build directory, and the whole suite under
# the sanitizers.
#   scripts/sanitize.sh [-j N] [--build-only] [ctest args...]
# Environment: OCTRAIN_ASAN_BUILD_DIR (default build-asan), OCTRAIN_DATA_DIR as for the tests.
# Leak checking is on; tests/sanitizer/lsan.supp suppresses leaks allocated from inside libtorch
# and its third-party libraries (process-lifetime registries and thread pools they never free),
# matched by library name: an object octrain itself allocates with new and loses is still
# reported, a tensor it leaks through libtorch's allocator is not.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${OCTRAIN_ASAN_BUILD_DIR:-$repo/build-asan}
jobs=2
build_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    -j) jobs=$2; shift 2 ;;
    -j*) jobs=${1#-j}; shift ;;
    --build-only) build_only=1; shift ;;
    *) break ;;
  esac
done

flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
cmake -S "$repo" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DOCTRAIN_BUILD_BENCH=OFF >/dev/null
cmake --build "$build_dir" -j"$jobs"
[ "$build_only" -eq 1 ] && exit 0

# detect_leaks: see above.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1:strict_string_checks=0:detect_stack_use_after_return=0}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$repo/tests/sanitizer/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:suppressions=$repo/tests/sanitizer/ubsan.supp}
# The suite under the sanitizers is several times slower than the release suite. Left out: the
# fuzz smoke test (scripts/fuzz.sh is its own sanitizer build) and the package_* tests, whose
# consumer project is built without the sanitizers and cannot link the instrumented libraries.
ctest --test-dir "$build_dir" --output-on-failure -j"$jobs" --timeout 2400 -LE fuzz \
  -E '^package_' "$@"
