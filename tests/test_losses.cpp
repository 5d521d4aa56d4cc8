// The losses: PyTorch's values, their gradients, their errors, both call forms, the Loss and
// DistillationLoss concepts and labels of any integer range.

#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <limits>
#include <list>
#include <span>
#include <vector>

#include <chrysalis/chrysalis.hpp>

#include "reference_cases.hpp"

using namespace chrysalis;

TEMPLATE_TEST_CASE("CrossEntropy matches PyTorch's cross-entropy on the reference cases",
                   "[losses]", float, double) {
    using S = TestType;
    // Tolerances of tests/data/README.md: 1e-4·max(1, |loss|) in float, 1e-10 relative in double.
    const double tol = std::is_same_v<S, float> ? 1e-4 : 1e-10;
    for (const auto& c : test::load_reference_cases()) {
        INFO("case " << c.name);
        const auto [loss, grad] = CrossEntropy{}(c.student.cast<S>(), c.labels);
        CHECK(std::abs(double(loss) - c.ce_loss) <= tol * std::max(1.0, std::abs(c.ce_loss)));
        CHECK(grad.rows() == c.classes);
        // Each column of (p − onehot)/B sums to 0.
        CHECK(grad.colwise().sum().cwiseAbs().maxCoeff() <= 8 * c.classes * 1.2e-7 / c.batch);
        if (c.alpha == 0) {  // then kd_grad is the cross-entropy gradient
            CHECK((grad.template cast<double>() - c.kd_grad).cwiseAbs().maxCoeff() <=
                  (std::is_same_v<S, float> ? 1e-6 : 1e-13) +
                      (std::is_same_v<S, float> ? 1e-4 : 1e-9) * c.kd_grad.cwiseAbs().maxCoeff());
        }
    }
}

TEST_CASE("CrossEntropy's gradient passes the gradient checker, with and without smoothing",
          "[losses][gradcheck]") {
    Rng rng(Seed{3});
    Matrix<double> logits(7, 5);
    for (Eigen::Index i = 0; i < logits.size(); ++i) logits.data()[i] = rng.uniform(-4, 4);
    const std::vector<int> labels{0, 6, 3, 3, 1};
    for (const double eps : {0.0, 0.2}) {
        const auto report = gradcheck_function(
            [&](const Matrix<double>& z) {
                auto r = CrossEntropy{.label_smoothing = eps}(z, labels);
                return std::pair{r.loss, r.gradient};
            },
            logits);
        INFO("label_smoothing " << eps << ": " << report.where << " " << report.max_error);
        CHECK(report.passed(1e-6));
    }
}

TEMPLATE_TEST_CASE("CrossEntropy with label smoothing follows its formula", "[losses]", float,
                   double) {
    // The reference, in long double from the formula in losses.hpp (not from its code), on the
    // logits rounded to S: L = mean_b[(1 − ε)(lse_b − z_yb) + ε(lse_b − mean_k z_kb)] and
    // ∂L/∂z = (p − (1 − ε)·onehot − ε/K)/B. (PyTorch's CrossEntropyLoss(label_smoothing = ε)
    // gave the same numbers in double, to 1e-15, when this was written.) Logits in [−6, 6]: the
    // float loss, a sum of O(10) terms each within a few ulp of values ≤ 13, is within
    // 2e-6·max(1, L); each gradient entry, p within a few ulp of values ≤ 1 over B = 7, within
    // 2e-7. Double: 1e-13 and 1e-15.
    using S = TestType;
    constexpr bool is_float = std::is_same_v<S, float>;
    const double loss_tol = is_float ? 2e-6 : 1e-13, grad_tol = is_float ? 2e-7 : 1e-15;
    const Eigen::Index classes = 10, batch = 7;
    Rng rng(Seed{8});
    Matrix<S> z(classes, batch);
    for (Eigen::Index i = 0; i < z.size(); ++i) z.data()[i] = S(rng.uniform(-6, 6));
    const std::vector<int> labels{0, 9, 3, 3, 7, 1, 5};
    for (const double eps : {0.0, 0.1, 0.5, 1.0}) {
        INFO("label_smoothing " << eps);
        long double want = 0;
        Eigen::Matrix<long double, Eigen::Dynamic, Eigen::Dynamic> want_grad(classes, batch);
        for (Eigen::Index b = 0; b < batch; ++b) {
            long double m = z(0, b), sum = 0, mean = 0;
            for (Eigen::Index k = 0; k < classes; ++k) m = std::max(m, (long double)z(k, b));
            for (Eigen::Index k = 0; k < classes; ++k) {
                sum += std::exp((long double)z(k, b) - m);
                mean += (long double)z(k, b) / classes;
            }
            const long double lse = m + std::log(sum);
            const int y = labels[std::size_t(b)];
            want += ((1 - eps) * (lse - z(y, b)) + eps * (lse - mean)) / batch;
            for (Eigen::Index k = 0; k < classes; ++k)
                want_grad(k, b) = (std::exp((long double)z(k, b) - lse) - eps / classes -
                                   (k == y ? 1 - eps : 0)) /
                                  batch;
        }
        const auto [loss, grad] = CrossEntropy{.label_smoothing = eps}(z, labels);
        CHECK(std::abs(double(loss) - double(want)) <= loss_tol * std::max(1.0, double(want)));
        CHECK((grad.template cast<long double>() - want_grad).cwiseAbs().maxCoeff() <= grad_tol);
    }
}

