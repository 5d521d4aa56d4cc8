#!/usr/bin/env bash
# The README's second command: installs what is missing, then configures, builds and runs the
# whole test suite with CTest (cmake --workflow --preset release). Any extra arguments are
# workflow presets to run instead, e.g. `scripts/test.sh asan`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
presets=("$@")
((${#presets[@]})) || presets=(release)
# ccache's depend mode takes the dependencies from the compiler's own -MD output instead of
# running the preprocessor first on every miss: with an empty cache, as in CI, that first pass
# cost about a fifth of a one-header compile (0.5 s of 2.1 s), for every file of the build.
export CCACHE_DEPEND="${CCACHE_DEPEND:-true}"
# The test programs share a precompiled header (tests/CMakeLists.txt), and ccache caches no
# compile that uses one unless its sloppiness takes in pch_defines and time_macros (the ccache
# manual, "Precompiled headers"): without them a second run recompiled every such test file.
export CCACHE_SLOPPINESS="${CCACHE_SLOPPINESS:-pch_defines,time_macros}"
# Each test file compiled after the precompiled header (245 MB) had ccache hash all of it again:
# about 1.5 s of CPU per file on top of a 2-6 s compile. The inode cache (ccache's manual,
# "inode_cache") hashes it once and reuses the hash while the file is unchanged.
export CCACHE_INODECACHE="${CCACHE_INODECACHE:-true}"
start=$SECONDS
for preset in "${presets[@]}"; do
    echo "=== cmake --workflow --preset $preset"
    cmake --workflow --preset "$preset"
done
elapsed=$((SECONDS - start))
printf '=== %s: %dm%02ds (configure, build and test; load average now %s)\n' "${presets[*]}" \
    $((elapsed / 60)) $((elapsed % 60)) "$(cut -d' ' -f1 /proc/loadavg)"
