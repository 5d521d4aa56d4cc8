// Hostile inputs II, accepted values that break the maths: each value here used to be accepted
// and give NaN, ∞, a negative KL, all-zero probabilities or a file that cannot be loaded. Each
// case now either throws the typed error naming the function and the parameter, or gives the
// right result, checked against a long-double reference. docs/errors.md ("Values that break the
// maths") states the guarantee and the ranges.

#include <catch2/catch.hpp>

#include <chrysalis/chrysalis.hpp>

#include "temp_dir.hpp"
#include "thrown.hpp"

#include <cfloat>
#include <climits>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <utility>
#include <vector>
#include "test_file_namespace.hpp"

namespace CHRYSALIS_TEST_FILE {

using namespace chrysalis;
using Catch::Matchers::Contains;

namespace {

using chrysalis::test::thrown;

template <class S>
using Mat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;

/// The T²-scaled KL(softmax(zt/T) ‖ softmax(zs/T)), batch mean, in long double.
template <class S>
long double reference_kd(const Mat<S>& zs, const Mat<S>& zt, long double t) {
    long double sum = 0;
    for (Eigen::Index b = 0; b < zs.cols(); ++b) {
        long double ms = zs(0, b), mt = zt(0, b);
        for (Eigen::Index i = 0; i < zs.rows(); ++i) {
            ms = std::max(ms, (long double)zs(i, b));
            mt = std::max(mt, (long double)zt(i, b));
        }
        long double ss = 0, st = 0;
        for (Eigen::Index i = 0; i < zs.rows(); ++i) {
            ss += std::exp(((long double)zs(i, b) - ms) / t);
            st += std::exp(((long double)zt(i, b) - mt) / t);
        }
        for (Eigen::Index i = 0; i < zs.rows(); ++i) {
            const long double lps = ((long double)zs(i, b) - ms) / t - std::log(ss);
            const long double lpt = ((long double)zt(i, b) - mt) / t - std::log(st);
            sum += std::exp(lpt) * (lpt - lps);
        }
    }
    return t * t * sum / (long double)zs.cols();
}

}  // namespace

TEST_CASE("temperatures outside [1e-3, 1e3] are refused by every loss that takes one",
          "[hostile-values]") {
    for (double t :
         {1e-310, 1e-4, 0.0, -1.0, 1e200, 1e10, 1000.5, std::numeric_limits<double>::quiet_NaN(),
          std::numeric_limits<double>::infinity()}) {
        INFO("T = " << t);
        // A finite positive T outside the range names the range; 0, NaN and ∞ get the message
        // of every positive parameter ("must be a finite number > 0").
        const bool positive = std::isfinite(t) && t > 0;
        CHECK_THAT(thrown<ValueError>([&] { (void)Distillation{.temperature = t}; }),
                   Contains("chrysalis::Distillation: temperature must be ") &&
                       Contains(positive ? "in [0.001, 1000], got " : "a finite number > 0"));
        CHECK_THAT(thrown<ValueError>([&] { (void)SoftTargetCrossEntropy{.temperature = t}; }),
                   Contains("chrysalis::SoftTargetCrossEntropy: temperature"));
        CHECK_THAT(thrown<ValueError>([&] { (void)ReverseKL{.temperature = t}; }),
                   Contains("chrysalis::ReverseKL: temperature"));
        const std::vector<Matrix<float>> teachers{Matrix<float>::Zero(3, 2)};
        CHECK_THAT(thrown<ValueError>([&] {
                       (void)ensemble_probabilities<float>(teachers, std::vector<double>{}, t);
                   }),
                   Contains("chrysalis::ensemble_probabilities: temperature T"));
    }
}

TEMPLATE_TEST_CASE("at the ends of the temperature range the distillation loss is right",
                   "[hostile-values]", float, double) {
    using S = TestType;
    // Logits 0.25 apart: at T = 1e3 the KL is ~1e-8 and each term ~1e-4, so cancellation in
    // double costs ~1e-16/1e-8 relative; the loss is then rounded once to S. Tolerance: 1e-6
    // relative (float: 4 ulps of the result), far below the 100% error cancellation gave at 1e10.
    Mat<S> zs(4, 5), zt(4, 5);
    for (Eigen::Index b = 0; b < 5; ++b)
        for (Eigen::Index i = 0; i < 4; ++i) {
            zs(i, b) = S(0.25) * S((i + b) % 4);
            zt(i, b) = S(0.25) * S((i * 3 + b) % 4) - S(1);
        }
    for (double t : {1e-3, 1.0, 100.0, 1e3}) {
        INFO("T = " << t);
        const Distillation kd{.temperature = t, .alpha = 1.0};
        const auto r = kd(zs, zt);
        const long double expected = reference_kd(zs, zt, t);
        CHECK(std::isfinite(double(r.loss)));
        CHECK(r.loss >= S(0));
        CHECK(r.gradient.allFinite());
        CHECK(std::abs((long double)r.loss - expected) <= 1e-6L * expected + 1e-30L);
        const ReverseKL rkl{.temperature = t};
        const auto rr = rkl(zs, zt);
        CHECK(std::isfinite(double(rr.loss)));
        CHECK(rr.loss >= S(0));
    }
}

TEMPLATE_TEST_CASE("a KL that rounding would make negative is 0", "[hostile-values]", float,
                   double) {
    using S = TestType;
    // Student and teacher a few ulps apart at T = 1e3: the exact KL is ≥ 0 and below 1e-20, its
    // computed value is rounding noise of either sign; it must come out ≥ 0.
    Mat<S> zs(10, 9), zt(10, 9);
    for (Eigen::Index b = 0; b < 9; ++b)
        for (Eigen::Index i = 0; i < 10; ++i) {
            zs(i, b) = S(1) + S(i) * S(1e-6);
            zt(i, b) = std::nextafter(zs(i, b), S(2));
        }
    for (double t : {1.0, 1e3}) {
        INFO("T = " << t);
        CHECK(Distillation{.temperature = t, .alpha = 1.0}(zs, zt).loss >= S(0));
        CHECK(ReverseKL{.temperature = t}(zs, zt).loss >= S(0));
        CHECK(Distillation{.temperature = t, .alpha = 1.0}(zs, zs).loss >= S(0));
    }
}

namespace {

/// log softmax(z/T) of column j, in long double.
std::vector<long double> reference_log_softmax(const Mat<double>& z, Eigen::Index j,
                                               long double t) {
    using L = long double;
    std::vector<L> v(std::size_t(z.rows()));
    L m = -std::numeric_limits<L>::infinity(), s = 0;
    for (Eigen::Index i = 0; i < z.rows(); ++i) m = std::max(m, L(z(i, j)) / t);
    for (Eigen::Index i = 0; i < z.rows(); ++i) s += std::exp(L(z(i, j)) / t - m);
    for (Eigen::Index i = 0; i < z.rows(); ++i)
        v[std::size_t(i)] = L(z(i, j)) / t - m - std::log(s);
    return v;
}

/// Reverse KL's loss and gradient (losses.hpp) in long double, whose range holds the log-ratios
/// of double logits ±1e308 (x86-64: 64-bit significand, exponent to ±16382).
std::pair<long double, Eigen::Matrix<long double, -1, -1>> reference_reverse_kl(
    const Mat<double>& zs, const Mat<double>& zt, long double t) {
    using L = long double;
    Eigen::Matrix<L, -1, -1> g(zs.rows(), zs.cols());
    L sum = 0;
    const L b = L(zs.cols());
    for (Eigen::Index j = 0; j < zs.cols(); ++j) {
        const auto ls = reference_log_softmax(zs, j, t), lt = reference_log_softmax(zt, j, t);
        L kl = 0;
        for (std::size_t i = 0; i < ls.size(); ++i) kl += std::exp(ls[i]) * (ls[i] - lt[i]);
        for (std::size_t i = 0; i < ls.size(); ++i)
            g(Eigen::Index(i), j) = t * std::exp(ls[i]) * (ls[i] - lt[i] - kl) / b;
        sum += kl;
    }
    return {t * t * sum / b, g};
}

}  // namespace

TEST_CASE(
    "reverse KL of finite double logits whose gaps overflow: representable values stay "
    "finite",
    "[hostile-values]") {
    // Teacher gaps of 2e308 overflow double: computed directly, log p_t of those classes is −∞,
    // the KL +∞ and the gradient ∞ − ∞ = NaN. Exactly, each sample's KL is about 1e308 (the
    // student's probabilities times gaps of 1e308 and 2e308): the loss is representable at T = 1
    // (its sum over the batch is not, its mean is) and beyond double's range at T = 4 (T² · KL/T),
    // and every gradient entry is representable at both.
    static_assert(std::numeric_limits<long double>::max_exponent > 1024);
    Mat<double> zs(3, 2), zt(3, 2);
    zs.col(0) << 0, 1, 2;
    zs.col(1) << 1, 0, -1;
    zt.col(0) << 1e308, -1e308, 0;
    zt.col(1) << -1e308, 0, 1e308;
    for (double t : {1.0, 4.0}) {
        INFO("T = " << t);
        const auto r = ReverseKL{.temperature = t}(zs, zt);
        const auto [loss, g] = reference_reverse_kl(zs, zt, t);
        if (loss > DBL_MAX) {
            CHECK(std::isinf(r.loss));
            CHECK(r.loss > 0);
        } else {
            // Each value is formed by a handful of roundings (2^-53 each) of terms of one sign
            // but for O(1) parts 1e307 times smaller: a relative error of a few 1e-16; 1e-13
            // leaves a margin of several hundred.
            REQUIRE(std::isfinite(r.loss));
            CHECK(std::abs((long double)r.loss - loss) <= 1e-13L * loss);
        }
        REQUIRE(r.gradient.allFinite());
        for (Eigen::Index j = 0; j < 2; ++j)
            for (Eigen::Index i = 0; i < 3; ++i) {
                INFO("class " << i << ", sample " << j);
                CHECK(std::abs((long double)r.gradient(i, j) - g(i, j)) <=
                      1e-13L * std::abs(g(i, j)));
            }
    }
}

namespace {

/// Distillation's L (losses.hpp's formula) and ∂L/∂z_s in long double, against the teacher's
/// probabilities `pt` (classes × B) at T; with `soft_ce`, SoftTargetCrossEntropy's L instead
/// (T²·mean Σ −p_t·log p_s, α and the labels unused).
std::pair<long double, Eigen::Matrix<long double, -1, -1>> reference_distillation(
    const Mat<double>& zs, const Eigen::Matrix<long double, -1, -1>& pt, const std::vector<int>& y,
    long double t, long double alpha, bool soft_ce = false) {
    using L = long double;
    Eigen::Matrix<L, -1, -1> g(zs.rows(), zs.cols());
    L kl = 0, ce = 0;
    const L b = L(zs.cols());
    for (Eigen::Index j = 0; j < zs.cols(); ++j) {
        const auto ls = reference_log_softmax(zs, j, t), l1 = reference_log_softmax(zs, j, 1);
        for (Eigen::Index i = 0; i < zs.rows(); ++i) {
            const L p = pt(i, j), lps = ls[std::size_t(i)];
            if (p != 0) kl += p * ((soft_ce ? 0 : std::log(p)) - lps);
            g(i, j) = alpha * t * (std::exp(lps) - p) / b;
            if (alpha < 1) {
                g(i, j) +=
                    (1 - alpha) * (std::exp(l1[std::size_t(i)]) - (i == y[std::size_t(j)])) / b;
            }
        }
        if (alpha < 1) ce -= l1[std::size_t(y[std::size_t(j)])];
    }
    return {alpha * t * t * kl / b + (alpha < 1 ? (1 - alpha) * ce / b : 0), g};
}

}  // namespace

TEST_CASE("distillation losses of double logits whose gaps overflow are finite where L fits",
          "[hostile-values]") {
    // Student gaps of 2e308 overflow double: computed directly, log p_s of those classes is −∞
    // and each term it enters +∞ (with α = 0 the unused KL's ∞ made the loss 0·∞ = NaN). Exactly,
    // the KL of such a sample is about 1e308/T and its cross-entropy 2e308 or 0 (by its label),
    // so L is representable for some T, α and labels and beyond range for others (the reference
    // decides which each case must give); the gradient, a difference of probabilities, is
    // representable in every case.
    // Nine samples: the across-samples SIMD path takes the first full registers, the sample by
    // sample path the rest.
    static_assert(std::numeric_limits<long double>::max_exponent > 1024);
    Mat<double> zs(3, 9), zt(3, 9);
    zs << 1e308, 0, -1e308, 3, 1, 8e307, 0.5, -2, 1e308,  //
        -1e308, 1, 5e307, -1e308, 2, -1e308, 0.25, 1, 0,  //
        0, 2, 1e308, 1e308, 3, 0, 0, 4, -9e307;
    zt << 0, 1, 2, 1e308, -1, 0, 1, 0, 0,  //
        0, 0, 1e308, 0, 0.5, 0, 2, 0, 1,   //
        0, -1, 0, -1e308, 2, 0, 3, 0, 2;
    // By the labels: every sample's label its largest logit (each cross-entropy O(1)), or some of
    // them on a class 2e308 below (each such one 2e308).
    const std::vector<std::vector<int>> label_sets{{0, 2, 2, 2, 2, 0, 0, 2, 0},
                                                   {1, 2, 0, 2, 2, 1, 0, 2, 1}};
    for (double t : {0.5, 1.0, 4.0}) {
        // The teacher's probabilities at T: exact, and the doubles distill_soft would pass.
        Eigen::Matrix<long double, -1, -1> pt_exact(3, 9);
        Mat<double> pt(3, 9);
        for (Eigen::Index j = 0; j < 9; ++j) {
            const auto lt = reference_log_softmax(zt, j, t);
            for (Eigen::Index i = 0; i < 3; ++i) {
                pt_exact(i, j) = std::exp(lt[std::size_t(i)]);
                pt(i, j) = double(pt_exact(i, j));
            }
        }
        const Eigen::Matrix<long double, -1, -1> pt_rounded = pt.cast<long double>();
        for (const auto& labels : label_sets)
            for (double alpha : {0.0, 0.5, 1.0}) {
                const Distillation kd{.temperature = t, .alpha = alpha};
                const auto check = [&](const LossResult<double>& r, long double loss,
                                       const Eigen::Matrix<long double, -1, -1>& g) {
                    if (loss > DBL_MAX) {
                        CHECK(std::isinf(r.loss));
                        CHECK(r.loss > 0);
                    } else {
                        // Each sample's terms are a handful of roundings (2^-53 each) of values of
                        // one sign, but for O(T) parts beside gaps up to 1e308: a relative error of
                        // a few 1e-16 (the same argument as reverse KL's above); 1e-13 leaves a
                        // margin of hundreds, and 1e-15 absolute covers an L near 0.
                        REQUIRE(std::isfinite(r.loss));
                        CHECK(std::abs((long double)r.loss - loss) <= 1e-13L * loss + 1e-15L);
                    }
                    // Differences of probabilities (each rounded within 2^-53 relative) times
                    // α·T/B and (1 − α)/B, at most 4/9: 1e-15 is several times their rounding.
                    REQUIRE(r.gradient.allFinite());
                    CHECK((r.gradient.cast<long double>() - g).cwiseAbs().maxCoeff() <= 1e-15L);
                };
                INFO("T = " << t << ", alpha = " << alpha << ", labels " << labels[1]);
                {
                    INFO("teacher logits");
                    const auto [loss, g] = reference_distillation(zs, pt_exact, labels, t, alpha);
                    check(kd(zs, zt, labels), loss, g);
                }
                {
                    INFO("teacher probabilities");
                    const auto [loss, g] = reference_distillation(zs, pt_rounded, labels, t, alpha);
                    check(kd.soft_targets(zs, pt, labels), loss, g);
                }
                if (alpha == 1.0) {
                    INFO("SoftTargetCrossEntropy");
                    const auto [loss, g] =
                        reference_distillation(zs, pt_rounded, labels, t, 1, true);
                    check(SoftTargetCrossEntropy{.temperature = t}(zs, pt), loss, g);
                }
            }
    }
}

TEST_CASE("logit matching of double logits whose difference overflows: z_s/B − z_t/B",
          "[hostile-values]") {
    // z_s − z_t = ±2e308 overflows; the gradient (z_s − z_t)/B = ±1e308 for B = 2 does not. The
    // loss, (1/2B)·Σ(z_s − z_t)², is beyond double's range: +∞.
    Mat<double> zs(2, 2), zt(2, 2);
    zs << 1e308, 1, -1e308, 3;
    zt << -1e308, 2, 1e308, 0.5;
    const auto r = LogitMatching{}(zs, zt);
    CHECK(std::isinf(r.loss));
    CHECK(r.loss > 0);
    // z_s/2 and z_t/2 are exact (halving a normal double), so are their differences here.
    CHECK(r.gradient(0, 0) == 1e308);
    CHECK(r.gradient(1, 0) == -1e308);
    // The other entries, whose differences do not overflow, keep the direct (z_s − z_t)·(1/B).
    CHECK(r.gradient(0, 1) == (1.0 - 2.0) * 0.5);
    CHECK(r.gradient(1, 1) == (3.0 - 0.5) * 0.5);
}

TEMPLATE_TEST_CASE("ensemble weights whose sum overflows still give probabilities",
                   "[hostile-values]", float, double) {
    using S = TestType;
    Mat<S> a(3, 2), b(3, 2);
    a << 1, 0, 2, 0, 3, 0;
    b << 3, 1, 2, 1, 1, 1;
    const std::vector<Matrix<S>> teachers{a, b};
    // {1e308, 1e308} is {1, 1}; {DBL_MAX, DBL_MAX / 2} is {2, 1}; {1e-320, 1e-320} is {1, 1}.
    const Mat<S> even = (softmax(a, 2.0) + softmax(b, 2.0)) / S(2);
    const Mat<S> skew = (S(2) * softmax(a, 2.0) + softmax(b, 2.0)) / S(3);
    const double big = std::numeric_limits<double>::max();
    for (const auto& [w, expected] : {std::pair{std::vector<double>{1e308, 1e308}, even},
                                      std::pair{std::vector<double>{big, big / 2}, skew},
                                      std::pair{std::vector<double>{1e-320, 1e-320}, even}}) {
        INFO("weights " << w[0] << ", " << w[1]);
        const Mat<S> p = ensemble_probabilities<S>(teachers, w, 2.0);
        REQUIRE(p.allFinite());
        // A few roundings of values ≤ 1: 8 ulps of 1.
        CHECK((p - expected).cwiseAbs().maxCoeff() <= 8 * std::numeric_limits<S>::epsilon());
        CHECK(std::abs(double(p.col(0).sum()) - 1) <= 8 * std::numeric_limits<S>::epsilon());
    }
}

TEMPLATE_TEST_CASE("log_softmax and softmax of logits whose difference overflows",
                   "[hostile-values]", float, double) {
    using S = TestType;
    const S big = std::numeric_limits<S>::max();
    // 17 columns: the across-samples SIMD path as well as the down-the-column one.
    Mat<S> x(3, 17);
    for (Eigen::Index j = 0; j < x.cols(); ++j) x.col(j) << big, -big, S(0);
    SECTION("log_softmax at T = 2 and 4 is finite where the exact value is") {
        for (double t : {2.0, 4.0}) {
            INFO("T = " << t);
            // Exact: y = (z − max)/T = {0, −2·big/T, −big/T}; log Σ exp y = log(1 + 0 + 0) = 0.
            const Mat<S> lp = log_softmax(x, t);
            REQUIRE(lp.allFinite());
            for (Eigen::Index j = 0; j < x.cols(); ++j) {
                CHECK(lp(0, j) == S(0));
                // x·(1/T) − max·(1/T), each exact (1/T is a power of 2): 1 rounding.
                CHECK(lp(1, j) == Approx(-(double(big) / t) * 2).epsilon(2e-7));
                CHECK(lp(2, j) == Approx(-double(big) / t).epsilon(2e-7));
            }
        }
    }
    SECTION("softmax at a T so large that (z − max)/T is O(1) is not one-hot") {
        // T = big/2: y = {0, −4, −2}. Reference in long double; float's 1/T and products are
        // rounded a few times (relative 1e-6 on y, ~4e-6 on e^y), double's much less.
        const double t = double(big) / 2;
        const long double e1 = std::exp(-4.0L), e2 = std::exp(-2.0L), s = 1 + e1 + e2;
        const Mat<S> p = softmax(x, t);
        const Mat<S> lp = log_softmax(x, t);
        const double tol = std::is_same_v<S, float> ? 1e-5 : 1e-12;
        for (Eigen::Index j = 0; j < x.cols(); ++j) {
            CHECK(double(p(0, j)) == Approx(double(1 / s)).epsilon(tol));
            CHECK(double(p(1, j)) == Approx(double(e1 / s)).epsilon(tol));
            CHECK(double(p(2, j)) == Approx(double(e2 / s)).epsilon(tol));
            CHECK(double(lp(1, j)) == Approx(double(-4 - std::log(s))).epsilon(tol));
        }
    }
}

TEST_CASE("LeakyReLU slopes beyond float's range or NaN are refused", "[hostile-values]") {
    for (double slope : {1e300, -1e300, 3.5e38, std::numeric_limits<double>::quiet_NaN(),
                         std::numeric_limits<double>::infinity()}) {
        INFO("slope = " << slope);
        CHECK_THAT(thrown<ValueError>([&] { (void)LeakyReLU(slope); }),
                   Contains("chrysalis::LeakyReLU: slope"));
        LeakyReLU layer;
        const std::vector<double> values{slope};
        CHECK_THROWS_AS(layer.set_hyperparameters(values), ValueError);
        CHECK(layer.slope == 0.01);
    }
    CHECK(LeakyReLU(3e38).slope == 3e38);
    CHECK(LeakyReLU(-0.5).slope == -0.5);
}

TEST_CASE("save refuses a network whose LeakyReLU slope was set to NaN", "[hostile-values]") {
    chrysalis::test::TempDir dir;
    for (double slope : {std::numeric_limits<double>::quiet_NaN(), 1e300}) {
        INFO("slope = " << slope);
        Sequential<Dense<3, 4>, LeakyReLU, Dense<4, 2>> net;
        net.template layer<1>().slope = slope;
        const std::string path = dir.file("net.chrys");
        CHECK_THAT(thrown<ValueError>([&] { save(net, path); }),
                   Contains("chrysalis::save") && Contains("layer 1") &&
                       Contains("chrysalis::LeakyReLU: slope"));
        CHECK_FALSE(std::filesystem::exists(path));
    }
}

TEST_CASE("learning-rate schedules: no integer overflow, no factor above 1", "[hostile-values]") {
    SECTION("warmup(INT_MAX)") {
        const Schedule s = schedule::warmup(INT_MAX);
        // (epoch + 1)/(INT_MAX + 1), exact in double.
        CHECK(s(0) == 1.0 / 2147483648.0);
        CHECK(s(INT_MAX - 1) == 2147483647.0 / 2147483648.0);
        CHECK(s(INT_MAX) == 1.0);
        const Schedule w1 = schedule::warmup(1);
        CHECK(w1(INT_MAX) == 1.0);
        CHECK(schedule::warmup(INT_MAX - 1)(INT_MAX - 2) == Approx(1.0));
    }
    SECTION("a negative epoch counts as epoch 0") {
        CHECK(schedule::warmup(3)(INT_MIN) == 0.25);
        CHECK(schedule::exponential(0.5)(-5) == 1.0);
        CHECK(schedule::cosine(10)(-3) == 1.0);
    }
    SECTION("a gamma above 1 (factor overflowing to ∞) is refused") {
        CHECK_THAT(thrown<ValueError>([] { (void)schedule::step(1, 2.0); }),
                   Contains("chrysalis::schedule::step: gamma must be <= 1"));
        CHECK_THAT(thrown<ValueError>([] { (void)schedule::exponential(1e300); }),
                   Contains("chrysalis::schedule::exponential: gamma must be <= 1"));
        CHECK(std::isfinite(schedule::exponential(1.0)(INT_MAX)));
        CHECK(schedule::step(1, 0.5)(INT_MAX) == 0.0);  // 2^-(2^31 − 1) rounds to 0: right
    }
}

TEST_CASE("optimizer hyperparameters outside float's range are refused", "[hostile-values]") {
    CHECK_THAT(thrown<ValueError>([] { (void)Sgd{.lr = 1e300}; }),
               Contains("chrysalis::Sgd: learning rate lr must be at most"));
    CHECK_THAT(thrown<ValueError>([] { (void)Sgd{.lr = 1e-300}; }),
               Contains("chrysalis::Sgd: learning rate lr must be at least"));
    CHECK_THAT(thrown<ValueError>([] { (void)Sgd{.lr = 0.1, .weight_decay = 1e300}; }),
               Contains("chrysalis::Sgd: weight_decay must be at most"));
    CHECK_THAT(thrown<ValueError>([] { (void)Adam{.eps = 1e-310}; }),
               Contains("chrysalis::Adam: eps must be at least"));
    CHECK_THAT(thrown<ValueError>([] { (void)Adam{.lr = 1e39}; }),
               Contains("chrysalis::Adam: learning rate lr"));
    CHECK_NOTHROW(Sgd{.lr = 3e38});
}

TEMPLATE_TEST_CASE("scale_to_unit on a range wider than the type can subtract", "[hostile-values]",
                   float, double) {
    using S = TestType;
    const S big = std::numeric_limits<S>::max();
    Dataset<S> data;
    data.features.resize(1, 4);
    data.features << -big, big, S(0), big / 2;
    data.labels = {0, 0, 0, 0};
    data.classes = 1;
    (void)scale_to_unit(data);
    REQUIRE(data.features.allFinite());
    // Halving is exact, (x − lo)/(hi − lo) is then one rounding in double, one to S.
    CHECK(data.features(0, 0) == S(0));
    CHECK(data.features(0, 1) == S(1));
    CHECK(data.features(0, 2) == S(0.5));
    CHECK(data.features(0, 3) == S(0.75));
}

}  // namespace CHRYSALIS_TEST_FILE
