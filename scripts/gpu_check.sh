#!/usr/bin/env bash
# The GPU check, one command on a machine with CUDA and a PyTorch wheel (README, "Build against
# PyTorch's libtorch (GPU)"); about 8 minutes with 16 cores:
#   1. configure octrain against the wheel's libtorch and the bundle of scripts/gpu_bundle.sh,
#      build with every core;
#   2. run the device-parameterised tests on CUDA (OCTRAIN_TEST_DEVICE=cuda);
#   3. `octrain bench --device cuda --nets gpu --batches 128,1024`: every method's step time as a
#      ratio to Adam in the same run, beside PyTorch's own Adam on the same nets and GPU;
#   4. a short msa-discrete training run of tmlp:784-2048x3-10 on Fashion-MNIST (epochs/minute).
# Tables and logs go to $OUT (or --out). On a CPU machine, the benchmark part alone runs against
# an existing build (on a CPU, the big nets at batch 1024 take hours for MSA/E-MSA: narrow them):
#   scripts/gpu_check.sh --device cpu --build-dir build --skip-build --skip-tests --quick \
#     --batches 128 --filter '^(mlp784|cnn4|bmlp2048)/'
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
device=cuda
bundle=$repo/.gpu-bundle
build=$repo/build-gpu
out=${OUT:-$repo/gpu-check-out}
python=${PYTHON:-/opt/torch/.venv/bin/python3}
skip_build=0 skip_tests=0 quick=0 batches=128,1024 filter=
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device=$2; shift 2 ;;
    --bundle) bundle=$(realpath -m "$2"); shift 2 ;;
    --build-dir) build=$(realpath -m "$2"); shift 2 ;;
    --out) out=$(realpath -m "$2"); shift 2 ;;
    --python) python=$2; shift 2 ;;
    --skip-build) skip_build=1; shift ;;
    --skip-tests) skip_tests=1; shift ;;
    --quick) quick=1; shift ;;
    --batches) batches=$2; shift 2 ;;
    --filter) filter=$2; shift 2 ;;
    *) echo "usage: $0 [--device cuda|cpu] [--bundle DIR] [--build-dir DIR] [--out DIR]" \
            "[--python PY] [--skip-build] [--skip-tests] [--quick] [--batches B1,B2]" \
            "[--filter REGEX]" >&2; exit 2 ;;
  esac
done
[ -x "$python" ] || python=$(command -v python3)
mkdir -p "$out"
log() { echo "gpu_check: $*" | tee -a "$out/summary.md"; }
jobs=$(nproc)
: > "$out/summary.md"
log "octrain $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?') on $(hostname), $(date -u '+%F %T') UTC, device $device"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null \
  | sed 's/^/gpu_check: GPU /' | tee -a "$out/summary.md"
log "python $python: $("$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())' 2>&1)"

# 1. Build.
if [ "$skip_build" = 0 ]; then
  [ -d "$bundle" ] || { log "no bundle at $bundle: run scripts/gpu_bundle.sh where the packages are"; exit 1; }
  torch_prefix=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')
  torch_version=$("$python" -c 'import torch; print(torch.__version__.split("+")[0])')
  # ATen's headers need C++20 from torch 2.13 on; earlier wheels build as C++17.
  standard=$("$python" -c "v=tuple(int(p) for p in '$torch_version'.split('.')[:2]); print(20 if v >= (2, 13) else 17)")
  t0=$(date +%s)
  gtest_prefix=$build/_gtest
  cmake -S "$bundle/src/googletest" -B "$build/_gtest-build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DBUILD_GMOCK=OFF -DCMAKE_INSTALL_PREFIX="$gtest_prefix" > "$out/gtest.log" 2>&1 &&
    cmake --build "$build/_gtest-build" -j "$jobs" >> "$out/gtest.log" 2>&1 &&
    cmake --install "$build/_gtest-build" >> "$out/gtest.log" 2>&1 ||
    { log "GoogleTest did not build (gtest.log)"; exit 1; }
  if ! cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_PREFIX_PATH="$bundle;$gtest_prefix;$torch_prefix" -DZLIB_ROOT="$bundle" \
        -DCMAKE_CXX_STANDARD="$standard" -DOCTRAIN_BUILD_BENCH=OFF > "$out/configure.log" 2>&1; then
    log "configure failed (configure.log):"; tail -20 "$out/configure.log"; exit 1
  fi
  if ! cmake --build "$build" -j "$jobs" > "$out/build.log" 2>&1; then
    log "build failed (build.log):"; grep -m 20 -A 3 "error" "$out/build.log"; exit 1
  fi
  log "built against torch $torch_version (C++$standard) in $(( $(date +%s) - t0 )) s"
