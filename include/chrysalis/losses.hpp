#pragma once
// chrysalis/losses.hpp — losses over classes × batch logits: value and gradient with respect to
// the logits.
//
// Every loss has two call forms with identical results:
//   auto [loss, gradient] = kd(student, teacher, labels);   // returning: allocates the gradient
//   Scalar loss = kd(student, teacher, labels, gradient);   // into the caller's matrix
// The into form resizes a resizable Matrix (nothing is allocated once it has the logits' size)
// and requires any other writable matrix (MatrixRef, Map, block) to have that size already
// (ShapeError otherwise). Labels are any LabelRange (chrysalis/labels.hpp): int labels are read
// where they are, other integer types are converted (one allocation per call). CrossEntropy
// models the Loss concept, the four distillation losses DistillationLoss
// (chrysalis/concepts/loss.hpp), in float and double. Every loss is a batch mean: logits with no
// class (0 rows) or no sample (0 columns) are refused with ShapeError naming the loss, at the
// door, so the kernels never see an empty column.

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
#include "chrysalis/detail/loss_checks.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/labels.hpp"
#include "chrysalis/softmax.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// A loss value and its gradient with respect to the logits: what each loss's returning call
/// form gives. (The into-preallocated form returns the value and writes the gradient into the
/// caller's matrix; both forms give identical numbers.)
template <class Scalar>
struct LossResult {
    using scalar_type = Scalar;
    Scalar loss;
    Matrix<Scalar> gradient;
};

/// Cross-entropy of hard labels, from logits, batch mean:
///   L = −(1/B)·Σ_b log softmax(z_b)[y_b],     ∂L/∂z_b = (softmax(z_b) − onehot(y_b))/B.
/// Stable for any finite logits: the loss uses log_softmax (never log of a probability), and
/// a column whose log p_y overflows to −∞ in float (a logit gap beyond FLT_MAX) is taken again
/// in double, so that L is finite wherever its value fits the scalar type.
/// With label smoothing ε (PyTorch's CrossEntropyLoss(label_smoothing = ε)) the target is
/// (1 − ε)·onehot(y) + ε/K over the K classes:
///   L = (1/B)·Σ_b [(1 − ε)·(−log p_y) + ε·(1/K)·Σ_k (−log p_k)],
///   ∂L/∂z = (p − (1 − ε)·onehot(y) − ε/K)/B;
/// Müller, Kornblith & Hinton 2019 ("When does label smoothing help?") compare it with
/// distillation, whose soft targets it replaces by a uniform share.
/// `CrossEntropy{.label_smoothing = 0.1}`; ε in [0, 1] (ValueError at construction otherwise,
/// naming it). ε = 0, the default, is the plain loss, computed as it always was.
/// Models Loss<CrossEntropy, float> and Loss<CrossEntropy, double>.
struct CrossEntropy {
    /// ε, the share of the target spread evenly over the classes: in [0, 1].
    detail::Checked<"chrysalis::CrossEntropy: label_smoothing", detail::Rule::unit_closed>
        label_smoothing = 0.0;

    /// Returning form.
    /// Requires: `logits` classes × B of float or double; `labels` a LabelRange of B labels.
    /// Ensures: returns {L, ∂L/∂logits} (the gradient allocated, classes × B); the same numbers
    ///   as the into form.
    /// Throws: ShapeError for logits with no rows (0 classes) or no columns (B = 0: the mean of
    ///   no samples is undefined), or a label count other than B; ValueError for a label outside
    ///   [0, classes) or not fitting in an int — each naming chrysalis::CrossEntropy.
    template <class Derived, LabelRange Labels = std::span<const int>>
    LossResult<typename Derived::Scalar> operator()(const Eigen::MatrixBase<Derived>& logits,
                                                    const Labels& labels) const {
        LossResult<typename Derived::Scalar> r;
        r.loss = (*this)(logits, labels, r.gradient);
        return r;
    }

