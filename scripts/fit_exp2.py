#!/usr/bin/python3
"""Fits the float polynomial for 2^f on [-1/2, 1/2] used by chrysalis's SIMD softmax kernel
(include/chrysalis/detail/softmax_kernels.hpp, exp2_nonpositive): p(f) = 1 + c1 f + ... + c6 f^6,
minimising the maximum relative error by Lawson's iteratively reweighted least squares on
Chebyshev nodes, then checks the coefficients rounded to float and evaluated in float (Horner)
against exp2 in float64. Prints the coefficients as C++ literals and the error in units of 2^-24.

    /usr/bin/python3 scripts/fit_exp2.py [degree]
"""
import sys

import numpy as np

deg = int(sys.argv[1]) if len(sys.argv) > 1 else 6
n = 4000
f = np.cos(np.pi * (np.arange(n) + 0.5) / n) * 0.5
y = np.exp2(f)
a = np.stack([f ** k for k in range(1, deg + 1)], 1) / y[:, None]  # relative error rows
b = (y - 1) / y
w = np.ones(n)
for _ in range(200):
    c = np.linalg.lstsq(a * np.sqrt(w)[:, None], b * np.sqrt(w), rcond=None)[0]
    err = np.abs(a @ c - b)
    w = w * err
    w /= w.sum()

grid = np.linspace(-0.5, 0.5, 200001)
cf = c.astype(np.float32)
x = grid.astype(np.float32)
acc = np.float32(cf[-1])
for k in range(deg - 2, -1, -1):
    acc = (acc * x + cf[k]).astype(np.float32)
acc = (acc * x + np.float32(1)).astype(np.float32)
exact_err = np.max(np.abs((1 + sum(c[k - 1] * grid ** k for k in range(1, deg + 1))) / np.exp2(grid) - 1))
float_err = np.max(np.abs(acc.astype(np.float64) / np.exp2(grid) - 1))
print(f"degree {deg}: approximation error {exact_err:.3g}, float evaluation {float_err / 2**-24:.2f} x 2^-24")
print(", ".join(f"{float(v)!r}f" for v in cf))
