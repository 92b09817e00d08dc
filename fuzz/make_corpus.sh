#!/usr/bin/env bash
#   fuzz/make_corpus.sh OUT
# Writes the seed corpora into OUT/<harness>/ (scripts/fuzz.sh calls it into its build directory;
# the seeds are generated, not kept in git): the text and raw-binary seeds (fuzz/make_corpus.py),
# and checkpoint and packed-model seeds written by octrain itself (OCTRAIN, default build/octrain),
# of the networks the checkpoint and packed_model harnesses load into.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:?usage: fuzz/make_corpus.sh OUT}
octrain=${OCTRAIN:-$repo/build/octrain}
[ -x "$octrain" ] || { echo "make_corpus.sh: $octrain is not built (set OCTRAIN)" >&2; exit 2; }
python3 "$repo/fuzz/make_corpus.py" "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run() { "$octrain" "$@" -q --threads 1 --progress-every 0 >/dev/null; }

# checkpoint: mlp:1-2-1:tanh trained by sgd (the harness's network and method), plus one of
# another shape and one of another method, which the loader must refuse.
mkdir -p "$out/checkpoint"
run train -d toy-sin -m mlp:1-2-1:tanh --method sgd:lr=0.1,momentum=0.9 -e 2 -b 50 -o "$tmp/sgd"
run train -d toy-sin -m mlp:1-2-1:tanh --method sgd -e 1 -b 50 --validation-fraction 0.2 \
  --keep best -o "$tmp/best"
run train -d toy-sin -m mlp:1-3-1:tanh --method sgd -e 1 -b 50 -o "$tmp/shape"
run train -d toy-sin -m mlp:1-2-1:tanh --method adam -e 1 -b 50 -o "$tmp/adam"
cp "$tmp/sgd/checkpoint.pt" "$out/checkpoint/sgd.pt"
cp "$tmp/best/best.pt" "$out/checkpoint/best.pt"
cp "$tmp/shape/checkpoint.pt" "$out/checkpoint/other-shape.pt"
cp "$tmp/adam/checkpoint.pt" "$out/checkpoint/other-method.pt"

# packed_model: bmlp:4-3-2 (the harness's network) on a 4-feature, 2-class table, packed.
mkdir -p "$out/packed_model"
python3 - "$tmp/four.csv" <<'PY'
import random, sys
random.seed(0)
with open(sys.argv[1], "w") as f:
    for i in range(40):
        x = [random.uniform(-1, 1) for _ in range(4)]
        f.write(",".join(f"{v:.3f}" for v in x) + f",{int(x[0] + x[1] > 0)}\n")
PY
run train -d "csv:$tmp/four.csv" -m bmlp:4-3-2 --method msa-discrete -e 1 -b 10 -o "$tmp/bin"
"$octrain" export "$tmp/bin" --format packed -o "$out/packed_model/binary.octpack" >/dev/null
run train -d "csv:$tmp/four.csv" -m tmlp:4-3-2 --method msa-discrete -e 1 -b 10 -o "$tmp/ter"
"$octrain" export "$tmp/ter" --format packed -o "$out/packed_model/ternary.octpack" >/dev/null
echo "wrote $out" >&2