    /// Into-preallocated form.
    /// Requires: as the returning form; `gradient` a writable matrix of the logits' scalar type
    ///   with contiguous columns, not overlapping `logits`.
    /// Ensures: overwrites `gradient` with ∂L/∂logits and returns L; allocates nothing when
    ///   `gradient` already has the logits' size and the labels are int.
    /// Throws: as the returning form; ShapeError for a non-resizable `gradient` of another size.
    template <class Derived, LabelRange Labels = std::span<const int>, detail::GradientOutput Out>
    typename Derived::Scalar operator()(const Eigen::MatrixBase<Derived>& logits,
                                        const Labels& labels, Out&& gradient) const {
        using S = typename Derived::Scalar;
        constexpr const char* what = "chrysalis::CrossEntropy";
        detail::check_gradient_scalar<Derived, Out>();
        const Eigen::Index classes = logits.rows(), batch = logits.cols();
        detail::check_loss_logits(classes, batch, what, "the logits");
        const IntLabels ints = int_labels(labels, what);
        const std::span<const int> y = ints.span();
        check_labels(y, classes, batch, what);
        detail::prepare_gradient(gradient, classes, batch, what);
        // log p first, for the loss; then p, for the gradient, in the same storage.
        log_softmax(logits, 1.0, gradient);
        // Σ −log p / B: summed first (the usual bits), and also term by term divided by B, which
        // stays finite where double logits make the sum overflow though the mean fits (−log p of
        // 1.6e308 in each of two samples).
        const double eps = double(label_smoothing);
        double loss = 0, loss_over_b = 0;
        for (Eigen::Index b = 0; b < batch; ++b) {
            double log_p = double(gradient(y[std::size_t(b)], b));
            // −∞ from finite float logits is z_y − max overflowing (a gap beyond FLT_MAX, the
            // true log p finite): taken again in double, so that L is finite wherever it fits.
            if (std::isinf(log_p)) {
                const auto [m, log_s] = detail::softmax_stats(logits.col(b), 1.0);
                log_p = (double(logits(y[std::size_t(b)], b)) - m) - log_s;
            }
            double sample = -log_p;
            const double smoothed = eps > 0 ? mean_neg_log_p(logits, gradient, b) : 0;
            if (eps > 0) sample = (1 - eps) * sample + eps * smoothed;
            loss += sample;
            double over_b = sample / double(batch);
            // −log p_y beyond DBL_MAX (a double gap of 2e308), whose quotient by B can fit.
            if (std::isinf(over_b)) {
                over_b = (1 - eps) * detail::neg_log_p_over(logits.col(b), y[std::size_t(b)],
                                                            double(batch)) +
                         eps * smoothed / double(batch);
            }
            loss_over_b += over_b;
        }
        softmax(logits, 1.0, gradient);
        const S inv_b = S(1) / S(batch);
        if (eps > 0) {
            // p − (1 − ε)·onehot − ε/K, in double, then divided by B.
            const double share = eps / double(classes), inv = 1 / double(batch);
            for (Eigen::Index b = 0; b < batch; ++b)
                for (Eigen::Index k = 0; k < classes; ++k)
                    gradient(k, b) = S((double(gradient(k, b)) - share -
                                        (k == y[std::size_t(b)] ? 1 - eps : 0.0)) *
                                       inv);
        } else {
            for (Eigen::Index b = 0; b < batch; ++b) gradient(y[std::size_t(b)], b) -= S(1);
            gradient *= inv_b;
        }
        return S(std::isinf(loss) ? loss_over_b : loss / double(batch));
    }

