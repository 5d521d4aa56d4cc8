#pragma once
// chrysalis/attack_gradient.hpp — what the adversarial attacks share: the objective an attack
// ascends (AttackLoss), its gradient with respect to the inputs (attack_gradient), what every
// attack returns (AttackResult) and the checks of their inputs. The attacks themselves: fgsm and
// pgd in chrysalis/attacks.hpp, jsma in chrysalis/jsma.hpp (attacks.hpp includes all three).
//
// The gradient runs a whole features × N set through the caller's network in batches, in
// Mode::inference (dropout off), and differentiates through Sequential::backward_input, which
// leaves the parameters and their gradients as they were (bar a custom layer without
// backward_input; see docs/attacks.md).

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "chrysalis/config.hpp"
#include "chrysalis/dataset.hpp"
#include "chrysalis/detail/data_checks.hpp"
#include "chrysalis/detail/input_backward.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/labels.hpp"
#include "chrysalis/softmax.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// The objective an L∞ attack ascends, per sample b with logits z and true label y:
///   cross_entropy: ℓ = −log softmax(z)[y],            ∂ℓ/∂z = softmax(z) − onehot(y);
///   logit_margin:  ℓ = min(max_{i≠y} z_i − z_y, κ),   ∂ℓ/∂z = e_j − e_y (j the arg max over
///                  i ≠ y) while the margin is below κ, else 0.
/// logit_margin is −f of Carlini & Wagner's untargeted f(x) = max(z_y − max_{i≠y} z_i, −κ): it
/// reads the logits, not the softmax, so a network whose softmax saturates (defensive
/// distillation) still gives it a gradient.
enum class AttackLoss { cross_entropy, logit_margin };

/// What an attack returns. A sample is *counted* when the network classified it correctly to
/// begin with (for jsma: and its target differs from its label, which jsma requires); samples
/// not counted are returned unchanged. A counted sample *succeeds* when its adversarial input is
/// misclassified (fgsm, pgd) or classified as its target (jsma).
///   success_rate = successes / counted (0 when nothing is counted);
///   mean_linf, mean_l2, mean_l0 = the mean over the *successful* samples of max_i |x'_i − x_i|,
///   ‖x' − x‖₂ and the fraction of features with x'_i ≠ x_i (0 when nothing succeeded).
/// The perturbation the literature reports is mean_linf for fgsm and pgd (at most ε) and
/// mean_l0 (with mean_l2) for jsma.
template <class Scalar>
struct AttackResult {
    using scalar_type = Scalar;
    Matrix<Scalar> adversarial;         ///< features × N, inside the box
    std::vector<std::uint8_t> counted;  ///< N flags: correctly classified before the attack
    std::vector<std::uint8_t> success;  ///< N flags: counted and fooled
    Eigen::Index attacked = 0;          ///< how many samples are counted
    Eigen::Index successes = 0;
    double success_rate = 0;
    double mean_linf = 0;
    double mean_l2 = 0;
    double mean_l0 = 0;
};

