#!/usr/bin/env python3
"""Times two or more builds of one Google Benchmark program against each other, in rounds.

On a shared VM the speed of the same binary drifts by 10-30% from minute to minute (another
tenant's memory traffic, not the FMA units: fma_peak stays within 5% while a training step
moves by 25%). A comparison of two builds is only as good as the moment each ran in, so this
script runs them in alternating rounds (A B, B A, A B, ...), each binary once per round with
the same --benchmark_filter, and prints per benchmark and per build the median and the minimum
of its real time over the rounds, and each build's median as a ratio of the first build's.

    benchmarks/alternate_builds.py [--counter=NAME...] ROUNDS FILTER BINARY BINARY [BINARY...]
                                   [-- EXTRA ARGS]

    g++ <flags> -Iinclude benchmarks/network_bench.cpp -o /tmp/nb_new ...
    g++ <flags> -I/tmp/old/include benchmarks/network_bench.cpp -o /tmp/nb_old ...
    benchmarks/alternate_builds.py 6 'teacher_train_step/batch:128/threads:(1|2)' \\
        /tmp/nb_old /tmp/nb_new

EXTRA ARGS (after --) go to every binary, e.g. -- --benchmark_min_time=1. Times are in
milliseconds. --counter=NAME also summarises a user counter the benchmarks report, the same way
(e.g. --counter=update_ms for network_bench's teacher_step_phases). Not a test: it only
measures.
"""

import collections
import json
import os
import statistics
import subprocess
import sys


def fail(message):
    print(f"alternate_builds.py: {message}", file=sys.stderr)
    sys.exit(2)


def run(binary, bench_filter, extra, counters):
    """What one run of `binary` reports: (name, quantity) -> value, the quantity "real time, ms"
    or one of `counters`."""
    command = [binary, f"--benchmark_filter={bench_filter}", "--benchmark_format=json", *extra]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        fail(f"{binary} exited with {done.returncode}: {done.stderr.strip()[-400:]}")
    if not done.stdout.strip():
        fail(f"{binary} reported no benchmark for the filter '{bench_filter}': "
             f"{done.stderr.strip()[-400:]}")
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError as error:
        fail(f"{binary} did not print Google Benchmark JSON ({error})")
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}
    times = {}
    for bench in report.get("benchmarks", []):
        if bench.get("run_type", "iteration") != "iteration":
            continue  # aggregates of --benchmark_repetitions: the rounds are ours
        times[(bench["name"], "real time, ms")] = bench["real_time"] * scale[bench["time_unit"]]
        for counter in counters:
            if counter in bench:
                times[(bench["name"], counter)] = float(bench[counter])
    return times


def main(argv):
    extra = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    counters = [a[len("--counter="):] for a in argv if a.startswith("--counter=")]
    argv = [a for a in argv if not a.startswith("--counter=")]
    if any(not c for c in counters):
        fail("--counter= needs a counter's name")
    if len(argv) < 4:
        fail("usage: alternate_builds.py ROUNDS FILTER BINARY BINARY [BINARY...] [-- ARGS]")
    try:
        rounds = int(argv[0])
    except ValueError:
        fail(f"ROUNDS must be a whole number, got '{argv[0]}'")
    if rounds < 1:
        fail(f"ROUNDS must be at least 1, got {rounds}")
    bench_filter, binaries = argv[1], argv[2:]
    for binary in binaries:
        if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
            fail(f"'{binary}' is not an executable file")
    if len(set(binaries)) != len(binaries):
        fail("each BINARY must be named once")

    times = collections.defaultdict(lambda: collections.defaultdict(list))
    for r in range(rounds):
        for binary in binaries if r % 2 == 0 else binaries[::-1]:
            for key, value in run(binary, bench_filter, extra, counters).items():
                times[key][binary].append(value)
    if not times:
        fail(f"no benchmark matched the filter '{bench_filter}'")

    print(f"{rounds} rounds, builds alternating: median, minimum, and the median as a ratio of "
          f"{binaries[0]}'s")
    for (name, quantity), per in times.items():
        print(f"{name}: {quantity}")
        base = statistics.median(per[binaries[0]]) if per[binaries[0]] else None
        for binary in binaries:
            values = per[binary]
            if not values:
                print(f"  {binary}: not reported")
                continue
            median = statistics.median(values)
            ratio = f"{median / base:.3f}" if base else "-"
            print(f"  {binary}: median {median:.3f}  min {min(values):.3f}  ratio {ratio}  "
                  f"({len(values)} runs)")


if __name__ == "__main__":
    main(sys.argv[1:])
