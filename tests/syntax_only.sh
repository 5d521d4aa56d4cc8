#!/bin/sh
# The compiler launcher of the checks that ask only whether a file compiles — the compile-fail
# checks (compile_fail/compile_fail.cmake) and the header-alone checks (headers/headers.cmake),
# CHRYSALIS_SYNTAX_ONLY in tests/CMakeLists.txt: runs the compile command
# it is given ("<compiler> <flags> -o <object> -c <source>") with -fsyntax-only — the whole front
# end, template instantiation included, and no code generation — and on success leaves an empty
# <object> behind so that the build tool sees the target built. Whether a program compiles is
# decided before code generation, which took about 40% of each control's compile at -O0.
out=
prev=
for arg in "$@"; do
    if [ "$prev" = "-o" ]; then out=$arg; fi
    prev=$arg
done
if [ -z "$out" ]; then
    echo "syntax_only.sh: no -o <object> in the command: $*" >&2
    exit 2
fi
"$@" -fsyntax-only || exit $?
: >"$out"
