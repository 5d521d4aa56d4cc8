// Properties of chrysalis::softmax / log_softmax: agreement with a long-double reference on random
// columns, normalisation, the limits in T, stability for extreme logits, the input forms Eigen
// users pass, the output overload, and errors for a bad temperature.
//
// Error model behind the tolerances (u = the scalar's unit roundoff, n = classes, y = (z − M)/T):
//   y is formed by a subtraction and a multiplication by the rounded 1/T: ≤ 3u·|y|;
//   exp: ≤ 4u (xsimd and glibc are within 2 ulp), twice on the chunked path, which computes
//   exp((z − m_c)·t)·exp((m_c − M)·t) with m_c a chunk's running maximum: ≤ 8u, plus u for the
//   extra product;
//   S = Σ exp(y): ≤ 2n·u, the deterministic bound for n sequential additions plus the online
//   rescalings (at most one rescale, ≤ 6u, per W-wide register, and W ≥ 4 lanes);
//   the final product by 1/S: u.
// So |p̂ − p| ≤ u·(12 + 3|y| + 2n)·p, plus the smallest normal number for results that underflow.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "softmax_test_support.hpp"

using namespace chrysalis::test;
using chrysalis::detail::SoftmaxOutput;

namespace {

template <class S>
constexpr double u = std::numeric_limits<S>::epsilon() / 2;

/// Portable uniform values in [lo, hi) from a seeded generator (no std distributions, whose
/// output differs between standard libraries).
template <class S>
Mat<S> random_logits(std::mt19937_64& rng, Eigen::Index rows, Eigen::Index cols, double lo,
                     double hi) {
    Mat<S> m(rows, cols);
    for (Eigen::Index j = 0; j < cols; ++j)
        for (Eigen::Index i = 0; i < rows; ++i)
            m(i, j) = static_cast<S>(lo + (hi - lo) * double(rng() >> 11) * 0x1.0p-53);
    return m;
}

/// Worst error of p̂ and log p̂ against the long-double reference, each over its tolerance.
template <class S>
std::pair<double, double> worst_vs_long_double(const Mat<S>& x, const Mat<S>& p, const Mat<S>& lp,
                                               double t) {
    double worst_p = 0, worst_lp = 0;
    const double n = double(x.rows());
    for (Eigen::Index j = 0; j < x.cols(); ++j) {
        const Eigen::Matrix<S, Eigen::Dynamic, 1> z = x.col(j);
        const LongDoubleColumn ref = long_double_softmax<S>(z, t);
        for (Eigen::Index i = 0; i < x.rows(); ++i) {
            const double y = std::abs(double(ref.y(i)));
            const double rp = double(ref.p(i));
            const double tol_p = u<S> * (12 + 3 * y + 2 * n) * rp + std::numeric_limits<S>::min();
            // log p = y − log S: the error of y, of S (relative), of log, and of the subtraction.
            const double tol_lp = u<S> * (8 + 3 * y + 2 * n + 2 * std::abs(double(ref.log_s)) +
                                          std::abs(double(ref.log_p(i))));
            worst_p = std::max(worst_p, std::abs(double(p(i, j)) - rp) / tol_p);
            worst_lp =
                std::max(worst_lp, std::abs(double(lp(i, j)) - double(ref.log_p(i))) / tol_lp);
        }
    }
    return {worst_p, worst_lp};
}

}  // namespace

TEMPLATE_TEST_CASE("softmax matches a long-double reference on random columns of 1 to 5000 classes",
                   "[softmax]", float, double) {
    using S = TestType;
    const Kernel kernel = GENERATE(Kernel::public_api, Kernel::scalar);
    std::mt19937_64 rng(20261127);
    for (Eigen::Index n :
         {1, 2, 3, 5, 10, 15, 16, 17, 31, 32, 33, 64, 65, 100, 257, 1000, 4097, 5000}) {
        for (Eigen::Index batch : {1, 3, 16, 17, 40}) {
            for (double spread : {0.1, 5.0, 60.0}) {
                for (double t : {0.3, 1.0, 4.0, 25.0}) {
                    const double offset = spread > 50 ? 1000.0 : 0.0;
                    const Mat<S> x =
                        random_logits<S>(rng, n, batch, offset - spread, offset + spread);
                    const auto [wp, wlp] = worst_vs_long_double<S>(
                        x, probabilities<S>(kernel, x, t), log_probabilities<S>(kernel, x, t), t);
                    INFO(to_string(kernel)
                         << " kernel, " << n << " classes x " << batch << ", logits ±" << spread
                         << " around " << offset << ", T = " << t);
                    REQUIRE(wp <= 1.0);
                    REQUIRE(wlp <= 1.0);
                }
            }
        }
    }
}