  private:
    /// −(1/K)·Σ_k log p_k of column b, in double, from the log-probabilities in `log_p`; where a
    /// float one is −∞ (a logit gap beyond FLT_MAX), from the logits again: −log p_k =
    /// (m − z_k) + log Σ e^(z − m), each gap halved first so that no difference overflows.
    template <class Z, class L>
    static double mean_neg_log_p(const Eigen::MatrixBase<Z>& logits, const L& log_p,
                                 Eigen::Index b) {
        const Eigen::Index classes = logits.rows();
        double sum = 0;
        for (Eigen::Index k = 0; k < classes; ++k) sum -= double(log_p(k, b));
        if (!std::isinf(sum)) return sum / double(classes);
        const auto [m, log_s] = detail::softmax_stats(logits.col(b), 1.0);
        double gaps = 0;
        for (Eigen::Index k = 0; k < classes; ++k)
            gaps += (0.5 * m - 0.5 * double(logits(k, b))) * (2 / double(classes));
        return gaps + log_s;
    }
};

/// Knowledge distillation (Hinton, Vinyals & Dean 2015):
///   L = α·T²·KL(softmax(z_t/T) ‖ softmax(z_s/T)) + (1 − α)·CE(z_s, y),
/// each term the batch mean; ∂L/∂z_s = α·T·(p_s^T − p_t^T)/B + (1 − α)·(p_s − onehot(y))/B.
/// The soft term's gradient shrinks as 1/T² (p_s^T − p_t^T is O(1/T) for logits that differ by
/// O(1), and ∂/∂z_s adds another 1/T), so it is multiplied by T² to keep its weight against the
/// hard term independent of T.
///
/// `Distillation kd{.temperature = 4, .alpha = 0.9};` throws ValueError at
/// construction for T outside [1e-3, 1e3] (NaN included), or α outside [0, 1], naming the
/// parameter. For finite logits the loss is ≥ 0 in its KL term (each sample's KL, ≥ 0 exactly,
/// is clamped at 0 when rounding makes it slightly negative), and finite wherever the exact L
/// fits the logits' type: double logits whose gaps overflow double (±1e308), or whose T²·KL
/// does before the 1/B, are taken again from halved gaps, each sample's terms scaled by α·T²/B
/// and (1 − α)/B first (detail::distillation_loss_from_halves). ∞ then means L is beyond range.
/// Models DistillationLoss in float and double.
///
/// Every call form requires student and teacher logits (or probabilities) of one scalar type
/// (float or double) and one shape, classes × B, with classes fixed at compile time in both
/// agreeing (otherwise the build stops); labels a LabelRange of B labels in [0, classes) —
/// with α = 1 they are unused and may be empty (given, they are checked all the same, as every
/// loss checks the labels it is given). It throws ShapeError naming
/// chrysalis::Distillation for a teacher of another shape, student logits with no rows (0
/// classes) or no columns (B = 0: the mean of no samples is undefined), a label count other
/// than B or a gradient of another size; ValueError for a bad label, or for no labels with
/// α < 1.
struct Distillation {
    /// Default 4: the temperature T of both softmaxes; in [1e-3, 1e3] (min_temperature,
    /// max_temperature: outside it T² or 1/T overflows or the KL drowns in rounding).
    detail::Checked<"chrysalis::Distillation: temperature", detail::Rule::temperature> temperature =
        4.0;
    /// Default 0.9: the weight α of the soft (KL) term; 1 − α weighs the hard-label term; in
    /// [0, 1].
    detail::Checked<"chrysalis::Distillation: alpha", detail::Rule::unit_closed> alpha = 0.9;