fi
octrain=$build/octrain
[ -x "$octrain" ] || { log "no $octrain"; exit 1; }

# 2. Device tests: the suites that take OCTRAIN_TEST_DEVICE, then the rest on the CPU.
if [ "$skip_tests" = 0 ]; then
  t0=$(date +%s)
  OCTRAIN_TEST_DEVICE=$device ctest --test-dir "$build" -j 4 --timeout 300 \
    -R '^(Device|GradientMethod|Training)\.' --output-on-failure > "$out/ctest-$device.log" 2>&1
  log "device tests on $device: $(grep -E 'tests passed|tests failed' "$out/ctest-$device.log" | tail -1) ($(( $(date +%s) - t0 )) s)"
  grep -E '^\s+[0-9]+ - .*(Failed|Timeout|Exception)' "$out/ctest-$device.log" | tee -a "$out/summary.md"
fi

# 3. Step times.
bench_flags=(--nets gpu --batches "$batches" --no-scaling --device "$device")
[ "$quick" = 1 ] && bench_flags+=(--quick)
[ -n "$filter" ] && bench_flags+=(--filter "$filter")
[ "$device" = cpu ] && bench_flags+=(--threads "$jobs")
t0=$(date +%s)
"$octrain" bench "${bench_flags[@]}" -o "$out/bench-$device.md" > /dev/null 2> "$out/bench-$device.log" ||
  log "octrain bench failed (bench-$device.log)"
"$python" "$repo/bench/pytorch_adam.py" --device "$device" --batches "$batches" --threads "$jobs" \
  $([ "$quick" = 1 ] && echo --repetitions 3 --min-time 0.1) \
  --out "$out/pytorch-adam-$device.md" > "$out/pytorch-adam-$device.log" 2>&1 ||
  log "PyTorch's Adam did not run (pytorch-adam-$device.log)"
log "benchmarks in $(( $(date +%s) - t0 )) s: bench-$device.md, pytorch-adam-$device.md"

# 4. A short discrete-weight run: epochs per minute of the papers' 3×2048 ternary MLP.
data_dir=${OCTRAIN_DATA_DIR:-$bundle/data}
[ -d "$data_dir/fashion-mnist" ] || data_dir=$repo/.data
epochs=$([ "$quick" = 1 ] && echo 1 || echo 3)
rm -rf "$out/msa-discrete-run"
t0=$(date +%s)
if OCTRAIN_DATA_DIR=$data_dir "$octrain" train -q --device "$device" --dataset fashion-mnist \
     --model tmlp:784-2048x3-10 --method msa-discrete --loss squared-hinge --epochs "$epochs" \
     --batch-size 100 --out "$out/msa-discrete-run" > "$out/msa-discrete.log" 2>&1; then
  seconds=$(( $(date +%s) - t0 ))
  log "msa-discrete tmlp:784-2048x3-10, fashion-mnist, batch 100, $epochs epochs in $seconds s" \
      "($("$python" -c "print(f'{60 * $epochs / max($seconds, 1):.2f}')") epochs/min, start-up included):" \
      "$(grep -m1 '^test accuracy' "$out/msa-discrete.log"), $(grep -o '"mean_step_ms": [0-9.]*' "$out/msa-discrete-run/result.json")"
else
  log "msa-discrete run failed (msa-discrete.log): $(tail -1 "$out/msa-discrete.log")"
fi
log "done"
