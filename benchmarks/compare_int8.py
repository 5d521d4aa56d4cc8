#!/usr/bin/python3
"""Side by side: the 784-800-800-10 ReLU student at inference, fp32 and int8, chrysalis and PyTorch.

chrysalis: benchmarks/int8_bench (Google Benchmark; the fp32 network, quantize(net) with dynamic
activation scales and quantize(net, calibration) with static ones, each on one thread and on two
— chrysalis::ThreadsScope; an int8 batch shares its 16-column blocks among the threads). PyTorch: the same architecture in eval mode under
no_grad, fp32 and torch.ao.quantization.quantize_dynamic(model, {Linear}, qint8) (per-tensor
int8 weights, activations quantized per batch), at each of --threads, with every quantized engine
the build supports (torch.backends.quantized.supported_engines: fbgemm, onednn, qnnpack, …): its
default engine is its default setting, the fastest one its best, and the ratios are against the
best.

Every engine runs in a child process of its own, one after the other, never at the same time.
A run is --rounds rounds of the whole sequence (chrysalis, then PyTorch at each thread count):
each round gives its own ratios, printed, and the summary is the median of the rounds' ratios —
on a shared host whose speed drifts by tens of percent within minutes (another tenant's load,
steal time), a ratio of two figures measured a minute apart is steadier than the ratio of two
medians measured ten minutes apart.
PyTorch runs at its best setting on a shared 2-core machine: OMP_WAIT_POLICY=PASSIVE and
OpenBLAS on the kernel of this CPU (OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed, together, from
its environment only: benchmarks/peer_env.py, shared with compare_pytorch.py). Times are the
median over --repeats timed runs of at least 0.2 s each; the ratios compare figures of this one
run.

    /usr/bin/python3 benchmarks/compare_int8.py [--threads 1,2] [--repeats 5] [--rounds 3]
        [--chrysalis-bin build/release/benchmarks/int8_bench] [--json out.json]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from peer_env import cpu_model, describe, peer_env  # noqa: E402

DEFAULT_BIN = os.path.join(HERE, "..", "build", "release", "benchmarks", "int8_bench")
BATCHES = (1, 128)


def worker(args):
    """The PyTorch half: one JSON line per (precision, batch)."""
    import torch
    from torch import nn
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(784, 800), nn.ReLU(), nn.Linear(800, 800), nn.ReLU(),
                          nn.Linear(800, 10)).eval()
    default_engine = torch.backends.quantized.engine
    engines = [e for e in torch.backends.quantized.supported_engines if e != "none"]
    print(json.dumps({"setup": True, "torch": torch.__version__, "default_engine": default_engine,
                      "engines": engines, "threads": torch.get_num_threads()}))
    nets = [("fp32", model)]
    for engine in engines:
        torch.backends.quantized.engine = engine
        nets.append((f"int8 {engine}", torch.ao.quantization.quantize_dynamic(
            model, {nn.Linear}, dtype=torch.qint8)))
    for batch in BATCHES:
        x = torch.rand(batch, 784)
        for precision, net in nets:
            if precision != "fp32":
                torch.backends.quantized.engine = precision.split()[1]
            with torch.no_grad():
                for _ in range(20):
                    net(x)  # warm-up: first calls allocate and pack
                start, calls = time.perf_counter(), 0
                while time.perf_counter() - start < 0.2:
                    net(x)
                    calls += 1
                times = []
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    for _ in range(calls):
                        net(x)
                    times.append((time.perf_counter() - t0) / calls)
            print(json.dumps({"engine": "pytorch", "precision": precision, "batch": batch,
                              "threads": args.threads, "seconds": statistics.median(times),
                              "default": precision in ("fp32", f"int8 {default_engine}")}),
                  flush=True)


def run(cmd, env):
    # stderr is kept and shown only on failure: qnnpack logs a warning on every call.
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        sys.exit(f"compare_int8: {' '.join(cmd)} failed with status {proc.returncode}")
    return proc.stdout


def chrysalis_rows(binary, repeats):
    out = run([binary, "--benchmark_filter=student", "--benchmark_format=json",
               f"--benchmark_repetitions={repeats}", "--benchmark_report_aggregates_only=true"],
              dict(os.environ))
    rows = []
    names = {"student_fp32": "fp32", "student_int8_dynamic": "int8",
             "student_int8_static": "int8 static"}
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        # e.g. student_int8_dynamic/batch:128/threads:2
        name, batch, threads = b["run_name"].split("/")
        scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
        rows.append({"engine": "chrysalis", "precision": names[name],
                     "batch": int(batch.split(":")[1]), "threads": int(threads.split(":")[1]),
                     "seconds": b["real_time"] * scale, "kernel": b.get("label", "")})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="1,2",
                    help="thread counts, 1 and/or 2, for both engines (default 1,2)")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per figure (default 5)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds of the whole comparison, alternating the engines; the summary "
                         "is the median of the rounds' ratios (default 3)")
    ap.add_argument("--chrysalis-bin", default=DEFAULT_BIN,
                    help="int8_bench (default: build/release/benchmarks/int8_bench)")
    ap.add_argument("--json", metavar="OUT", help="also save the rows as JSON")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--worker-threads", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.repeats < 1:
        sys.exit("compare_int8: --repeats must be >= 1")
    if args.rounds < 1:
        sys.exit("compare_int8: --rounds must be >= 1")
    if args.worker:
        args.threads = args.worker_threads
        try:
            worker(args)
        except ImportError:
            sys.exit("PyTorch is not installed: scripts/install-deps.sh --peer")
        return
    try:
        threads = [int(t) for t in args.threads.split(",")]
    except ValueError:
        threads = []
    if not threads or not set(threads) <= {1, 2}:
        sys.exit(f"compare_int8: --threads must be a comma-separated list of 1 and/or 2 (the "
                 f"thread counts int8_bench measures), got '{args.threads}'")
    if not os.path.exists(args.chrysalis_bin):
        sys.exit(f"{args.chrysalis_bin} not found: cmake --preset release && cmake --build "
                 "--preset release --target int8_bench (or pass --chrysalis-bin)")

    print(f"CPU: {cpu_model()}, {os.cpu_count()} logical CPUs")
    rows = []
    for round_ in range(args.rounds):
        for r in chrysalis_rows(args.chrysalis_bin, args.repeats):
            rows.append(dict(r, round=round_))
        for t in threads:
            out = run([sys.executable, os.path.abspath(__file__), "--worker", "--worker-threads",
                       str(t), "--repeats", str(args.repeats)], peer_env(t, "best"))
            for line in out.splitlines():
                record = json.loads(line)
                if record.get("setup"):
                    if round_ == 0:
                        print(f"PyTorch {record['torch']} ({t} thread(s)): quantized engines "
                              f"{', '.join(record['engines'])} (default "
                              f"{record['default_engine']}), {describe('best')}")
                else:
                    rows.append(dict(record, round=round_))

    def of_round(round_):
        return [r for r in rows if r["round"] == round_]

    def find(rs, engine, precision, batch, threads=1):
        return next(r for r in rs if r["engine"] == engine and r["precision"] == precision
                    and r["batch"] == batch and r["threads"] == threads)

    def torch_int8(rs, batch, threads, best):
        """PyTorch's int8 row: its default engine's, or the fastest engine's (best)."""
        mine = [r for r in rs if r["engine"] == "pytorch" and r["batch"] == batch
                and r["threads"] == threads and r["precision"].startswith("int8")]
        return min(mine, key=lambda r: r["seconds"]) if best else \
            next(r for r in mine if r["default"])

    print(f"\nMedian over {args.rounds} round(s) of each figure:")
    print(f"{'batch':>5}  {'engine':<10} {'precision':<14} {'threads':>7} "
          f"{'us/batch':>10} {'samples/s':>10}")
    keys = sorted({(r["batch"], r["engine"], r["threads"], r["precision"]) for r in rows})
    for batch, engine, t, precision in keys:
        seconds = statistics.median(r["seconds"] for r in rows if r["batch"] == batch
                                    and r["engine"] == engine and r["threads"] == t
                                    and r["precision"] == precision)
        print(f"{batch:>5}  {engine:<10} {precision:<14} {t:>7} "
              f"{seconds * 1e6:>10.1f} {batch / seconds:>10.0f}")

    # Each ratio is computed within a round, then its median over the rounds is reported.
    ratios = {}
    for round_ in range(args.rounds):
        rs = of_round(round_)
        ours1 = find(rs, "chrysalis", "int8", 1)
        ratios.setdefault(("fp32",), []).append(
            find(rs, "chrysalis", "fp32", 1)["seconds"] / ours1["seconds"])
        for t in threads:
            for batch in BATCHES:
                ours = find(rs, "chrysalis", "int8", batch, t)
                best, default = torch_int8(rs, batch, t, True), torch_int8(rs, batch, t, False)
                ratios.setdefault((batch, t, "best"), []).append(best["seconds"] / ours["seconds"])
                ratios.setdefault((batch, t, "default"), []).append(
                    default["seconds"] / ours["seconds"])
                ratios.setdefault((batch, t, "engines"), []).append(
                    (best["precision"], default["precision"]))

    def show(key):
        values = ratios[key]
        each = ", ".join(f"{v:.2f}" for v in values)
        return f"{statistics.median(values):.2f}x (rounds: {each})"

    # The fastest figure of each engine over the rounds: interference (other tenants, steal
    # time) only ever adds time, so this is each engine on a quiet host — shown beside the
    # median of the ratios, never instead of it.
    def fastest(engine, precision, batch, t):
        return min(r["seconds"] for r in rows if r["engine"] == engine
                   and r["precision"] == precision and r["batch"] == batch and r["threads"] == t)

    kernel = find(of_round(0), "chrysalis", "int8", 1).get("kernel", "?")
    print(f"\nchrysalis int8 ({kernel} kernel, dynamic scales), median of the rounds' ratios:")
    print(f"  batch 1: {show(('fp32',))} faster than chrysalis fp32 (one thread each)")
    for t in threads:
        for batch in BATCHES:
            best_engine, default_engine = ratios[(batch, t, "engines")][-1]
            what = "faster than" if batch == 1 else "the throughput of"
            print(f"  batch {batch}, {t} thread(s) each: {show((batch, t, 'best'))} {what} "
                  f"PyTorch at its best engine here ({best_engine} in the last round); "
                  f"{show((batch, t, 'default'))} against its default ({default_engine})")
            torch_fastest = min(fastest("pytorch", p, batch, t) for p in
                                {r["precision"] for r in rows if r["engine"] == "pytorch"
                                 and r["precision"].startswith("int8")})
            ours_fastest = fastest("chrysalis", "int8", batch, t)
            print(f"    fastest round of each: chrysalis {ours_fastest * 1e6:.1f} us, PyTorch "
                  f"int8 {torch_fastest * 1e6:.1f} us, {torch_fastest / ours_fastest:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
