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

For each seed the script runs the chrysalis binary, then the PyTorch recipe (this script again,
with --worker), one after the other, never at the same time; each is a child process whose peak
RSS is read from its own rusage (os.wait4). Both children get OMP_NUM_THREADS and
OPENBLAS_NUM_THREADS = --threads; PyTorch also gets torch.set_num_threads. The script stops if
PyTorch's matrix products do not run on OpenBLAS (Debian's reference BLAS would make the
comparison unfair; scripts/install-deps.sh --peer installs libopenblas0-pthread).

    /usr/bin/python3 benchmarks/compare_pytorch.py [--seeds 3] [--epochs 3] [--threads 2]
        [--limit K] [--chrysalis-bin build/release/benchmarks/epoch_bench] [--json out.json]

Smoke run (a few seconds): --limit 2000 --epochs 1 --seeds 1 --threads 1.
"""
import argparse
import gzip
import json
import os
import platform
import re
import statistics
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_BIN = os.path.join(HERE, "..", "build", "release", "benchmarks", "epoch_bench")
DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"  # Debian's dataset-fashion-mnist

BATCH = 128
LOGITS_BATCH = 256  # chrysalis::predict_logits's default, also used for the test accuracy
LR, MOMENTUM = 0.05, 0.9
TEMPERATURE, ALPHA = 4.0, 0.5


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
              "openblas_config": None, "openblas_threads": None, "capability": "?",
              "blas_info": "?"}
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
    teacher = mlp(784, 1200, 1200, 10)
    train(teacher, "teacher_epoch", lambda out, idx, yb: F.cross_entropy(out, yb))
    emit("teacher_test_accuracy", value=accuracy(teacher))

    # 2. Its logits on the training set, once.
    t0 = time.perf_counter()
    logits = predict(teacher, X)
    emit("teacher_logits", seconds=time.perf_counter() - t0)

    # 3. The student on hard labels; 4. the same initial student distilled.
    torch.manual_seed(seed + 1)
    student = mlp(784, 800, 800, 10)
    initial = {k: v.clone() for k, v in student.state_dict().items()}
    train(student, "student_ce_epoch", lambda out, idx, yb: F.cross_entropy(out, yb))
    emit("student_ce_test_accuracy", value=accuracy(student))

    def distillation(out, idx, yb):
        # chrysalis::Distillation: alpha*T^2*KL(p_t^T || p_s^T) + (1 - alpha)*CE, batch means.
        log_ps = F.log_softmax(out / TEMPERATURE, dim=1)
        log_pt = F.log_softmax(logits[idx] / TEMPERATURE, dim=1)
        kl = F.kl_div(log_ps, log_pt, reduction="batchmean", log_target=True)
        return ALPHA * TEMPERATURE ** 2 * kl + (1 - ALPHA) * F.cross_entropy(out, yb)

    distilled = mlp(784, 800, 800, 10)
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

def run_child(cmd, threads):
    """Runs cmd with the thread variables set; returns (JSON lines, peak RSS in MiB, seconds)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
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