    /// From the teacher's logits. Returns {L, ∂L/∂z_s} (allocating the gradient).
    template <class ZS, class ZT, LabelRange Labels = std::span<const int>>
    LossResult<typename ZS::Scalar> operator()(const Eigen::MatrixBase<ZS>& student,
                                               const Eigen::MatrixBase<ZT>& teacher,
                                               const Labels& labels) const {
        LossResult<typename ZS::Scalar> r;
        r.loss = (*this)(student, teacher, labels, r.gradient);
        return r;
    }
    /// The same, writing ∂L/∂z_s into `gradient` and returning L (the DistillationLoss form).
    /// Allocates nothing when `gradient` already has the student's size and labels are int.
    template <class ZS, class ZT, LabelRange Labels = std::span<const int>,
              detail::GradientOutput G>
    typename ZS::Scalar operator()(const Eigen::MatrixBase<ZS>& student,
                                   const Eigen::MatrixBase<ZT>& teacher, const Labels& labels,
                                   G&& gradient) const {
        return run(student, teacher, labels, gradient, false, "teacher logits");
    }
    /// Without labels: α must be 1 (otherwise ValueError). Returning form.
    template <class ZS, class ZT>
    LossResult<typename ZS::Scalar> operator()(const Eigen::MatrixBase<ZS>& student,
                                               const Eigen::MatrixBase<ZT>& teacher) const {
        return (*this)(student, teacher, std::span<const int>{});
    }
    /// Without labels (α must be 1), into `gradient`.
    template <class ZS, class ZT, detail::GradientOutput G>
    typename ZS::Scalar operator()(const Eigen::MatrixBase<ZS>& student,
                                   const Eigen::MatrixBase<ZT>& teacher, G&& gradient) const {
        return (*this)(student, teacher, std::span<const int>{}, gradient);
    }
    /// From soft targets: the teacher's probabilities at this temperature (columns summing to
    /// 1, e.g. an ensemble's average), instead of its logits. Into `gradient`, returning L.
    template <class ZS, class PT, LabelRange Labels = std::span<const int>,
              detail::GradientOutput G>
    typename ZS::Scalar soft_targets(const Eigen::MatrixBase<ZS>& student,
                                     const Eigen::MatrixBase<PT>& probabilities,
                                     const Labels& labels, G&& gradient) const {
        return run(student, probabilities, labels, gradient, true, "teacher probabilities");
    }
    /// From soft targets, returning {L, ∂L/∂z_s}; labels may be omitted when α = 1.
    template <class ZS, class PT, LabelRange Labels = std::span<const int>>
    LossResult<typename ZS::Scalar> soft_targets(const Eigen::MatrixBase<ZS>& student,
                                                 const Eigen::MatrixBase<PT>& probabilities,
                                                 const Labels& labels = {}) const {
        LossResult<typename ZS::Scalar> r;
        r.loss = soft_targets(student, probabilities, labels, r.gradient);
        return r;
    }

  private:
    template <class ZS, class ZT, class Labels, class G>
    typename ZS::Scalar run(const Eigen::MatrixBase<ZS>& student,
                            const Eigen::MatrixBase<ZT>& teacher, const Labels& labels, G& gradient,
                            bool soft, const char* teacher_name) const {
        constexpr const char* what = "chrysalis::Distillation";
        detail::check_classes_at_compile_time<ZS, ZT>();
        static_assert(std::is_same_v<typename ZS::Scalar, typename ZT::Scalar>,
                      "chrysalis::Distillation: student and teacher must have one scalar type");
        detail::check_gradient_scalar<ZS, G>();
        detail::check_same_shape(student, teacher, what, teacher_name);
        detail::check_loss_logits(student.rows(), student.cols(), what, "the student logits");
        const IntLabels ints = int_labels(labels, what);
        const std::span<const int> y = ints.span();
        if (y.empty() && double(alpha) < 1) {
            throw ValueError(detail::concat(
                "chrysalis::Distillation: no labels given but alpha = ", double(alpha),
                " weighs a hard-label term; pass labels or use alpha = 1"));
        }
        // Labels given are checked even when α = 1 makes them unused, as every loss does.
        if (double(alpha) < 1 || !y.empty()) check_labels(y, student.rows(), student.cols(), what);
        detail::prepare_gradient(gradient, student.rows(), student.cols(), what);
        return typename ZS::Scalar(
            detail::distillation_loss(student, teacher, y, temperature, alpha, soft, gradient));
    }
};