TEMPLATE_TEST_CASE("the SIMD and scalar kernels give the same results", "[softmax]", float,
                   double) {
    using S = TestType;
    std::mt19937_64 rng(7);
    for (Eigen::Index n : {2, 10, 17, 32, 33, 100, 1000}) {
        const Mat<S> x = random_logits<S>(rng, n, 37, -8, 8);
        for (double t : {0.5, 2.0, 20.0}) {
            const Mat<S> a = probabilities<S>(Kernel::public_api, x, t);
            const Mat<S> b = probabilities<S>(Kernel::scalar, x, t);
            const Mat<S> la = log_probabilities<S>(Kernel::public_api, x, t);
            const Mat<S> lb = log_probabilities<S>(Kernel::scalar, x, t);
            // Each is within u·(12 + 3|y| + 2n)·p of the exact value, |y| ≤ 16/T here.
            const double rel = 2 * u<S> * (12 + 3 * 16 / t + 2 * double(n));
            INFO(n << " classes, T = " << t);
            CHECK(((a - b).array().abs() <= S(rel) * b.array() + std::numeric_limits<S>::min())
                      .all());
            CHECK(((la - lb).array().abs() <= S(rel) * (S(1) + lb.array().abs())).all());
        }
    }
}

TEMPLATE_TEST_CASE("every column sums to one", "[softmax]", float, double) {
    using S = TestType;
    const Kernel kernel = GENERATE(Kernel::public_api, Kernel::scalar);
    std::mt19937_64 rng(11);
    for (Eigen::Index n : {1, 7, 10, 16, 31, 100, 999, 5000}) {
        const Mat<S> x = random_logits<S>(rng, n, 19, -30, 30);
        for (double t : {0.1, 1.0, 7.0}) {
            const Mat<S> p = probabilities<S>(kernel, x, t);
            // Σ p̂ = Σ p(1 + δ_i) with |δ_i| ≤ u(12 + 3|y_i| + 2n); Σ p|y| ≤ log n ≤ 9, then n
            // more additions to sum them here: ≤ u(12 + 27 + 3n).
            const double tol = u<S> * (39 + 3 * double(n));
            INFO(to_string(kernel) << ", " << n << " classes, T = " << t);
            for (Eigen::Index j = 0; j < p.cols(); ++j) {
                CHECK(std::abs(double(p.col(j).sum()) - 1.0) <= tol);
                CHECK((p.col(j).array() >= S(0)).all());
            }
        }
    }
}

TEMPLATE_TEST_CASE("a large temperature gives the uniform distribution", "[softmax]", float,
                   double) {
    using S = TestType;
    const Kernel kernel = GENERATE(Kernel::public_api, Kernel::scalar);
    std::mt19937_64 rng(3);
    for (Eigen::Index n : {2, 10, 100, 3000}) {
        const Mat<S> x = random_logits<S>(rng, n, 9, -10, 10);
        const double inv_n = 1.0 / double(n);
        // |y| ≤ 20/T, so p_i ∈ [e^{−20/T}, e^{20/T}]/n: within (e^{20/T} − 1)/n of 1/n, plus
        // rounding u(12 + 2n)/n.
        for (double t : {1e6, 1e30, 1e300, std::numeric_limits<double>::max()}) {
            const Mat<S> p = probabilities<S>(kernel, x, t);
            const double tol = (std::expm1(20 / t) + u<S> * (12 + 3 * double(n))) * inv_n;
            INFO(to_string(kernel) << ", " << n << " classes, T = " << t);
            CHECK(((p.array() - S(inv_n)).abs() <= S(tol)).all());
            const Mat<S> lp = log_probabilities<S>(kernel, x, t);
            CHECK(
                ((lp.array() + S(std::log(double(n)))).abs() <= S(tol * double(n) + 20 / t)).all());
        }
    }
}

