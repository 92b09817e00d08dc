#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/, one executable, clang with ASan + UBSan) in their own
# build directory and runs each named harness (default: all) from its seed corpus.
#   scripts/fuzz.sh [--seconds N] [--runs N] [--jobs N] [--build-only|--no-build] [harness...]
# --seconds N: each harness runs N seconds (default 60); --runs N: stops a harness after N
# executions if that comes first; --no-build runs what BUILD holds (runs in parallel share one
# build). Prints one line per harness (executions, seconds, findings) and exits 1 if any harness
# found a crash, leak, timeout or sanitizer report (the input is kept in BUILD/fuzz-artifacts/),
# 77 when clang with libFuzzer is not installed (ctest: skipped).
# Environment: OCTRAIN_FUZZ_BUILD_DIR (default build-fuzz), OCTRAIN_FUZZ_OPT (default -O1; the
# ctest's short run builds with -O0, which compiles faster), OCTRAIN (the octrain binary that
# writes the checkpoint and packed-model seeds; default build/octrain). The seeds are generated
# into BUILD/fuzz-seeds/ (fuzz/make_corpus.sh) on the first run; new inputs the fuzzer finds go
# to BUILD/fuzz-corpus/<harness>/.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${OCTRAIN_FUZZ_BUILD_DIR:-$repo/build-fuzz}
seconds=60
runs=-1
jobs=2
build_only=0
build=1
harnesses=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --build-only) build_only=1; shift ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) harnesses+=("$1"); shift ;;
  esac
done
if [ ${#harnesses[@]} -eq 0 ]; then
  harnesses=(idx csv cifar10 mnist_json run_config model_spec metrics_line checkpoint packed_model)
fi

cxx=${CXX_FUZZ:-clang++}
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' \
  >"$probe/probe.cpp"
if ! command -v "$cxx" >/dev/null 2>&1 ||
   ! "$cxx" -fsanitize=fuzzer,address,undefined "$probe/probe.cpp" -o "$probe/probe" 2>/dev/null; then
  echo "fuzz.sh: skipped: $cxx with libFuzzer (-fsanitize=fuzzer) is not installed" >&2
  exit 77
fi

if [ "$build" -eq 1 ]; then
  cmake -S "$repo" -B "$build_dir" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="${OCTRAIN_FUZZ_OPT:--O1} -gline-tables-only" -DOCTRAIN_FUZZ=ON \
    -DOCTRAIN_BUILD_TESTS=OFF -DOCTRAIN_BUILD_BENCH=OFF -DOCTRAIN_BUILD_CLI=OFF >/dev/null
  cmake --build "$build_dir" --target octrain_fuzz -j"$jobs"
fi
[ "$build_only" -eq 1 ] && exit 0

# libtorch's start-up allocations live for the whole process: suppressed by library name only.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$repo/tests/sanitizer/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# One compute thread: the harnesses parse, they do not train.
export OMP_NUM_THREADS=1

seeds_root=$build_dir/fuzz-seeds
if [ ! -f "$seeds_root/.complete" ]; then
  rm -rf "$seeds_root"
  "$repo/fuzz/make_corpus.sh" "$seeds_root"
  touch "$seeds_root/.complete"
fi

failed=0
for h in "${harnesses[@]}"; do
  seeds=$seeds_root/$h
  [ -d "$seeds" ] || { echo "fuzz.sh: no seed corpus $seeds" >&2; exit 2; }
  corpus=$build_dir/fuzz-corpus/$h
  artifacts=$build_dir/fuzz-artifacts
  log=$build_dir/fuzz-logs/$h.log
  mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
  # Inputs up to twice the largest seed (at least 8 KiB): room to grow, no truncated seeds.
  largest=$(find "$seeds" -type f -printf '%s\n' | sort -n | tail -1)
  max_len=$((2 * ${largest:-0} > 8192 ? 2 * ${largest:-0} : 8192))
  set +e
  "$build_dir/fuzz/octrain_fuzz" --harness="$h" -max_total_time="$seconds" -runs="$runs" \
    -max_len="$max_len" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="$artifacts/$h-" "$corpus" "$seeds" >"$log" 2>&1
  rc=$?
  set -e
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  time=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  coverage=$(sed -n 's/.* cov: \([0-9]*\) .*/\1/p' "$log" | tail -1)
  if [ "$rc" -eq 0 ]; then
    echo "fuzz $h: ${executions:-?} executions in ${time:-?} s, coverage ${coverage:-?}, 0 findings"
  else
    failed=1
    echo "fuzz $h: FOUND A PROBLEM (exit $rc) after ${executions:-?} executions; log $log:"
    grep -E 'ERROR|SUMMARY|fuzz: |Test unit written|runtime error' "$log" | head -20
  fi
done
exit "$failed"
