#pragma once
// chrysalis/losses.hpp — losses over classes × batch logits: value and gradient with respect to
// the logits.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>

#include "chrysalis/config.hpp"
#include "chrysalis/detail/checked.hpp"
#include "chrysalis/detail/kd_kernel.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/softmax.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// A loss value and its gradient with respect to the logits.
template <class Scalar>
struct LossResult {
    Scalar loss;
    Matrix<Scalar> gradient;
};

namespace detail {
/// Throws ShapeError unless there is one label per column, ValueError unless each label is in
/// [0, classes).
inline void check_labels(std::span<const int> labels, Eigen::Index classes, Eigen::Index batch,
                         const char* what) {
    if (Eigen::Index(labels.size()) != batch) {
        throw ShapeError(concat(what, ": ", labels.size(), " labels for a batch of ", batch,
                                " samples (one label per logits column)"));
    }
    for (std::size_t b = 0; b < labels.size(); ++b) {
        if (labels[b] < 0 || labels[b] >= classes) {
            throw ValueError(concat(what, ": label ", labels[b], " of sample ", b,
                                    " is outside [0, ", classes, ")"));
        }
    }
}
}  // namespace detail

/// Cross-entropy of hard labels, from logits, batch mean:
///   L = −(1/B)·Σ_b log softmax(z_b)[y_b],     ∂L/∂z_b = (softmax(z_b) − onehot(y_b))/B.
/// Stable for any finite logits: the loss uses log_softmax (never log of a probability).
struct CrossEntropy {
    /// Returns the loss and the gradient (allocates the gradient).
    /// Throws ShapeError for a label count other than the batch size, ValueError for a label
    /// outside [0, classes).
    template <class Derived>
    LossResult<typename Derived::Scalar> operator()(const Eigen::MatrixBase<Derived>& logits,
                                                    std::span<const int> labels) const {
        LossResult<typename Derived::Scalar> r;
        r.loss = (*this)(logits, labels, r.gradient);
        return r;
    }

    /// Writes the gradient into `gradient` (resized if it is a resizable matrix; allocates
    /// nothing when it already has the logits' size) and returns the loss.
    template <class Derived, class Out>
    typename Derived::Scalar operator()(const Eigen::MatrixBase<Derived>& logits,
                                        std::span<const int> labels, Out&& gradient) const {
        using S = typename Derived::Scalar;
        const Eigen::Index classes = logits.rows(), batch = logits.cols();
        detail::check_labels(labels, classes, batch, "chrysalis::CrossEntropy");
        if (batch == 0) return S(0);
        // log p first, for the loss; then p, for the gradient, in the same storage.
        log_softmax(logits, 1.0, gradient);
        double loss = 0;
        for (Eigen::Index b = 0; b < batch; ++b) loss -= double(gradient(labels[b], b));
        softmax(logits, 1.0, gradient);
        const S inv_b = S(1) / S(batch);
        for (Eigen::Index b = 0; b < batch; ++b) gradient(labels[b], b) -= S(1);
        gradient *= inv_b;
        return S(loss / double(batch));
    }
};

namespace detail {

/// Throws ShapeError unless `teacher` has the student's shape, naming `what`.
template <class A, class B>
void check_same_shape(const Eigen::MatrixBase<A>& student, const Eigen::MatrixBase<B>& teacher,
                      const char* what, const char* teacher_name) {
    if (student.rows() != teacher.rows() || student.cols() != teacher.cols()) {
        throw ShapeError(concat(what, ": the student logits are ", student.rows(), "x",
                                student.cols(), " but the ", teacher_name, " are ", teacher.rows(),
                                "x", teacher.cols(), " (classes x batch must agree)"));
    }
}

/// Compile-time check that two fixed class counts agree (either may be Dynamic).
template <class A, class B>
constexpr void check_classes_at_compile_time() {
    static_assert(int(A::RowsAtCompileTime) == Eigen::Dynamic ||
                      int(B::RowsAtCompileTime) == Eigen::Dynamic ||
                      int(A::RowsAtCompileTime) == int(B::RowsAtCompileTime),
                  "chrysalis: the teacher and the student disagree on the number of classes "
                  "(their logits have different row counts)");
}

}  // namespace detail