TEST_CASE("CrossEntropy with label smoothing: checked, and finite for extreme logits", "[losses]") {
    CHECK_THROWS_WITH((CrossEntropy{.label_smoothing = 1.5}),
                      "chrysalis::CrossEntropy: label_smoothing must be in [0, 1], got 1.5");
    CHECK_THROWS_AS((CrossEntropy{.label_smoothing = std::nan("")}), ValueError);
    CHECK_THROWS_AS((CrossEntropy{.label_smoothing = -0.1}), ValueError);
    // Float logits 6e38 apart (beyond FLT_MAX) in sample 0, label 1 (the low one): −log p_y =
    // 6e38 and the mean over both classes of −log p_k = 3e38, so its loss is 0.9·6e38 + 0.1·3e38
    // = 5.7e38; sample 1 (zeros) loses log 2. The mean, 2.85e38, fits a float: the float log
    // p_k of the low class is −∞, and the smoothed term is taken again from the logits in
    // double. Gradient: sample 0 (1 − 0.05, 0 − 0.05 − 0.9)/2, sample 1 (0.5 − 0.95, 0.5 − 0.05)/2.
    Matrix<float> logits(2, 2);
    logits << 3e38f, 0, -3e38f, 0;
    const auto [loss, grad] = CrossEntropy{.label_smoothing = 0.1}(logits, std::vector<int>{1, 0});
    REQUIRE(std::isfinite(loss));
    CHECK(loss == Approx(2.85e38f));
    Matrix<float> expected(2, 2);
    expected << 0.475f, -0.225f, -0.475f, 0.225f;
    CHECK((grad - expected).cwiseAbs().maxCoeff() <= 1e-7f);
}

TEST_CASE("CrossEntropy rejects labels that do not fit the logits", "[losses]") {
    const Matrix<float> logits = Matrix<float>::Zero(3, 2);
    CHECK_THROWS_WITH(CrossEntropy{}(logits, std::vector<int>{0, 3}),
                      "chrysalis::CrossEntropy: label 3 of sample 1 is outside [0, 3)");
    CHECK_THROWS_WITH(CrossEntropy{}(logits, std::vector<int>{-1, 0}),
                      "chrysalis::CrossEntropy: label -1 of sample 0 is outside [0, 3)");
    CHECK_THROWS_WITH(CrossEntropy{}(logits, std::vector<int>{0}),
                      "chrysalis::CrossEntropy: 1 labels for a batch of 2 samples (one label per "
                      "logits column)");
}

TEST_CASE("CrossEntropy is finite for extreme logits", "[losses]") {
    Matrix<float> logits(3, 2);
    logits << 1e4f, -1e4f, 0, 0, -1e4f, 1e4f;
    const auto [loss, grad] = CrossEntropy{}(logits, std::vector<int>{2, 0});
    // Sample 0: label 2 sits 2e4 below the max: loss 2e4. Sample 1: label 0 at −2e4 below: 2e4.
    CHECK(loss == Approx(2e4f));
    CHECK(grad.allFinite());
}

TEST_CASE("CrossEntropy in float: a logit gap beyond FLT_MAX still gives the finite loss",
          "[losses]") {
    // Sample 0: z_y − max = −3e38 − 3e38 = −6e38, beyond float's range, so log p_y is −∞ in
    // float, while its loss is 6e38 exactly (the other class's term, log(1 + e^−6e38), is 0);
    // sample 1, all zeros, loses log 2. The mean, (6e38 + log 2)/2, is 3e38: finite in float,
    // and within Approx's default relative 1.2e-5 of 3e38f. The gradient is (p − onehot)/B:
    // (0.5, −0.5) and (−0.25, 0.25), exact in float.
    Matrix<float> logits(2, 2);
    logits << 3e38f, 0, -3e38f, 0;
    const auto [loss, grad] = CrossEntropy{}(logits, std::vector<int>{1, 0});
    REQUIRE(std::isfinite(loss));
    CHECK(loss == Approx(3e38f));
    Matrix<float> expected(2, 2);
    expected << 0.5f, -0.25f, -0.5f, 0.25f;
    CHECK(grad == expected);
    // The same logits in double: the same loss (no overflow there).
    const auto [loss_d, grad_d] = CrossEntropy{}(logits.cast<double>(), std::vector<int>{1, 0});
    CHECK(double(loss) == Approx(loss_d).epsilon(1e-6));
}

TEST_CASE("CrossEntropy in double: a mean that fits is finite though the sum overflows",
          "[losses]") {
    // Each column [8e307, −8e307] with label 1 loses 1.6e308 (its other term, log(1 + e^−1.6e308),
    // is 0): the mean of two is 1.6e308, below DBL_MAX = 1.797e308, but the sum, 3.2e308, is
    // not. Summed then divided the loss was +∞; it is now the mean, to rounding.
    Matrix<double> logits(2, 2);
    logits << 8e307, 8e307, -8e307, -8e307;
    const auto [loss, grad] = CrossEntropy{}(logits, std::vector<int>{1, 1});
    REQUIRE(std::isfinite(loss));
    CHECK(loss == Approx(1.6e308).epsilon(1e-15));
    Matrix<double> expected(2, 2);
    expected << 0.5, 0.5, -0.5, -0.5;
    CHECK(grad == expected);
    // A mean beyond DBL_MAX stays +∞: it is not representable.
    logits << 1e308, 1e308, -1e308, -1e308;
    CHECK(std::isinf(CrossEntropy{}(logits, std::vector<int>{1, 1}).loss));
    // One sample whose −log p_y, 2e308, is itself beyond DBL_MAX, and one that loses 0: the
    // mean, 1e308, fits. From the halved gap, 1e308·(2/2) + 0 is exact.
    CHECK(CrossEntropy{}(logits, std::vector<int>{1, 0}).loss == 1e308);
    // With ε = 0.1 the samples lose 0.9·2e308 + 0.1·1e308 and 0.1·1e308 (the mean of −log p over
    // the two classes is 1e308): the mean is 1e308 again, to a few roundings.
    const double smoothed =
        CrossEntropy{.label_smoothing = 0.1}(logits, std::vector<int>{1, 0}).loss;
    REQUIRE(std::isfinite(smoothed));
    CHECK(smoothed == Approx(1e308).epsilon(1e-15));
}

