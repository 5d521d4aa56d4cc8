#!/usr/bin/env python3
"""Where parsing a chrysalis header goes: clang++'s own account (-ftime-trace).

Compiles a translation unit that only includes HEADER (default chrysalis/chrysalis.hpp) with the
flags of the CMake targets and benchmarks/compile_time.sh (-std=c++20 -O3 -DNDEBUG
-march=native -fopenmp, Eigen and xsimd as system headers), with -ftime-trace, and prints from
the trace: the front end's total, the time spent in each file exclusive of the files it includes
(instantiations triggered while a file is parsed count to that file) summed by origin
(libstdc++, Eigen, xsimd, chrysalis, other), the standard headers that chrysalis includes itself
(each with everything it includes, where chrysalis is the first to include it), and the most
expensive chrysalis headers. One compile: a measurement of one run, not a test.

    benchmarks/header_cost.py                                  # the umbrella header
    benchmarks/header_cost.py chrysalis/isa.hpp chrysalis/fit.hpp
    CXX=clang++-14 benchmarks/header_cost.py --top 20
"""
import argparse
import collections
import json
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
FLAGS = ["-std=c++20", "-O3", "-DNDEBUG", "-march=native", "-fopenmp", f"-I{ROOT / 'include'}",
         "-isystem", "/usr/include/eigen3", "-isystem", "/usr/include/xsimd"]


def origin(path):
    if "/chrysalis/" in path:
        return "chrysalis"
    if "eigen3" in path:
        return "Eigen"
    if "xsimd" in path:
        return "xsimd"
    if "/c++/" in path:
        return "libstdc++"
    return "other"


def trace(cxx, header, tmp):
    source = pathlib.Path(tmp) / "header_cost.cpp"
    source.write_text(f"#include <{header}>\n")
    subprocess.run([cxx, *FLAGS, "-ftime-trace", "-ftime-trace-granularity=0", "-c",
                    str(source), "-o", str(source.with_suffix(".o"))], check=True)
    return json.loads(source.with_suffix(".json").read_text())


def report(header, data, top):
    events = [e for e in data["traceEvents"] if e.get("ph") == "X"]
    frontend = sum(e["dur"] for e in events if e["name"] == "Total Frontend") / 1e6
    sources = sorted((e for e in events if e["name"] == "Source"),
                     key=lambda e: (e["ts"], -e["dur"]))
    inclusive = collections.Counter()
    children = collections.Counter()
    direct_std = collections.Counter()  # standard headers chrysalis includes first
    stack = []  # (end, file) of the enclosing Source events
    for e in sources:
        while stack and stack[-1][0] <= e["ts"]:
            stack.pop()
        name = e["args"]["detail"]
        inclusive[name] += e["dur"]
        if stack:
            children[stack[-1][1]] += e["dur"]
            if origin(name) == "libstdc++" and origin(stack[-1][1]) == "chrysalis":
                direct_std[name.split("/c++/")[-1].split("/", 1)[-1]] += e["dur"]
        stack.append((e["ts"] + e["dur"], name))
    exclusive = {f: inclusive[f] - children[f] for f in inclusive}
    by_origin = collections.Counter()
    own = collections.Counter()
    for f, t in exclusive.items():
        by_origin[origin(f)] += t
        if origin(f) == "chrysalis":
            own["chrysalis/" + f.split("/chrysalis/", 1)[1]] += t
    print(f"{header}: front end {frontend:.2f} s")
    print("  by origin (exclusive):", ", ".join(f"{k} {v / 1e6:.2f}"
                                                 for k, v in by_origin.most_common()))
    if direct_std:
        print("  standard headers chrysalis includes first (inclusive):",
              ", ".join(f"<{k}> {v / 1e6:.2f}" for k, v in direct_std.most_common(top)
                        if v >= 5000))
    if own:
        print("  chrysalis headers (exclusive):",
              ", ".join(f"{k[10:]} {v / 1e6:.2f}" for k, v in own.most_common(top)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("headers", nargs="*", default=["chrysalis/chrysalis.hpp"])
    parser.add_argument("--top", type=int, default=10, help="rows of each list (default 10)")
    args = parser.parse_args()
    cxx = os.environ.get("CXX", "clang++")
    if "clang" not in cxx:
        sys.exit(f"header_cost.py needs clang++ (-ftime-trace), not CXX={cxx}")
    with tempfile.TemporaryDirectory() as tmp:
        for header in args.headers:
            report(header, trace(cxx, header, tmp), args.top)


if __name__ == "__main__":
    main()
