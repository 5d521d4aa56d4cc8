// CrossEntropy: PyTorch's values, its gradient, and its errors.

#include <catch2/catch.hpp>

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

TEST_CASE("CrossEntropy's gradient passes the gradient checker", "[losses][gradcheck]") {
    Rng rng(Seed{3});
    Matrix<double> logits(7, 5);
    for (Eigen::Index i = 0; i < logits.size(); ++i) logits.data()[i] = rng.uniform(-4, 4);
    const std::vector<int> labels{0, 6, 3, 3, 1};
    const auto report = gradcheck_function(
        [&](const Matrix<double>& z) {
            auto r = CrossEntropy{}(z, labels);
            return std::pair{r.loss, r.gradient};
        },
        logits);
    INFO(report.where << " " << report.max_error);
    CHECK(report.passed(1e-6));
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