namespace {
template <class S>
struct KdTolerance;
template <>
struct KdTolerance<float> {
    static double loss(double l) { return 1e-4 * std::max(1.0, std::abs(l)); }
    static double grad(double g) { return 1e-6 + 1e-4 * std::abs(g); }
};
template <>
struct KdTolerance<double> {
    static double loss(double l) { return 1e-10 * std::max(1.0, std::abs(l)); }
    static double grad(double g) { return 1e-13 + 1e-9 * std::abs(g); }
};
}  // namespace

TEMPLATE_TEST_CASE("Distillation matches PyTorch's loss and gradient on every reference case",
                   "[losses]", float, double) {
    using S = TestType;
    for (const auto& c : test::load_reference_cases()) {
        INFO("case " << c.name << " (T = " << c.temperature << ", alpha = " << c.alpha << ")");
        const Distillation kd{.temperature = c.temperature, .alpha = c.alpha};
        const Matrix<S> zs = c.student.cast<S>(), zt = c.teacher.cast<S>();
        const auto [loss, grad] = kd(zs, zt, c.labels);
        CHECK(std::abs(double(loss) - c.kd_loss) <= KdTolerance<S>::loss(c.kd_loss));
        double worst = 0;
        for (Eigen::Index i = 0; i < grad.size(); ++i)
            worst = std::max(worst, std::abs(double(grad.data()[i]) - c.kd_grad.data()[i]) /
                                        KdTolerance<S>::grad(c.kd_grad.data()[i]));
        CHECK(worst <= 1.0);
        // The same through soft targets: the teacher's probabilities at T.
        const Matrix<S> pt = softmax(zt, c.temperature);
        const auto soft = kd.soft_targets(zs, pt, c.labels);
        CHECK(std::abs(double(soft.loss) - c.kd_loss) <= 10 * KdTolerance<S>::loss(c.kd_loss));
        // And into a caller's matrix.
        Matrix<S> g2(grad.rows(), grad.cols());
        CHECK(kd(zs, zt, c.labels, g2) == loss);
        CHECK(g2 == grad);
    }
}

TEST_CASE("every loss passes the gradient checker in double", "[losses][gradcheck]") {
    Rng rng(Seed{11});
    auto random = [&](Eigen::Index r, Eigen::Index c, double scale) {
        Matrix<double> m(r, c);
        for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = rng.uniform(-scale, scale);
        return m;
    };
    const Matrix<double> zs = random(6, 5, 3), zt = random(6, 5, 3);
    const std::vector<int> labels{1, 0, 5, 2, 2};
    const Matrix<double> pt = softmax(zt, 2.5);
    auto check = [&](auto loss_of) {
        const auto report = gradcheck_function(loss_of, zs);
        INFO(report.where << ": " << report.max_error);
        CHECK(report.passed(1e-6));
    };
    for (double t : {1.0, 2.5, 20.0})
        for (double alpha : {0.0, 0.5, 1.0}) {
            INFO("T = " << t << ", alpha = " << alpha);
            const Distillation kd{.temperature = t, .alpha = alpha};
            check([&](const Matrix<double>& z) {
                auto r = kd(z, zt, labels);
                return std::pair{r.loss, r.gradient};
            });
        }
    check([&](const Matrix<double>& z) {
        auto r = SoftTargetCrossEntropy{.temperature = 2.5}(z, pt);
        return std::pair{r.loss, r.gradient};
    });
    check([&](const Matrix<double>& z) {
        auto r = LogitMatching{}(z, zt);
        return std::pair{r.loss, r.gradient};
    });
    check([&](const Matrix<double>& z) {
        auto r = ReverseKL{.temperature = 3.0}(z, zt);
        return std::pair{r.loss, r.gradient};
    });
    check([&](const Matrix<double>& z) {
        auto r = Distillation{.temperature = 2.5, .alpha = 0.7}.soft_targets(z, pt, labels);
        return std::pair{r.loss, r.gradient};
    });
}

TEST_CASE("the T-squared factor keeps the soft gradient's size independent of T", "[losses]") {
    // For logits that differ by O(1), p_s^T − p_t^T ≈ (z_s − z_t − mean)/(nT), so the soft term's
    // gradient α·T·(p_s − p_t)/B is O(1/T)·T = O(1)… only after the T² scaling of the loss. Without
    // it (PyTorch's kl_div alone) the gradient would fall as 1/T²: a factor 400 from T = 1 to 20.
    Rng rng(Seed{5});
    Matrix<double> zs(10, 64), zt(10, 64);
    for (Eigen::Index i = 0; i < zs.size(); ++i) {
        zs.data()[i] = rng.uniform(-3, 3);
        zt.data()[i] = rng.uniform(-3, 3);
    }
    std::vector<double> norms;
    for (double t : {1.0, 2.0, 4.0, 8.0, 12.0, 16.0, 20.0}) {
        norms.push_back(Distillation{.temperature = t, .alpha = 1.0}(zs, zt).gradient.norm());
    }
    const auto [lo, hi] = std::minmax_element(norms.begin(), norms.end());
    INFO("gradient norms from T = 1 to 20: min " << *lo << ", max " << *hi);
    // Measured 0.075 to 0.090 (1.2x) over T = 1..20, where 1/T² would be 400x.
    CHECK(*hi / *lo < 1.5);
    // And at large T it settles: T = 16 and T = 20 within 10% of each other.
    CHECK(std::abs(norms[5] - norms[6]) / norms[6] < 0.1);
}

