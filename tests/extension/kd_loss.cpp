// A distillation loss written outside the library: Jensen–Shannon distillation. This file touches
// no library header; it only includes them. docs/extending.md ("A new loss") walks through it.
//
//   L = α·T²·(1/B)·Σ_b JS(p_t,b ‖ p_s,b) + (1 − α)·(1/B)·Σ_b CE(y_b, softmax(z_s,b))
//   JS(p ‖ q) = ½·KL(p ‖ m) + ½·KL(q ‖ m),  m = (p + q)/2,  p_s = softmax(z_s/T), p_t =
//   softmax(z_t/T)
//
// JS is symmetric and bounded (≤ log 2), so one confidently wrong teacher column cannot dominate a
// batch the way it can under KL. Its derivative with respect to the student's probabilities is
//   ∂JS/∂p_s,i = ½·log(p_s,i / m_i)           (the terms from m cancel),
// and through the softmax at T (∂p_s,j/∂z_i = p_s,j·(δ_ij − p_s,i)/T):
//   ∂JS/∂z_s,i = (1/T)·p_s,i·(g_i − Σ_j p_s,j·g_j),   g_i = ½·log(p_s,i / m_i).
// With the T² factor (as in Distillation, so the soft gradient's size does not fall with T):
//   ∂L/∂z_s,i = α·T·p_s,i·(g_i − ḡ)/B + (1 − α)·(softmax(z_s)_i − [i = y])/B.

#include <catch2/catch.hpp>

#include <chrysalis/boundary_distill.hpp>
#include <chrysalis/chrysalis.hpp>
#include <chrysalis/cross_modal.hpp>

#include <algorithm>
#include <cmath>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace research {

namespace cy = chrysalis;

/// log Σ_i exp(t·z_i), stable: the largest term is factored out. In double, whatever z holds.
template <class Col>
double log_sum_exp(const Col& z, double t) {
    const double m = double(z.maxCoeff()) * t;
    double s = 0;
    for (Eigen::Index i = 0; i < z.size(); ++i) s += std::exp(double(z(i)) * t - m);
    return m + std::log(s);
}

/// log((e^a + e^b)/2), stable for any finite a, b (log-probabilities far below 0 included).
inline double log_mean_exp(double a, double b) {
    const double hi = std::max(a, b), lo = std::min(a, b);
    return hi + std::log1p(std::exp(lo - hi)) - std::log(2.0);
}

/// Jensen–Shannon distillation: models chrysalis::DistillationLoss in float and double.
struct JensenShannonDistillation {
    double temperature = 2.0;  ///< T > 0
    double alpha = 0.9;        ///< weight of the soft term, in [0, 1]

    /// Into-preallocated form, the one the training loops call.
    /// Requires: student and teacher logits classes × B of one scalar type; labels B labels in
    ///   [0, classes) (may be empty when alpha = 1); gradient classes × B (a Matrix is resized).
    /// Ensures: overwrites gradient with ∂L/∂student and returns L; allocates nothing.
    /// Throws: chrysalis::ShapeError / ValueError, as the shipped losses do.
    template <class ZS, class ZT, class G>
    typename ZS::Scalar operator()(const Eigen::MatrixBase<ZS>& student,
                                   const Eigen::MatrixBase<ZT>& teacher,
                                   std::span<const int> labels, G&& gradient) const {
        using S = typename ZS::Scalar;
        constexpr const char* what = "research::JensenShannonDistillation";
        if (!(temperature > 0) || !std::isfinite(temperature) || !(alpha >= 0 && alpha <= 1))
            throw cy::ValueError(std::string(what) + ": needs T > 0 and alpha in [0, 1]");
        const Eigen::Index classes = student.rows(), batch = student.cols();
        if (teacher.rows() != classes || teacher.cols() != batch)
            throw cy::ShapeError(std::string(what) + ": the teacher logits' shape differs");
        if (alpha < 1 || !labels.empty()) cy::check_labels(labels, classes, batch, what);
        using Out = std::remove_cvref_t<G>;
        if constexpr (std::is_base_of_v<Eigen::PlainObjectBase<Out>, Out>) {
            gradient.resize(classes, batch);  // a Matrix; a Ref or a block must already fit
        }
        if (gradient.rows() != classes || gradient.cols() != batch)
            throw cy::ShapeError(std::string(what) + ": the gradient's shape differs");
        if (batch == 0) return S(0);

        const double t = 1.0 / temperature, inv_b = 1.0 / double(batch);
        double js_sum = 0, ce_sum = 0;
        for (Eigen::Index b = 0; b < batch; ++b) {
            const auto zs = student.col(b);
            const auto zt = teacher.col(b);
            const double lse_s = log_sum_exp(zs, t), lse_t = log_sum_exp(zt, t);
            const double lse_1 = alpha < 1 ? log_sum_exp(zs, 1.0) : 0.0;
            // First pass: JS and ḡ = Σ_j p_s,j·g_j.
            double js = 0, g_mean = 0;
            for (Eigen::Index i = 0; i < classes; ++i) {
                const double lps = double(zs(i)) * t - lse_s, lpt = double(zt(i)) * t - lse_t;
                const double lm = log_mean_exp(lps, lpt);
                const double ps = std::exp(lps), pt = std::exp(lpt);
                js += 0.5 * (pt * (lpt - lm) + ps * (lps - lm));  // 0·(finite) = 0: no 0·log 0
                g_mean += ps * 0.5 * (lps - lm);
            }
            // Second pass: the gradient column.
            for (Eigen::Index i = 0; i < classes; ++i) {
                const double lps = double(zs(i)) * t - lse_s, lpt = double(zt(i)) * t - lse_t;
                const double g = 0.5 * (lps - log_mean_exp(lps, lpt));
                double d = alpha * temperature * std::exp(lps) * (g - g_mean);
                if (alpha < 1) d += (1 - alpha) * std::exp(double(zs(i)) - lse_1);
                gradient(i, b) = S(d * inv_b);
            }
            if (alpha < 1) {
                const int y = labels[std::size_t(b)];
                gradient(y, b) -= S((1 - alpha) * inv_b);
                ce_sum += lse_1 - double(zs(y));
            }
            js_sum += js;
        }
        return S(alpha * temperature * temperature * js_sum * inv_b + (1 - alpha) * ce_sum * inv_b);
    }

