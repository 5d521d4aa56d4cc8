#!/usr/bin/python3
"""Temperature softmax: chrysalis against a scalar loop, the idiomatic Eigen expression and PyTorch.

Runs build/release/benchmarks/softmax_bench (Google Benchmark, JSON output) and PyTorch's softmax
on the same shapes (classes x batch 128, float32, T = 4, one thread) in one go, and prints two
Markdown tables with the ratios. Byte rates count one read of the logits and one write of the
probabilities, as the C++ benchmark does.

    /usr/bin/python3 benchmarks/compare_softmax.py [--bench PATH] [--min-time SECONDS]

PyTorch is Debian's python3-torch (scripts/install-deps.sh --peer installs it). It computes
softmax(x / T, dim=1) on a batch x classes tensor: the same memory layout as chrysalis's
column-per-sample classes x batch matrix. Its time is the median of repeated timings after
warm-up; the "softmax only" column leaves out the division by T, PyTorch's best case.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

SHAPES = [10, 100, 1000, 32768]
BATCH = 128
TEMPERATURE = 4.0


def run_cpp(bench, min_time):
    out = subprocess.run(
        [bench, "--benchmark_format=json", f"--benchmark_min_time={min_time}",
         "--benchmark_filter=<float>"],
        check=True, capture_output=True, text=True).stdout
    results = {}
    for b in json.loads(out)["benchmarks"]:
        name, classes = b["name"].split("/")
        kind = name.split("<")[0]
        results[(kind, int(classes))] = b["real_time"] * {"ns": 1e-9, "us": 1e-6, "ms": 1e-3}[b["time_unit"]]
    return results


def time_torch(fn, min_time):
    for _ in range(3):
        fn()
    reps = 1
    while True:  # find a repetition count that takes about min_time / 10
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        if time.perf_counter() - t0 > min_time / 10:
            break
        reps *= 2
    samples = []
    for _ in range(10):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        samples.append((time.perf_counter() - t0) / reps)
    return statistics.median(samples)


def run_torch(min_time):
    import torch
    torch.set_num_threads(1)
    results = {}
    gen = torch.Generator().manual_seed(42)
    for classes in SHAPES:
        x = torch.rand(BATCH, classes, generator=gen) * 20 - 10
        with torch.no_grad():
            results[("torch", classes)] = time_torch(lambda: torch.softmax(x / TEMPERATURE, dim=1), min_time)
            results[("torch_plain", classes)] = time_torch(lambda: torch.softmax(x, dim=1), min_time)
    capability = "?"
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage" in line:
            capability = line.split(":")[-1].strip()
    return results, torch.__version__, capability


def gbps(seconds, classes):
    return 2 * 4 * classes * BATCH / seconds / 1e9


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", default=os.path.join(here, "..", "build", "release", "benchmarks", "softmax_bench"))
    ap.add_argument("--min-time", type=float, default=0.5)
    args = ap.parse_args()
    if not os.path.exists(args.bench):
        sys.exit(f"{args.bench} not found: build it with cmake --preset release && cmake --build --preset release")

    cpp = run_cpp(args.bench, args.min_time)
    try:
        torch_results, torch_version, capability = run_torch(args.min_time)
    except ImportError:
        sys.exit("PyTorch is not installed: scripts/install-deps.sh --peer")
    r = {**cpp, **torch_results}

    print(f"float32, batch {BATCH}, T = {TEMPERATURE}, one thread; GB/s = (read + write) / time\n")
    print("| classes | chrysalis | GB/s | scalar std::exp loop | Eigen expression | vs scalar | vs Eigen |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for c in SHAPES:
        ch, sc, ei = r[("chrysalis_simd", c)], r[("scalar_exp", c)], r[("eigen_expression", c)]
        print(f"| {c} | {ch*1e6:.1f} µs | {gbps(ch, c):.1f} | {sc*1e6:.1f} µs | {ei*1e6:.1f} µs "
              f"| {sc/ch:.1f}× | {ei/ch:.1f}× |")
    print(f"\nPyTorch {torch_version} (CPU capability {capability}), torch.set_num_threads(1)\n")
    print("| classes | chrysalis | PyTorch softmax(x / T) | GB/s | PyTorch softmax only | chrysalis faster by | (vs softmax only) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for c in SHAPES:
        ch, pt, pp = r[("chrysalis_simd", c)], r[("torch", c)], r[("torch_plain", c)]
        print(f"| {c} | {ch*1e6:.1f} µs | {pt*1e6:.1f} µs | {gbps(pt, c):.1f} | {pp*1e6:.1f} µs "
              f"| {pt/ch:.1f}× | {pp/ch:.1f}× |")


if __name__ == "__main__":
    main()