TEST_CASE("distillation hyperparameters are checked at construction", "[losses]") {
    CHECK_THROWS_WITH((Distillation{.temperature = 0.0}),
                      "chrysalis::Distillation: temperature must be a finite number > 0, got 0");
    CHECK_THROWS_WITH((Distillation{.temperature = 4.0, .alpha = 1.5}),
                      "chrysalis::Distillation: alpha must be in [0, 1], got 1.5");
    CHECK_THROWS_AS((Distillation{.temperature = std::nan("")}), ValueError);
    CHECK_THROWS_AS((Distillation{.alpha = -0.1}), ValueError);
    CHECK_THROWS_AS((ReverseKL{.temperature = -1.0}), ValueError);
    CHECK_THROWS_AS((SoftTargetCrossEntropy{.temperature = 0.0}), ValueError);
    const Matrix<float> zs = Matrix<float>::Zero(3, 2), zt4 = Matrix<float>::Zero(4, 2);
    CHECK_THROWS_WITH((Distillation{}(zs, zt4, std::vector<int>{0, 1})),
                      "chrysalis::Distillation: the student logits are 3x2 but the teacher logits "
                      "are 4x2 (classes x batch must agree)");
    CHECK_THROWS_WITH((Distillation{.alpha = 0.5}(zs, zs)),
                      Catch::Matchers::Contains("no labels given but alpha = 0.5"));
    CHECK_NOTHROW((Distillation{.alpha = 1.0}(zs, zs)));
}

// ---- The contracts, the two call forms and labels of any integer range ----

namespace {
// The shipped losses model the concepts the training loops are constrained by, in both scalars.
static_assert(Loss<CrossEntropy, float> && Loss<CrossEntropy, double>);
static_assert(DistillationLoss<Distillation, float> && DistillationLoss<Distillation, double>);
static_assert(DistillationLoss<SoftTargetCrossEntropy, float> &&
              DistillationLoss<SoftTargetCrossEntropy, double>);
static_assert(DistillationLoss<LogitMatching, float> && DistillationLoss<LogitMatching, double>);
static_assert(DistillationLoss<ReverseKL, float> && DistillationLoss<ReverseKL, double>);
// …and not the other one: the concepts tell a hard-label loss from a distillation loss.
static_assert(!Loss<Distillation, float> && !Loss<ReverseKL, float>);
static_assert(!DistillationLoss<CrossEntropy, float>);
static_assert(!Loss<int, float> && !DistillationLoss<int, float>);

static_assert(LabelRange<std::vector<int>> && LabelRange<std::vector<long>> &&
              LabelRange<std::span<const int>> && LabelRange<std::array<int, 4>> &&
              LabelRange<Eigen::VectorXi> && LabelRange<Eigen::RowVectorXi> &&
              LabelRange<Eigen::VectorBlock<const Eigen::VectorXi>> &&
              LabelRange<std::vector<std::uint8_t>> && LabelRange<int[3]>);
static_assert(!LabelRange<std::vector<float>> && !LabelRange<Eigen::VectorXf> &&
              !LabelRange<Eigen::MatrixXi> && !LabelRange<std::vector<bool>> &&
              !LabelRange<std::list<int>>);

/// Calls a loss exactly as a loop constrained by the concept does.
template <class S, DistillationLoss<S> L>
S call_as_the_loop_does(L& loss, ConstMatrixRef<S> zs, ConstMatrixRef<S> zt,
                        std::span<const int> labels, MatrixRef<S> gradient) {
    return loss(zs, zt, labels, gradient);
}
template <class S, Loss<S> L>
S call_as_the_loop_does(L& loss, ConstMatrixRef<S> z, std::span<const int> labels,
                        MatrixRef<S> gradient) {
    return loss(z, labels, gradient);
}

template <class S>
Matrix<S> random_matrix(Rng& rng, Eigen::Index rows, Eigen::Index cols, double scale) {
    Matrix<S> m(rows, cols);
    for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = S(rng.uniform(-scale, scale));
    return m;
}
}  // namespace

TEST_CASE("every shipped loss models its concept in float and double", "[losses][concepts]") {
    STATIC_REQUIRE(Loss<CrossEntropy, float>);
    STATIC_REQUIRE(Loss<CrossEntropy, double>);
    STATIC_REQUIRE(DistillationLoss<Distillation, double>);
    STATIC_REQUIRE(DistillationLoss<SoftTargetCrossEntropy, float>);
    STATIC_REQUIRE(DistillationLoss<LogitMatching, double>);
    STATIC_REQUIRE(DistillationLoss<ReverseKL, float>);
}

