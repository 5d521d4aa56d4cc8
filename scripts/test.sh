#!/usr/bin/env bash
# The README's second command: installs what is missing, then configures, builds and runs the
# whole test suite with CTest (cmake --workflow --preset release). Any extra arguments are
# workflow presets to run instead, e.g. `scripts/test.sh asan`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
presets=("$@")
((${#presets[@]})) || presets=(release)
start=$SECONDS
for preset in "${presets[@]}"; do
    echo "=== cmake --workflow --preset $preset"
    cmake --workflow --preset "$preset"
done
elapsed=$((SECONDS - start))
printf '=== %s: %dm%02ds (configure, build and test; load average now %s)\n' "${presets[*]}" \
    $((elapsed / 60)) $((elapsed % 60)) "$(cut -d' ' -f1 /proc/loadavg)"
