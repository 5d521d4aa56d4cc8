#!/usr/bin/python3
"""Side by side: FGSM, PGD and JSMA in chrysalis (benchmarks/attack_bench.cpp) and in PyTorch.

The chrysalis binary trains a 784-300-100-10 ReLU network for one epoch on the MNIST digits,
exports its weights (export_npy) and times the three attacks (the best of --repeats runs) on the
first --samples test digits (JSMA: --jsma-samples), labelled with the network's own predictions
(JSMA's target: prediction + 1 mod 10). This script then loads the same weights into PyTorch and
times the same attacks, written the same way:
  FGSM  eps 0.1, one step, cross-entropy, batch --batch (default 256);
  PGD   eps 0.002, step 0.0005, 40 steps, cross-entropy, batch --batch (samples stop at their
        first misclassified iterate; a batch stops when all have);
  JSMA  gamma 0.145, theta = +1, pairs, the softmax Jacobian (two backward passes per
        iteration: the target's row and the sum of the others'), batch 100.
The parameters do not require gradients in PyTorch (only the input does); chrysalis's attacks
use Sequential::backward_input, which skips the parameter gradients too.

PyTorch runs at its best: a child process with OMP_WAIT_POLICY=PASSIVE and without
OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (benchmarks/peer_env.py); both engines get --threads
threads. One run each, never at the same time.

    /usr/bin/python3 benchmarks/compare_attacks.py [--bin build/release/benchmarks/attack_bench]
        [--data data/mnist-digits] [--threads 1] [--repeats 3] [--batch 256] [--samples 1000]

PyTorch needs Debian's python3-torch *and* libopenblas0-pthread: without the latter its BLAS is
the reference one (about 2 GFLOP/s), which makes any ratio meaningless. torch.__config__ says
BLAS_INFO=generic either way (Debian picks the library at run time): check with
`update-alternatives --display libblas.so.3-x86_64-linux-gnu`, which must point to openblas. Figures: docs/performance.md, "Adversarial attacks".
"""
import argparse
import gzip
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from peer_env import peer_env  # noqa: E402
DEFAULT_BIN = os.path.join(HERE, "..", "build", "release", "benchmarks", "attack_bench")
DEFAULT_DATA = os.path.join(HERE, "..", "data", "mnist-digits")


def load_idx_images(path):
    import numpy as np
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, n, rows, cols = struct.unpack(">IIII", raw[:16])
    if magic != 0x803:
        sys.exit(f"compare_attacks: {path} is not an IDX image file")
    return np.frombuffer(raw[16:], dtype=np.uint8).reshape(n, rows * cols).astype(np.float32) / 255