TEMPLATE_TEST_CASE("every loss gives the same numbers in its returning and into forms", "[losses]",
                   float, double) {
    using S = TestType;
    Rng rng(Seed{21});
    const Matrix<S> zs = random_matrix<S>(rng, 7, 9, 4), zt = random_matrix<S>(rng, 7, 9, 4);
    const Matrix<S> pt = softmax(zt, 3.0);
    const std::vector<int> labels{0, 6, 3, 3, 1, 2, 5, 4, 0};
    // Into a block of a larger buffer, through a MatrixRef (as the loops do), and into a plain
    // Matrix first filled with NaN: every entry must be overwritten.
    Matrix<S> buffer = Matrix<S>::Constant(7, 16, std::numeric_limits<S>::quiet_NaN());
    MatrixRef<S> into(buffer.leftCols(9));
    Matrix<S> plain = Matrix<S>::Constant(7, 9, std::numeric_limits<S>::quiet_NaN());
    auto same = [&](const LossResult<S>& r, S via_ref, S via_plain) {
        CHECK(via_ref == r.loss);
        CHECK(via_plain == r.loss);
        CHECK(Matrix<S>(into) == r.gradient);
        CHECK(plain == r.gradient);
        CHECK(r.gradient.allFinite());
        CHECK(buffer.rightCols(7).hasNaN());  // nothing written past the block
    };
    {
        INFO("CrossEntropy");
        CrossEntropy ce;
        same(ce(zs, labels), call_as_the_loop_does<S>(ce, zs, labels, into), ce(zs, labels, plain));
    }
    {
        INFO("Distillation");
        Distillation kd{.temperature = 2.0, .alpha = 0.7};
        same(kd(zs, zt, labels), call_as_the_loop_does<S>(kd, zs, zt, labels, into),
             kd(zs, zt, labels, plain));
        Distillation soft_only{.temperature = 2.0, .alpha = 1.0};
        same(soft_only(zs, zt), soft_only(zs, zt, into), soft_only(zs, zt, plain));
        same(kd.soft_targets(zs, pt, labels), kd.soft_targets(zs, pt, labels, into),
             kd.soft_targets(zs, pt, labels, plain));
    }
    {
        INFO("SoftTargetCrossEntropy");
        SoftTargetCrossEntropy st{.temperature = 3.0};
        same(st(zs, pt), call_as_the_loop_does<S>(st, zs, pt, labels, into), st(zs, pt, plain));
        same(st(zs, pt, labels), st(zs, pt, std::span<const int>{}, into), st(zs, pt, plain));
    }
    {
        INFO("LogitMatching");
        LogitMatching lm;
        same(lm(zs, zt), call_as_the_loop_does<S>(lm, zs, zt, labels, into), lm(zs, zt, plain));
        same(lm(zs, zt, labels), lm(zs, zt, into), lm(zs, zt, labels, plain));
    }
    {
        INFO("ReverseKL");
        ReverseKL rk{.temperature = 2.5};
        same(rk(zs, zt), call_as_the_loop_does<S>(rk, zs, zt, labels, into), rk(zs, zt, plain));
        same(rk(zs, zt, labels), rk(zs, zt, into), rk(zs, zt, labels, plain));
    }
}

TEMPLATE_TEST_CASE("ReverseKL: a masked student class (a -inf logit) contributes nothing",
                   "[losses]", float, double) {
    // p_s = 0 for a −∞ logit, and 0·log(0/p_t) = 0: the loss and the other classes' gradient are
    // those of a logit of −1e4, whose exp((−1e4 − max)/T) underflows to exactly 0 in the double
    // arithmetic the loss uses (so both columns have the same max and log-sum), and the masked
    // class's gradient is 0. Equal to the bit: the same operations on the same values.
    using S = TestType;
    const S inf = std::numeric_limits<S>::infinity();
    Matrix<S> masked(3, 2), far(3, 2), zt(3, 2);
    masked << 1, 0.5, 0, -inf, -inf, 2;
    far << 1, 0.5, 0, S(-1e4), S(-1e4), 2;
    zt << 1, 0, 0, 1, 0, -1;
    for (const double t : {1.0, 4.0}) {
        INFO("T = " << t);
        const ReverseKL rk{.temperature = t};
        const auto a = rk(masked, zt), b = rk(far, zt);
        REQUIRE(std::isfinite(a.loss));
        CHECK(a.loss > S(0));
        CHECK(a.loss == b.loss);
        CHECK(a.gradient == b.gradient);
        CHECK(a.gradient(2, 0) == S(0));
        CHECK(a.gradient(1, 1) == S(0));
    }
}

TEMPLATE_TEST_CASE("SoftTargetCrossEntropy matches PyTorch's KL plus the teacher's entropy",
                   "[losses]", float, double) {
    // With α = 1, kd_loss = T²·mean KL(p_t ‖ p_s) and kd_grad its gradient; the soft-target
    // cross-entropy is T²·mean(KL + H(p_t)), with the same gradient. H(p_t) is computed here in
    // double from the (PyTorch-checked) double softmax: an error far below the tolerances.
    using S = TestType;
    int checked = 0;
    for (const auto& c : test::load_reference_cases()) {
        if (c.alpha != 1.0) continue;
        INFO("case " << c.name);
        const Matrix<double> p = softmax(c.teacher, c.temperature);
        double entropy = 0;
        for (Eigen::Index i = 0; i < p.size(); ++i)
            if (p.data()[i] > 0) entropy -= p.data()[i] * std::log(p.data()[i]);
        const double t2 = c.temperature * c.temperature;
        const double expected = c.kd_loss + t2 * entropy / c.batch;
        const Matrix<S> zs = c.student.cast<S>(), pt = p.cast<S>();
        Matrix<S> grad(c.classes, c.batch);
        const S loss = SoftTargetCrossEntropy{.temperature = c.temperature}(zs, pt, c.labels, grad);
        CHECK(std::abs(double(loss) - expected) <= KdTolerance<S>::loss(expected));
        double worst = 0;
        for (Eigen::Index i = 0; i < grad.size(); ++i)
            worst = std::max(worst, std::abs(double(grad.data()[i]) - c.kd_grad.data()[i]) /
                                        KdTolerance<S>::grad(c.kd_grad.data()[i]));
        CHECK(worst <= 1.0);
        ++checked;
    }
    CHECK(checked >= 1);  // the file has an α = 1 case
}