    /// Returning form: {L, ∂L/∂student}, the same numbers as the into form.
    template <class ZS, class ZT>
    cy::LossResult<typename ZS::Scalar> operator()(const Eigen::MatrixBase<ZS>& student,
                                                   const Eigen::MatrixBase<ZT>& teacher,
                                                   std::span<const int> labels) const {
        cy::LossResult<typename ZS::Scalar> r;
        r.loss = (*this)(student, teacher, labels, r.gradient);
        return r;
    }
};

static_assert(cy::DistillationLoss<JensenShannonDistillation, float>);
static_assert(cy::DistillationLoss<JensenShannonDistillation, double>);

/// For the training tests: small random logits, classes × batch, uniform in [−scale, scale].
inline cy::Matrix<double> random_logits(cy::Rng& rng, Eigen::Index classes, Eigen::Index batch,
                                        double scale) {
    cy::Matrix<double> z(classes, batch);
    for (Eigen::Index i = 0; i < z.size(); ++i) z.data()[i] = rng.uniform(-scale, scale);
    return z;
}

}  // namespace research

using research::JensenShannonDistillation;
namespace cy = chrysalis;

TEST_CASE("a user's Jensen-Shannon loss models DistillationLoss in float and double",
          "[extension][losses]") {
    STATIC_REQUIRE(cy::DistillationLoss<JensenShannonDistillation, float>);
    STATIC_REQUIRE(cy::DistillationLoss<JensenShannonDistillation, double>);
    STATIC_REQUIRE_FALSE(cy::Loss<JensenShannonDistillation, float>);
}

TEST_CASE("the Jensen-Shannon loss's gradient passes finite differences in double",
          "[extension][losses][gradcheck]") {
    cy::Rng rng(cy::Seed{31});
    const cy::Matrix<double> zs = research::random_logits(rng, 6, 5, 3);
    const cy::Matrix<double> zt = research::random_logits(rng, 6, 5, 3);
    const std::vector<int> labels{1, 0, 5, 2, 2};
    for (double t : {1.0, 2.5, 10.0})
        for (double alpha : {0.0, 0.6, 1.0}) {
            INFO("T = " << t << ", alpha = " << alpha);
            const auto report = cy::gradcheck_loss(
                JensenShannonDistillation{.temperature = t, .alpha = alpha}, zs, zt, labels);
            INFO(report.where << ": " << report.max_error);
            CHECK(report.checked == 30);
            CHECK(report.passed(1e-6));
        }
}

