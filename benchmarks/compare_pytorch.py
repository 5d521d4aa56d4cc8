#!/usr/bin/python3
"""Side by side: the same training recipe in chrysalis and in PyTorch, one table.

The recipe (benchmarks/epoch_bench.cpp is the chrysalis half; this script holds the PyTorch half)
on Fashion-MNIST, inputs scaled to [0, 1], float32:
  1. teacher 784-1200-1200-10 ReLU, cross-entropy (batch mean), SGD lr 0.05 momentum 0.9
     (v <- mu*v + g, w <- w - lr*v in both engines), batch 128, reshuffled every epoch, E epochs;
     then its test accuracy;
  2. the teacher's logits on the training set, once (batches of 256, inference mode);
  3. student 784-800-800-10 ReLU, cross-entropy, the same optimizer, E epochs;
  4. the same initial student distilled from the cached logits with T = 4, alpha = 0.5:
     alpha*T^2*KL(softmax(z_t/T) || softmax(z_s/T)) + (1 - alpha)*CE(z_s, y), each a batch mean;
  5. batch-1 inference of the distilled student: median of many calls (eval mode, no_grad).
Weights start from the same distribution in both (He-uniform U(+-sqrt(6/in)), biases 0) but not
the same values: the engines have different random generators.

For each seed the script runs the chrysalis binary, then every peer twice, at its best setting
and at its defaults, one after the other, never at the same time: the PyTorch recipe (this
script again, with --worker), LibTorch, the same recipe in PyTorch's C++ API
(benchmarks/peers/libtorch_epoch.cpp), and dlib, the same recipe in dlib's DNN API
(benchmarks/peers/dlib_epoch.cpp, whose products call OpenBLAS through the system BLAS). The
two C++ peers print the worker's JSON lines; they are built only with
-DCHRYSALIS_PEER_BENCHMARKS=ON, and each is left out with a note when it is not built. Each run
is a child process whose peak RSS is read from its own rusage (os.wait4). Every child gets
OMP_NUM_THREADS and OPENBLAS_NUM_THREADS = --threads; PyTorch and LibTorch also
torch::set_num_threads, dlib (which has no threads of its own in this recipe)
openblas_set_num_threads. A peer's best setting (benchmarks/peer_env.py) adds
OMP_WAIT_POLICY=PASSIVE and removes OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, together, from that
peer's environment only; its default setting is the environment as it is. chrysalis always
runs in the environment as it is.

Before the runs the script checks, in a child of each peer at each setting, which library
provides the sgemm_ its products call, and stops unless it is OpenBLAS (Debian's reference BLAS
would make the comparison unfair; scripts/install-deps.sh --peer installs libopenblas0-pthread).
It prints the core OpenBLAS reports in each peer's own process (openblas_get_corename, and
openblas_get_config) beside the CPU model, and gives a best-setting row no ratio — it says why
instead — when that core is not the CPU's own (the rule, from the flags in /proc/cpuinfo, is in
benchmarks/peer_env.py: avx512f → SkylakeX / Cooperlake / SapphireRapids, avx2 → Haswell / Zen
/ Excavator, avx → Sandybridge).

Below the table it prints a second one: each row's epochs as a share of the FMA peak that
epoch_bench measures in its own binary (benchmarks/fma_peak.hpp) on the same thread count, with
each epoch's products counted as 2·in·out flops per sample for every layer's forward, weight
gradient and input gradient (none for the first layer), and, for each peer row, the largest
lead over it that the peak allows (its teacher epoch over the epoch's time at the peak).

    /usr/bin/python3 benchmarks/compare_pytorch.py [--seeds 3] [--epochs 3] [--threads 2]
        [--limit K] [--peers pytorch,libtorch,dlib] [--json out.json]
        [--chrysalis-bin build/release/benchmarks/epoch_bench]
        [--libtorch-bin build/release/benchmarks/peers/libtorch_epoch]
        [--dlib-bin build/release/benchmarks/peers/dlib_epoch]
    /usr/bin/python3 benchmarks/compare_pytorch.py --from-json out.json

Smoke run (under a minute): --limit 2000 --epochs 1 --seeds 1 --threads 1. --from-json prints
the summary of results saved with --json again, running nothing (PyTorch need not be
installed); OpenBLAS's cores are judged by the CPU flags saved with them (results saved before
the flags were saved are judged by the flags of the machine that prints them, with a note).
"""
import argparse
import gzip
import json
import math
import os
import re
import statistics
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from peer_env import (SETTINGS, core_verdict, cpu_flags, cpu_model, describe,  # noqa: E402
                      own_cores, peer_env)