TEMPLATE_TEST_CASE("ReverseKL and LogitMatching match their formulas on the reference cases",
                   "[losses]", float, double) {
    // The formulas evaluated in double, matrix-wise, from the same (float-rounded, for float)
    // logits: the losses compute in double internally, so only the final rounding to S and the
    // order of summation differ — well inside the reference tolerances.
    using S = TestType;
    for (const auto& c : test::load_reference_cases()) {
        INFO("case " << c.name);
        const Matrix<S> zs = c.student.cast<S>(), zt = c.teacher.cast<S>();
        const Matrix<double> ds = zs.template cast<double>(), dt = zt.template cast<double>();
        const double t = c.temperature;
        const Matrix<double> log_ps = log_softmax(ds, t), log_pt = log_softmax(dt, t);
        const Matrix<double> ps = log_ps.array().exp();
        const double expected_rk = t * t * (ps.array() * (log_ps - log_pt).array()).sum() / c.batch;
        const auto rk = ReverseKL{.temperature = t}(zs, zt, c.labels);
        CHECK(std::abs(double(rk.loss) - expected_rk) <= KdTolerance<S>::loss(expected_rk));
        const double expected_lm = 0.5 * (ds - dt).squaredNorm() / c.batch;
        const auto lm = LogitMatching{}(zs, zt, c.labels);
        CHECK(std::abs(double(lm.loss) - expected_lm) <= KdTolerance<S>::loss(expected_lm));
        const Matrix<double> expected_lm_grad = (ds - dt) / double(c.batch);
        for (Eigen::Index i = 0; i < lm.gradient.size(); ++i)
            CHECK(std::abs(double(lm.gradient.data()[i]) - expected_lm_grad.data()[i]) <=
                  KdTolerance<S>::grad(expected_lm_grad.data()[i]));
    }
}

TEST_CASE("every loss passes gradcheck_loss, called as the training loop calls it",
          "[losses][gradcheck]") {
    Rng rng(Seed{12});
    const Matrix<double> zs = random_matrix<double>(rng, 6, 5, 3);
    const Matrix<double> zt = random_matrix<double>(rng, 6, 5, 3);
    const Matrix<double> pt = softmax(zt, 2.5);
    const Eigen::VectorXi labels = (Eigen::VectorXi(5) << 1, 0, 5, 2, 2).finished();
    auto passes = [](const GradcheckReport& r) {
        INFO(r.where << ": " << r.max_error << " after " << r.checked << " coordinates");
        CHECK(r.checked == 30);
        CHECK(r.passed(1e-6));
    };
    passes(gradcheck_loss(CrossEntropy{}, zs, labels));
    passes(gradcheck_loss(Distillation{.temperature = 2.5, .alpha = 0.6}, zs, zt, labels));
    passes(gradcheck_loss(SoftTargetCrossEntropy{.temperature = 2.5}, zs, pt, labels));
    passes(gradcheck_loss(LogitMatching{}, zs, zt, labels));
    passes(gradcheck_loss(ReverseKL{.temperature = 1.5}, zs, zt, std::vector<long>{}));
}

TEST_CASE(
    "gradcheck passes a soft-target loss whose value dwarfs its gradient, and still sees "
    "an error of 1e-5",
    "[losses][gradcheck]") {
    // SoftTargetCrossEntropy holds T² times the teacher's entropy: about 38 at T = 4 and 230 at
    // T = 10 for 10 classes, while its gradient entries are below 1/B = 0.03. The rounding of
    // the five-point differences of such values alone (about δ/h, δ the rounding of one value)
    // exceeded 1e-6 of the gradient: a correct loss failed at the documented 1e-6 until the
    // check subtracted what its differences cannot resolve.
    for (const double t : {4.0, 10.0}) {
        INFO("T = " << t);
        Rng rng(Seed{1});
        const Matrix<double> zs = random_matrix<double>(rng, 10, 32, 3);
        const Matrix<double> zt = random_matrix<double>(rng, 10, 32, 3);
        const Matrix<double> pt = softmax(zt, t);
        const SoftTargetCrossEntropy stce{.temperature = t};
        const GradcheckReport right = gradcheck_loss(stce, zs, pt, std::vector<int>{});
        INFO(right.where << ": " << right.max_error << ", resolution " << right.resolution);
        CHECK(right.checked == 320);
        CHECK(right.passed(1e-6));
        CHECK(right.resolution < 1e-6);
        // The same loss with a gradient 1e-5 too large (relative) fails, by about 1e-5: the
        // allowance is below 1e-6 of the gradient, so the error is seen whole.
        const auto off = [&](const Matrix<double>& z) {
            LossResult<double> r = stce(z, pt);
            r.gradient *= 1 + 1e-5;
            return r;
        };
        const GradcheckReport wrong = gradcheck_function(off, zs);
        CHECK_FALSE(wrong.passed(1e-6));
        CHECK(wrong.max_error > 0.8e-5);
        CHECK(wrong.max_error < 1.2e-5);
    }
}

