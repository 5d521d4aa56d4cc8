// The softmax kernels against PyTorch float64 values (tests/data/kd_cases.txt), at the tolerances
// the data's README states. Float runs on the float-rounded logits, so its error includes the
// rounding of the inputs: at logits near 1e3 the float spacing is 6e-5, which moves p by up to
// 6e-5/T relative — inside 2e-5·p for the T = 4 of the offset case.

#include <catch2/catch.hpp>

#include <cmath>

#include "reference_cases.hpp"
#include "softmax_test_support.hpp"

using namespace chrysalis::test;

namespace {

const std::vector<ReferenceCase>& cases() {
    static const std::vector<ReferenceCase> all = load_reference_cases();
    return all;
}

template <class S>
struct Tolerance;
template <>
struct Tolerance<float> {
    static double prob(double p) { return 2e-5 * p + 1e-7; }
    static double log_prob(double lp) { return 2e-5 * std::max(1.0, std::abs(lp)); }
    static double loss(double l) { return 1e-4 * std::max(1.0, std::abs(l)); }
};
template <>
struct Tolerance<double> {
    static double prob(double p) { return 1e-11 * p + 1e-15; }
    static double log_prob(double lp) { return 1e-10 * std::max(1.0, std::abs(lp)); }
    static double loss(double l) { return 1e-10 * std::max(1.0, std::abs(l)); }
};

}  // namespace

TEMPLATE_TEST_CASE("softmax and log_softmax match PyTorch on every reference case", "[softmax]",
                   float, double) {
    using S = TestType;
    REQUIRE(cases().size() == 14);
    const Kernel kernel = GENERATE(Kernel::public_api, Kernel::scalar);
    for (const ReferenceCase& c : cases()) {
        INFO("case " << c.name << " (" << c.classes << " classes x " << c.batch
                     << ", T = " << c.temperature << "), kernel " << to_string(kernel));
        const Mat<S> x = c.student.cast<S>();
        const Mat<S> p = probabilities<S>(kernel, x, c.temperature);
        const Mat<S> lp = log_probabilities<S>(kernel, x, c.temperature);
        REQUIRE(p.rows() == c.classes);
        REQUIRE(p.cols() == c.batch);
        double worst_p = 0, worst_lp = 0;  // error over tolerance; must stay ≤ 1
        for (int j = 0; j < c.batch; ++j) {
            for (int i = 0; i < c.classes; ++i) {
                const double ref_p = c.softmax_student_t(i, j);
                const double ref_lp = c.log_softmax_student_t(i, j);
                worst_p = std::max(worst_p,
                                   std::abs(double(p(i, j)) - ref_p) / Tolerance<S>::prob(ref_p));
                worst_lp = std::max(
                    worst_lp, std::abs(double(lp(i, j)) - ref_lp) / Tolerance<S>::log_prob(ref_lp));
            }
        }
        CHECK(worst_p <= 1.0);
        CHECK(worst_lp <= 1.0);
    }
}

TEMPLATE_TEST_CASE("losses built on log_softmax match PyTorch's cross-entropy and KD loss",
                   "[softmax]", float, double) {
    // ce = −(1/B)·Σ_b log softmax(z_b, 1)[y_b];
    // kd = α·T²·(1/B)·Σ_b Σ_i p_t,i (log p_t,i − log p_s,i) + (1 − α)·ce, with 0·log 0 = 0.
    using S = TestType;
    const Kernel kernel = GENERATE(Kernel::public_api, Kernel::scalar);
    for (const ReferenceCase& c : cases()) {
        INFO("case " << c.name << ", kernel " << to_string(kernel));
        const Mat<S> student = c.student.cast<S>();
        const Mat<S> teacher = c.teacher.cast<S>();
        const Mat<S> log_p1 = log_probabilities<S>(kernel, student, 1.0);
        const Mat<S> log_ps = log_probabilities<S>(kernel, student, c.temperature);
        const Mat<S> log_pt = log_probabilities<S>(kernel, teacher, c.temperature);
        const Mat<S> pt = probabilities<S>(kernel, teacher, c.temperature);
        double ce = 0, kl = 0;
        for (int b = 0; b < c.batch; ++b) {
            ce -= double(log_p1(c.labels[static_cast<std::size_t>(b)], b));
            for (int i = 0; i < c.classes; ++i)
                if (pt(i, b) > 0) kl += double(pt(i, b)) * (double(log_pt(i, b)) - log_ps(i, b));
        }
        ce /= c.batch;
        kl /= c.batch;
        const double t2 = c.temperature * c.temperature;
        const double kd = c.alpha * t2 * kl + (1 - c.alpha) * ce;
        CHECK(std::abs(ce - c.ce_loss) <= Tolerance<S>::loss(c.ce_loss));
        CHECK(std::abs(kd - c.kd_loss) <= Tolerance<S>::loss(c.kd_loss));
    }
}
