#!/usr/bin/env bash
# Builds the libFuzzer targets (the 'fuzz' preset: clang++, -fsanitize=fuzzer,address,undefined)
# and runs each for a while on a copy of its seed corpus, so fuzz/corpus is never changed.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     SECONDS per target (default 60); TARGET among
#                                              idx csv gz npy model (default all five)
#
# Environment:
#   CHRYSALIS_FUZZ_BUILD_DIR   the build directory (default build/fuzz)
#   CHRYSALIS_FUZZ_WORK        the scratch directory (default a new one under $TMPDIR or /tmp);
#                              it is removed after a clean run, kept when anything was found
#   CHRYSALIS_FUZZ_KEEP=1      keep the scratch directory (the grown corpora) in any case
#
# Prints for each target the executions made (libFuzzer's stat::number_of_executed_units),
# executions per second and the corpus size, and exits non-zero if any target found a crash, a
# sanitizer report, a leak, an out-of-memory (a single allocation over 256 MiB, or 512 MiB in all)
# or a timeout (one input running over 120 s: generous, since a fuzzer at nice 19 on a busy
# machine can wait tens of seconds for a core), naming the input that caused it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${1:-60}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(idx csv gz npy model)
[[ $seconds =~ ^[0-9]+$ ]] || { echo "fuzz: SECONDS must be a number, got '$seconds'" >&2; exit 2; }
for t in "${targets[@]}"; do
    [[ -d fuzz/corpus/$t ]] || { echo "fuzz: no target '$t' (expected idx csv gz npy model)" >&2; exit 2; }
done

build=${CHRYSALIS_FUZZ_BUILD_DIR:-$root/build/fuzz}
echo "=== fuzz: configuring and building in $build"
cmake --preset fuzz -B "$build" >/dev/null
cmake --build "$build" --target "${targets[@]/#/fuzz_}"

work=${CHRYSALIS_FUZZ_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/chrysalis-fuzz.XXXXXX")}
mkdir -p "$work"

# One target: fuzzes it for $seconds s and writes its report to $work/<target>/report, and
# "failed" to $work/<target>/failed if it found anything.
fuzz_one() {
    local t=$1 dir=$work/$1
    rm -rf "$dir"
    mkdir -p "$dir/crashes"
    cp -r "fuzz/corpus/$t" "$dir/corpus"
    local seeds
    seeds=$(find "$dir/corpus" -type f | wc -l)
    # -jobs=1: one worker process, its output in fuzz-0.log of the working directory.
    # -malloc_limit_mb: no legitimate allocation for an input of at most -max_len bytes comes near
    # 256 MiB (a gzip file of 8 KiB holds at most 8.5 MB), so a larger one is a size the loader
    # took from the file without checking it. -rss_limit_mb=512: every loader's memory follows
    # the bytes it has read (docs/errors.md, "Memory"), so a process growing past 512 MiB on such
    # inputs is a loader trusting a header or inflating without a limit.
    local status=0 t0 elapsed
    t0=$(date +%s)
    (cd "$dir" && "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -jobs=1 -print_final_stats=1 \
        -rss_limit_mb=512 -malloc_limit_mb=256 -max_len=8192 -timeout=120 \
        -dict="$root/fuzz/dict/$t.dict" -artifact_prefix="$dir/crashes/" "$dir/corpus" \
        >"$dir/driver.log" 2>&1) || status=$?
    elapsed=$(( $(date +%s) - t0 ))
    local log=$dir/fuzz-0.log executions corpus crashes
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" 2>/dev/null | tail -1)
    corpus=$(find "$dir/corpus" -type f | wc -l)
    # crash-, leak-, oom- and timeout- inputs are findings; a slow-unit- input (one run over 10 s,
    # libFuzzer's -report_slow_units) is only reported: on a loaded machine a stall makes one.
    crashes=$(find "$dir/crashes" -type f ! -name 'slow-unit-*' | wc -l)
    {
        find "$dir/crashes" -type f -name 'slow-unit-*' -printf 'fuzz: note: a slow input (not a failure): %p\n'
        echo "fuzz: $t: ${executions:-?} executions in $elapsed s ($(( ${executions:-0} / (elapsed > 0 ? elapsed : 1) )) exec/s), corpus $seeds -> $corpus inputs, $crashes crash inputs, exit $status"
        if ((status != 0 || crashes > 0)) || [[ -z $executions ]]; then
            echo "fuzz: $t FAILED; the end of its log:"
            tail -n 60 "$log" 2>/dev/null || cat "$dir/driver.log"
            find "$dir/crashes" -type f ! -name 'slow-unit-*' -printf 'fuzz: crash input: %p\n'
            echo "fuzz: reproduce with: $build/fuzz/fuzz_$t <crash input> (CHRYSALIS_FUZZ_VERBOSE=1 prints what each load did)"
            touch "$dir/failed"
        fi
    } >"$dir/report"
}

# The targets run side by side, as many at once as there are CPUs (CHRYSALIS_FUZZ_JOBS to
# choose): each still gets its $seconds of wall time, and five minutes of fuzzing take three on
# two cores. Each report is printed when all are done, in the order given.
jobs=${CHRYSALIS_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "fuzz: CHRYSALIS_FUZZ_JOBS must be a positive number, got '$jobs'" >&2; exit 2; }
running=0
for t in "${targets[@]}"; do
    if ((running >= jobs)); then
        wait -n || true
        running=$((running - 1))
    fi
    echo "=== fuzz: $t for $seconds s (log: $work/$t/fuzz-0.log)"
    fuzz_one "$t" &
    running=$((running + 1))
done
wait || true
failed=()
for t in "${targets[@]}"; do
    cat "$work/$t/report" 2>/dev/null || echo "fuzz: $t: no report (the runner itself failed)"
    if [[ -e $work/$t/failed || ! -e $work/$t/report ]]; then failed+=("$t"); fi
done

if ((${#failed[@]})); then
    echo "fuzz: FAILED: ${failed[*]} (scratch directory kept: $work)"
    exit 1
fi
if [[ -z ${CHRYSALIS_FUZZ_KEEP:-} && -z ${CHRYSALIS_FUZZ_WORK:-} ]]; then
    rm -rf "$work"
else
    echo "fuzz: scratch directory kept: $work"
fi
echo "fuzz: all ${#targets[@]} targets ran $seconds s each without a finding"