/// Cross-entropy against soft targets (Hinton et al.'s form, scaled by T² like Distillation):
///   L = T²·(1/B)·Σ_b Σ_i −p_t,i·log softmax(z_s/T)_i,   ∂L/∂z_s = T·(p_s^T − p_t)/B,
/// with p_t the teacher's probabilities at T (columns summing to 1). It differs from the KL term
/// of Distillation by the teacher's entropy, a constant: the same gradient, another value.
/// Its second argument is always probabilities — in a training loop, the one that passes soft
/// targets (distill_soft), not teacher logits. Models DistillationLoss in float and double.
/// For finite logits and probabilities, L is finite wherever the exact value fits the logits'
/// type (double logits ±1e308, whose gaps overflow double, included).
///
/// Every call form: `student` and `probabilities` classes × B of one scalar type; labels
/// optional and unused by the loss — when given (the DistillationLoss form), they are checked as
/// Distillation checks them. Throws ShapeError (shapes, 0 classes, B = 0, label count, gradient
/// size) and ValueError (a label outside [0, classes)) naming chrysalis::SoftTargetCrossEntropy.
struct SoftTargetCrossEntropy {
    /// Default 4; in [1e-3, 1e3], as Distillation's (ValueError at construction otherwise).
    detail::Checked<"chrysalis::SoftTargetCrossEntropy: temperature", detail::Rule::temperature>
        temperature = 4.0;
    /// Its teacher argument is probabilities: distill_soft takes it, distill (logits) refuses it.
    static constexpr bool takes_probabilities = true;

    /// Returning {L, ∂L/∂z_s}.
    template <class ZS, class PT, LabelRange Labels = std::span<const int>>
    LossResult<typename ZS::Scalar> operator()(const Eigen::MatrixBase<ZS>& student,
                                               const Eigen::MatrixBase<PT>& probabilities,
                                               const Labels& labels = {}) const {
        LossResult<typename ZS::Scalar> r;
        r.loss = (*this)(student, probabilities, labels, r.gradient);
        return r;
    }
    /// Into `gradient` (no allocation once it has the student's size), returning L.
    template <class ZS, class PT, LabelRange Labels = std::span<const int>,
              detail::GradientOutput G>
    typename ZS::Scalar operator()(const Eigen::MatrixBase<ZS>& student,
                                   const Eigen::MatrixBase<PT>& probabilities, const Labels& labels,
                                   G&& gradient) const {
        constexpr const char* what = "chrysalis::SoftTargetCrossEntropy";
        using S = typename ZS::Scalar;
        detail::check_classes_at_compile_time<ZS, PT>();
        detail::check_gradient_scalar<ZS, G>();
        detail::check_same_shape(student, probabilities, what, "teacher probabilities");
        detail::check_loss_logits(student.rows(), student.cols(), what, "the student logits");
        detail::check_unused_labels(labels, student.rows(), student.cols(), what);
        detail::prepare_gradient(gradient, student.rows(), student.cols(), what);
        const double t = 1.0 / double(temperature), tt = double(temperature);
        const double inv_b = 1.0 / double(student.cols());  // B ≥ 1: check_loss_logits
        double sum = 0;
        for (Eigen::Index b = 0; b < student.cols(); ++b) {
            const auto [m, log_s] = detail::softmax_stats(student.col(b), t);
            for (Eigen::Index i = 0; i < student.rows(); ++i) {
                const double log_ps = (double(student(i, b)) - m) * t - log_s;
                const double pt = double(probabilities(i, b));
                // A NaN probability gives a NaN loss, and so does a negative one (as it does in
                // Distillation::soft_targets, through its log): never a plausible number.
                if (pt < 0)
                    sum = std::numeric_limits<double>::quiet_NaN();
                else if (pt != 0)
                    sum -= pt * log_ps;
                gradient(i, b) = S(tt * (std::exp(log_ps) - pt) * inv_b);
            }
        }
        const double loss = tt * tt * sum * inv_b;
        // ∞ from finite logits: a gap z_max − z_i beyond DBL_MAX (its log-probability −∞), or
        // T²·Σ beyond range before the 1/B; taken again from halved gaps, each sample's term
        // scaled first (Σ_i −p_t,i·log p_s,i = P·log S + 2t·Σ_i p_t,i·(m/2 − z_i/2), P = Σ p_t:
        // detail::soft_term_from_halves, which Distillation's KL shares),
        // so that L is finite wherever it is representable. Every term is ≥ 0: a sum beyond
        // range means the exact L is too.
        if (!std::isinf(loss) || !student.allFinite() || !probabilities.allFinite()) return S(loss);
        const detail::KdSettings k{tt, 1.0, true, inv_b};
        double scaled = 0;
        for (Eigen::Index b = 0; b < student.cols(); ++b) {
            const auto z = student.col(b);
            const auto [m, log_s] = detail::softmax_stats(z, t);
            scaled += 2 * tt * inv_b *
                      detail::soft_term_from_halves(z, probabilities, b, k, m, log_s, false);
        }
        return S(scaled);
    }
    /// Into `gradient`, without labels.
    template <class ZS, class PT, detail::GradientOutput G>
    typename ZS::Scalar operator()(const Eigen::MatrixBase<ZS>& student,
                                   const Eigen::MatrixBase<PT>& probabilities, G&& gradient) const {
        return (*this)(student, probabilities, std::span<const int>{}, gradient);
    }
};