TEST_CASE("gradcheck does not pass a check whose differences cannot see the tolerance",
          "[gradcheck]") {
    // f(x) = 10¹² + Σ x²/2 has the gradient x, but each value of f is rounded to about 10⁻⁴
    // (half an ulp of 10¹²), so its differences at h = 10⁻⁴ resolve nothing below about 1:
    // the analytic gradient x cannot be confirmed, nor a wrong one refuted. The report says so
    // through its resolution, and passed() is false whatever the errors.
    Rng rng(Seed{3});
    const Matrix<double> x = random_matrix<double>(rng, 3, 4, 1);
    const auto dwarfed = [](const Matrix<double>& v) {
        return std::pair{1e12 + 0.5 * v.squaredNorm(), Matrix<double>(v)};
    };
    const GradcheckReport coarse = gradcheck_function(dwarfed, x);
    INFO(coarse.where << ": " << coarse.max_error << ", resolution " << coarse.resolution);
    CHECK(coarse.resolution > 1e-3);
    CHECK_FALSE(coarse.passed(1e-6));
    // Without the constant the same check resolves about 1e-11 and passes.
    const auto plain = [](const Matrix<double>& v) {
        return std::pair{0.5 * v.squaredNorm(), Matrix<double>(v)};
    };
    const GradcheckReport fine = gradcheck_function(plain, x);
    CHECK(fine.resolution < 1e-9);
    CHECK(fine.passed(1e-6));
}

namespace {
/// CrossEntropy with its gradient 1% too large: the checker must notice.
struct OffByOnePercent {
    double operator()(ConstMatrixRef<double> z, std::span<const int> y, MatrixRef<double> g) {
        const double loss = CrossEntropy{}(z, y, g);
        g *= 1.01;
        return loss;
    }
};
static_assert(Loss<OffByOnePercent, double>);

/// Cross-entropy that adds its gradient to `g` (+= where = was meant): right on a fresh zero
/// buffer, wrong from the second call on, in training as in the checks.
struct AddsToGradient {
    double operator()(ConstMatrixRef<double> z, std::span<const int> y, MatrixRef<double> g) {
        Matrix<double> mine(z.rows(), z.cols());
        const double loss = CrossEntropy{}(z, y, mine);
        g += mine;
        return loss;
    }
};
/// The same for a distillation loss.
struct KdAddsToGradient {
    double operator()(ConstMatrixRef<double> zs, ConstMatrixRef<double> zt, std::span<const int> y,
                      MatrixRef<double> g) {
        Matrix<double> mine(zs.rows(), zs.cols());
        const double loss = Distillation{}(zs, zt, y, mine);
        g += mine;
        return loss;
    }
};
}  // namespace

TEST_CASE("the checkers fail a loss that adds to its gradient instead of overwriting it",
          "[losses][gradcheck]") {
    Rng rng(Seed{15});
    const Matrix<double> z = random_matrix<double>(rng, 4, 3, 2);
    const Matrix<double> t = random_matrix<double>(rng, 4, 3, 2);
    const std::vector<int> labels{3, 0, 1};
    // The gradient buffers start as NaN in every check, so the sum is NaN, the worst error.
    // (Before, they were fresh allocations: often zero, and then the sum was right.)
    CHECK_FALSE(gradcheck_loss(AddsToGradient{}, z, labels).passed(1e-6));
    CHECK_FALSE(gradcheck_loss(KdAddsToGradient{}, z, t, labels).passed(1e-6));
    Sequential<Dense<3, 5, double>, Tanh, Dense<5, 4, double>> net(Seed{4});
    const Matrix<double> x = random_matrix<double>(rng, 3, 3, 1);
    CHECK_FALSE(gradcheck_network(net, x, AddsToGradient{}, labels).passed(1e-6));
    // The same checks pass the losses that overwrite it.
    CHECK(gradcheck_loss(CrossEntropy{}, z, labels).passed(1e-6));
    CHECK(gradcheck_loss(Distillation{}, z, t, labels).passed(1e-6));
    CHECK(gradcheck_network(net, x, CrossEntropy{}, labels).passed(1e-6));
}

TEST_CASE("gradcheck_loss and gradcheck_network catch a wrong loss gradient",
          "[losses][gradcheck]") {
    Rng rng(Seed{13});
    const Matrix<double> z = random_matrix<double>(rng, 4, 3, 2);
    const std::vector<int> labels{3, 0, 1};
    const auto report = gradcheck_loss(OffByOnePercent{}, z, labels);
    CHECK_FALSE(report.passed(1e-6));
    CHECK(report.max_error == Approx(0.01 / 1.01).epsilon(1e-3));  // |1.01g − g| / |1.01g|

    Sequential<Dense<3, 5, double>, Tanh, Dense<5, 4, double>> net(Seed{4});
    const Matrix<double> x = random_matrix<double>(rng, 3, 3, 1);
    CHECK_FALSE(gradcheck_network(net, x, OffByOnePercent{}, labels).passed(1e-6));
    // The same network and labels with the right loss pass, given as a Loss and labels, and as a
    // callable returning a LossResult — what the returning form of every loss gives.
    CHECK(gradcheck_network(net, x, CrossEntropy{}, labels).passed(1e-6));
    CHECK(gradcheck_network(net, x, [&](const Matrix<double>& logits) {
              return CrossEntropy{}(logits, labels);
          }).passed(1e-6));
}

