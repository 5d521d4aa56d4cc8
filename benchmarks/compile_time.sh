#!/usr/bin/env bash
# Compile time of chrysalis against a hand-written Eigen-only program (issue 11, "Quick
# compiles"): compiles benchmarks/compile_baseline.cpp (an MLP trained in float with Eigen alone),
# examples/minimal.cpp (the issue's program: it also loads IDX files, uses Adam, distils and
# saves) and benchmarks/compile_same_work.cpp (the baseline's work, and nothing more, written
# with chrysalis) with the same flags — those the CMake targets use:
# -std=c++20 -O3 -DNDEBUG -march=native -fopenmp, Eigen and xsimd as system includes — one
# compiler process at a time, alternating, REPS times each, and prints for each the median CPU
# time (user + sys, which a busy machine disturbs less than wall time), the peak RSS, the size of
# the object's .text, and its ratio to the baseline's time. Not a test: it only measures.
#
#   benchmarks/compile_time.sh [REPS] [extra compiler flags…]     (REPS defaults to 3)
#   CXX=clang++ benchmarks/compile_time.sh 1
#   SOURCES="examples/minimal.cpp examples/temperature.cpp" benchmarks/compile_time.sh
#   INCLUDE=/tmp/old/include benchmarks/compile_time.sh    (another copy of the headers)
set -euo pipefail
cd "$(dirname "$0")/.."
reps=${1:-3}
shift || true
cxx=${CXX:-g++}
flags=(-std=c++20 -O3 -DNDEBUG -march=native -fopenmp "-I${INCLUDE:-include}" -isystem /usr/include/eigen3
       -isystem /usr/include/xsimd "$@")
sources=(${SOURCES:-examples/minimal.cpp benchmarks/compile_same_work.cpp})
baseline=benchmarks/compile_baseline.cpp
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "compiler: $("$cxx" --version | head -1)"
echo "flags:    ${flags[*]}"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) on $(nproc) cores"

# One compile: appends "cpu_seconds peak_kb" to $tmp/<name>.times.
compile() {
    local src=$1 name
    name=$(basename "$src" .cpp)
    /usr/bin/time -f '%U %S %M' -o "$tmp/time" "$cxx" "${flags[@]}" -c "$src" -o "$tmp/$name.o"
    read -r user sys kb <"$tmp/time"
    local cpu
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
    echo "$cpu $kb" >>"$tmp/$name.times"
    printf '  %-22s %7s s  %5d MB\n' "$name" "$cpu" $((kb / 1024))
}

for ((r = 1; r <= reps; ++r)); do
    echo "run $r/$reps:"
    compile "$baseline"
    for src in "${sources[@]}"; do compile "$src"; done
done

# Median CPU seconds and largest peak RSS of one program's runs.
median() { sort -n "$tmp/$1.times" | awk '{ t[NR] = $1 } END { print (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2 }'; }
peak() { sort -k2 -n "$tmp/$1.times" | tail -1 | awk '{ printf "%d", $2 / 1024 }'; }
text() { size -A "$tmp/$1.o" | awk '$1 ~ /^\.text/ { s += $2 } END { printf "%d", s / 1024 }'; }

base=$(basename "$baseline" .cpp)
echo
printf '%-22s %10s %9s %9s %7s\n' program "CPU s" "peak MB" ".text KB" ratio
printf '%-22s %10s %9s %9s %7s\n' "$base" "$(median "$base")" "$(peak "$base")" "$(text "$base")" 1.00
for src in "${sources[@]}"; do
    name=$(basename "$src" .cpp)
    printf '%-22s %10s %9s %9s %7s\n' "$name" "$(median "$name")" "$(peak "$name")" "$(text "$name")" \
        "$(awk -v a="$(median "$name")" -v b="$(median "$base")" 'BEGIN { printf "%.2f", a / b }')"
done
