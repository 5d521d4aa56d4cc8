// expect-error: chrysalis: this file is compiled with -ffinite-math-only
// A file compiled with -ffinite-math-only (tests/CMakeLists.txt gives both variants the flag)
// would lose every NaN and infinity check: it must not compile unless it opts in, which the
// control does.
#include <cmath>  // first: not after the shared precompiled isa.hpp, built without the flag

#ifndef CHRYSALIS_COMPILE_FAIL
#define CHRYSALIS_ALLOW_FINITE_MATH_ONLY
#endif
#include <chrysalis/softmax.hpp>

int main() {
    const chrysalis::Matrix<float> z = chrysalis::Matrix<float>::Ones(3, 2);
    return chrysalis::softmax(z, 1.0f).rows() == 3 ? 0 : 1;
}