/// Knowledge distillation (Hinton, Vinyals & Dean 2015):
///   L = α·T²·KL(softmax(z_t/T) ‖ softmax(z_s/T)) + (1 − α)·CE(z_s, y),
/// each term the batch mean; ∂L/∂z_s = α·T·(p_s^T − p_t^T)/B + (1 − α)·(p_s − onehot(y))/B.
/// The soft term's gradient shrinks as 1/T² (p_s^T − p_t^T is O(1/T) for logits that differ by
/// O(1), and ∂/∂z_s adds another 1/T), so it is multiplied by T² to keep its weight against the
/// hard term independent of T.
///
/// `Distillation kd{.temperature = 4, .alpha = 0.9};` throws ValueError at
/// construction for T ≤ 0, NaN or ∞, or α outside [0, 1], naming the parameter.
struct Distillation {
    detail::Checked<"chrysalis::Distillation: temperature", detail::Rule::positive> temperature =
        4.0;
    detail::Checked<"chrysalis::Distillation: alpha", detail::Rule::unit_closed> alpha = 0.9;

    /// From the teacher's logits (same classes × batch as the student's). Returns {loss, ∂L/∂z_s}.
    template <class ZS, class ZT>
    LossResult<typename ZS::Scalar> operator()(const Eigen::MatrixBase<ZS>& student,
                                               const Eigen::MatrixBase<ZT>& teacher,
                                               std::span<const int> labels) const {
        LossResult<typename ZS::Scalar> r;
        r.loss = (*this)(student, teacher, labels, r.gradient);
        return r;
    }
    /// The same, writing ∂L/∂z_s into `gradient` (resized if resizable; no allocation when it
    /// already has the student's size).
    template <class ZS, class ZT, class G>
    typename ZS::Scalar operator()(const Eigen::MatrixBase<ZS>& student,
                                   const Eigen::MatrixBase<ZT>& teacher,
                                   std::span<const int> labels, G&& gradient) const {
        return run(student, teacher, labels, gradient, false, "teacher logits");
    }
    /// Without labels: α must be 1 (otherwise ValueError).
    template <class ZS, class ZT>
    LossResult<typename ZS::Scalar> operator()(const Eigen::MatrixBase<ZS>& student,
                                               const Eigen::MatrixBase<ZT>& teacher) const {
        return (*this)(student, teacher, std::span<const int>{});
    }
    /// From soft targets: the teacher's probabilities at this temperature (columns summing to
    /// 1, e.g. an ensemble's average), instead of its logits.
    template <class ZS, class PT, class G>
    typename ZS::Scalar soft_targets(const Eigen::MatrixBase<ZS>& student,
                                     const Eigen::MatrixBase<PT>& probabilities,
                                     std::span<const int> labels, G&& gradient) const {
        return run(student, probabilities, labels, gradient, true, "teacher probabilities");
    }
    template <class ZS, class PT>
    LossResult<typename ZS::Scalar> soft_targets(const Eigen::MatrixBase<ZS>& student,
                                                 const Eigen::MatrixBase<PT>& probabilities,
                                                 std::span<const int> labels = {}) const {
        LossResult<typename ZS::Scalar> r;
        r.loss = soft_targets(student, probabilities, labels, r.gradient);
        return r;
    }

  private:
    template <class ZS, class ZT, class G>
    typename ZS::Scalar run(const Eigen::MatrixBase<ZS>& student,
                            const Eigen::MatrixBase<ZT>& teacher, std::span<const int> labels,
                            G& gradient, bool soft, const char* teacher_name) const {
        detail::check_classes_at_compile_time<ZS, ZT>();
        static_assert(std::is_same_v<typename ZS::Scalar, typename ZT::Scalar>,
                      "chrysalis::Distillation: student and teacher must have one scalar type");
        detail::check_same_shape(student, teacher, "chrysalis::Distillation", teacher_name);
        if (labels.empty() && student.cols() > 0 && double(alpha) < 1) {
            throw ValueError(detail::concat(
                "chrysalis::Distillation: no labels given but alpha = ", double(alpha),
                " weighs a hard-label term; pass labels or use alpha = 1"));
        }
        if (double(alpha) < 1)
            detail::check_labels(labels, student.rows(), student.cols(), "chrysalis::Distillation");
        gradient.resize(student.rows(), student.cols());
        if (student.cols() == 0) return 0;
        return typename ZS::Scalar(detail::distillation_loss(student, teacher, labels, temperature,
                                                             alpha, soft, gradient));
    }
};

/// Cross-entropy against soft targets (Hinton et al.'s form, scaled by T² like Distillation):
///   L = T²·(1/B)·Σ_b Σ_i −p_t,i·log softmax(z_s/T)_i,   ∂L/∂z_s = T·(p_s^T − p_t)/B,
/// with p_t the teacher's probabilities at T (columns summing to 1). It differs from the KL term
/// of Distillation by the teacher's entropy, a constant: the same gradient, another value.
struct SoftTargetCrossEntropy {
    detail::Checked<"chrysalis::SoftTargetCrossEntropy: temperature", detail::Rule::positive>
        temperature = 4.0;

