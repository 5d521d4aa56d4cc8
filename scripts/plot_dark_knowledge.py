#!/usr/bin/python3
"""Heatmaps of the teacher's mean softened distribution per true Fashion-MNIST class, from the
CSVs that examples/dark_knowledge writes (dark_knowledge_T1.csv and one at the distillation
temperature). Needs matplotlib (Debian: python3-matplotlib).

    /usr/bin/python3 scripts/plot_dark_knowledge.py CSV_DIR T OUT.png
"""
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def main():
    src, t, out = sys.argv[1], sys.argv[2], sys.argv[3]
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.6))
    for ax, temp in zip(axes, ["1", t]):
        m = np.loadtxt(f"{src}/dark_knowledge_T{temp}.csv", delimiter=",")
        im = ax.imshow(m, cmap="magma", norm=matplotlib.colors.LogNorm(vmin=1e-4, vmax=1))
        ax.set_xticks(range(10), CLASSES, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(10), CLASSES, fontsize=8)
        ax.set_xlabel("teacher's probability for class")
        ax.set_ylabel("true class")
        ax.set_title(f"T = {temp}: mean softmax(teacher logits / T)", fontsize=10)
        for i in range(10):
            for j in range(10):
                ax.text(j, i, f"{m[i, j]:.2f}" if m[i, j] >= 0.005 else "", ha="center",
                        va="center", fontsize=6, color="w" if m[i, j] < 0.3 else "k")
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