DEFAULT_BIN = os.path.join(HERE, "..", "build", "release", "benchmarks", "epoch_bench")
DEFAULT_LIBTORCH_BIN = os.path.join(HERE, "..", "build", "release", "benchmarks", "peers",
                                    "libtorch_epoch")
DEFAULT_DLIB_BIN = os.path.join(HERE, "..", "build", "release", "benchmarks", "peers",
                                "dlib_epoch")
DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"  # Debian's dataset-fashion-mnist

BATCH = 128
LOGITS_BATCH = 256  # chrysalis::predict_logits's default, also used for the test accuracy
LR, MOMENTUM = 0.05, 0.9
TEMPERATURE, ALPHA = 4.0, 0.5
TEACHER = (784, 1200, 1200, 10)  # the widths of the two networks
STUDENT = (784, 800, 800, 10)


# ---------------------------------------------------------------------------------------------
# The PyTorch worker (runs in a child process: --worker).

def load_idx(images_path, labels_path):
    """IDX files (gzip) -> (N x 784 float32 in [0, 1], N int64 labels), with numpy only."""
    import numpy as np
    with gzip.open(images_path, "rb") as f:
        raw = f.read()
    magic, n, rows, cols = struct.unpack(">IIII", raw[:16])
    if magic != 0x803:
        sys.exit(f"{images_path}: not an IDX image file (magic {magic:#x})")
    images = np.frombuffer(raw, dtype=np.uint8, count=n * rows * cols, offset=16)
    # p / 255 in float32, as chrysalis's load_idx (Scalar(p) / Scalar(255)).
    x = images.reshape(n, rows * cols).astype(np.float32)
    x /= np.float32(255)  # in place: no second copy to inflate the peak RSS
    with gzip.open(labels_path, "rb") as f:
        raw = f.read()
    magic, m = struct.unpack(">II", raw[:8])
    if magic != 0x801 or m != n:
        sys.exit(f"{labels_path}: not an IDX label file for {n} images")
    y = np.frombuffer(raw, dtype=np.uint8, count=m, offset=8).astype(np.int64)
    return x, y


def mapped_libraries():
    """The shared objects mapped into this process."""
    libs = set()
    with open("/proc/self/maps") as f:
        for entry in f:
            path = entry.split()[-1]
            if path.startswith("/") and ".so" in os.path.basename(path):
                libs.add(path)
    return sorted(libs)


def sgemm_provider():
    """The file whose sgemm_ libtorch_cpu's float products call, as the dynamic linker resolves
    it (dlsym through libtorch_cpu's handle, then dladdr), or None."""
    import ctypes

    class DlInfo(ctypes.Structure):
        _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                    ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]

    for path in mapped_libraries():
        if os.path.basename(path).startswith("libtorch_cpu."):
            try:
                address = ctypes.cast(ctypes.CDLL(path).sgemm_, ctypes.c_void_p)
            except AttributeError:
                return None
            info = DlInfo()
            if ctypes.CDLL(None).dladdr(address, ctypes.byref(info)) == 0:
                return None
            return os.path.realpath(info.dli_fname.decode())
    return None


def blas_report(threads):
    """Which BLAS torch's products run on, its configuration and threads (a dict)."""
    import ctypes
    import torch
    a = torch.rand(256, 256)
    (a @ a).sum().item()  # loads the BLAS if it is loaded lazily
    provider = sgemm_provider()
    report = {"torch": torch.__version__, "sgemm": provider, "openblas": False,
              "openblas_config": None, "openblas_core": None, "openblas_threads": None,
              "capability": "?", "blas_info": "?"}
    for entry in torch.__config__.show().splitlines():
        if "CPU capability usage" in entry:
            report["capability"] = entry.split(":")[-1].strip()
        found = re.search(r"\bBLAS_INFO=([^,\s]+)", entry)
        if found:
            report["blas_info"] = found.group(1)
    # Debian's OpenBLAS sgemm_ lives in .../openblas-pthread/libblas.so.3 (or libopenblas*);
    # the reference BLAS's in .../blas/libblas.so.3.
    if provider and "openblas" in provider:
        report["openblas"] = True
        try:
            lib = ctypes.CDLL(provider)  # already loaded: the same handle
            lib.openblas_get_config.restype = ctypes.c_char_p
            report["openblas_config"] = lib.openblas_get_config().decode()
            lib.openblas_get_corename.restype = ctypes.c_char_p
            report["openblas_core"] = lib.openblas_get_corename().decode()
            lib.openblas_set_num_threads(ctypes.c_int(threads))
            report["openblas_threads"] = lib.openblas_get_num_threads()
        except (OSError, AttributeError):
            pass
    return report


