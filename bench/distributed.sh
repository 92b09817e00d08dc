#!/usr/bin/env bash
# Data-parallel step time on this machine: 1 process × 2 threads against 2 processes × 1 thread,
# for Adam, K-FAC, DDPNOpt and E-MSA on the main job's MLP and the DDPNOpt 4-conv CNN (Fashion-
# MNIST, global batch 128), then the projected scaling (bench/distributed_projection.py).
#   bench/distributed.sh [BUILD_DIR] [OUT_DIR]     (about 5 minutes on 2 cores)
# Figures: median over the steps after the first epoch's first 3 (warm-up) of step_time_ms,
# comm_ms, comm_bytes and comm_calls from each run's metrics.jsonl (rank 0's figures).
set -euo pipefail
build=${1:-build}
out=${2:-runs/bench-distributed}
steps=${OCTRAIN_BENCH_STEPS:-23}
rm -rf "$out"
mkdir -p "$out"
nets=("mlp784=mlp:784-256-256-10:relu"
      "cnn4=cnn:conv32x3-conv32x3-maxpool2-conv32x3-conv32x3-maxpool2-flatten-fc128-10:relu")
methods=("adam=adam:lr=0.001" "kfac=kfac" "ddpnopt=ddpnopt:lr=0.01" "emsa=emsa:iterations=3")
for net in "${nets[@]}"; do
  for method in "${methods[@]}"; do
    for layout in "1x2=--nproc 1 -j 2" "2x1=--nproc 2 -j 1"; do
      dir="$out/${net%%=*}-${method%%=*}-${layout%%=*}"
      # shellcheck disable=SC2086
      "$build/octrain" train -d fashion-mnist -m "${net#*=}" --method "${method#*=}" -b 128 \
        --train-limit $((128 * steps)) --test-limit 256 -e 1 -q ${layout#*=} -o "$dir" >/dev/null
    done
  done
done
python3 "$(dirname "$0")/distributed_projection.py" "$out"