TEST_CASE("the Jensen-Shannon loss has the values the definition gives", "[extension][losses]") {
    cy::Rng rng(cy::Seed{32});
    const cy::Matrix<double> zs = research::random_logits(rng, 4, 3, 2);
    const cy::Matrix<double> zt = research::random_logits(rng, 4, 3, 2);
    const JensenShannonDistillation js{.temperature = 2.0, .alpha = 1.0};
    // The definition, matrix-wise, from chrysalis::softmax: ½·KL(p_t‖m) + ½·KL(p_s‖m) averaged.
    const cy::Matrix<double> ps = cy::softmax(zs, 2.0), pt = cy::softmax(zt, 2.0);
    const cy::Matrix<double> m = (ps + pt) / 2;
    const double expected = 4.0 *
                            (0.5 * (pt.array() * (pt.array() / m.array()).log()).sum() +
                             0.5 * (ps.array() * (ps.array() / m.array()).log()).sum()) /
                            3;
    const auto r = js(zs, zt, std::span<const int>{});
    // Two double evaluations of a sum of 24 terms of order 0.1: agreement to ~1e-15, asked 1e-12.
    CHECK(std::abs(r.loss - expected) <= 1e-12);
    // Symmetric in student and teacher, zero at equality (with a zero gradient), at most T²·log 2.
    CHECK(std::abs(js(zt, zs, std::span<const int>{}).loss - r.loss) <= 1e-12);
    // At equality log p − log m is the rounding of log1p(1) − log 2 (a few 1e-16) per term, times
    // |log p| ≲ 5 and T² = 4: 1e-13 is far above it and far below any real divergence.
    const auto same = js(zs, zs, std::span<const int>{});
    CHECK(std::abs(same.loss) <= 1e-13);
    CHECK(same.gradient.cwiseAbs().maxCoeff() <= 1e-13);
    cy::Matrix<double> far = zt;
    far.row(0).setConstant(1e4);  // the teacher certain of class 0, the student not
    CHECK(js(zs, far, std::span<const int>{}).loss <= 4.0 * std::log(2.0));
    CHECK(js(zs, far, std::span<const int>{}).gradient.allFinite());
}

TEST_CASE("the Jensen-Shannon loss's two call forms agree, and float follows double",
          "[extension][losses]") {
    cy::Rng rng(cy::Seed{33});
    const cy::Matrix<double> zs = research::random_logits(rng, 5, 4, 3);
    const cy::Matrix<double> zt = research::random_logits(rng, 5, 4, 3);
    const std::vector<int> labels{4, 0, 2, 2};
    JensenShannonDistillation js{.temperature = 3.0, .alpha = 0.5};
    const auto r = js(zs, zt, labels);
    cy::Matrix<double> g(5, 4);
    CHECK(js(cy::ConstMatrixRef<double>(zs), cy::ConstMatrixRef<double>(zt), labels,
             cy::MatrixRef<double>(g)) == r.loss);
    CHECK(g == r.gradient);
    // Computed in double either way: float differs by the rounding of the logits (≈ 3·6e-8
    // relative on logits up to 3, times T·∂L/∂z ≲ 1) and of the result — far below 1e-5.
    const cy::Matrix<float> fs = zs.cast<float>(), ft = zt.cast<float>();
    const auto f = js(fs, ft, labels);
    CHECK(std::abs(double(f.loss) - r.loss) <= 1e-5 * std::max(1.0, std::abs(r.loss)));
    CHECK((f.gradient.cast<double>() - r.gradient).cwiseAbs().maxCoeff() <= 1e-6);
    // Errors as the shipped losses give them.
    CHECK_THROWS_AS(js(zs, zt, std::vector<int>{0, 1}), cy::ShapeError);
    CHECK_THROWS_WITH(js(zs, zt, std::vector<int>{0, 1, 5, 2}),
                      "research::JensenShannonDistillation: label 5 of sample 2 is outside [0, 5)");
}

namespace {

/// 4 classes of 16 features: a class's quarter of the features is bright, plus noise.
cy::Dataset<float> quarters(Eigen::Index n, cy::Seed seed) {
    cy::Rng rng(seed);
    cy::Dataset<float> data;
    data.classes = 4;
    data.features.resize(16, n);
    for (Eigen::Index j = 0; j < n; ++j) {
        const int label = int(rng.below(4));
        data.labels.push_back(label);
        for (int f = 0; f < 16; ++f)
            data.features(f, j) = float((f / 4 == label ? 0.7 : 0.1) + 0.3 * rng.uniform());
    }
    return data;
}

}  // namespace