TEMPLATE_TEST_CASE("a small temperature gives one-hot on the maximum", "[softmax]", float, double) {
    using S = TestType;
    const Kernel kernel = GENERATE(Kernel::public_api, Kernel::scalar);
    for (Eigen::Index n : {2, 10, 40, 1000}) {
        // Distinct logits 1/16 apart (exact in binary), maximum at a different row in each column.
        Mat<S> x(n, 24);
        for (Eigen::Index j = 0; j < x.cols(); ++j)
            for (Eigen::Index i = 0; i < n; ++i)
                x(i, j) = S(0.0625) * S((i * 7 + j * 3) % n) - S(2);
        for (double t : {1e-3, 1e-30, 1e-300, std::numeric_limits<double>::denorm_min()}) {
            const Mat<S> p = probabilities<S>(kernel, x, t);
            const Mat<S> lp = log_probabilities<S>(kernel, x, t);
            INFO(to_string(kernel) << ", " << n << " classes, T = " << t);
            for (Eigen::Index j = 0; j < x.cols(); ++j) {
                Eigen::Index arg = 0;
                x.col(j).maxCoeff(&arg);
                // The runner-up is 0.0625/T below: p ≤ e^{−62.5} ≈ 7e-28 for T = 1e-3.
                CHECK(p(arg, j) == Approx(1.0).margin(2 * u<S>));
                CHECK(p.col(j).sum() - p(arg, j) <= S(double(n) * 7e-28));
                CHECK(lp(arg, j) == Approx(0.0).margin(2 * u<S>));
                // log p ≤ −0.0625/T for the others, up to the rounding of 1/T and of the product
                // (2u), with 1/T capped at the scalar's largest value, as documented.
                const double inv_t = std::min(1 / t, double(std::numeric_limits<S>::max()));
                for (Eigen::Index i = 0; i < n; ++i)
                    if (i != arg) CHECK(lp(i, j) <= S(-0.0625 * inv_t * (1 - 2 * u<S>)));
            }
        }
    }
}

TEMPLATE_TEST_CASE("extreme finite logits stay finite and exact", "[softmax]", float, double) {
    using S = TestType;
    const Kernel kernel = GENERATE(Kernel::public_api, Kernel::scalar);
    SECTION("a logit of 1e4 among small ones is one-hot, with exact log-probabilities") {
        Mat<S> x = Mat<S>::Zero(10, 20);
        for (Eigen::Index j = 0; j < x.cols(); ++j) x(j % 10, j) = S(1e4);
        const Mat<S> p = probabilities<S>(kernel, x, 1.0);
        const Mat<S> lp = log_probabilities<S>(kernel, x, 1.0);
        for (Eigen::Index j = 0; j < x.cols(); ++j) {
            CHECK(p(j % 10, j) == S(1));
            CHECK(lp(j % 10, j) == S(0));
            for (Eigen::Index i = 0; i < 10; ++i)
                if (i != j % 10) {
                    CHECK(p(i, j) == S(0));
                    CHECK(lp(i, j) == S(-1e4));  // finite: never log(0)
                }
        }
    }
    SECTION("an offset of 1e3 changes nothing: softmax is shift-invariant, bit for bit") {
        std::mt19937_64 rng(5);
        for (Eigen::Index n : {10, 50, 300}) {
            Mat<S> x(n, 21);  // integers, so x + 1000 is exact in float
            for (Eigen::Index j = 0; j < x.cols(); ++j)
                for (Eigen::Index i = 0; i < n; ++i) x(i, j) = S(int(rng() % 41) - 20);
            const Mat<S> shifted = (x.array() + S(1000)).matrix();
            for (double t : {0.7, 4.0}) {
                CHECK(probabilities<S>(kernel, shifted, t) == probabilities<S>(kernel, x, t));
                CHECK(log_probabilities<S>(kernel, shifted, t) ==
                      log_probabilities<S>(kernel, x, t));
            }
        }
    }
    SECTION("all-equal columns are exactly uniform, at any temperature") {
        for (Eigen::Index n : {1, 3, 10, 64, 1000}) {
            const Mat<S> x = Mat<S>::Constant(n, 18, S(123.25));
            for (double t : {1e-20, 1.0, 1e20}) {
                const Mat<S> p = probabilities<S>(kernel, x, t);
                // Each exp is exactly 1, S = n exactly, p = 1/n rounded once.
                CHECK((p.array() == S(1) / S(n)).all());
                CHECK((log_probabilities<S>(kernel, x, t).array().abs() <=
                       S(std::log(double(n)) * (1 + 2 * u<S>)))
                          .all());
            }
        }
    }
    SECTION("ties at the maximum share the mass when T is small") {
        Mat<S> x = Mat<S>::Zero(10, 16);
        x.row(2).setConstant(S(5));
        x.row(7).setConstant(S(5));
        const Mat<S> p = probabilities<S>(kernel, x, 1e-6);
        CHECK((p.row(2).array() == S(0.5)).all());
        CHECK((p.row(7).array() == S(0.5)).all());
    }
    SECTION("logits at the ends of the floating-point range give no NaN") {
        const S big = std::numeric_limits<S>::max();
        Mat<S> x(3, 17);
        for (Eigen::Index j = 0; j < x.cols(); ++j) x.col(j) << big, -big, S(0);
        const Mat<S> p = probabilities<S>(kernel, x, 1.0);
        const Mat<S> lp = log_probabilities<S>(kernel, x, 1.0);
        CHECK((p.row(0).array() == S(1)).all());
        CHECK((p.bottomRows(2).array() == S(0)).all());
        CHECK_FALSE(lp.array().isNaN().any());
        CHECK((lp.row(0).array() == S(0)).all());
    }
}