TEMPLATE_TEST_CASE("losses take labels as any contiguous range of integers", "[losses][labels]",
                   float, double) {
    using S = TestType;
    Rng rng(Seed{14});
    const Matrix<S> zs = random_matrix<S>(rng, 5, 4, 3), zt = random_matrix<S>(rng, 5, 4, 3);
    const std::vector<int> ints{4, 0, 2, 2};
    const Distillation kd{.temperature = 2.0, .alpha = 0.5};
    const auto want_ce = CrossEntropy{}(zs, ints);
    const auto want_kd = kd(zs, zt, ints);
    auto same = [&](const auto& labels) {
        const auto ce = CrossEntropy{}(zs, labels);
        CHECK(ce.loss == want_ce.loss);
        CHECK(ce.gradient == want_ce.gradient);
        const auto d = kd(zs, zt, labels);
        CHECK(d.loss == want_kd.loss);
        CHECK(d.gradient == want_kd.gradient);
    };
    same(std::vector<long>{4, 0, 2, 2});
    same(std::vector<std::uint8_t>{4, 0, 2, 2});
    same(std::array<int, 4>{4, 0, 2, 2});
    same(std::span<const int>(ints));
    same((Eigen::VectorXi(4) << 4, 0, 2, 2).finished());
    same((Eigen::RowVectorXi(4) << 4, 0, 2, 2).finished());
    same(Eigen::Matrix<long, 4, 1>(4, 0, 2, 2));
    // A strided view (a row of a column-major matrix) is gathered.
    Eigen::MatrixXi table(2, 4);
    table << 4, 0, 2, 2, 9, 9, 9, 9;
    same(table.row(0));
    // Blocks of a vector: segment, head and tail are VectorBlocks, whose DenseBase is their base
    // class's.
    const Eigen::VectorXi longer = (Eigen::VectorXi(6) << 7, 4, 0, 2, 2, 7).finished();
    same(longer.segment(1, 4));
    same(longer.tail(5).head(4));
}

TEST_CASE("int_labels views int labels and converts the others, checking they fit",
          "[losses][labels]") {
    const Eigen::VectorXi v = (Eigen::VectorXi(3) << 1, 2, 0).finished();
    const IntLabels viewed = int_labels(v, "test");
    CHECK_FALSE(viewed.converted());
    CHECK(viewed.span().data() == v.data());
    const std::vector<int> w{1, 2, 0};
    CHECK(int_labels(w, "test").span().data() == w.data());
    const std::vector<long> longs{1, 2, 0};
    const IntLabels converted = int_labels(longs, "test");
    CHECK(converted.converted());
    CHECK(std::vector<int>(converted.span().begin(), converted.span().end()) == w);
    const IntLabels copy = converted;  // a copy owns its labels too
    CHECK(copy.span().data() != converted.span().data());
    CHECK(copy.span()[1] == 2);

    const Matrix<float> z = Matrix<float>::Zero(3, 2);
    CHECK_THROWS_WITH(CrossEntropy{}(z, std::vector<long>{0, 1L << 40}),
                      "chrysalis::CrossEntropy: label 1099511627776 of sample 1 does not fit in "
                      "an int (labels are class indices)");
    CHECK_THROWS_WITH(CrossEntropy{}(z, std::vector<unsigned>{0, 4000000000u}),
                      "chrysalis::CrossEntropy: label 4000000000 of sample 1 does not fit in an "
                      "int (labels are class indices)");
    CHECK_THROWS_WITH(Distillation{}(z, z, std::vector<long>{-1, 0}),
                      "chrysalis::Distillation: label -1 of sample 0 is outside [0, 3)");
    CHECK_THROWS_WITH(CrossEntropy{}(z, (Eigen::VectorXi(3) << 0, 1, 2).finished()),
                      "chrysalis::CrossEntropy: 3 labels for a batch of 2 samples (one label per "
                      "logits column)");
}

TEST_CASE("the distillation losses check shapes, labels and the gradient's size",
          "[losses][errors]") {
    const Matrix<float> zs = Matrix<float>::Zero(3, 2), zt = Matrix<float>::Zero(3, 2);
    const Matrix<float> zt4 = Matrix<float>::Zero(4, 2);
    Matrix<float> buffer(3, 8);
    MatrixRef<float> small(buffer.leftCols(1));
    const std::vector<int> one{0}, bad{0, 3};
    CHECK_THROWS_WITH(SoftTargetCrossEntropy{}(zs, zt4),
                      "chrysalis::SoftTargetCrossEntropy: the student logits are 3x2 but the "
                      "teacher probabilities are 4x2 (classes x batch must agree)");
    CHECK_THROWS_WITH(LogitMatching{}(zs, zt, one),
                      "chrysalis::LogitMatching: 1 labels for a batch of 2 samples (one label "
                      "per logits column)");
    CHECK_THROWS_WITH(ReverseKL{}(zs, zt, bad),
                      "chrysalis::ReverseKL: label 3 of sample 1 is outside [0, 3)");
    CHECK_THROWS_WITH(ReverseKL{}(zs, zt, small),
                      "chrysalis::ReverseKL: the gradient is 3x1 but the logits are 3x2 "
                      "(classes x batch); pass a gradient of that size");
    CHECK_THROWS_AS(LogitMatching{}(zs, zt, small), ShapeError);
    CHECK_THROWS_AS(SoftTargetCrossEntropy{}(zs, zt, small), ShapeError);
    CHECK_THROWS_AS(Distillation{}(zs, zt, std::vector<int>{0, 1}, small), ShapeError);
    CHECK_THROWS_WITH(CrossEntropy{}(zs, std::vector<int>{0, 1}, small),
                      "chrysalis::CrossEntropy: the gradient is 3x1 but the logits are 3x2 "
                      "(classes x batch); pass a gradient of that size");
    // With α = 1 Distillation does not use labels, but those given are checked all the same.
    CHECK_THROWS_WITH((Distillation{.alpha = 1.0}(zs, zt, bad)),
                      "chrysalis::Distillation: label 3 of sample 1 is outside [0, 3)");
    CHECK_NOTHROW((Distillation{.alpha = 1.0}(zs, zt, std::vector<int>{})));
    // Labels are optional for the losses without a hard-label term.
    CHECK_NOTHROW(LogitMatching{}(zs, zt, std::vector<int>{}));
    CHECK_NOTHROW(ReverseKL{}(zs, zt, std::vector<int>{0, 2}));
}
