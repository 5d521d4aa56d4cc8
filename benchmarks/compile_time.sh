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
#   PCH=1 benchmarks/compile_time.sh
#
# PCH=1 also compiles every program with a precompiled header of its heavy include, the way
# CMake's target_precompile_headers does it (-include, before the file's own lines):
# <Eigen/Dense> for the baseline, <chrysalis/chrysalis.hpp> for the others. The table then has a
# "+pch" row beside each program's, from the same alternating runs; each header is precompiled
# once, first, with the same flags, and that one-off cost is printed apart.
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

# PCH=1: the precompiled headers, and the flags that make a compile use one (g++ must not fall
# back to parsing the header silently, so an unusable one is an error; clang++ refuses one).
pch=${PCH:-0}
if [[ $pch != 0 && $pch != 1 ]]; then
    echo "PCH must be 0 or 1, not '$pch'" >&2
    exit 2
fi
if [[ $pch == 1 ]]; then
    mkdir "$tmp/pch"
    ext=gch
    check=(-Winvalid-pch -Werror=invalid-pch)
    if "$cxx" --version | grep -q clang; then
        ext=pch
        check=()
    fi
    echo "precompiled headers (built once, not in the table):"
    for header in Eigen/Dense chrysalis/chrysalis.hpp; do
        name=$(basename "$header" .hpp)
        printf '#include <%s>\n' "$header" >"$tmp/pch/$name.hpp"
        /usr/bin/time -f '%U %S %M' -o "$tmp/time" "$cxx" "${flags[@]}" -x c++-header \
            "$tmp/pch/$name.hpp" -o "$tmp/pch/$name.hpp.$ext"
        read -r user sys kb <"$tmp/time"
        printf '  <%s>  %s s  %d MB, %d MB on disk\n' "$header" \
            "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')" $((kb / 1024)) \
            $(($(stat -c %s "$tmp/pch/$name.hpp.$ext") / 1048576))
    done
fi

# One compile of SRC, with its precompiled header when the second argument is "pch": appends
# "cpu_seconds peak_kb" to $tmp/<row>.times, where the row is the file's name (+pch).
compile() {
    local src=$1 row extra=()
    row=$(basename "$src" .cpp)
    if [[ ${2:-} == pch ]]; then
        row+=+pch
        local header=chrysalis
        [[ $src == "$baseline" ]] && header=Dense
        extra=(-include "$tmp/pch/$header.hpp" "${check[@]}")
    fi
    /usr/bin/time -f '%U %S %M' -o "$tmp/time" "$cxx" "${flags[@]}" "${extra[@]}" -c "$src" \
        -o "$tmp/$row.o"
    read -r user sys kb <"$tmp/time"
    local cpu
    cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
    echo "$cpu $kb" >>"$tmp/$row.times"
    printf '  %-22s %7s s  %5d MB\n' "$row" "$cpu" $((kb / 1024))
}

rows=()
for src in "$baseline" "${sources[@]}"; do
    rows+=("$(basename "$src" .cpp)")
    [[ $pch == 1 ]] && rows+=("$(basename "$src" .cpp)+pch")
done
for ((r = 1; r <= reps; ++r)); do
    echo "run $r/$reps:"
    for src in "$baseline" "${sources[@]}"; do
        compile "$src"
        [[ $pch == 1 ]] && compile "$src" pch
    done
done

# Median CPU seconds and largest peak RSS of one program's runs.
median() { sort -n "$tmp/$1.times" | awk '{ t[NR] = $1 } END { print (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2 }'; }
peak() { sort -k2 -n "$tmp/$1.times" | tail -1 | awk '{ printf "%d", $2 / 1024 }'; }
text() { size -A "$tmp/$1.o" | awk '$1 ~ /^\.text/ { s += $2 } END { printf "%d", s / 1024 }'; }

base=$(basename "$baseline" .cpp)
echo
printf '%-22s %10s %9s %9s %7s\n' program "CPU s" "peak MB" ".text KB" ratio
for row in "${rows[@]}"; do
    printf '%-22s %10s %9s %9s %7s\n' "$row" "$(median "$row")" "$(peak "$row")" "$(text "$row")" \
        "$(awk -v a="$(median "$row")" -v b="$(median "$base")" 'BEGIN { printf "%.2f", a / b }')"
done