/// Logit matching (Ba & Caruana 2014): L = (1/2B)·Σ_b ‖z_s − z_t‖²,  ∂L/∂z_s = (z_s − z_t)/B.
/// The high-temperature limit of Distillation for zero-mean logits. Models DistillationLoss in
/// float and double; labels are optional and unused (checked when given), with the errors of
/// SoftTargetCrossEntropy (0 classes and B = 0 included), naming chrysalis::LogitMatching.
/// Computed in double whatever the logits' type: each gradient entry is the double (z_s − z_t)/B
/// rounded to the scalar type once, so it is finite wherever that value is representable (float
/// logits ±3e38 give 1.5e38 for B = 4, not ∞; double logits ±1e308, whose difference overflows
/// double, give 5e307 for B = 4, from z_s/B − z_t/B); the loss is rounded once too (∞ only where
/// L itself is beyond the scalar's range).
struct LogitMatching {
    /// Returning {L, ∂L/∂z_s}.
    template <class ZS, class ZT, LabelRange Labels = std::span<const int>>
    LossResult<typename ZS::Scalar> operator()(const Eigen::MatrixBase<ZS>& student,
                                               const Eigen::MatrixBase<ZT>& teacher,
                                               const Labels& labels = {}) const {
        LossResult<typename ZS::Scalar> r;
        r.loss = (*this)(student, teacher, labels, r.gradient);
        return r;
    }
    /// Into `gradient` (no allocation once it has the student's size), returning L.
    template <class ZS, class ZT, LabelRange Labels = std::span<const int>,
              detail::GradientOutput G>
    typename ZS::Scalar operator()(const Eigen::MatrixBase<ZS>& student,
                                   const Eigen::MatrixBase<ZT>& teacher, const Labels& labels,
                                   G&& gradient) const {
        constexpr const char* what = "chrysalis::LogitMatching";
        using S = typename ZS::Scalar;
        detail::check_classes_at_compile_time<ZS, ZT>();
        detail::check_gradient_scalar<ZS, G>();
        detail::check_same_shape(student, teacher, what, "teacher logits");
        detail::check_loss_logits(student.rows(), student.cols(), what, "the student logits");
        detail::check_unused_labels(labels, student.rows(), student.cols(), what);
        detail::prepare_gradient(gradient, student.rows(), student.cols(), what);
        const double inv_b = 1.0 / double(student.cols());  // B ≥ 1: check_loss_logits
        // One explicit pass in column order: Eigen's reductions sum in an order that depends on
        // the expression type (a Ref and a Matrix of the same numbers can differ in the last
        // bit), and the two call forms must agree whatever the caller passes. The difference,
        // the loss and the gradient are formed in double and the gradient rounded to S once: in
        // float, z_s − z_t overflows for logits beyond ±FLT_MAX/2 (3e38 − (−3e38) = ∞) where
        // (z_s − z_t)/B is representable.
        double sum = 0;
        for (Eigen::Index b = 0; b < student.cols(); ++b) {
            for (Eigen::Index i = 0; i < student.rows(); ++i) {
                const double zs = double(student(i, b)), zt = double(teacher(i, b));
                const double d = zs - zt;
                sum += d * d;
                // Where d overflows (double logits beyond ±DBL_MAX/2), z_s/B − z_t/B does not.
                const bool overflowed = std::isinf(d) && std::isfinite(zs) && std::isfinite(zt);
                gradient(i, b) = S(overflowed ? zs * inv_b - zt * inv_b : d * inv_b);
            }
        }
        return S(0.5 * sum * inv_b);
    }
    /// Into `gradient`, without labels.
    template <class ZS, class ZT, detail::GradientOutput G>
    typename ZS::Scalar operator()(const Eigen::MatrixBase<ZS>& student,
                                   const Eigen::MatrixBase<ZT>& teacher, G&& gradient) const {
        return (*this)(student, teacher, std::span<const int>{}, gradient);
    }
};