namespace detail {

inline void require_attack_box(double lo, double hi, const char* what) {
    if (!std::isfinite(lo) || !std::isfinite(hi) || !(lo < hi)) {
        throw ValueError(
            detail::concat(what, ": the input box [lo, hi] must be finite with lo < hi, got [", lo,
                           ", ", hi, "]"));
    }
}

inline void require_non_negative(double v, const char* what, const char* name) {
    if (!std::isfinite(v) || !(v >= 0)) {
        throw ValueError(
            detail::concat(what, ": ", name, " must be a finite number >= 0, got ", v));
    }
}

/// A value the attack converts to the network's scalar S must stay finite there: a step above
/// float's largest value is ∞, and ∞·sign(0) a NaN adversarial; a box edge beyond it an infinite
/// feature. ValueError naming `what` and the parameter. No-op for double networks (every value
/// is already checked finite).
template <class S>
void require_in_scalar_range(double v, const char* what, const char* name) {
    constexpr double largest = double(std::numeric_limits<S>::max());
    if (std::abs(v) > largest) {
        throw ValueError(detail::concat(
            what, ": ", name, " must be at most ", largest, " in magnitude (", scalar_name<S>(),
            "'s largest value: the network computes in ", scalar_name<S>(), "), got ", v));
    }
}

/// The box [lo, hi] inside the network scalar's range (see require_in_scalar_range).
template <class S>
void require_box_in_scalar_range(double lo, double hi, const char* what) {
    require_in_scalar_range<S>(lo, what, "the input box's lo");
    require_in_scalar_range<S>(hi, what, "the input box's hi");
}

inline void require_batch_size(Eigen::Index b, const char* what) {
    if (b < 1) throw ValueError(detail::concat(what, ": batch_size must be >= 1, got ", b));
}

/// Checks the inputs' width and sample count, their values (finite, inside the box) and the
/// labels. An attack of no samples is refused: its success rate and mean perturbations are
/// means over no samples, and would come back as a made-up 0.
template <class Net, class Derived>
void check_attack_inputs(const Eigen::MatrixBase<Derived>& x, std::span<const int> labels,
                         double lo, double hi, const char* what) {
    if (x.rows() != Net::input_size) {
        throw ShapeError(detail::concat(what, ": the inputs have ", x.rows(),
                                        " rows (features) but the network's input width is ",
                                        Net::input_size));
    }
    if (x.cols() == 0) {
        throw ShapeError(detail::concat(what, ": the inputs x are ", x.rows(),
                                        "x0: no samples, so no success rate; expected at least 1 "
                                        "sample (column)"));
    }
    chrysalis::check_labels(labels, Net::output_size, x.cols(), what);
    for (Eigen::Index b = 0; b < x.cols(); ++b) {
        for (Eigen::Index i = 0; i < x.rows(); ++i) {
            const double v = double(x(i, b));
            if (!(v >= lo && v <= hi)) {  // also NaN
                throw ValueError(detail::concat(what, ": feature ", i, " of sample ", b, " is ", v,
                                                ", outside the input box [", lo, ", ", hi, "]"));
            }
        }
    }
}

template <class Derived>
Eigen::Index arg_max(const Eigen::MatrixBase<Derived>& column) {
    Eigen::Index k = 0;
    column.maxCoeff(&k);
    return k;
}

/// Writes ∂ℓ_b/∂z_b of the attack objective (one column per sample, no 1/B) into d and, if
/// `values`, the objective values; see AttackLoss. With `targets` (non-empty) the targeted form,
/// around the target class t: ℓ = log softmax(z)[t] or min(z_t − max_{i≠t} z_i, κ).
template <class Z, class D>
void attack_objective(const Eigen::MatrixBase<Z>& z, std::span<const int> y,
                      std::span<const int> targets, AttackLoss loss, double kappa, D& d,
                      double* values) {
    using S = typename Z::Scalar;
    const bool targeted = !targets.empty();
    if (loss == AttackLoss::cross_entropy) {
        softmax(z, 1.0, d);
        for (Eigen::Index b = 0; b < z.cols(); ++b) {
            const int c = targeted ? targets[std::size_t(b)] : y[std::size_t(b)];
            if (values) {  // −log softmax(z)[c] = logsumexp(z) − z_c
                const double m = double(z.col(b).maxCoeff());
                double s = 0;
                for (Eigen::Index i = 0; i < z.rows(); ++i) s += std::exp(double(z(i, b)) - m);
                const double ce = m + std::log(s) - double(z(c, b));
                values[b] = targeted ? -ce : ce;
            }
            d(c, b) -= S(1);
            if (targeted) d.col(b) = -d.col(b);  // ∂(log p_c)/∂z = onehot(c) − p
        }
        return;
    }
    d.setZero();
    for (Eigen::Index b = 0; b < z.cols(); ++b) {
        // Untargeted: raise the best other class j over the label; targeted: raise the target
        // over the best other class j.
        const int c = targeted ? targets[std::size_t(b)] : y[std::size_t(b)];
        Eigen::Index j = c == 0 ? 1 : 0;
        for (Eigen::Index i = 0; i < z.rows(); ++i)
            if (i != c && z(i, b) > z(j, b)) j = i;
        const double margin = (double(z(j, b)) - double(z(c, b))) * (targeted ? -1 : 1);
        if (values) values[b] = std::min(margin, kappa);
        if (margin < kappa) {
            d(j, b) = S(targeted ? -1 : 1);
            d(c, b) = S(targeted ? 1 : -1);
        }
    }
}

/// Throws unless there is one target per sample, in [0, classes), other than its label.
inline void check_targets(std::span<const int> targets, std::span<const int> y,
                          Eigen::Index classes, const char* what) {
    if (targets.size() != y.size()) {
        throw ShapeError(detail::concat(what, ": ", targets.size(), " targets for ", y.size(),
                                        " samples (one target class per sample)"));
    }
    for (std::size_t b = 0; b < targets.size(); ++b) {
        if (targets[b] < 0 || targets[b] >= classes) {
            throw ValueError(detail::concat(what, ": target ", targets[b], " of sample ", b,
                                            " is outside [0, ", classes, ")"));
        }
        if (targets[b] == y[b]) {
            throw ValueError(
                detail::concat(what, ": target ", targets[b], " of sample ", b,
                               " is its true label (a targeted attack needs another class)"));
        }
    }
}

/// Perturbation statistics and the success rate, from the flags.
template <class Scalar, class Derived>
void summarise_attack(AttackResult<Scalar>& r, const Eigen::MatrixBase<Derived>& x) {
    r.attacked = 0;
    r.successes = 0;
    double linf = 0, l2 = 0, l0 = 0;
    for (Eigen::Index b = 0; b < x.cols(); ++b) {
        r.attacked += r.counted[std::size_t(b)];
        if (!r.success[std::size_t(b)]) continue;
        ++r.successes;
        double m = 0, ss = 0, nz = 0;
        for (Eigen::Index i = 0; i < x.rows(); ++i) {
            const double delta = double(r.adversarial(i, b)) - double(x(i, b));
            m = std::max(m, std::abs(delta));
            ss += delta * delta;
            nz += delta != 0;
        }
        linf += m;
        l2 += std::sqrt(ss);
        l0 += nz / double(x.rows());
    }
    r.success_rate = r.attacked ? double(r.successes) / double(r.attacked) : 0.0;
    if (r.successes) {
        r.mean_linf = linf / double(r.successes);
        r.mean_l2 = l2 / double(r.successes);
        r.mean_l0 = l0 / double(r.successes);
    }
}

}  // namespace detail

