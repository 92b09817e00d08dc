#!/usr/bin/env bash
# Bundles what a GPU machine without our Debian packages or a network needs to build and check
# octrain against a PyTorch wheel's libtorch (scripts/gpu_check.sh, README "Build against
# PyTorch's libtorch (GPU)"): the header-only dependencies with small CMake configs of their own
# (CLI11, toml++, nlohmann-json, fmt in header-only mode), Gloo's headers for c10d, zlib as a
# static library, GoogleTest's sources, and Fashion-MNIST. Run here, after scripts/setup.sh;
# writes ${1:-.gpu-bundle} (ignored by git, about 40 MB), which `carry` then takes along.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bundle=$(realpath -m "${1:-$repo/.gpu-bundle}")
say() { echo "gpu_bundle: $*"; }

need() { [ -e "$1" ] || { echo "gpu_bundle: $1 is missing: run scripts/setup.sh first" >&2; exit 1; }; }
for path in /usr/include/CLI /usr/include/toml++ /usr/include/nlohmann /usr/include/fmt \
            /usr/include/gloo /usr/include/zlib.h /usr/lib/x86_64-linux-gnu/libz.a \
            /usr/src/googletest /usr/share/datasets/fashion-mnist; do
  need "$path"
done

rm -rf "$bundle"
mkdir -p "$bundle"/{include,lib,share/cmake,src,data}
for dir in CLI toml++ nlohmann fmt gloo; do cp -r "/usr/include/$dir" "$bundle/include/"; done
cp /usr/include/zlib.h /usr/include/zconf.h "$bundle/include/"
cp /usr/lib/x86_64-linux-gnu/libz.a "$bundle/lib/"
cp -r /usr/src/googletest "$bundle/src/googletest"
cp -r /usr/share/datasets/fashion-mnist "$bundle/data/fashion-mnist"

# One config per package, each an imported interface target on the bundle's headers; found by
# find_package through CMAKE_PREFIX_PATH=<bundle> (<prefix>/share/cmake/<name>/).
config() {  # name target [compile definitions]
  local name=$1 target=$2 defs=${3:-}
  mkdir -p "$bundle/share/cmake/$name"
  cat > "$bundle/share/cmake/$name/${name}Config.cmake" <<CONFIG
# Written by octrain's scripts/gpu_bundle.sh: header-only $name from the bundle.
if(NOT TARGET $target)
  get_filename_component(_bundle "\${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
  add_library($target INTERFACE IMPORTED)
  set_target_properties($target PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "\${_bundle}/include"
                                           INTERFACE_COMPILE_DEFINITIONS "$defs")
endif()
set(${name}_FOUND TRUE)
CONFIG
}
config CLI11 CLI11::CLI11
config tomlplusplus tomlplusplus::tomlplusplus
config nlohmann_json nlohmann_json::nlohmann_json
config fmt fmt::fmt FMT_HEADER_ONLY=1

echo "bundled from $(hostname) on $(date -u +%F) at octrain $(git -C "$repo" rev-parse --short HEAD)" \
  > "$bundle/BUNDLE"
say "wrote $bundle ($(du -sh "$bundle" | cut -f1))"