/// Reverse KL, T²-scaled: L = T²·(1/B)·Σ_b KL(p_s^T ‖ p_t^T), mode-seeking where the forward
/// KL of Distillation is mass-covering;
///   ∂L/∂z_s,i = T·p_s,i·(log p_s,i − log p_t,i − KL_b)/B.
/// Models DistillationLoss in float and double; labels are optional and unused (checked when
/// given), with the errors of SoftTargetCrossEntropy (0 classes and B = 0 included), naming
/// chrysalis::ReverseKL. A −∞ student logit (a masked class, p_s = 0) contributes 0 to the loss
/// and gets a gradient of 0; a −∞ teacher logit where the student's probability is positive
/// makes the KL +∞, as it is exactly. A sample whose finite double teacher logits' gaps overflow
/// (beyond about 1e308·T) is computed again from halved logits, so that loss and gradient are
/// finite wherever representable: with e_i = z_t,i/2 − max_j z_t,j/2, D = Σ_j p_s,j·e_j and
/// H_s = Σ_j p_s,j·log p_s,j, KL = H_s + log Σ_j e^(2·e_j/T) − 2·D/T and
/// ∂L/∂z_s,i = p_s,i·(T·(log p_s,i − H_s) − 2·(e_i − D))/B.
struct ReverseKL {
    /// Default 4; in [1e-3, 1e3], as Distillation's (ValueError at construction otherwise).
    /// Each sample's KL is clamped at 0 (it is ≥ 0 exactly; rounding can make it -1e-17).
    detail::Checked<"chrysalis::ReverseKL: temperature", detail::Rule::temperature> temperature =
        4.0;