def worker(args):
    import numpy as np
    import torch
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(True)
    w = [torch.from_numpy(np.load(os.path.join(args.weights, f"{layer}_{block}.npy")))
         for layer in (0, 2, 4) for block in (0, 1)]
    for p in w:
        p.requires_grad_(False)
    layers = []
    for k in range(3):
        lin = torch.nn.Linear(w[2 * k].shape[1], w[2 * k].shape[0])
        lin.weight.data.copy_(w[2 * k].float())
        lin.bias.data.copy_(w[2 * k + 1].float().reshape(-1))
        lin.requires_grad_(False)
        layers.append(lin)
        if k < 2:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers).eval()
    x_all = torch.from_numpy(load_idx_images(os.path.join(
        args.data, "t10k-images-idx3-ubyte.gz"))[: args.samples].copy())
    with torch.no_grad():
        y_all = net(x_all).argmax(1)

    def linf(x, y, eps, step, steps, batch):
        out = x.clone()
        success = torch.zeros(len(x), dtype=torch.bool)
        for b0 in range(0, len(x), batch):
            xb, yb = x[b0:b0 + batch], y[b0:b0 + batch]
            lo, hi = (xb - eps).clamp(min=0), (xb + eps).clamp(max=1)
            xa = xb.clone()
            for _ in range(steps):
                xa.requires_grad_(True)
                z = net(xa)
                done = z.argmax(1) != yb
                if bool(done.all()):
                    xa = xa.detach()
                    break
                loss = torch.nn.functional.cross_entropy(z, yb, reduction="none")
                (g,) = torch.autograd.grad(loss.sum(), xa)
                g[done] = 0
                xa = torch.max(torch.min(xa.detach() + step * g.sign(), hi), lo)
            with torch.no_grad():
                success[b0:b0 + batch] = net(xa).argmax(1) != yb
            out[b0:b0 + batch] = xa
        return out, success

    def jsma(x, y, t, gamma, batch):
        n = x.shape[1]
        budget = int(gamma * n)
        out = x.clone()
        success = torch.zeros(len(x), dtype=torch.bool)
        eye = torch.eye(10)
        for b0 in range(0, len(x), batch):
            xa = x[b0:b0 + batch].clone()
            tb = t[b0:b0 + batch]
            active = torch.ones(len(xa), dtype=torch.bool)
            changed = torch.zeros(len(xa), dtype=torch.long)
            domain = xa < 1
            while True:
                xa.requires_grad_(True)
                z = net(xa)
                active &= (z.argmax(1) != tb) & (changed + 2 <= budget)
                if not bool(active.any()):
                    xa = xa.detach()
                    break
                p = torch.softmax(z, 1)
                pt = p.gather(1, tb[:, None])
                seed_a = pt * (eye[tb] - p) * active[:, None]
                seed_b = (p * (1 - eye[tb]) - p * (1 - pt)) * active[:, None]
                (ja,) = torch.autograd.grad(z, xa, seed_a, retain_graph=True)
                (jb,) = torch.autograd.grad(z, xa, seed_b)
                xa = xa.detach()
                for b in torch.nonzero(active).flatten().tolist():
                    idx = torch.nonzero(domain[b]).flatten()
                    a, c = ja[b, idx], jb[b, idx]
                    aa = a[:, None] + a[None, :]
                    cc = c[:, None] + c[None, :]
                    score = torch.where((aa > 0) & (cc < 0), aa * -cc, torch.zeros(()))
                    score = torch.triu(score, diagonal=1)
                    k = int(score.argmax())
                    if float(score.flatten()[k]) <= 0:
                        active[b] = False
                        continue
                    i, j = idx[k // len(idx)], idx[k % len(idx)]
                    xa[b, i] = xa[b, j] = 1
                    domain[b, i] = domain[b, j] = False
                    changed[b] += 2
            with torch.no_grad():
                success[b0:b0 + batch] = net(xa).argmax(1) == tb
            out[b0:b0 + batch] = xa
        return out, success

    def timed(name, f, samples):
        best = float("inf")
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            _, success = f()
            best = min(best, time.perf_counter() - t0)
        print(json.dumps({"engine": "pytorch", "attack": name, "seconds": best,
                          "samples": samples, "success_rate": float(success.float().mean())}),
              flush=True)

    nj = min(args.jsma_samples, len(x_all))
    timed("fgsm", lambda: linf(x_all, y_all, 0.1, 0.1, 1, args.batch), len(x_all))
    timed("pgd", lambda: linf(x_all, y_all, 0.002, 0.0005, 40, args.batch), len(x_all))
    timed("jsma", lambda: jsma(x_all[:nj], y_all[:nj], (y_all[:nj] + 1) % 10, 0.145, 100), nj)


def run(cmd, env):
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, env=env, text=True, check=True)
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=DEFAULT_BIN)
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=256, help="FGSM's and PGD's batch size")
    ap.add_argument("--jsma-samples", type=int, default=100)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--weights", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return
    with tempfile.TemporaryDirectory() as weights:
        threads = str(args.threads)
        env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads)
        ours = run([args.bin, "--data", args.data, "--out", weights, "--threads", threads,
                    "--samples", str(args.samples), "--jsma-samples", str(args.jsma_samples),
                    "--repeats", str(args.repeats), "--batch", str(args.batch)], env)
        torch_env = peer_env(args.threads, "best")
        theirs = run([sys.executable, os.path.abspath(__file__), "--worker", "--weights", weights,
                      "--data", args.data, "--threads", threads, "--repeats",
                      str(args.repeats), "--samples", str(args.samples), "--jsma-samples",
                      str(args.jsma_samples), "--batch", str(args.batch)], torch_env)
    print(f"batch {args.batch} (FGSM, PGD), {threads} thread(s)")
    print(f"{'attack':6} {'samples':>7} {'chrysalis s':>12} {'PyTorch s':>10} {'ratio':>7}"
          f"  success chrysalis / PyTorch")
    for a, b in zip(ours, theirs):
        print(f"{a['attack']:6} {a['samples']:7d} {a['seconds']:12.3f} {b['seconds']:10.3f} "
              f"{b['seconds'] / a['seconds']:6.2f}x  {a['success_rate']:.3f} / "
              f"{b['success_rate']:.3f}")


if __name__ == "__main__":
    main()