namespace detail {

/// AttackLoss is one of its two values: an integer cast to it would otherwise run as
/// logit_margin. ValueError naming `what`. O(1).
inline void require_attack_loss(AttackLoss loss, const char* what) {
    if (loss != AttackLoss::cross_entropy && loss != AttackLoss::logit_margin) {
        throw ValueError(detail::concat(what, ": loss must be AttackLoss::cross_entropy or ",
                                        "AttackLoss::logit_margin, got the value ", int(loss)));
    }
}

/// The logits of the samples [first, first + z.cols()) are all finite. Inputs (or a box) too
/// large for the network's scalar overflow its logits, and a step along the NaN gradient they
/// give would return NaN adversarial inputs: ValueError naming `what`, the sample and the logit.
/// O(z.size()).
template <class Z>
void require_finite_logits(const Eigen::MatrixBase<Z>& z, Eigen::Index first, const char* what) {
    require_finite(z, what, "the network's logits", "logit", first,
                   "(the inputs, or the steps within the box, are too large for the network's "
                   "scalar type: scale them down)");
}

/// The logit-margin objective compares the label's logit with the best other class's: a network
/// of one output has no other class (the objective would index logit row 1 of 1). ShapeError
/// naming `what`. O(1): the output width is a compile-time constant.
template <class Net>
void require_margin_classes(AttackLoss loss, const char* what) {
    if (loss == AttackLoss::logit_margin && Net::output_size < 2) {
        throw ShapeError(detail::concat(
            what,
            ": the logit_margin objective compares the label's logit with the best other "
            "class, but the network has ",
            Net::output_size, " output; expected at least 2 classes"));
    }
}

template <class Net, class Derived>
std::vector<double> attack_gradient_of(Net& net, const Eigen::MatrixBase<Derived>& x,
                                       std::span<const int> y, std::span<const int> targets,
                                       AttackLoss loss, double kappa,
                                       Matrix<typename Net::scalar_type>& gradient) {
    constexpr const char* what = "chrysalis::attack_gradient";
    if (x.rows() != Net::input_size) {
        throw ShapeError(detail::concat(what, ": the inputs have ", x.rows(),
                                        " rows (features) but the network's input width is ",
                                        Net::input_size));
    }
    chrysalis::check_labels(y, Net::output_size, x.cols(), what);
    if (!targets.empty()) check_targets(targets, y, Net::output_size, what);
    require_attack_loss(loss, what);
    require_margin_classes<Net>(loss, what);
    require_non_negative(kappa, what, "kappa");
    // A NaN input or parameter would come back as a NaN gradient, never as an error.
    require_finite(x, what, "the inputs", "feature");
    require_finite_parameters(net, what);
    std::vector<double> values(std::size_t(x.cols()));
    Matrix<typename Net::scalar_type> d(Net::output_size, x.cols());
    const auto z = net.forward(x, Mode::inference);
    require_finite_logits(z, 0, what);
    attack_objective(z, y, targets, loss, kappa, d, values.data());
    detail::input_backward(net, d);
    gradient = net.input_gradient();
    return values;
}

}  // namespace detail

