#!/usr/bin/env bash
# How far the shipped configs' smoothed training losses grow: every configs/*.toml at its quick
# profile (configs without one: the top level, first seed only), with the loss-growth rule off
# (--divergence-factor 0), then per config the largest figures of the runs' result.json
# `loss_growth` (loss_growth.h): s/min (any step), s/start, and s/min at steps where s is above
# its start — the rule trips when that last one passes --divergence-factor.
#
#   [BUILD=build] [OUT=runs/loss-growth] scripts/measure_loss_growth.sh [CONFIG...]
set -uo pipefail

cd "$(dirname "$0")/.."
octrain="${BUILD:-build}/octrain"
out="${OUT:-runs/loss-growth}"
configs=("$@")
[[ -x "$octrain" ]] || { echo "measure_loss_growth.sh: $octrain not built" >&2; exit 2; }
[[ ${#configs[@]} -gt 0 ]] || configs=(configs/*.toml)

mkdir -p "$out"
for config in "${configs[@]}"; do
  name=$(basename "$config" .toml)
  dir="$out/$name"
  rm -rf "$dir"
  profile=(--profile quick)
  grep -q '^\[profile\.quick\]' "$config" || profile=()
  if grep -q '^\[\[run\]\]' "$config"; then
    seeds=()
    [[ ${#profile[@]} -eq 0 ]] && seeds=(--seeds "$(python3 -c 'import sys,tomllib; print(tomllib.load(open(sys.argv[1],"rb")).get("seeds",[0])[0])' "$config" 2>/dev/null || echo 0)")
    "$octrain" compare -q --no-report -j 1 --config "$config" "${profile[@]}" "${seeds[@]}" \
      --divergence-factor 0 -o "$dir" >"$dir.log" 2>&1
  else
    "$octrain" train -q -j 1 --config "$config" "${profile[@]}" --divergence-factor 0 \
      -o "$dir" >"$dir.log" 2>&1
  fi
  code=$?
  python3 - "$dir" "$name" "$code" <<'EOF'
import glob, json, os, sys
root, name, code = sys.argv[1:]
best = {"max_ratio": (0, ""), "max_ratio_to_start": (0, ""), "max_ratio_above_start": (0, "")}
runs = 0
for path in glob.glob(os.path.join(root, "**", "result.json"), recursive=True):
    growth = json.load(open(path)).get("loss_growth", {})
    runs += 1
    for key in best:
        if growth.get(key, 0) > best[key][0]:
            best[key] = (growth[key], os.path.relpath(os.path.dirname(path), root))
print(f"{name}: exit {code}, {runs} runs; " + "; ".join(
    f"{key} {value:.3g} ({where})" for key, (value, where) in best.items()))
EOF
done
