#!/usr/bin/env bash
# Runs the benchmark suite (builds nothing) and prints a markdown table of per-step times and
# ratios measured in the same session. See docs/BENCHMARKS.md.
#
#   bench/run_benchmarks.sh [BUILD_DIR]          (default: build)
#
# Environment:
#   OCTRAIN_BENCH_THREADS   intra-op threads for octrain_bench and PyTorch (default 1)
#   OCTRAIN_BENCH_MIN_TIME  seconds per repetition (default 0.3)
#   OCTRAIN_BENCH_REPS      repetitions, randomly interleaved; medians are reported (default 7)
#   OCTRAIN_BENCH_PYTHON    interpreter for the PyTorch side (default /usr/bin/python3)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="${1:-build}"
bench="$build/bench/octrain_bench"
threads="${OCTRAIN_BENCH_THREADS:-1}"
min_time="${OCTRAIN_BENCH_MIN_TIME:-0.3}"
reps="${OCTRAIN_BENCH_REPS:-7}"
python="${OCTRAIN_BENCH_PYTHON:-/usr/bin/python3}"

if [[ ! -x "$bench" ]]; then
  echo "run_benchmarks.sh: $bench not found; build it with" >&2
  echo "  cmake -S . -B $build -DOCTRAIN_BUILD_BENCH=ON && cmake --build $build --target octrain_bench -j2" >&2
  exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

export OCTRAIN_BENCH_THREADS="$threads"
# PyTorch and octrain share the system BLAS (OpenBLAS): give both the same BLAS thread count.
export OPENBLAS_NUM_THREADS="$threads"
echo "== octrain_bench ($threads thread(s), min_time ${min_time}s × $reps interleaved repetitions)" >&2
OCTRAIN_BENCH_SUMMARY="$tmp/octrain.tsv" "$bench" \
  --benchmark_min_time="$min_time" \
  --benchmark_repetitions="$reps" \
  --benchmark_enable_random_interleaving=true \
  >&2

have_torch=0
if [[ -x "$python" ]] && "$python" -c 'import torch' 2>/dev/null; then
  have_torch=1
  echo "== PyTorch side by side ($("$python" -c 'import torch; print(torch.__version__)'))" >&2
  "$python" "$here/pytorch_side_by_side.py" --threads "$threads" --rounds "$reps" \
    --min-time "$min_time" --format tsv > "$tmp/pytorch.tsv"
else
  echo "== PyTorch side by side skipped: $python cannot import torch" >&2
  printf 'net\tstep_ms\tgrad_ms\n' > "$tmp/pytorch.tsv"
fi

echo
echo "$(date -u +%Y-%m-%d), $(nproc) CPU(s), $threads thread(s), medians of $reps repetitions"
echo
echo "| net | octrain step ms | libtorch-C++ step ms | PyTorch step ms | octrain/libtorch | octrain/PyTorch | sweep/autograd |"
echo "|---|---:|---:|---:|---:|---:|---:|"
awk -F'\t' '
  function ms(v)        { return v == "" ? "—" : sprintf("%.3f", v) }
  function ratio(a, b)  { return (a == "" || b == "" || b + 0 <= 0) ? "—" : sprintf("%.2f", a / b) }
  FNR == 1 { next }
  FILENAME ~ /octrain.tsv$/ { t[$1, $2] = $3; if (!($1 in seen)) { seen[$1] = 1; order[++n] = $1 } ; next }
  FILENAME ~ /pytorch.tsv$/ { py[$1] = $2; next }
  END {
    for (i = 1; i <= n; ++i) {
      net = order[i]
      o = t[net, "octrain_step"]; l = t[net, "libtorch_step"]; p = py[net]
      s = t[net, "octrain_sweep"]; a = t[net, "autograd_grad"]
      printf "| %s | %s | %s | %s | %s | %s | %s |\n", net, ms(o), ms(l), ms(p), ratio(o, l), ratio(o, p), ratio(s, a)
    }
  }' "$tmp/octrain.tsv" "$tmp/pytorch.tsv"