/// The gradient of the attack objective with respect to the inputs, one column per sample:
/// column b is ∂ℓ_b/∂x_b with ℓ_b the objective of `loss` (see AttackLoss) — the gradient the
/// attacks step along. Returns the objective values ℓ_b. Runs net in Mode::inference.
///
/// Requires: `x` features × B with features = Net::input_size (any Eigen expression of the
///   network's scalar); `labels` a LabelRange of B labels in [0, Net::output_size).
/// Ensures: `gradient` is resized to features × B and overwritten; the network's parameters are
///   unchanged (one backward_input; see the note at the top of this file on their gradients).
///   B = 0 gives a features × 0 gradient and no values (a per-sample result, not a mean).
/// Throws: ShapeError for a wrong input width or label count, or AttackLoss::logit_margin on a
///   network of one output (no other class); ValueError for a label out of range, a negative or
///   non-finite κ, a NaN or infinite input (naming the feature and the
///   sample) or network parameter (naming the block, row and column), an AttackLoss value other
///   than the two, a logit that is not finite (naming the sample) — each naming
///   chrysalis::attack_gradient.
template <class Net, class Derived, LabelRange Labels>
std::vector<double> attack_gradient(Net& net, const Eigen::MatrixBase<Derived>& x,
                                    const Labels& labels, AttackLoss loss, double kappa,
                                    Matrix<typename Net::scalar_type>& gradient) {
    const IntLabels ints = int_labels(labels, "chrysalis::attack_gradient");
    return detail::attack_gradient_of(net, x, ints.span(), {}, loss, kappa, gradient);
}

/// The targeted form: ℓ_b = log softmax(z_b)[t_b] (cross_entropy) or min(z_t − max_{i≠t} z_i,
/// κ) (logit_margin), t_b = targets[b]. Requires, ensures and throws as the untargeted form;
/// also ShapeError for a target count other than B, ValueError for a target out of range or
/// equal to its label.
template <class Net, class Derived, LabelRange Labels, LabelRange Targets>
std::vector<double> attack_gradient(Net& net, const Eigen::MatrixBase<Derived>& x,
                                    const Labels& labels, const Targets& targets, AttackLoss loss,
                                    double kappa, Matrix<typename Net::scalar_type>& gradient) {
    constexpr const char* what = "chrysalis::attack_gradient";
    const IntLabels ints = int_labels(labels, what), tints = int_labels(targets, what, "target");
    if (tints.span().empty() && x.cols() > 0)
        detail::check_targets(tints.span(), ints.span(), Net::output_size, what);
    return detail::attack_gradient_of(net, x, ints.span(), tints.span(), loss, kappa, gradient);
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
