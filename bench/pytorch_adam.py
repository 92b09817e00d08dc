#!/usr/bin/env python3
"""PyTorch's own Adam step on the nets of `octrain bench --nets gpu`, for a side-by-side table.

    python3 bench/pytorch_adam.py --device cuda --batches 128,1024 [--threads N] [--out FILE]

Each net is built in torch.nn with the layers octrain's spec names (ReLU after every hidden
conv/dense, 3×3 'same' convolutions, 2×2 max-pooling), random inputs and labels, cross-entropy,
torch.optim.Adam(lr=1e-3). A step is zero_grad, forward, backward and the update, timed to
completion (CUDA synchronised); the median of the repetitions' mean step times is reported.
The binary MLP is left out: PyTorch has no binary-weight layer to compare with.
Works with Debian's torch 1.13 (CPU) and a current wheel (CUDA).
"""
import argparse
import statistics
import time

import torch
from torch import nn


def conv_stack(channels, widths, fc, classes, side):
    layers, c = [], channels
    for group in widths:
        for w in group:
            layers += [nn.Conv2d(c, w, 3, padding=1), nn.ReLU()]
            c = w
        layers.append(nn.MaxPool2d(2))
        side //= 2
    layers += [nn.Flatten(), nn.Linear(c * side * side, fc), nn.ReLU(), nn.Linear(fc, classes)]
    return nn.Sequential(*layers)


NETS = {
    "mlp784": (lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(),
                                     nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)),
               (1, 28, 28)),
    "cnn4": (lambda: conv_stack(1, [[32, 32], [32, 32]], 128, 10, 28), (1, 28, 28)),
    "cifar_cnn": (lambda: conv_stack(3, [[64, 64], [128, 128]], 256, 10, 32), (3, 32, 32)),
}


def step_ms(net, x, y, device, repetitions, min_seconds):
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        optimiser.zero_grad()
        loss_fn(net(x), y).backward()
        optimiser.step()

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(3):
        step()
    sync()
    means = []
    for _ in range(repetitions):
        calls, start = 0, time.perf_counter()
        while True:
            step()
            calls += 1
            sync()
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds:
                break
        means.append(1e3 * elapsed / calls)
    return statistics.median(means)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batches", default="128")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=0.3)
    parser.add_argument("--out")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    lines = [f"PyTorch {torch.__version__}, Adam, device {device}"
             + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else
                f", {args.threads} thread(s)"), "",
             "| net | batch | step (ms) |", "|---|---:|---:|"]
    for name, (make, shape) in NETS.items():
        for batch in [int(b) for b in args.batches.split(",")]:
            torch.manual_seed(0)
            net = make().to(device)
            x = torch.randn(batch, *shape, device=device)
            y = torch.randint(10, (batch,), device=device)
            ms = step_ms(net, x, y, device, args.repetitions, args.min_time)
            lines.append(f"| {name} | {batch} | {ms:.3f} |")
            print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
