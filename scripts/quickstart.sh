#!/usr/bin/env bash
# The README's first command: installs what is missing, builds the release preset and runs the
# main program (for now the temperature example; the flagship distillation replaces it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release
cmake --build --preset release --target temperature
./build/release/examples/temperature
