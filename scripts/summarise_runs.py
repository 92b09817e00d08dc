#!/usr/bin/env python3
"""Validation-first summary of `octrain compare` directories.

    scripts/summarise_runs.py OUT [OUT...] [--merge] [--pair BASE PATTERN ...] [--select PREFIX ...]

Per label: final validation and test accuracy (mean ± std over seeds, %), and the seeds that
diverged (a `divergence` record, or a final train loss above 1e3 or non-finite), which score as
chance in the means. With `--pair`, each label matching PATTERN (a
regular expression with one group, the step size) is set beside the label BASE (with `{lr}`
replaced by that group) on the same seeds: the mean and std of the per-seed difference in test
accuracy. With `--select PREFIX`, the label starting with PREFIX with the best mean validation
accuracy is named: that is how settings are chosen, never on test accuracy.
Only the standard library; reads OUT/experiment.json and OUT/<dir>/seed-<s>/metrics.jsonl.
"""
import argparse
import json
import math
import os
import re
import statistics
import sys


def final_records(run_dir):
    epoch, diverged = None, False
    path = os.path.join(run_dir, "metrics.jsonl")
    if not os.path.exists(path):
        return None, True
    with open(path) as f:
        for line in f:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict):
                continue
            if record.get("kind") == "epoch":
                epoch = record
            elif record.get("kind") == "divergence":
                diverged = True
    if epoch is not None:
        loss = epoch.get("train_loss")
        if loss is None or not math.isfinite(loss) or loss > 1e3:
            diverged = True
    return epoch, diverged


def mean_std(values):
    if not values:
        return float("nan"), float("nan")
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def load(out):
    with open(os.path.join(out, "experiment.json")) as f:
        experiment = json.load(f)
    rows = {}
    for entry in experiment["entries"]:
        per_seed = {}
        for seed in experiment["seeds"]:
            run_dir = os.path.join(out, entry["dir"], f"seed-{seed}")
            epoch, diverged = final_records(run_dir)
            if epoch is None and not os.path.exists(os.path.join(run_dir, "metadata.json")):
                continue  # not run
            val = epoch.get("validation_accuracy") if epoch else None
            test = epoch.get("test_accuracy") if epoch else None
            if diverged:
                # A run that stopped or blew up scores as chance, so failures weigh in the means.
                with open(os.path.join(run_dir, "metadata.json")) as f:
                    classes = json.load(f)["dataset_metadata"].get("num_classes") or 0
                chance = 1.0 / classes if classes else None
                val, test = chance, chance
            per_seed[seed] = {"val": val, "test": test, "diverged": diverged}
        rows[entry["label"]] = per_seed
    return experiment, rows


def fmt(pair):
    m, s = pair
    return "—" if math.isnan(m) else f"{100 * m:.2f} ± {100 * s:.2f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("outs", nargs="+")
    parser.add_argument("--pair", nargs=2, action="append", default=[], metavar=("BASE", "PATTERN"))
    parser.add_argument("--select", action="append", default=[])
    parser.add_argument("--merge", action="store_true",
                        help="one table from all OUTs (same data and seeds), e.g. a study and "
                             "its continuation; pairs may then span directories")
    args = parser.parse_args()
    groups = [(out, *load(out)) for out in args.outs]
    if args.merge:
        rows = {}
        for _, _, part in groups:
            rows.update(part)
        groups = [(" + ".join(args.outs), groups[0][1], rows)]
    for out, experiment, rows in groups:
        print(f"## {out}: {experiment['dataset']}, {experiment['model']}, "
              f"{experiment['epochs']} epochs, batch {experiment['batch_size']}\n")
        print("| run | validation acc. (%) | test acc. (%) | diverged | seeds |")
        print("|---|---|---|---|---|")
        for label, seeds in rows.items():
            vals = [r["val"] for r in seeds.values() if r["val"] is not None]
            tests = [r["test"] for r in seeds.values() if r["test"] is not None]
            diverged = sum(r["diverged"] for r in seeds.values())
            print(f"| {label} | {fmt(mean_std(vals))} | {fmt(mean_std(tests))} | {diverged} | "
                  f"{len(seeds)} |")
        for base, pattern in args.pair:
            print(f"\n| {pattern} vs {base} | Δ test acc. (points, mean ± std over seeds) | "
                  "diverged (ours / base) |")
            print("|---|---|---|")
            for label, seeds in rows.items():
                match = re.fullmatch(pattern, label)
                if not match:
                    continue
                other = rows.get(base.replace("{lr}", match.group(1)))
                if other is None:
                    continue
                common = [s for s in seeds if s in other and seeds[s]["test"] is not None
                          and other[s]["test"] is not None]
                diffs = [100 * (seeds[s]["test"] - other[s]["test"]) for s in common]
                m, s = mean_std(diffs)
                ours = sum(seeds[c]["diverged"] for c in common)
                theirs = sum(other[c]["diverged"] for c in common)
                print(f"| {label} | {m:+.2f} ± {s:.2f} | {ours} / {theirs} |")
        for prefix in args.select:
            scored = []
            for label, seeds in rows.items():
                vals = [r["val"] for r in seeds.values() if r["val"] is not None]
                if label.startswith(prefix) and vals:
                    scored.append((statistics.mean(vals), label))
            if scored:
                best = max(scored)
                print(f"\nselected on validation for `{prefix}`: {best[1]} "
                      f"({100 * best[0]:.2f} %)")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
