#!/usr/bin/python3
"""PyTorch reference timings for octrain_bench (bench/run_benchmarks.sh).

Times, in PyTorch, the same networks, shapes and Adam step as octrain_bench:
  step : zero_grad(set_to_none) + forward + cross-entropy + backward + Adam step,
         plus loss.item() and the batch accuracy (what octrain's StepStats reports)
  grad : zero_grad(set_to_none) + forward + cross-entropy + backward (no update)
for
  mnist_mlp  784-256-256-10 ReLU, input [128, 1, 28, 28], 10 classes
  wine_mlp   13-32-32-32-32-3 tanh, input [16, 13], 3 classes
Runs are interleaved (every round times each (net, kind) once, in a shuffled order) and the
median per-iteration time over the rounds is reported.

Optional dependency, benchmarks only: Debian's python3-torch (`/usr/bin/python3`).
Usage: pytorch_side_by_side.py [--threads N] [--rounds R] [--min-time S] [--format json|table|tsv]
"""

import argparse
import json
import os
import random
import statistics
import sys
import time

import torch
from torch import nn

NETS = {
    "mnist_mlp": dict(sizes=[784, 256, 256, 10], act=nn.ReLU, input=(1, 28, 28), batch=128, classes=10),
    "wine_mlp": dict(sizes=[13, 32, 32, 32, 32, 3], act=nn.Tanh, input=(13,), batch=16, classes=3),
}


def build(cfg):
    layers = [nn.Flatten()] if len(cfg["input"]) > 1 else []
    sizes = cfg["sizes"]
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i + 2 < len(sizes):
            layers.append(cfg["act"]())
    return nn.Sequential(*layers)


class Workload:
    def __init__(self, name, cfg, kind):
        torch.manual_seed(1234)
        self.name, self.kind = name, kind
        self.model = build(cfg)
        self.x = torch.randn(cfg["batch"], *cfg["input"])
        self.y = torch.randint(0, cfg["classes"], (cfg["batch"],))
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.loss_fn = nn.CrossEntropyLoss()
        self.iters = 1

    def once(self):
        self.opt.zero_grad(set_to_none=True)
        logits = self.model(self.x)
        loss = self.loss_fn(logits, self.y)
        loss.backward()
        if self.kind == "step":
            self.opt.step()
            loss.item()
            logits.detach().argmax(1).eq(self.y).double().mean().item()

    def time_round(self):
        start = time.perf_counter()
        for _ in range(self.iters):
            self.once()
        return (time.perf_counter() - start) / self.iters

    def calibrate(self, min_time):
        # Like Google Benchmark: grow the iteration count until one round takes min_time.
        for _ in range(3):
            self.once()  # warm-up
        while True:
            start = time.perf_counter()
            for _ in range(self.iters):
                self.once()
            elapsed = time.perf_counter() - start
            if elapsed >= min_time or self.iters >= 1 << 20:
                return
            self.iters = max(self.iters * 2, int(self.iters * min_time / max(elapsed, 1e-9) * 1.2))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OCTRAIN_BENCH_THREADS", "1")))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=0.2, help="seconds per round and workload")
    parser.add_argument("--format", choices=["json", "table", "tsv"], default="table")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    random.seed(1234)
    workloads = [Workload(n, c, k) for n, c in NETS.items() for k in ("step", "grad")]
    for w in workloads:
        w.calibrate(args.min_time)
    times = {(w.name, w.kind): [] for w in workloads}
    for _ in range(args.rounds):
        order = workloads[:]
        random.shuffle(order)
        for w in order:
            times[(w.name, w.kind)].append(w.time_round() * 1e3)

    result = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "rounds": args.rounds,
        "nets": {n: {f"{k}_ms": statistics.median(times[(n, k)]) for k in ("step", "grad")} for n in NETS},
    }
    if args.format == "tsv":
        print("net\tstep_ms\tgrad_ms")
        for n, r in result["nets"].items():
            print(f"{n}\t{r['step_ms']:.6f}\t{r['grad_ms']:.6f}")
    elif args.format == "json":
        json.dump(result, sys.stdout, indent=2)
        print()
    else:
        print(f"PyTorch {result['torch']}, {result['threads']} thread(s), median of {args.rounds} rounds")
        print("| net | PyTorch step ms | PyTorch fwd+bwd ms |")
        print("|---|---:|---:|")
        for n, r in result["nets"].items():
            print(f"| {n} | {r['step_ms']:.3f} | {r['grad_ms']:.3f} |")


if __name__ == "__main__":
    main()
