#!/usr/bin/python3
"""Plots test accuracy against the distillation temperature for the two student sizes of
examples/temperature_study (mean and standard deviation over seeds). Needs matplotlib.

    /usr/bin/python3 scripts/plot_temperature_study.py CSV_DIR OUT.png
"""
import collections
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def main():
    src, out = sys.argv[1], sys.argv[2]
    acc = collections.defaultdict(list)
    with open(f"{src}/temperature_study.csv") as f:
        for r in csv.DictReader(f):
            acc[(int(r["units"]), float(r["T"]))].append(100 * float(r["accuracy"]))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, units in zip(axes, sorted({u for u, _ in acc})):
        ts = sorted(t for u, t in acc if u == units)
        mean = [np.mean(acc[(units, t)]) for t in ts]
        sd = [np.std(acc[(units, t)], ddof=1) if len(acc[(units, t)]) > 1 else 0 for t in ts]
        ax.errorbar(ts, mean, yerr=sd, marker="o", capsize=3)
        ax.set_xscale("log")
        ax.set_xticks(ts, [f"{t:g}" for t in ts])
        ax.set_xlabel("temperature T")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"student 784-{units}-{units}-10, mean ± sd over seeds", fontsize=10)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