    template <class ZS, class PT>
    LossResult<typename ZS::Scalar> operator()(const Eigen::MatrixBase<ZS>& student,
                                               const Eigen::MatrixBase<PT>& probabilities) const {
        using S = typename ZS::Scalar;
        detail::check_classes_at_compile_time<ZS, PT>();
        detail::check_same_shape(student, probabilities, "chrysalis::SoftTargetCrossEntropy",
                                 "teacher probabilities");
        LossResult<S> r;
        r.gradient.resize(student.rows(), student.cols());
        const double t = 1.0 / double(temperature), tt = double(temperature);
        const double inv_b = student.cols() ? 1.0 / double(student.cols()) : 0.0;
        double sum = 0;
        for (Eigen::Index b = 0; b < student.cols(); ++b) {
            const auto [m, log_s] = detail::softmax_stats(student.col(b), t);
            for (Eigen::Index i = 0; i < student.rows(); ++i) {
                const double log_ps = (double(student(i, b)) - m) * t - log_s;
                const double pt = double(probabilities(i, b));
                if (pt > 0) sum -= pt * log_ps;
                r.gradient(i, b) = S(tt * (std::exp(log_ps) - pt) * inv_b);
            }
        }
        r.loss = S(tt * tt * sum * inv_b);
        return r;
    }
};

/// Logit matching (Ba & Caruana 2014): L = (1/2B)·Σ_b ‖z_s − z_t‖²,  ∂L/∂z_s = (z_s − z_t)/B.
/// The high-temperature limit of Distillation for zero-mean logits.
struct LogitMatching {
    template <class ZS, class ZT>
    LossResult<typename ZS::Scalar> operator()(const Eigen::MatrixBase<ZS>& student,
                                               const Eigen::MatrixBase<ZT>& teacher) const {
        using S = typename ZS::Scalar;
        detail::check_classes_at_compile_time<ZS, ZT>();
        detail::check_same_shape(student, teacher, "chrysalis::LogitMatching", "teacher logits");
        const double inv_b = student.cols() ? 1.0 / double(student.cols()) : 0.0;
        LossResult<S> r;
        r.gradient = ((student - teacher) * S(inv_b)).eval();
        r.loss = S(0.5 * (student - teacher).template cast<double>().squaredNorm() * inv_b);
        return r;
    }
};

/// Reverse KL, T²-scaled: L = T²·(1/B)·Σ_b KL(p_s^T ‖ p_t^T), mode-seeking where the forward
/// KL of Distillation is mass-covering;
///   ∂L/∂z_s,i = T·p_s,i·(log p_s,i − log p_t,i − KL_b)/B.
struct ReverseKL {
    detail::Checked<"chrysalis::ReverseKL: temperature", detail::Rule::positive> temperature = 4.0;

    template <class ZS, class ZT>
    LossResult<typename ZS::Scalar> operator()(const Eigen::MatrixBase<ZS>& student,
                                               const Eigen::MatrixBase<ZT>& teacher) const {
        using S = typename ZS::Scalar;
        detail::check_classes_at_compile_time<ZS, ZT>();
        detail::check_same_shape(student, teacher, "chrysalis::ReverseKL", "teacher logits");
        LossResult<S> r;
        r.gradient.resize(student.rows(), student.cols());
        const double tt = double(temperature), t = 1.0 / tt;
        const double inv_b = student.cols() ? 1.0 / double(student.cols()) : 0.0;
        double sum = 0;
        for (Eigen::Index b = 0; b < student.cols(); ++b) {
            const auto [ms, log_ss] = detail::softmax_stats(student.col(b), t);
            const auto [mt, log_st] = detail::softmax_stats(teacher.col(b), t);
            double kl = 0;
            for (Eigen::Index i = 0; i < student.rows(); ++i) {
                const double log_ps = (double(student(i, b)) - ms) * t - log_ss;
                const double log_pt = (double(teacher(i, b)) - mt) * t - log_st;
                kl += std::exp(log_ps) * (log_ps - log_pt);
            }
            for (Eigen::Index i = 0; i < student.rows(); ++i) {
                const double log_ps = (double(student(i, b)) - ms) * t - log_ss;
                const double log_pt = (double(teacher(i, b)) - mt) * t - log_st;
                r.gradient(i, b) = S(tt * std::exp(log_ps) * (log_ps - log_pt - kl) * inv_b);
            }
            sum += kl;
        }
        r.loss = S(tt * tt * sum * inv_b);
        return r;
    }
};

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
