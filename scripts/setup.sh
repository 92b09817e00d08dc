#!/usr/bin/env bash
# octrain set-up: installs the Debian packages and the data, configures and builds, then
#   scripts/setup.sh main   trains the default job (MLP, Adam, Fashion-MNIST, 3 epochs) and prints its table
#   scripts/setup.sh test   runs the test suite
#   scripts/setup.sh build  stops after building (the default)
# Idempotent; run as root (or with sudo available) on Debian 12.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mode=${1:-build}
build_dir=${OCTRAIN_BUILD_DIR:-$repo/build}
case "$mode" in main|test|build) ;; *) echo "usage: $0 [main|test|build]" >&2; exit 2 ;; esac

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

packages=(cmake make ninja-build g++ ccache git libtorch-dev libcli11-dev libtomlplusplus-dev nlohmann-json3-dev
          libfmt-dev zlib1g-dev libgtest-dev libbenchmark-dev libopenblas0-pthread
          dataset-fashion-mnist python3-sklearn python3-torch gnuplot-nox libgloo-dev clang
          libclang-rt-dev)
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

"$repo/scripts/install_data.sh"

echo "setup: configuring and building in $build_dir"
# Ninja schedules object files across targets (Make waits for each layer's library before
# compiling the next layer's sources); a build directory keeps the generator it was made with.
generator=()
[ -f "$build_dir/CMakeCache.txt" ] || generator=(-G Ninja)
cmake -S "$repo" -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release >/dev/null
# The main job needs the tool alone; the tests need everything (tests, benchmarks, the tool).
if [[ "$mode" == main ]]; then
  cmake --build "$build_dir" -j2 --target octrain_cli
else
  cmake --build "$build_dir" -j2
fi

case "$mode" in
  main)
    out="$repo/runs/main-fashion-mnist"
    rm -rf "$out"
    "$build_dir/octrain" train --dataset fashion-mnist --model mlp:784-256-256-10:relu \
      --method adam:lr=0.001 --epochs 3 --batch-size 128 --seed 0 --out "$out" --table
    ;;
  test)
    ctest --test-dir "$build_dir" --output-on-failure -j2 --timeout 900
    ;;
esac