def table(runs):
    engines = ["chrysalis", "pytorch"]
    per = {e: [dict(summarise(r["lines"]), rss=r["rss_mib"]) for r in runs if r["engine"] == e]
           for e in engines}
    out = ["| engine | " + " | ".join(c[1] for c in COLUMNS) + " |",
           "|---|" + "---:|" * len(COLUMNS)]
    for e, name in zip(engines, ["chrysalis", "PyTorch"]):
        out.append(f"| {name} | " + " | ".join(cell([s[k] for s in per[e]], f)
                                                for k, _, f, _ in COLUMNS) + " |")
    ratios = []
    for k, _, f, higher in COLUMNS:
        c = statistics.mean(s[k] for s in per["chrysalis"])
        p = statistics.mean(s[k] for s in per["pytorch"])
        if higher is None:  # accuracies: the difference, in percentage points
            ratios.append(f"{c - p:+.2f} pp")
        else:
            ratios.append(f"{(c / p if higher else p / c):.2f}×")
    out.append("| chrysalis advantage | " + " | ".join(ratios) + " |")
    return "\n".join(out)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for entry in f:
                if entry.startswith("model name"):
                    return entry.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="The chrysalis binary is built by `cmake --preset release && cmake --build "
               "--preset release --target epoch_bench` (build/release/benchmarks/epoch_bench).")
    ap.add_argument("--seeds", type=int, default=3, help="number of seeds (default 3)")
    ap.add_argument("--first-seed", type=int, default=1, help="seeds are first..first+seeds-1")
    ap.add_argument("--epochs", type=int, default=3, help="epochs of every training (default 3)")
    ap.add_argument("--threads", type=int, default=2, help="threads of both engines (default 2)")
    ap.add_argument("--limit", type=int, default=0,
                    help="use only the first K training images (smoke runs; 0 = all 60,000)")
    ap.add_argument("--inference-calls", type=int, default=2000,
                    help="batch-1 forwards timed for the median (default 2000)")
    ap.add_argument("--data", default=DEFAULT_DATA, help=f"IDX .gz files (default {DEFAULT_DATA})")
    ap.add_argument("--chrysalis-bin", default=DEFAULT_BIN,
                    help="epoch_bench (default: build/release/benchmarks/epoch_bench in this "
                         "repository)")
    ap.add_argument("--json", metavar="OUT", help="also save the raw results as JSON")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)  # the worker's
    ap.add_argument("--check-blas", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if min(args.seeds, args.epochs, args.threads, args.inference_calls) < 1 or args.limit < 0:
        sys.exit("compare_pytorch: --seeds, --epochs, --threads, --inference-calls must be >= 1 "
                 "and --limit >= 0")

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

    if not os.path.exists(args.chrysalis_bin):
        sys.exit(f"{args.chrysalis_bin} not found: build it with cmake --preset release && "
                 "cmake --build --preset release --target epoch_bench (or pass --chrysalis-bin)")
    me = [sys.executable, os.path.abspath(__file__)]

    # The BLAS check first, in a child of its own, so that a bad setup fails in seconds.
    # Its peak RSS is PyTorch's floor: the interpreter and libtorch, before any data.
    check, torch_floor, _ = run_child(me + ["--check-blas", "--threads", str(args.threads)],
                                      args.threads)
    blas = check[-1]
    print(f"PyTorch {blas['torch']}, CPU capability {blas['capability']}, "
          f"built with BLAS_INFO={blas['blas_info']}")
    print(f"PyTorch's sgemm_ comes from: {blas['sgemm'] or 'not found'}")
    if not blas["openblas"]:
        sys.exit("compare_pytorch: PyTorch is not using OpenBLAS (the reference BLAS would make "
                 "the comparison unfair): install libopenblas0-pthread (scripts/install-deps.sh "
                 "--peer) and check `update-alternatives --display "
                 "libblas.so.3-x86_64-linux-gnu`")
    print(f"OpenBLAS: {blas['openblas_config']}, {blas['openblas_threads']} thread(s)")
    print(f"PyTorch's RSS floor (python3 + import torch + one product): {torch_floor:.0f} MiB")

    runs = []
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    common = ["--epochs", str(args.epochs), "--threads", str(args.threads), "--limit",
              str(args.limit), "--inference-calls", str(args.inference_calls), "--data",
              args.data]
    for seed in seeds:
        for engine, cmd in [("chrysalis", [args.chrysalis_bin, "--seed", str(seed)] + common),
                            ("pytorch", me + ["--worker", "--seed", str(seed)] + common)]:
            print(f"seed {seed}: {engine} ...", file=sys.stderr, flush=True)
            lines, rss, wall = run_child(cmd, args.threads)
            setup = next((r for r in lines if r["measure"] == "setup"), {})
            if engine == "pytorch" and not setup.get("blas", {}).get("openblas"):
                sys.exit("compare_pytorch: the PyTorch worker did not run on OpenBLAS")
            runs.append({"engine": engine, "seed": seed, "rss_mib": rss, "wall_s": wall,
                         "lines": lines})
            print(f"seed {seed}: {engine} done in {wall:.1f} s, peak RSS {rss:.0f} MiB",
                  file=sys.stderr, flush=True)

    setup = next(r for r in runs[0]["lines"] if r["measure"] == "setup")
    if not setup.get("openmp", False):
        print("warning: this epoch_bench was built without OpenMP: chrysalis ran on one thread",
              file=sys.stderr)
    print(f"\n{cpu_model()}, {os.cpu_count()} cores; {args.threads} thread(s) per engine; "
          f"chrysalis {setup['version']}, PyTorch {blas['torch']}")
    print(f"{setup['train']} training and {setup['test']} test images, {args.epochs} epoch(s), "
          f"batch {BATCH}, SGD lr {LR} momentum {MOMENTUM}; distillation T = {TEMPERATURE:g}, "
          f"alpha = {ALPHA:g}; {len(seeds)} seed(s) "
          f"({'mean ± sd' if len(seeds) > 1 else 'one run'})\n")
    print(table(runs))
    print("\ns/epoch: mean over the epochs (the first included); batch-1: median of "
          f"{args.inference_calls} calls; advantage: PyTorch time / chrysalis time, chrysalis "
          "samples/s / PyTorch's, PyTorch RSS / chrysalis RSS, accuracy chrysalis − PyTorch.")
    budget = [next((r["bytes"] for r in run["lines"] if r["measure"] == "memory_budget"), None)
              for run in runs if run["engine"] == "chrysalis"]
    peaks = [run["rss_mib"] for run in runs if run["engine"] == "chrysalis"]
    if budget and all(budget):
        need = statistics.mean(budget) / 2**20
        print(f"chrysalis peak RSS {statistics.mean(peaks):.0f} MiB = "
              f"{statistics.mean(peaks) / need:.2f}x what teacher training must hold ({need:.0f} "
              "MiB: both data sets, the teacher's parameters and momenta, one batch's "
              "activations)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "blas": blas, "torch_rss_floor_mib": torch_floor,
                       "cpu": cpu_model(), "runs": runs}, f, indent=1)
        print(f"raw results: {args.json}")


if __name__ == "__main__":
    main()