TEMPLATE_TEST_CASE("NaN and -inf logits behave as documented", "[softmax]", float, double) {
    using S = TestType;
    const Kernel kernel = GENERATE(Kernel::public_api, Kernel::scalar);
    std::mt19937_64 rng(9);
    for (Eigen::Index n : {10, 100}) {
        const Mat<S> clean = random_logits<S>(rng, n, 20, -3, 3);
        SECTION("a NaN logit makes its own column NaN and leaves the others alone") {
            Mat<S> x = clean;
            x(n / 2, 4) = std::numeric_limits<S>::quiet_NaN();
            const Mat<S> p = probabilities<S>(kernel, x, 2.0);
            const Mat<S> lp = log_probabilities<S>(kernel, x, 2.0);
            CHECK(p.col(4).array().isNaN().all());
            CHECK(lp.col(4).array().isNaN().all());
            for (Eigen::Index j = 0; j < x.cols(); ++j)
                if (j != 4) {
                    const Mat<S> alone = clean.col(j);
                    CHECK(p.col(j).isApprox(probabilities<S>(kernel, alone, 2.0), 100 * u<S>));
                }
        }
        SECTION("-inf logits (masked classes) get probability 0") {
            Mat<S> x = clean;
            x.row(1).setConstant(-std::numeric_limits<S>::infinity());
            const Mat<S> p = probabilities<S>(kernel, x, 2.0);
            const Mat<S> lp = log_probabilities<S>(kernel, x, 2.0);
            CHECK((p.row(1).array() == S(0)).all());
            CHECK((lp.row(1).array() == -std::numeric_limits<S>::infinity()).all());
            CHECK_FALSE(p.array().isNaN().any());
            Mat<S> rest(n - 1, x.cols());
            rest << clean.topRows(1), clean.bottomRows(n - 2);
            const Mat<S> p_rest = probabilities<S>(kernel, rest, 2.0);
            CHECK(p.topRows(1).isApprox(p_rest.topRows(1), 100 * u<S>));
            CHECK(p.bottomRows(n - 2).isApprox(p_rest.bottomRows(n - 2), 100 * u<S>));
        }
    }
}

TEMPLATE_TEST_CASE("a temperature that is not a finite positive number is rejected", "[softmax]",
                   float, double) {
    using S = TestType;
    const Mat<S> x = Mat<S>::Random(10, 3);
    Mat<S> out(10, 3);
    for (double t :
         {0.0, -0.0, -1.0, std::numeric_limits<double>::quiet_NaN(),
          std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity()}) {
        INFO("T = " << t);
        using Catch::Matchers::Contains;
        CHECK_THROWS_MATCHES(
            chrysalis::softmax(x, t), chrysalis::ValueError,
            Catch::Matchers::Message(
                "chrysalis::softmax: temperature T must be a finite number > 0, got " +
                chrysalis::detail::concat(t)));
        CHECK_THROWS_WITH(chrysalis::log_softmax(x, t),
                          Contains("chrysalis::log_softmax: temperature T"));
        CHECK_THROWS_AS(chrysalis::softmax(x, t, out), chrysalis::ValueError);
        CHECK_THROWS_AS(chrysalis::log_softmax(x, t, out), chrysalis::ValueError);
    }
}