    /// Returning {L, ∂L/∂z_s}.
    template <class ZS, class ZT, LabelRange Labels = std::span<const int>>
    LossResult<typename ZS::Scalar> operator()(const Eigen::MatrixBase<ZS>& student,
                                               const Eigen::MatrixBase<ZT>& teacher,
                                               const Labels& labels = {}) const {
        LossResult<typename ZS::Scalar> r;
        r.loss = (*this)(student, teacher, labels, r.gradient);
        return r;
    }
    /// Into `gradient` (no allocation once it has the student's size), returning L.
    template <class ZS, class ZT, LabelRange Labels = std::span<const int>,
              detail::GradientOutput G>
    typename ZS::Scalar operator()(const Eigen::MatrixBase<ZS>& student,
                                   const Eigen::MatrixBase<ZT>& teacher, const Labels& labels,
                                   G&& gradient) const {
        constexpr const char* what = "chrysalis::ReverseKL";
        using S = typename ZS::Scalar;
        detail::check_classes_at_compile_time<ZS, ZT>();
        detail::check_gradient_scalar<ZS, G>();
        detail::check_same_shape(student, teacher, what, "teacher logits");
        detail::check_loss_logits(student.rows(), student.cols(), what, "the student logits");
        detail::check_unused_labels(labels, student.rows(), student.cols(), what);
        detail::prepare_gradient(gradient, student.rows(), student.cols(), what);
        const double tt = double(temperature), t = 1.0 / tt;
        const double inv_b = 1.0 / double(student.cols());  // B ≥ 1: check_loss_logits
        double sum = 0, sum_over_b = 0;
        for (Eigen::Index b = 0; b < student.cols(); ++b) {
            const auto [ms, log_ss] = detail::softmax_stats(student.col(b), t);
            const auto [mt, log_st] = detail::softmax_stats(teacher.col(b), t);
            // A class the student gives probability 0 (a masked, −∞ logit, or one whose
            // probability underflows) contributes 0·log(0/p_t) = 0 to the KL and 0 to the
            // gradient: skipped, since 0·(−∞ − log p_t) would be NaN.
            double kl = 0;
            for (Eigen::Index i = 0; i < student.rows(); ++i) {
                const double log_ps = (double(student(i, b)) - ms) * t - log_ss;
                const double ps = std::exp(log_ps);
                if (ps == 0) continue;
                const double log_pt = (double(teacher(i, b)) - mt) * t - log_st;
                kl += ps * (log_ps - log_pt);
            }
            if (std::isinf(kl) && student.col(b).allFinite() && teacher.col(b).allFinite()) {
                kl = kl_from_halves(student.col(b), teacher.col(b), b, ms, log_ss, mt, log_st,
                                    gradient);
            } else {
                kl = std::max(kl, 0.0);  // ≥ 0 exactly; only rounding can make it negative
                for (Eigen::Index i = 0; i < student.rows(); ++i) {
                    const double log_ps = (double(student(i, b)) - ms) * t - log_ss;
                    const double ps = std::exp(log_ps);
                    const double log_pt = (double(teacher(i, b)) - mt) * t - log_st;
                    gradient(i, b) = ps == 0 ? S(0) : S(tt * ps * (log_ps - log_pt - kl) * inv_b);
                }
            }
            sum += kl;
            sum_over_b += kl * inv_b;
        }
        // A sum of KLs beyond double's range whose mean is not: the mean of the quotients.
        const double loss = tt * tt * sum * inv_b;
        return S(std::isinf(loss) ? tt * tt * sum_over_b : loss);
    }
    /// Into `gradient`, without labels.
    template <class ZS, class ZT, detail::GradientOutput G>
    typename ZS::Scalar operator()(const Eigen::MatrixBase<ZS>& student,
                                   const Eigen::MatrixBase<ZT>& teacher, G&& gradient) const {
        return (*this)(student, teacher, std::span<const int>{}, gradient);
    }

  private:
    /// Sample b's KL and gradient column from halved logits (the struct's comment).
    template <class CS, class CT, class G>
    double kl_from_halves(const CS& zs, const CT& zt, Eigen::Index b, double ms, double log_ss,
                          double mt, double log_st, G& gradient) const {
        using S = typename G::Scalar;
        const double tt = double(temperature), t = 1.0 / tt, inv_b = 1.0 / double(gradient.cols());
        double h = 0, d = 0;  // H_s and Σ_j p_s,j·e_j, over the classes with p_s,j > 0
        for (Eigen::Index i = 0; i < zs.rows(); ++i) {
            const double log_ps = (double(zs(i)) - ms) * t - log_ss;
            const double ps = std::exp(log_ps);
            if (ps == 0) continue;
            h += ps * log_ps;
            d += ps * (0.5 * double(zt(i)) - 0.5 * mt);
        }
        for (Eigen::Index i = 0; i < zs.rows(); ++i) {
            const double log_ps = (double(zs(i)) - ms) * t - log_ss;
            const double ps = std::exp(log_ps);
            const double e = 0.5 * double(zt(i)) - 0.5 * mt;
            gradient(i, b) =
                ps == 0 ? S(0) : S(tt * ps * (log_ps - h) * inv_b - (ps * (e - d)) * inv_b * 2);
        }
        return std::max(h + log_st - t * d * 2, 0.0);
    }
};

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
