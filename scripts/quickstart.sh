#!/usr/bin/env bash
# The README's first command: installs what is missing, builds the release preset and runs the
# flagship: a teacher, a scratch student and a distilled student on Fashion-MNIST (a few minutes
# on 2 cores). Extra arguments go to the program (e.g. --quick, --out DIR; --help lists them).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release
cmake --build --preset release --target distill_fashion_mnist
./build/release/examples/distill_fashion_mnist "$@"