TEMPLATE_TEST_CASE("any Eigen dense expression is accepted and gives the same result", "[softmax]",
                   float, double) {
    using S = TestType;
    std::mt19937_64 rng(13);
    for (Eigen::Index n : {10, 100}) {
        const Mat<S> x = random_logits<S>(rng, n, 33, -4, 4);
        const Mat<S> expected = chrysalis::softmax(x, 3.0);
        const Mat<S> expected_log = chrysalis::log_softmax(x, 3.0);

        CHECK(chrysalis::softmax(x.array(), 3.0) == expected);
        CHECK(chrysalis::softmax((x * S(2)) / S(2), 3.0) == expected);  // exact: ×2 then ÷2
        const Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> row_major = x;
        CHECK(chrysalis::softmax(row_major, 3.0) == expected);
        CHECK(chrysalis::log_softmax(row_major, 3.0) == expected_log);
        CHECK(chrysalis::softmax(x.transpose().transpose(), 3.0) == expected);
        // A block of whole columns of a taller matrix: read in place with its outer stride.
        Mat<S> tall = Mat<S>::Zero(n + 7, 40);
        tall.block(3, 5, n, 33) = x;
        CHECK(chrysalis::softmax(tall.block(3, 5, n, 33), 3.0) == expected);
        CHECK(chrysalis::log_softmax(tall.block(3, 5, n, 33), 3.0) == expected_log);
        // A product, evaluated first: compare with softmax of the evaluated product.
        const Mat<S> w = random_logits<S>(rng, n, n, -0.1, 0.1);
        const Mat<S> wx = w * x;
        CHECK(chrysalis::softmax(w * x, 3.0).isApprox(chrysalis::softmax(wx, 3.0), 10 * u<S>));
        // A single column (a vector) and one sample.
        const Eigen::Matrix<S, Eigen::Dynamic, 1> v = x.col(5);
        CHECK(chrysalis::softmax(v, 3.0).isApprox(expected.col(5), 10 * u<S>));
    }
    SECTION("fixed-size matrices keep their compile-time shape") {
        const Eigen::Matrix<S, 10, 4> f = Eigen::Matrix<S, 10, 4>::Random();
        const auto p = chrysalis::softmax(f, 2.0);
        STATIC_REQUIRE(std::is_same_v<std::remove_const_t<decltype(p)>, Eigen::Matrix<S, 10, 4>>);
        CHECK(p == chrysalis::softmax(Mat<S>(f), 2.0));
    }
    SECTION("an empty batch gives an empty result; no classes is refused") {
        CHECK(chrysalis::softmax(Mat<S>(10, 0), 1.0).size() == 0);
        CHECK(chrysalis::log_softmax(Mat<S>(10, 0), 1.0).rows() == 10);
        // A column of no class has no distribution (tests/test_hostile_shapes.cpp has more).
        CHECK_THROWS_AS(chrysalis::log_softmax(Mat<S>(0, 5), 1.0), chrysalis::ShapeError);
    }
}

TEMPLATE_TEST_CASE("the output overload writes into the caller's matrix", "[softmax]", float,
                   double) {
    using S = TestType;
    std::mt19937_64 rng(17);
    const Mat<S> x = random_logits<S>(rng, 10, 20, -5, 5);
    const Mat<S> expected = chrysalis::softmax(x, 2.0);
    SECTION("a matrix of the right size is filled") {
        Mat<S> out(10, 20);
        const S* storage = out.data();
        chrysalis::softmax(x, 2.0, out);
        CHECK(out == expected);
        CHECK(out.data() == storage);
    }
    SECTION("a resizable matrix of another size is resized") {
        Mat<S> out;
        chrysalis::log_softmax(x, 2.0, out);
        CHECK(out == chrysalis::log_softmax(x, 2.0));
    }
    SECTION("in place, on the logits themselves") {
        Mat<S> y = x;
        chrysalis::softmax(y, 2.0, y);
        CHECK(y == expected);
        Mat<S> z = random_logits<S>(rng, 300, 5, -5, 5);
        const Mat<S> z_expected = chrysalis::log_softmax(z, 2.0);
        chrysalis::log_softmax(z, 2.0, z);
        CHECK(z == z_expected);
    }
    SECTION("a Map and a block of whole columns are written through") {
        std::vector<S> buffer(10 * 20);
        chrysalis::softmax(x, 2.0, Eigen::Map<Mat<S>>(buffer.data(), 10, 20));
        CHECK(Eigen::Map<Mat<S>>(buffer.data(), 10, 20) == expected);
        Mat<S> wide = Mat<S>::Zero(10, 30);
        chrysalis::softmax(x, 2.0, wide.middleCols(4, 20));
        CHECK(wide.middleCols(4, 20) == expected);
        CHECK(wide.leftCols(4).isZero());
    }
    SECTION("a fixed-size output of the wrong shape is an error that names out") {
        Eigen::Matrix<S, 10, 3> small;
        CHECK_THROWS_WITH(chrysalis::softmax(x, 2.0, small),
                          "chrysalis::softmax: out is 10x3 but the logits are 10x20 (classes x "
                          "batch); pass an output of that size");
        std::vector<S> buffer(10 * 19);
        CHECK_THROWS_AS(chrysalis::log_softmax(x, 2.0, Eigen::Map<Mat<S>>(buffer.data(), 10, 19)),
                        chrysalis::ShapeError);
    }
    SECTION("an output whose columns are not contiguous is an error") {
        Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> out(10, 20);
        CHECK_THROWS_WITH(chrysalis::softmax(x, 2.0, out),
                          Catch::Matchers::Contains("out must store each column contiguously"));
    }
}
