#!/usr/bin/env python3
"""Summarises bench/distributed.sh's runs and projects data-parallel efficiency.

Measured: per run directory NET-METHOD-LAYOUT (layout 1x2 = 1 process × 2 threads, 2x1 = 2
processes × 1 thread) the median step time, communication time, bytes and collectives per step.

Projected (weak scaling: the per-worker batch of the 2-process run, 64 samples, at every size):
a step costs the 2-process run's compute time (step time − communication time) plus, for each of
its collectives, a ring all-reduce of its share of the bytes over W workers,
    t = 2 (W − 1) α + 2 (W − 1) / W · n / β,   α = 10 µs, β = 25 GB/s,
and efficiency = compute / (compute + communication).
"""
import json
import pathlib
import statistics
import sys

ALPHA = 10e-6  # s per message
BETA = 25e9    # bytes/s per link
WORKERS = (8, 64, 512)


def figures(run):
    steps = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in steps if r["kind"] == "step"][3:]
    med = lambda key: statistics.median(r.get(key, 0.0) for r in steps)
    return {k: med(k) for k in ("step_time_ms", "comm_ms", "comm_bytes", "comm_calls")}


def ring_ms(calls, total_bytes, w):
    per_call = total_bytes / max(calls, 1)
    return 1e3 * calls * (2 * (w - 1) * ALPHA + 2 * (w - 1) / w * per_call / BETA)


def main(out):
    out = pathlib.Path(out)
    runs = {}
    for d in sorted(out.iterdir()):
        if (d / "metrics.jsonl").exists():
            net, method, layout = d.name.rsplit("-", 2)
            runs[(net, method, layout)] = figures(d)
    print("| net | method | 1×2 ms/step | 2×1 ms/step | ratio 2×1 / 1×2 | comm ms | comm share "
          "| collectives/step | bytes/step |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for (net, method, layout), f in runs.items():
        if layout != "2x1":
            continue
        one = runs.get((net, method, "1x2"))
        if not one:
            continue
        print(f"| {net} | {method} | {one['step_time_ms']:.2f} | {f['step_time_ms']:.2f} | "
              f"{f['step_time_ms'] / one['step_time_ms']:.2f} | {f['comm_ms']:.2f} | "
              f"{100 * f['comm_ms'] / f['step_time_ms']:.0f} % | {f['comm_calls']:.0f} | "
              f"{f['comm_bytes'] / 1e6:.3f} MB |")
    print()
    print("| net | method | compute ms | " + " | ".join(f"comm ms @{w}" for w in WORKERS) + " | "
          + " | ".join(f"efficiency @{w}" for w in WORKERS) + " |")
    print("|---|---|---:|" + "---:|" * (2 * len(WORKERS)))
    for (net, method, layout), f in runs.items():
        if layout != "2x1":
            continue
        compute = max(f["step_time_ms"] - f["comm_ms"], 1e-9)
        comm = [ring_ms(f["comm_calls"], f["comm_bytes"], w) for w in WORKERS]
        eff = [compute / (compute + c) for c in comm]
        print(f"| {net} | {method} | {compute:.2f} | " + " | ".join(f"{c:.3f}" for c in comm)
              + " | " + " | ".join(f"{100 * e:.1f} %" for e in eff) + " |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/bench-distributed")