def worker(args):
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.set_num_threads(args.threads)
    blas = blas_report(args.threads)
    seed = args.seed

    def emit(measure, **fields):
        print(json.dumps({"engine": "pytorch", "seed": seed, "measure": measure, **fields}),
              flush=True)

    x, y = load_idx(os.path.join(args.data, "train-images-idx3-ubyte.gz"),
                    os.path.join(args.data, "train-labels-idx1-ubyte.gz"))
    if args.limit > 0:
        x, y = x[:args.limit].copy(), y[:args.limit].copy()
    xt, yt = load_idx(os.path.join(args.data, "t10k-images-idx3-ubyte.gz"),
                      os.path.join(args.data, "t10k-labels-idx1-ubyte.gz"))
    X, Y = torch.from_numpy(x), torch.from_numpy(y)
    XT, YT = torch.from_numpy(xt), torch.from_numpy(yt)
    del x, y, xt, yt
    n = X.shape[0]
    emit("setup", version=torch.__version__, threads=torch.get_num_threads(), blas=blas,
         train=n, test=XT.shape[0], epochs=args.epochs)

    def mlp(*widths):
        layers = []
        for i in range(len(widths) - 1):
            lin = nn.Linear(widths[i], widths[i + 1])
            limit = (6.0 / widths[i]) ** 0.5  # He-uniform, as chrysalis's Dense
            nn.init.uniform_(lin.weight, -limit, limit)
            nn.init.zeros_(lin.bias)
            layers += [lin, nn.ReLU()]
        return nn.Sequential(*layers[:-1])

    def train(model, measure, loss_of):
        """E epochs; loss_of(logits, idx, labels) -> batch-mean loss. Emits one line per epoch."""
        opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
        gen = torch.Generator().manual_seed(seed)  # the same shuffles for every model of a seed
        model.train()
        for epoch in range(args.epochs):
            t0 = time.perf_counter()
            perm = torch.randperm(n, generator=gen)
            loss_sum, correct = 0.0, 0
            for i in range(0, n, BATCH):
                idx = perm[i:i + BATCH]
                xb, yb = X[idx], Y[idx]
                out = model(xb)
                loss = loss_of(out, idx, yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                # chrysalis's loop also keeps the epoch's loss and training accuracy.
                loss_sum += loss.item() * len(idx)
                correct += int((out.argmax(1) == yb).sum())
            seconds = time.perf_counter() - t0
            emit(measure, epoch=epoch, seconds=seconds, samples_per_second=n / seconds,
                 train_loss=loss_sum / n)

    def predict(model, data):
        model.eval()
        with torch.no_grad():
            return torch.cat([model(data[i:i + LOGITS_BATCH])
                              for i in range(0, data.shape[0], LOGITS_BATCH)])

    def accuracy(model):
        return float((predict(model, XT).argmax(1) == YT).double().mean())

    # 1. The teacher.
    torch.manual_seed(seed)
    teacher = mlp(*TEACHER)
    train(teacher, "teacher_epoch", lambda out, idx, yb: F.cross_entropy(out, yb))
    emit("teacher_test_accuracy", value=accuracy(teacher))

    # 2. Its logits on the training set, once.
    t0 = time.perf_counter()
    logits = predict(teacher, X)
    emit("teacher_logits", seconds=time.perf_counter() - t0)

    # 3. The student on hard labels; 4. the same initial student distilled.
    torch.manual_seed(seed + 1)
    student = mlp(*STUDENT)
    initial = {k: v.clone() for k, v in student.state_dict().items()}
    train(student, "student_ce_epoch", lambda out, idx, yb: F.cross_entropy(out, yb))
    emit("student_ce_test_accuracy", value=accuracy(student))

    def distillation(out, idx, yb):
        # chrysalis::Distillation: alpha*T^2*KL(p_t^T || p_s^T) + (1 - alpha)*CE, batch means.
        log_ps = F.log_softmax(out / TEMPERATURE, dim=1)
        log_pt = F.log_softmax(logits[idx] / TEMPERATURE, dim=1)
        kl = F.kl_div(log_ps, log_pt, reduction="batchmean", log_target=True)
        return ALPHA * TEMPERATURE ** 2 * kl + (1 - ALPHA) * F.cross_entropy(out, yb)

    distilled = mlp(*STUDENT)
    distilled.load_state_dict(initial)
    train(distilled, "distill_epoch", distillation)
    emit("distill_test_accuracy", value=accuracy(distilled))

    # 5. Batch-1 inference of the distilled student.
    distilled.eval()
    calls = args.inference_calls
    inputs = [XT[j % XT.shape[0]:j % XT.shape[0] + 1] for j in range(calls)]
    times = []
    with torch.no_grad():
        for j in range(calls // 10):
            distilled(inputs[j])
        for xb in inputs:
            t0 = time.perf_counter_ns()
            distilled(xb)
            times.append((time.perf_counter_ns() - t0) / 1e3)
    emit("inference_batch1", median_us=statistics.median(times), calls=calls)


# ---------------------------------------------------------------------------------------------
# The driver.

# engine (JSON lines) -> its table name
PEERS = {"pytorch": "PyTorch", "libtorch": "LibTorch", "dlib": "dlib"}


def run_child(cmd, env):
    """Runs cmd in env; returns (JSON lines, peak RSS in MiB, seconds)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env, text=True)
    out = proc.stdout.read()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"compare_pytorch: {' '.join(cmd)} failed with status {proc.returncode}")
    lines = [json.loads(s) for s in out.splitlines() if s.startswith("{")]
    return lines, usage.ru_maxrss / 1024.0, wall  # ru_maxrss is in KiB on Linux


def summarise(lines):
    """One seed's lines -> the figures of the table."""
    def epochs(measure):
        return [r for r in lines if r["measure"] == measure]

    def one(measure, key):
        found = [r[key] for r in lines if r["measure"] == measure]
        if len(found) != 1:
            sys.exit(f"compare_pytorch: expected one '{measure}' line, got {len(found)}")
        return found[0]

    teacher = epochs("teacher_epoch")
    return {
        "teacher_s": statistics.mean(r["seconds"] for r in teacher),
        "teacher_sps": statistics.mean(r["samples_per_second"] for r in teacher),
        "logits_s": one("teacher_logits", "seconds"),
        "ce_s": statistics.mean(r["seconds"] for r in epochs("student_ce_epoch")),
        "kd_s": statistics.mean(r["seconds"] for r in epochs("distill_epoch")),
        "infer_us": one("inference_batch1", "median_us"),
        "teacher_acc": 100 * one("teacher_test_accuracy", "value"),
        "ce_acc": 100 * one("student_ce_test_accuracy", "value"),
        "kd_acc": 100 * one("distill_test_accuracy", "value"),
    }


COLUMNS = [  # key, header, format, higher is better
    ("teacher_s", "teacher s/epoch", "{:.2f}", False),
    ("teacher_sps", "teacher samples/s", "{:,.0f}", True),
    ("logits_s", "teacher logits s", "{:.2f}", False),
    ("ce_s", "student CE s/epoch", "{:.2f}", False),
    ("kd_s", "student distillation s/epoch", "{:.2f}", False),
    ("infer_us", "student batch-1 µs", "{:.1f}", False),
    ("teacher_acc", "teacher test acc %", "{:.2f}", None),
    ("ce_acc", "student CE test acc %", "{:.2f}", None),
    ("kd_acc", "distilled student test acc %", "{:.2f}", None),
    ("rss", "peak RSS MiB", "{:.0f}", False),
]


def cell(values, fmt):
    mean = statistics.mean(values)
    if len(values) < 2:
        return fmt.format(mean)
    return f"{fmt.format(mean)} ± {fmt.format(statistics.stdev(values))}"


def row_key(run):
    return run["engine"], run.get("setting")


def row_keys(runs):
    """The rows of these runs, each once, in the order the runs first give them."""
    keys = []
    for run in runs:
        if row_key(run) not in keys:
            keys.append(row_key(run))
    return keys


def row_name(key):
    engine, setting = key
    return engine if setting is None else f"{PEERS.get(engine, engine)}, {setting}"


def openblas_cores(runs, key):
    """The OpenBLAS cores the peer's own processes reported (setup lines), in order."""
    cores = []
    for run in runs:
        if row_key(run) == key:
            setup = next((r for r in run["lines"] if r["measure"] == "setup"), {})
            core = setup.get("blas", {}).get("openblas_core")
            if core not in cores:
                cores.append(core)
    return cores


def refusal(runs, key, flags=None):
    """Why a row gets no ratio (a best-setting row off this CPU's own OpenBLAS core), or None."""
    if key[1] != "best":
        return None
    for core in openblas_cores(runs, key):
        fair, why = core_verdict(core, flags)
        if not fair:
            return why
    return None


def table(runs, flags=None):
    """The markdown table: chrysalis, each peer at each setting, then chrysalis's advantage over
    each peer row (or, for a best-setting row off this CPU's own OpenBLAS core, why there is
    none)."""
    keys = row_keys(runs)
    ours = ("chrysalis", None)
    per = {k: [dict(summarise(r["lines"]), rss=r["rss_mib"]) for r in runs if row_key(r) == k]
           for k in keys}
    out = ["| engine | " + " | ".join(c[1] for c in COLUMNS) + " |",
           "|---|" + "---:|" * len(COLUMNS)]
    for k in keys:
        out.append(f"| {row_name(k)} | " + " | ".join(cell([s[c] for s in per[k]], f)
                                                     for c, _, f, _ in COLUMNS) + " |")
    for k in keys:
        if k == ours:
            continue
        why = refusal(runs, k, flags)
        if why:
            out.append(f"| chrysalis advantage over {row_name(k)} | no ratio: {why} |")
            continue
        ratios = []
        for c, _, f, higher in COLUMNS:
            mine = statistics.mean(s[c] for s in per[ours])
            theirs = statistics.mean(s[c] for s in per[k])
            if higher is None:  # accuracies: the difference, in percentage points
                ratios.append(f"{mine - theirs:+.2f} pp")
            else:
                ratios.append(f"{(mine / theirs if higher else theirs / mine):.2f}×")
        out.append(f"| chrysalis advantage over {row_name(k)} | " + " | ".join(ratios) + " |")
    return "\n".join(out)


def epoch_flops(widths, samples):
    """The flops of one epoch's products: per sample, each Dense layer's forward, weight
    gradient and input gradient take 2·in·out each, and the first layer has no input gradient
    (no engine computes it)."""
    mults = [a * b for a, b in zip(widths, widths[1:])]
    return 2.0 * (3 * sum(mults) - mults[0]) * samples


def peak_shares(runs, threads):
    """The share of the FMA peak each row's epochs reach, and the largest lead over each peer
    the peak leaves room for (the peer's teacher epoch over the teacher epoch's time at the
    peak), as lines to print; no lines when the chrysalis runs measured no peak (results saved
    before epoch_bench measured it)."""
    ours = [run for run in runs if run["engine"] == "chrysalis"]
    peaks = [next((r["gflops"] for r in run["lines"] if r["measure"] == "fma_peak"), None)
             for run in ours]
    if not peaks or None in peaks:
        return []
    if not all(isinstance(p, (int, float)) and math.isfinite(p) and p > 0 for p in peaks):
        raise ValueError(f"an fma_peak line's gflops is not a positive number: {peaks}")
    peak = statistics.mean(peaks) * 1e9
    samples = next(r for r in ours[0]["lines"] if r["measure"] == "setup")["train"]
    teacher, student = epoch_flops(TEACHER, samples), epoch_flops(STUDENT, samples)
    out = [f"FMA peak on {threads} thread(s), measured by epoch_bench before and after its "
           f"training (the higher; mean over {len(peaks)} seed(s)): {peak * 1e-9:.1f} GFLOP/s. "
           f"An epoch's products take {teacher * 1e-9:.1f} GFLOP (teacher) and "
           f"{student * 1e-9:.1f} GFLOP (student): {teacher / peak:.2f} s and "
           f"{student / peak:.2f} s at the peak.",
           "",
           "| engine | teacher epoch, share of the peak | student CE epoch | "
           "student distillation epoch | largest teacher-epoch lead over it the peak allows |",
           "|---|---:|---:|---:|---:|"]
    for k in row_keys(runs):
        per = [summarise(run["lines"]) for run in runs if row_key(run) == k]
        t, ce, kd = (statistics.mean(s[c] for s in per) for c in ("teacher_s", "ce_s", "kd_s"))
        lead = "—" if k == ("chrysalis", None) else f"{t / (teacher / peak):.2f}×"
        out.append(f"| {row_name(k)} | {100 * teacher / peak / t:.1f}% | "
                   f"{100 * student / peak / ce:.1f}% | {100 * student / peak / kd:.1f}% | "
                   f"{lead} |")
    return out


def blas_line(name, blas, setting):
    core = blas.get("openblas_core")
    fair, why = core_verdict(core)
    verdict = why if setting == "best" or fair else f"{why}: its default"
    capability = f"CPU capability {blas['capability']}; " if "capability" in blas else ""
    return (f"{name}: sgemm_ from {blas.get('sgemm') or 'not found'}; "
            f"{blas.get('openblas_config')}, {blas.get('openblas_threads')} thread(s); "
            f"{capability}{verdict}")


def report(runs, args, notes, cpu, cpu_count, flags):
    """Prints the summary of a comparison: the setup, the table, the notes. `args` holds the
    run's options (seeds, epochs, threads, inference_calls); `flags` are the CPU flags by which
    a best-setting row's OpenBLAS core is judged (peer_env.core_verdict)."""
    seeds = sorted({run["seed"] for run in runs})
    # Every seed runs chrysalis first, then the peers: the peers' runs are all those that are
    # not chrysalis's, not runs[1:] (which holds chrysalis's runs of the later seeds).
    peer_runs = [run for run in runs if run["engine"] != "chrysalis"]
    ours = next(run for run in runs if run["engine"] == "chrysalis")
    setup = next(r for r in ours["lines"] if r["measure"] == "setup")
    if not setup.get("openmp", False):
        print("warning: this epoch_bench was built without OpenMP: chrysalis ran on one thread",
              file=sys.stderr)
    versions = {}
    for run in peer_runs:
        peer_setup = next(r for r in run["lines"] if r["measure"] == "setup")
        versions.setdefault(PEERS[run["engine"]], peer_setup["version"])
    print(f"\n{cpu}, {cpu_count} cores; {args['threads']} thread(s) per engine; "
          f"chrysalis {setup['version']}, "
          + ", ".join(f"{k} {v}" for k, v in versions.items()))
    for k in row_keys(peer_runs):
        cores = openblas_cores(runs, k)
        print(f"  {row_name(k)}: OpenBLAS core {' / '.join(str(c) for c in cores)} in its own "
              f"process; {describe(k[1])}")
    print(f"{setup['train']} training and {setup['test']} test images, {args['epochs']} epoch(s), "
          f"batch {BATCH}, SGD lr {LR} momentum {MOMENTUM}; distillation T = {TEMPERATURE:g}, "
          f"alpha = {ALPHA:g}; {len(seeds)} seed(s) "
          f"({'mean ± sd' if len(seeds) > 1 else 'one run'})\n")
    print(table(runs, flags))
    print("\ns/epoch: mean over the epochs (the first included); batch-1: median of "
          f"{args['inference_calls']} calls; advantage: the peer's time / chrysalis's, chrysalis "
          "samples/s / the peer's, the peer's RSS / chrysalis's, accuracy chrysalis − the "
          "peer. A best-setting row gets no ratio unless its OpenBLAS core is the CPU's own "
          "(benchmarks/peer_env.py says the rule).")
    for note in notes:
        print(note)
    shares = peak_shares(runs, args["threads"])
    if shares:
        print()
        print("\n".join(shares))
        print("\nshare: the epoch's products over its seconds, over the peak (data handling, the "
              "loss and the optimizer count as time, not as flops); lead: no engine can train a "
              "teacher epoch faster than at the peak, so no engine can lead that row by more.\n")
    budget = [next((r["bytes"] for r in run["lines"] if r["measure"] == "memory_budget"), None)
              for run in runs if run["engine"] == "chrysalis"]
    peaks = [run["rss_mib"] for run in runs if run["engine"] == "chrysalis"]
    if budget and all(budget):
        need = statistics.mean(budget) / 2**20
        print(f"chrysalis peak RSS {statistics.mean(peaks):.0f} MiB = "
              f"{statistics.mean(peaks) / need:.2f}x what teacher training must hold ({need:.0f} "
              "MiB: both data sets, the teacher's parameters and momenta, one batch's "
              "activations)")


def report_saved(path):
    """report() on results saved with --json: no engine runs, and PyTorch need not be there."""
    try:
        with open(path) as f:
            data = json.load(f)
        runs, args = data["runs"], data["args"]
        if not any(run["engine"] == "chrysalis" for run in runs):
            raise ValueError("no chrysalis run in it")
    except (OSError, ValueError, KeyError, TypeError) as e:
        sys.exit(f"compare_pytorch: --from-json {path}: not results saved by --json ({e})")
    flags = data.get("cpu_flags")
    if flags is None:
        flags = cpu_flags()
        print(f"note: {path} holds no CPU flags (saved by an older version): OpenBLAS's cores are "
              "judged by this machine's", file=sys.stderr)
    try:
        report(runs, args, data.get("notes", []), data.get("cpu", "unknown CPU"),
               data.get("cpu_count", "?"), set(flags))
    except (KeyError, TypeError, ValueError, StopIteration, statistics.StatisticsError) as e:
        sys.exit(f"compare_pytorch: --from-json {path}: a run in it lacks what the summary needs "
                 f"({type(e).__name__}: {e})")


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="The chrysalis binary is built by `cmake --preset release && cmake --build "
               "--preset release --target epoch_bench` (build/release/benchmarks/epoch_bench); "
               "the C++ peers by `cmake --preset release -DCHRYSALIS_PEER_BENCHMARKS=ON && "
               "cmake --build --preset release --target libtorch_epoch dlib_epoch`.")
    ap.add_argument("--seeds", type=int, default=3, help="number of seeds (default 3)")
    ap.add_argument("--first-seed", type=int, default=1, help="seeds are first..first+seeds-1")
    ap.add_argument("--epochs", type=int, default=3, help="epochs of every training (default 3)")
    ap.add_argument("--threads", type=int, default=2, help="threads of every engine (default 2)")
    ap.add_argument("--limit", type=int, default=0,
                    help="use only the first K training images (smoke runs; 0 = all 60,000)")
    ap.add_argument("--inference-calls", type=int, default=2000,
                    help="batch-1 forwards timed for the median (default 2000)")
    ap.add_argument("--data", default=DEFAULT_DATA, help=f"IDX .gz files (default {DEFAULT_DATA})")
    ap.add_argument("--chrysalis-bin", default=DEFAULT_BIN,
                    help="epoch_bench (default: build/release/benchmarks/epoch_bench in this "
                         "repository)")
    ap.add_argument("--peers", default="pytorch,libtorch,dlib",
                    help="the peers, comma-separated (default pytorch,libtorch,dlib; libtorch "
                         "and dlib are left out, with a note, when their binary is not built)")
    ap.add_argument("--libtorch-bin", default=DEFAULT_LIBTORCH_BIN,
                    help="libtorch_epoch (default: build/release/benchmarks/peers/libtorch_epoch "
                         "in this repository)")
    ap.add_argument("--dlib-bin", default=DEFAULT_DLIB_BIN,
                    help="dlib_epoch (default: build/release/benchmarks/peers/dlib_epoch in this "
                         "repository)")
    ap.add_argument("--json", metavar="OUT", help="also save the raw results as JSON")
    ap.add_argument("--from-json", metavar="IN",
                    help="run nothing: print the summary of results saved with --json, judging "
                         "OpenBLAS's cores by the CPU flags saved with them")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)  # the worker's
    ap.add_argument("--check-blas", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if min(args.seeds, args.epochs, args.threads, args.inference_calls) < 1 or args.limit < 0:
        sys.exit("compare_pytorch: --seeds, --epochs, --threads, --inference-calls must be >= 1 "
                 "and --limit >= 0")

    if args.from_json:
        report_saved(args.from_json)
        return
    if args.worker or args.check_blas:
        try:
            import torch  # noqa: F401
        except ImportError:
            sys.exit("PyTorch is not installed: scripts/install-deps.sh --peer")
        if args.check_blas:
            print(json.dumps(blas_report(args.threads)))
        else:
            worker(args)
        return

    peers = [p for p in args.peers.split(",") if p]
    unknown = [p for p in peers if p not in PEERS]
    if unknown or not peers:
        sys.exit(f"compare_pytorch: --peers takes {', '.join(PEERS)}, got '{args.peers}'")
    if not os.path.exists(args.chrysalis_bin):
        sys.exit(f"{args.chrysalis_bin} not found: build it with cmake --preset release && "
                 "cmake --build --preset release --target epoch_bench (or pass --chrysalis-bin)")
    notes = []
    binaries = {"libtorch": (args.libtorch_bin, "libtorch_epoch", "--libtorch-bin"),
                "dlib": (args.dlib_bin, "dlib_epoch", "--dlib-bin")}
    for engine, (path, target, option) in binaries.items():
        if engine in peers and not os.path.exists(path):
            peers.remove(engine)
            notes.append(f"{PEERS[engine]} left out: {path} not found (scripts/install-deps.sh "
                         "--peer, then cmake --preset release -DCHRYSALIS_PEER_BENCHMARKS=ON && "
                         f"cmake --build --preset release --target {target}, or pass {option})")
            print(notes[-1], file=sys.stderr)
    if not peers:
        sys.exit("compare_pytorch: no peer to run")
    me = [sys.executable, os.path.abspath(__file__)]

    def peer_cmd(engine, *extra):
        return (me + ["--worker"] if engine == "pytorch" else [binaries[engine][0]]) + list(extra)

    # The BLAS checks first, each peer at each setting in a child of its own, so that a bad setup
    # fails in seconds. Their peak RSS is each peer's floor: its runtime, before any data.
    flag, own = own_cores()
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; its own OpenBLAS cores: "
          + (f"{' / '.join(own)} ({flag} in /proc/cpuinfo)" if flag else "no rule for it"))
    for setting in SETTINGS:
        print(f"{setting} setting of the peers: {describe(setting)}")
    checks = {}
    for engine in peers:
        for setting in SETTINGS:
            check_cmd = (me if engine == "pytorch" else [binaries[engine][0]]) + [
                "--check-blas", "--threads", str(args.threads)]
            check, floor, _ = run_child(check_cmd, peer_env(args.threads, setting))
            blas = check[-1]
            name = row_name((engine, setting))
            print(blas_line(name, blas, setting))
            if not blas["openblas"]:
                sys.exit(f"compare_pytorch: {name} is not using OpenBLAS (the reference BLAS "
                         "would make the comparison unfair): install libopenblas0-pthread "
                         "(scripts/install-deps.sh --peer) and check `update-alternatives "
                         "--display libblas.so.3-x86_64-linux-gnu`")
            checks[name] = dict(blas, rss_floor_mib=floor)
        print(f"{PEERS[engine]}'s RSS floor (its runtime after one product, before any data): "
              f"{checks[row_name((engine, 'default'))]['rss_floor_mib']:.0f} MiB")

    runs = []
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    common = ["--epochs", str(args.epochs), "--threads", str(args.threads), "--limit",
              str(args.limit), "--inference-calls", str(args.inference_calls), "--data",
              args.data]
    # chrysalis gets the thread counts and the environment as it is, never a peer's setting.
    ours_env = dict(os.environ, OMP_NUM_THREADS=str(args.threads),
                    OPENBLAS_NUM_THREADS=str(args.threads))
    for seed in seeds:
        plan = [("chrysalis", None, [args.chrysalis_bin, "--seed", str(seed)] + common,
                 ours_env)]
        plan += [(engine, setting, peer_cmd(engine, "--seed", str(seed), *common),
                  peer_env(args.threads, setting)) for engine in peers for setting in SETTINGS]
        for engine, setting, cmd, env in plan:
            name = row_name((engine, setting))
            print(f"seed {seed}: {name} ...", file=sys.stderr, flush=True)
            lines, rss, wall = run_child(cmd, env)
            setup = next((r for r in lines if r["measure"] == "setup"), {})
            if engine != "chrysalis" and not setup.get("blas", {}).get("openblas"):
                sys.exit(f"compare_pytorch: {name} did not run on OpenBLAS")
            runs.append({"engine": engine, "setting": setting, "seed": seed, "rss_mib": rss,
                         "wall_s": wall, "lines": lines})
            print(f"seed {seed}: {name} done in {wall:.1f} s, peak RSS {rss:.0f} MiB",
                  file=sys.stderr, flush=True)

    # The raw results are saved before anything is computed from them, so that a failure in
    # the summary below does not lose a run of half an hour.
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "settings": {s: describe(s) for s in SETTINGS},
                       "checks": checks, "cpu": cpu_model(), "cpu_own_cores": list(own),
                       "cpu_flags": sorted(cpu_flags()), "cpu_count": os.cpu_count(),
                       "notes": notes, "runs": runs}, f, indent=1)
        print(f"raw results: {args.json}", file=sys.stderr)
    report(runs, vars(args), notes, cpu_model(), os.cpu_count(), cpu_flags())


if __name__ == "__main__":
    main()
