#!/usr/bin/env bash
# Runs a subset of the test suite under valgrind's memcheck: the 'valgrind' preset (g++,
# RelWithDebInfo, no sanitizer, and no -march=native — valgrind 3.19 does not decode every
# AVX-512 instruction that -march=native emits on recent CPUs), then each test executable of the
# subset whole under valgrind, failing on any memory error or leak.
#
#   scripts/valgrind.sh [TEST...]     TEST among the tests/ executables (default: the subset below)
#
# Environment: CHRYSALIS_VALGRIND_BUILD_DIR, the build directory (default build/valgrind);
# CHRYSALIS_VALGRIND_JOBS, how many test programs run at once (default: the CPU count).
#
# The subset keeps to fast, file- and memory-heavy tests (valgrind runs code ~30x slower): the
# loaders and writers, the model format, the losses and a network's forward and backward pass.
# Fashion-MNIST is left out (the whole training set under valgrind takes minutes; the loader's
# code is the same as for the small files).
set -euo pipefail
cd "$(dirname "$0")/.."
tests=("$@")
((${#tests[@]})) || tests=(test_data test_serialize test_losses test_network test_layers test_optim)
build=${CHRYSALIS_VALGRIND_BUILD_DIR:-$PWD/build/valgrind}
command -v valgrind >/dev/null ||
    { echo "valgrind: not installed (scripts/install-deps.sh --ci installs it)" >&2; exit 1; }

echo "=== valgrind: configuring and building ${tests[*]} in $build"
cmake --preset valgrind -B "$build" >/dev/null
cmake --build "$build" --target "${tests[@]}"

# --errors-for-leak-kinds=definite,indirect: memory still reachable or "possibly lost" at exit
# belongs to runtime pools (libstdc++'s emergency pool, OpenMP's threads), not to a test.
start=$(date +%s)
logs=$(mktemp -d "${TMPDIR:-/tmp}/chrysalis-valgrind.XXXXXX")
trap 'rm -rf "$logs"' EXIT

# One test program under memcheck; its output to $logs/<test>.log, "failed" to $logs/<test>.failed.
check_one() {
    local t=$1 t0
    t0=$(date +%s)
    {
        echo "=== valgrind: $t"
        if valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect \
            --track-origins=yes "$build/tests/$t" '~[fashion-mnist]' 2>&1; then
            echo "valgrind: $t passed, no memory error, in $(( $(date +%s) - t0 )) s"
        else
            touch "$logs/$t.failed"
            echo "valgrind: $t FAILED (memcheck errors or test failures above)"
        fi
    } >"$logs/$t.log" 2>&1
}

# The programs run side by side, as many at once as there are CPUs (CHRYSALIS_VALGRIND_JOBS to
# choose); each one's output is printed when all are done, in the order given.
jobs=${CHRYSALIS_VALGRIND_JOBS:-$(nproc 2>/dev/null || echo 1)}
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "valgrind: CHRYSALIS_VALGRIND_JOBS must be a positive number, got '$jobs'" >&2; exit 2; }
running=0
for t in "${tests[@]}"; do
    if ((running >= jobs)); then
        wait -n || true
        running=$((running - 1))
    fi
    check_one "$t" &
    running=$((running + 1))
done
wait || true
failed=()
for t in "${tests[@]}"; do
    cat "$logs/$t.log" 2>/dev/null || echo "valgrind: $t: no output (the runner itself failed)"
    if [[ -e $logs/$t.failed || ! -e $logs/$t.log ]]; then failed+=("$t"); fi
done
echo "valgrind: ${#tests[@]} test programs in $(( $(date +%s) - start )) s"
if ((${#failed[@]})); then
    echo "valgrind: FAILED: ${failed[*]}"
    exit 1
fi
echo "$(( ${#tests[@]} )) passed, 0 failed"