TEST_CASE("the Jensen-Shannon loss trains a student with chrysalis::distill",
          "[extension][losses]") {
    using Teacher = cy::Sequential<cy::Dense<16, 64>, cy::ReLU, cy::Dense<64, 4>>;
    using Student = cy::Sequential<cy::Dense<16, 8>, cy::ReLU, cy::Dense<8, 4>>;
    const auto train = quarters(400, cy::Seed{1}), test = quarters(400, cy::Seed{2});
    const cy::TrainOptions<float> o{
        .epochs = 6, .batch_size = 16, .seed = cy::Seed{3}, .progress = false};
    Teacher teacher(cy::Seed{4});
    cy::Adam teacher_adam{.lr = 0.01};
    cy::fit(teacher, train, cy::CrossEntropy{}, teacher_adam, o);
    const cy::Matrix<float> logits = cy::predict_logits(teacher, train);

    for (const double alpha : {1.0, 0.5}) {  // soft targets alone, and with the labels
        Student cached(cy::Seed{5}), live(cy::Seed{5});
        cy::Adam a{.lr = 0.01}, b{.lr = 0.01};
        const JensenShannonDistillation kd{.temperature = 2.0, .alpha = alpha};
        const auto history = cy::distill(cached, train, logits, kd, a, o);
        cy::distill(live, train, teacher, kd, b, o);
        INFO("alpha " << alpha << ": loss " << history.front().loss << " -> "
                      << history.back().loss);
        // Its own objective falls, and the student classifies this easy problem (chance 0.25;
        // the teacher is above 0.95) well: both only if the loss's gradient is followed.
        CHECK(history.back().loss < history.front().loss);
        CHECK(cy::accuracy(cached, test) > 0.9);
        CHECK(cy::accuracy(live, test) > 0.9);  // and from a teacher run on every batch
    }
}

namespace {
/// Losses written exactly in the concepts' own form, generic in the scalar: ConstMatrixRef<S>
/// and MatrixRef<S> with S deduced. Such a function does not take an Eigen Block (deduction
/// fails), so the loops must hand it the Refs the concepts name. Each forwards to a library
/// loss, so that training with it must match training with that loss to the bit.
struct RefCrossEntropy {
    template <class S>
    S operator()(cy::ConstMatrixRef<S> logits, std::span<const int> labels,
                 cy::MatrixRef<S> gradient) const {
        return cy::CrossEntropy{}(logits, labels, gradient);
    }
};
struct RefDistillation {
    double temperature = 2.0, alpha = 0.5;
    template <class S>
    S operator()(cy::ConstMatrixRef<S> student, cy::ConstMatrixRef<S> teacher,
                 std::span<const int> labels, cy::MatrixRef<S> gradient) const {
        return cy::Distillation{.temperature = temperature, .alpha = alpha}(student, teacher,
                                                                            labels, gradient);
    }
};
static_assert(cy::Loss<RefCrossEntropy, float> && cy::DistillationLoss<RefDistillation, float>);
}  // namespace

TEST_CASE("losses written in the concepts' Ref form train in every loop, as the library's do",
          "[extension][losses]") {
    using Teacher = cy::Sequential<cy::Dense<16, 32>, cy::ReLU, cy::Dense<32, 4>>;
    using Student = cy::Sequential<cy::Dense<16, 8>, cy::ReLU, cy::Dense<8, 4>>;
    const auto train = quarters(96, cy::Seed{6});
    const cy::TrainOptions<float> o{
        .epochs = 2, .batch_size = 16, .seed = cy::Seed{7}, .progress = false};
    const auto weights = [](auto& net) {
        std::vector<cy::Matrix<float>> w;
        net.visit_parameters([&](auto& p, auto&) { w.emplace_back(p); });
        return w;
    };
    Teacher teacher(cy::Seed{8}), teacher_ref(cy::Seed{8});
    cy::Sgd s1{.lr = 0.05}, s2{.lr = 0.05};
    cy::fit(teacher, train, cy::CrossEntropy{}, s1, o);
    cy::fit(teacher_ref, train, RefCrossEntropy{}, s2, o);
    CHECK(weights(teacher) == weights(teacher_ref));

    const cy::Matrix<float> logits = cy::predict_logits(teacher, train);
    const cy::Distillation kd{.temperature = 2.0, .alpha = 0.5};
    const RefDistillation ref_kd;
    const auto both = [&](const char* loop, auto&& run) {
        Student a(cy::Seed{9}), b(cy::Seed{9});
        cy::Sgd sa{.lr = 0.05}, sb{.lr = 0.05};
        run(a, sa, kd);
        run(b, sb, ref_kd);
        INFO(loop);
        CHECK(weights(a) == weights(b));
    };
    both("distill, cached logits", [&](Student& s, cy::Sgd& opt, const auto& loss) {
        cy::distill(s, train, logits, loss, opt, o);
    });
    both("distill, live teacher", [&](Student& s, cy::Sgd& opt, const auto& loss) {
        cy::distill(s, train, teacher, loss, opt, o);
    });
    both("distill_paired", [&](Student& s, cy::Sgd& opt, const auto& loss) {
        cy::distill_paired(s, train, teacher, train, loss, opt, o);
    });
    both("distill_with_boundary_samples", [&](Student& s, cy::Sgd& opt, const auto& loss) {
        cy::distill_with_boundary_samples(s, train, teacher, loss, opt, o,
                                          cy::BssOptions{.samples_per_batch = 4});
    });
}
