#!/usr/bin/env bash
# Where a training step's time goes (issue 16, "Where the time goes"): runs one network_bench
# training step under `perf record -e cpu-clock` (a software clock: it works in VMs without
# hardware counters) and sorts the step's CPU samples into the parts docs/performance.md
# tabulates — the GEMM micro-kernel, packing (packed_gemm's own time and its packing routines,
# pack_a, pack_a_whole, pack_b, pack_transposed_blocks, pack_lines_transposed and deal_line,
# wherever the compiler did not inline them), the optimizer update, the thread pool
# (ThreadPool::run and ::serve: handing out chunks, spinning, waiting), the operating system (the
# kernel's own samples: page faults, interrupts, and in a VM the hypervisor's) and everything else
# (ReLU, bias, loss, the last layer, and the network's construction each time the benchmark
# library calls the benchmark: a few percent). Most of the operating system's share is that
# construction too: the page faults of its fresh memory, and of the optimizer's state at its first
# update (3.6 of 4.2 points in one profile with call chains: docs/performance.md, "Two threads on
# one product, traced"). The binary's FMA-peak measurement (fma_chains, or
# measure_fma_peak where the compiler inlined the chains into it) runs in the same process and
# is left out of the shares. Shares are of CPU samples, not of wall time: a helper asleep
# between products takes no samples. Not a test: it only measures.
#
#   benchmarks/profile_step.sh [NETWORK_BENCH] [THREADS] [STEP]
#     NETWORK_BENCH  defaults to build/release/benchmarks/network_bench
#     THREADS        1 or 2 (default 1)
#     STEP           teacher_train_step (default), student_train_step or student_distill_step
set -euo pipefail
bench=${1:-build/release/benchmarks/network_bench}
threads=${2:-1}
step=${3:-teacher_train_step}
command -v perf > /dev/null || { echo "profile_step.sh: perf not found (Debian: linux-perf)" >&2; exit 1; }
[ -x "$bench" ] || { echo "profile_step.sh: $bench is not an executable network_bench" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

perf record -q -e cpu-clock -o "$tmp/perf.data" "$bench" \
    --benchmark_filter="^$step/batch:128/threads:$threads/" --benchmark_min_time=3 > "$tmp/out.txt" 2>&1
grep -E "fma_peak_|$step" "$tmp/out.txt"
perf report -i "$tmp/perf.data" --no-children --sort symbol --stdio 2> /dev/null |
    awk '/^ *[0-9.]+%/ {
        p = $1 + 0
        if ($0 ~ /fma_chains|measure_fma_peak/) peak += p
        else if ($0 ~ /\[k\]/) os += p
        else if ($0 ~ /micro_kernel/) kernel += p
        else if ($0 ~ /packed_gemm|pack_a|pack_b|deal_line/ ||
                 $0 ~ /pack_transposed_blocks|pack_lines_transposed/) packing += p
        else if ($0 ~ /_update_values|adam_update/) update += p
        else if ($0 ~ /ThreadPool::(run|serve)/) pool += p
        else other += p
    }
    END {
        step = 100 - peak
        if (step <= 0) { print "profile_step.sh: no samples outside the peak measurement"; exit 1 }
        printf "| part | share of the step (%s, %s threads) |\n|---|---:|\n", "'"$step"'", "'"$threads"'"
        printf "| micro-kernel | %.1f%% |\n", 100 * kernel / step
        printf "| packing | %.1f%% |\n", 100 * packing / step
        printf "| optimizer update | %.1f%% |\n", 100 * update / step
        printf "| thread pool (hand-out, spin, wait) | %.1f%% |\n", 100 * pool / step
        printf "| operating system (faults, interrupts, hypervisor) | %.1f%% |\n", 100 * os / step
        printf "| everything else | %.1f%% |\n", 100 * other / step
    }'
