#!/usr/bin/python3
"""Draws what `examples/boundary_samples --moons --out DIR` writes: the teacher's decision regions
with the transfer points and their boundary-supporting samples (an arrow from each base sample to
its sample), then the regions of the student distilled plainly and of the one distilled with the
samples. Needs matplotlib (Debian: python3-matplotlib).

    /usr/bin/python3 scripts/plot_boundary_samples.py CSV_DIR OUT.png
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def read(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def main():
    src, out = sys.argv[1], sys.argv[2]
    grid = read(f"{src}/bss_grid.csv")
    points = read(f"{src}/bss_points.csv")
    samples = read(f"{src}/bss_samples.csv")
    n = int(round(len(grid) ** 0.5))
    gx = np.array([float(r["x"]) for r in grid]).reshape(n, n)
    gy = np.array([float(r["y"]) for r in grid]).reshape(n, n)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), sharey=True)
    titles = {"teacher": "teacher, transfer points and their\nboundary-supporting samples",
              "plain": "student distilled on the points",
              "bss": "student distilled on the points\nand boundary-supporting samples"}
    for ax, key in zip(axes, ["teacher", "plain", "bss"]):
        p = np.array([float(r[key]) for r in grid]).reshape(n, n)
        ax.contourf(gx, gy, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.8)
        ax.contour(gx, gy, p, levels=[0.5], colors="k", linewidths=1.5)
        ax.scatter([float(r["x"]) for r in points], [float(r["y"]) for r in points],
                   c=["#b2182b" if r["label"] == "1" else "#2166ac" for r in points],
                   s=28, edgecolors="k", linewidths=0.3, zorder=3)
        if key == "teacher":
            for r in samples:
                bx, by = float(r["base_x"]), float(r["base_y"])
                ax.annotate("", xy=(float(r["x"]), float(r["y"])), xytext=(bx, by),
                            arrowprops=dict(arrowstyle="->", lw=0.8, color="k"))
            ax.scatter([float(r["x"]) for r in samples], [float(r["y"]) for r in samples],
                       marker="x", c="k", s=22, zorder=4)
        ax.set_title(titles[key], fontsize=10)
        ax.set_xlabel("x1")
    axes[0].set_ylabel("x2")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
