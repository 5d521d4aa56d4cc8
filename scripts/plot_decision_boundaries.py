#!/usr/bin/python3
"""Draws the decision regions that examples/decision_boundaries writes, side by side:
teacher, student from scratch, distilled student. Needs matplotlib (Debian: python3-matplotlib).

    /usr/bin/python3 scripts/plot_decision_boundaries.py CSV_DIR OUT.png
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def main():
    src, out = sys.argv[1], sys.argv[2]
    with open(f"{src}/boundaries_grid.csv") as f:
        rows = list(csv.DictReader(f))
    x = np.array([float(r["x"]) for r in rows])
    y = np.array([float(r["y"]) for r in rows])
    n = int(round(len(rows) ** 0.5))
    with open(f"{src}/boundaries_points.csv") as f:
        pts = list(csv.DictReader(f))
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), sharey=True)
    titles = {"teacher": "teacher (2-64-64-2, 2000 points)",
              "scratch": "student 2-16-2 from scratch (30 points)",
              "distilled": "same student, distilled (30 points)"}
    for ax, key in zip(axes, ["teacher", "scratch", "distilled"]):
        p = np.array([float(r[key]) for r in rows]).reshape(n, n)
        ax.contourf(x.reshape(n, n), y.reshape(n, n), p, levels=np.linspace(0, 1, 11),
                    cmap="RdBu_r", alpha=0.8)
        ax.contour(x.reshape(n, n), y.reshape(n, n), p, levels=[0.5], colors="k", linewidths=1.5)
        shown = [r for r in pts if (r["transfer"] == "1") == (key != "teacher")]
        ax.scatter([float(r["x"]) for r in shown], [float(r["y"]) for r in shown],
                   c=["#b2182b" if r["label"] == "1" else "#2166ac" for r in shown],
                   s=6 if key == "teacher" else 28, edgecolors="k", linewidths=0.3)
        ax.set_title(titles[key], fontsize=10)
        ax.set_xlabel("x1")
    axes[0].set_ylabel("x2")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
