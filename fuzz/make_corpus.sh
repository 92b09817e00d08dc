#!/usr/bin/env bash
# Regenerates fuzz/corpus/: the text and raw-binary seeds (fuzz/make_corpus.py), and checkpoint
# and packed-model seeds written by octrain itself (OCTRAIN, default build/octrain), of the
# networks the checkpoint and packed_model harnesses load into.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
octrain=${OCTRAIN:-$repo/build/octrain}
python3 "$repo/fuzz/make_corpus.py"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run() { "$octrain" "$@" -q --threads 1 --progress-every 0 >/dev/null; }

# checkpoint: mlp:1-2-1:tanh trained by sgd (the harness's network and method), plus one of
# another shape and one of another method, which the loader must refuse.
mkdir -p "$repo/fuzz/corpus/checkpoint"
run train -d toy-sin -m mlp:1-2-1:tanh --method sgd:lr=0.1,momentum=0.9 -e 2 -b 50 -o "$tmp/sgd"
run train -d toy-sin -m mlp:1-2-1:tanh --method sgd -e 1 -b 50 --validation-fraction 0.2 \
  --keep best -o "$tmp/best"
run train -d toy-sin -m mlp:1-3-1:tanh --method sgd -e 1 -b 50 -o "$tmp/shape"
run train -d toy-sin -m mlp:1-2-1:tanh --method adam -e 1 -b 50 -o "$tmp/adam"
cp "$tmp/sgd/checkpoint.pt" "$repo/fuzz/corpus/checkpoint/sgd.pt"
cp "$tmp/best/best.pt" "$repo/fuzz/corpus/checkpoint/best.pt"
cp "$tmp/shape/checkpoint.pt" "$repo/fuzz/corpus/checkpoint/other-shape.pt"
cp "$tmp/adam/checkpoint.pt" "$repo/fuzz/corpus/checkpoint/other-method.pt"

# packed_model: bmlp:4-3-2 (the harness's network) on a 4-feature, 2-class table, packed.
mkdir -p "$repo/fuzz/corpus/packed_model"
python3 - "$tmp/four.csv" <<'PY'
import random, sys
random.seed(0)
with open(sys.argv[1], "w") as f:
    for i in range(40):
        x = [random.uniform(-1, 1) for _ in range(4)]
        f.write(",".join(f"{v:.3f}" for v in x) + f",{int(x[0] + x[1] > 0)}\n")
PY
run train -d "csv:$tmp/four.csv" -m bmlp:4-3-2 --method msa-discrete -e 1 -b 10 -o "$tmp/bin"
"$octrain" export "$tmp/bin" --format packed -o "$repo/fuzz/corpus/packed_model/binary.octpack" >/dev/null
run train -d "csv:$tmp/four.csv" -m tmlp:4-3-2 --method msa-discrete -e 1 -b 10 -o "$tmp/ter"
"$octrain" export "$tmp/ter" --format packed -o "$repo/fuzz/corpus/packed_model/ternary.octpack" >/dev/null
echo "wrote $repo/fuzz/corpus" >&2
