#!/usr/bin/env bash
# Runs a subset of the test suite under valgrind's memcheck: the 'valgrind' preset (g++,
# RelWithDebInfo, no sanitizer, and no -march=native — valgrind 3.19 does not decode every
# AVX-512 instruction that -march=native emits on recent CPUs), then each test executable of the
# subset whole under valgrind, failing on any memory error or leak.
#
#   scripts/valgrind.sh [TEST...]     TEST among the tests/ executables (default: the subset below)
#
# Environment: CHRYSALIS_VALGRIND_BUILD_DIR, the build directory (default build/valgrind).
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
failed=()
for t in "${tests[@]}"; do
    echo "=== valgrind: $t"
    t0=$(date +%s)
    if valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --track-origins=yes "$build/tests/$t" '~[fashion-mnist]'; then
        echo "valgrind: $t passed, no memory error, in $(( $(date +%s) - t0 )) s"
    else
        failed+=("$t")
        echo "valgrind: $t FAILED (memcheck errors or test failures above)"
    fi
done
echo "valgrind: ${#tests[@]} test programs in $(( $(date +%s) - start )) s"
if ((${#failed[@]})); then
    echo "valgrind: FAILED: ${failed[*]}"
    exit 1
fi
echo "$(( ${#tests[@]} )) passed, 0 failed"
