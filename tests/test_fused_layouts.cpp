// GELU, ReLU, LeakyReLU and Identity give the same bits whatever the layout of their operands, in
// a build that fuses multiply-adds. g++ fuses a multiply and an add written apart into one FMA at
// -O2 and above, wherever its inliner puts the expression, so a formula that a whole-register pass
// and a one-value pass (the other views) both inline could round differently in each. The other
// test programs are built at -O1 (CHRYSALIS_TEST_OPTIMIZATION), where g++ fuses nothing, so this
// one is built with the build type's flags (-O3 in Release: tests/CMakeLists.txt). Before GELU's
// backward wrote its multiply-add out (activations.hpp, multiply_add), 1,044 of these 20,001
// float inputs got another last bit in a row-major pass than in a column-major one at -O3.

#include <catch2/catch.hpp>

#include <chrysalis/layers/activations.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>

using namespace chrysalis;

namespace {

template <class S>
using RowMajor = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// How many elements of a and b differ in their bits (so −0 ≠ +0, and NaN = NaN of one pattern).
template <class A, class B>
long bit_differences(const A& a, const B& b) {
    using S = typename A::Scalar;
    long count = 0;
    for (Eigen::Index j = 0; j < a.cols(); ++j) {
        for (Eigen::Index i = 0; i < a.rows(); ++i) {
            const S u = a(i, j), v = b(i, j);
            count += std::memcmp(&u, &v, sizeof(S)) != 0;
        }
    }
    return count;
}

/// Runs forward and backward of `layer` on x (n values on [lo, hi], with dy from a second
/// ramp) laid out three ways — contiguous columns, one row-major row, and every other column of
/// a wider matrix — and requires the three to agree bit for bit.
template <class S, class L>
void check_layouts(const L& layer, double lo, double hi) {
    INFO(L::name() << " in " << (sizeof(S) == 4 ? "float" : "double"));
    constexpr Eigen::Index rows = 61, cols = 331;  // 20,191 values; neither a register multiple
    Matrix<S> x(rows, cols), dy(rows, cols);
    for (Eigen::Index k = 0; k < x.size(); ++k) {
        x.data()[k] = S(lo + (hi - lo) * double(k) / double(x.size() - 1));
        dy.data()[k] = S(0.5 + std::fmod(0.37 * double(k), 1.0));
    }
    Matrix<S> y(rows, cols), dx(rows, cols);
    layer.forward(x, y);
    layer.backward(x, y, dy, dx);

    const RowMajor<S> x_rm = x, dy_rm = dy;
    RowMajor<S> y_rm(rows, cols), dx_rm(rows, cols);
    layer.forward(x_rm, y_rm);
    layer.backward(x_rm, y_rm, dy_rm, dx_rm);
    CHECK(bit_differences(y, y_rm) == 0);
    CHECK(bit_differences(dx, dx_rm) == 0);

    // Strided: the columns of x as every other column of a wider matrix (outer stride 2·rows).
    Matrix<S> wide_x(rows, 2 * cols), wide_dy(rows, 2 * cols), wide_y(rows, 2 * cols),
        wide_dx(rows, 2 * cols);
    wide_x.setZero();
    wide_dy.setZero();
    using Strided = Eigen::Map<Matrix<S>, 0, Eigen::OuterStride<>>;
    Strided sx(wide_x.data(), rows, cols, Eigen::OuterStride<>(2 * rows));
    Strided sdy(wide_dy.data(), rows, cols, Eigen::OuterStride<>(2 * rows));
    Strided sy(wide_y.data(), rows, cols, Eigen::OuterStride<>(2 * rows));
    Strided sdx(wide_dx.data(), rows, cols, Eigen::OuterStride<>(2 * rows));
    sx = x;
    sdy = dy;
    layer.forward(sx, sy);
    layer.backward(sx, sy, sdy, sdx);
    CHECK(bit_differences(y, Matrix<S>(sy)) == 0);
    CHECK(bit_differences(dx, Matrix<S>(sdx)) == 0);
}

/// The activations that promise the same bits in every layout. Not Tanh and Sigmoid: Eigen
/// computes them by a vector path over contiguous values and by a scalar one elsewhere, whose
/// last bits differ (Sigmoid on the strided view: 638 of these float values at -O1 as at -O3;
/// activations.hpp, assign_columns).
template <class S>
void check_all_activations() {
    // GELU over [−10, 10]: Φ(x) + x·φ(x) cancels for negative x, where one rounding or two shows.
    check_layouts<S>(GELU{}, -10, 10);
    check_layouts<S>(ReLU{}, -3, 3);
    check_layouts<S>(LeakyReLU{}, -3, 3);  // slope 0.01
    check_layouts<S>(Identity{}, -3, 3);
}

}  // namespace

TEST_CASE(
    "GELU and the piecewise-linear activations give the same bits in every layout when "
    "multiply-adds are fused",
    "[layers]") {
    SECTION("float") {
        check_all_activations<float>();
    }
    SECTION("double") {
        check_all_activations<double>();
    }
}
