#!/usr/bin/env python3
"""Per-epoch test accuracy (mean over seeds) and non-zero fraction of discrete weights for the
runs of an `octrain compare` grid: scripts/discrete_epochs.py runs/discrete-mnist-fc-ternary"""
import json
import pathlib
import statistics
import sys


def epoch_records(run_dir):
    records = []
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record.get("kind") == "epoch":
            records.append(record)
    return records


def main(grid):
    grid = pathlib.Path(grid)
    print(f"| method | epoch | test acc (%) mean ± sd over seeds | non-zero (%) | seeds |")
    print("|---|---:|---:|---:|---:|")
    for method_dir in sorted(p for p in grid.iterdir() if p.is_dir()):
        runs = [epoch_records(r) for r in sorted(method_dir.glob("seed-*"))]
        runs = [r for r in runs if r]
        for e in range(max(len(r) for r in runs)):
            acc = [100 * r[e]["test_accuracy"] for r in runs if len(r) > e and r[e].get("test_accuracy") is not None]
            nz = [100 * r[e]["nonzero"] for r in runs if len(r) > e and "nonzero" in r[e]]
            sd = statistics.stdev(acc) if len(acc) > 1 else 0.0
            nz_text = f"{statistics.mean(nz):.2f}" if nz else "—"
            print(f"| {method_dir.name} | {e + 1} | {statistics.mean(acc):.2f} ± {sd:.2f} | {nz_text} | {len(acc)} |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
