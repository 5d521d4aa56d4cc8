#pragma once
// chrysalis/attacks.hpp — adversarial attacks through input gradients: the fast gradient sign
// method (Goodfellow, Shlens & Szegedy 2015), projected gradient descent in L∞ (Kurakin et al.
// 2016; Madry et al. 2018) with a cross-entropy or a logit-margin objective (Carlini & Wagner
// 2016, arXiv 1607.04311), and the Jacobian saliency-map attack (Papernot et al. 2016, the one
// used to evaluate defensive distillation, arXiv 1511.04508). See docs/attacks.md.
//
// Every attack runs a whole features × N set through the caller's network in batches, in
// Mode::inference (dropout off), with work buffers made once per call. It never changes a
// parameter, and differentiates through Sequential::backward_input, which leaves the parameter
// gradients as they were (bar a custom layer without backward_input; see docs/attacks.md).

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
#include "chrysalis/random.hpp"
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

/// Options of fgsm. Defaults: ε = 0.1, box [0, 1], cross-entropy, κ = 0, batches of 256.
struct FgsmOptions {
    double epsilon = 0.1;  ///< L∞ radius ε, finite, ≥ 0
    double lo = 0;         ///< the valid input box [lo, hi]: finite, lo < hi
    double hi = 1;
    AttackLoss loss = AttackLoss::cross_entropy;
    double kappa = 0;               ///< κ of logit_margin, finite, ≥ 0
    Eigen::Index batch_size = 256;  ///< samples per forward/backward, ≥ 1
};

/// Options of pgd. Defaults: ε = 0.1, α = 0.01, 40 steps, no random start.
struct PgdOptions {
    double epsilon = 0.1;       ///< L∞ radius ε, finite, ≥ 0
    double step_size = 0.01;    ///< α, the size of each signed step, finite, > 0
    int steps = 40;             ///< ≥ 1
    bool random_start = false;  ///< start from x + U(−ε, ε)^n (clipped to the box)
    Seed seed{0};               ///< for the random start
    double lo = 0;              ///< the valid input box [lo, hi]: finite, lo < hi
    double hi = 1;
    AttackLoss loss = AttackLoss::cross_entropy;
    double kappa = 0;               ///< κ of logit_margin, finite, ≥ 0
    Eigen::Index batch_size = 256;  ///< ≥ 1
};

/// Options of jsma. Defaults: the paper's γ = 14.5%, box [0, 1], batches of 100.
struct JsmaOptions {
    double gamma = 0.145;  ///< the largest fraction of features changed, in (0, 1]
    double lo = 0;         ///< the valid input box; changed features are set to hi (θ = +1)
    double hi = 1;
    Eigen::Index batch_size = 100;  ///< ≥ 1
};

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

/// fgsm and pgd: `steps` signed steps of size `step` from x (or a random start), each projected
/// onto the ε-ball around x and the box. A counted sample stops moving as soon as it is
/// misclassified (targeted: classified as its target); a sample misclassified to begin with is
/// not moved at all.
template <class Net, class Derived>
AttackResult<typename Net::scalar_type> linf_attack(
    Net& net, const Eigen::MatrixBase<Derived>& x, std::span<const int> y,
    std::span<const int> targets, double epsilon, double step, int steps, bool random_start,
    Seed seed, double lo, double hi, AttackLoss loss, double kappa, Eigen::Index batch_size) {
    using S = typename Net::scalar_type;
    constexpr Eigen::Index classes = Net::output_size;
    const Eigen::Index n = x.cols(), features = x.rows();
    AttackResult<S> r;
    r.adversarial = x.template cast<S>();
    r.counted.assign(std::size_t(n), 0);
    r.success.assign(std::size_t(n), 0);
    const Eigen::Index cap = std::min(batch_size, std::max<Eigen::Index>(n, 1));
    Matrix<S> low(features, cap), high(features, cap), d(classes, cap);
    std::vector<std::uint8_t> done(static_cast<std::size_t>(cap));
    Rng rng(seed);
    for (Eigen::Index b0 = 0; b0 < n; b0 += cap) {
        const Eigen::Index nb = std::min(cap, n - b0);
        auto xa = r.adversarial.middleCols(b0, nb);
        const std::span<const int> yb = y.subspan(std::size_t(b0), std::size_t(nb));
        const std::span<const int> tb =
            targets.empty() ? targets : targets.subspan(std::size_t(b0), std::size_t(nb));
        const auto fooled = [&](const auto& column, Eigen::Index b) {
            const Eigen::Index k = arg_max(column);
            return tb.empty() ? k != yb[std::size_t(b)] : k == tb[std::size_t(b)];
        };
        // The feasible set: the ε-ball around x intersected with the box.
        low.leftCols(nb) =
            (x.middleCols(b0, nb).template cast<S>().array() - S(epsilon)).max(S(lo)).matrix();
        high.leftCols(nb) =
            (x.middleCols(b0, nb).template cast<S>().array() + S(epsilon)).min(S(hi)).matrix();
        // Which samples count (the clean input correctly classified): from a forward of the
        // clean batch, which without a random start is also the first step's forward.
        const auto count = [&](const auto& z) {
            for (Eigen::Index b = 0; b < nb; ++b) {
                const bool ok = arg_max(z.col(b)) == yb[std::size_t(b)];
                r.counted[std::size_t(b0 + b)] = ok;
                done[std::size_t(b)] = !ok;
            }
        };
        if (random_start || steps == 0) count(net.forward(xa, Mode::inference));
        if (random_start) {
            // Rng::uniform needs hi − lo finite: an ε above DBL_MAX/2 (a double network) made
            // 2ε = ∞, every draw +∞ (or NaN) and every start the box's upper corner, so such an
            // ε draws ε·U(−1, 1). Any other ε draws exactly as before (same seed, same starts).
            const bool wide = epsilon > std::numeric_limits<double>::max() / 2;
            for (Eigen::Index b = 0; b < nb; ++b) {
                if (done[std::size_t(b)]) continue;
                for (Eigen::Index i = 0; i < features; ++i) {
                    const double u =
                        wide ? epsilon * rng.uniform(-1.0, 1.0) : rng.uniform(-epsilon, epsilon);
                    xa(i, b) = std::clamp(S(double(xa(i, b)) + u), low(i, b), high(i, b));
                }
            }
        }
        for (int s = 0; s < steps; ++s) {
            const auto z = net.forward(xa, Mode::inference);
            if (s == 0 && !random_start) count(z);
            auto db = d.leftCols(nb);
            attack_objective(z, yb, tb, loss, kappa, db, nullptr);
            bool any = false;
            for (Eigen::Index b = 0; b < nb; ++b) {
                // Stop a sample at its first success (random starts are checked here too).
                if (!done[std::size_t(b)] && fooled(z.col(b), b)) done[std::size_t(b)] = 1;
                if (done[std::size_t(b)])
                    db.col(b).setZero();
                else
                    any = true;
            }
            if (!any) break;
            detail::input_backward(net, db);
            const auto g = net.input_gradient();
            // x ← clip(x + α·sign(∇ₓℓ), max(lo, x − ε), min(hi, x + ε)); sign(0) = 0.
            xa = (xa.array() + S(step) * g.array().sign())
                     .max(low.leftCols(nb).array())
                     .min(high.leftCols(nb).array())
                     .matrix();
        }
        const auto z = net.forward(xa, Mode::inference);
        for (Eigen::Index b = 0; b < nb; ++b) {
            const std::size_t k = std::size_t(b0 + b);
            if (!r.counted[k])
                xa.col(b) = x.col(b0 + b).template cast<S>();
            else
                r.success[k] = fooled(z.col(b), b);
        }
    }
    summarise_attack(r, x);
    return r;
}

}  // namespace detail

namespace detail {

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
    require_margin_classes<Net>(loss, what);
    require_non_negative(kappa, what, "kappa");
    // A NaN input or parameter would come back as a NaN gradient, never as an error.
    require_finite(x, what, "the inputs", "feature");
    require_finite_parameters(net, what);
    std::vector<double> values(std::size_t(x.cols()));
    Matrix<typename Net::scalar_type> d(Net::output_size, x.cols());
    const auto z = net.forward(x, Mode::inference);
    attack_objective(z, y, targets, loss, kappa, d, values.data());
    detail::input_backward(net, d);
    gradient = net.input_gradient();
    return values;
}

template <class Net, class Derived>
AttackResult<typename Net::scalar_type> fgsm_of(Net& net, const Eigen::MatrixBase<Derived>& x,
                                                std::span<const int> y,
                                                std::span<const int> targets,
                                                const FgsmOptions& o) {
    constexpr const char* what = "chrysalis::fgsm";
    using S = typename Net::scalar_type;
    require_margin_classes<Net>(o.loss, what);
    require_non_negative(o.epsilon, what, "epsilon");
    require_in_scalar_range<S>(o.epsilon, what, "epsilon");  // fgsm's step
    require_non_negative(o.kappa, what, "kappa");
    require_attack_box(o.lo, o.hi, what);
    require_box_in_scalar_range<S>(o.lo, o.hi, what);
    require_batch_size(o.batch_size, what);
    check_attack_inputs<Net>(x, y, o.lo, o.hi, what);
    require_finite_parameters(net, what);
    if (!targets.empty()) check_targets(targets, y, Net::output_size, what);
    return linf_attack(net, x, y, targets, o.epsilon, o.epsilon, 1, false, Seed{0}, o.lo, o.hi,
                       o.loss, o.kappa, o.batch_size);
}

template <class Net, class Derived>
AttackResult<typename Net::scalar_type> pgd_of(Net& net, const Eigen::MatrixBase<Derived>& x,
                                               std::span<const int> y, std::span<const int> targets,
                                               const PgdOptions& o) {
    constexpr const char* what = "chrysalis::pgd";
    using S = typename Net::scalar_type;
    require_margin_classes<Net>(o.loss, what);
    require_non_negative(o.epsilon, what, "epsilon");
    require_positive_finite(o.step_size, what, "step_size");
    require_in_scalar_range<S>(o.step_size, what, "step_size");
    if (o.steps < 1) throw ValueError(detail::concat(what, ": steps must be >= 1, got ", o.steps));
    require_non_negative(o.kappa, what, "kappa");
    require_attack_box(o.lo, o.hi, what);
    require_box_in_scalar_range<S>(o.lo, o.hi, what);
    require_batch_size(o.batch_size, what);
    check_attack_inputs<Net>(x, y, o.lo, o.hi, what);
    require_finite_parameters(net, what);
    if (!targets.empty()) check_targets(targets, y, Net::output_size, what);
    return linf_attack(net, x, y, targets, o.epsilon, o.step_size, o.steps, o.random_start, o.seed,
                       o.lo, o.hi, o.loss, o.kappa, o.batch_size);
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
///   sample) or network parameter (naming the block, row and column) — each naming
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
    const IntLabels ints = int_labels(labels, what), tints = int_labels(targets, what);
    if (tints.span().empty() && x.cols() > 0)
        detail::check_targets(tints.span(), ints.span(), Net::output_size, what);
    return detail::attack_gradient_of(net, x, ints.span(), tints.span(), loss, kappa, gradient);
}

/// Fast gradient sign method: x' = clip(x + ε·sign(∇ₓℓ(x, y)), lo, hi), ℓ = o.loss, for every
/// column of x. Untargeted; success = the adversarial input is misclassified.
///
/// Requires: `x` features × N (features = Net::input_size), every value in [o.lo, o.hi];
///   `labels` N true labels in [0, Net::output_size).
/// Ensures: an AttackResult (success rate over the samples classified correctly to begin with;
///   mean_linf over the successful ones, ≤ ε); samples misclassified to begin with are returned
///   unchanged; the network's parameters unchanged (their gradients too, bar a custom layer without
///   backward_input). ε = 0 returns x itself.
/// Throws: ShapeError for a wrong input width, no samples (N = 0: the success rate of no samples
///   is undefined), a label count other than N, or AttackLoss::logit_margin on a network of one
///   output; ValueError for ε or κ negative or not finite, lo ≥ hi or non-finite, ε (the step),
///   lo or hi beyond the network scalar's largest value (FLT_MAX), batch_size < 1, an input outside
///   the box (or NaN), a label out of range, a NaN or infinite network parameter — each naming
///   chrysalis::fgsm and the parameter.
template <class Net, class Derived, LabelRange Labels>
AttackResult<typename Net::scalar_type> fgsm(Net& net, const Eigen::MatrixBase<Derived>& x,
                                             const Labels& labels, const FgsmOptions& o = {}) {
    const IntLabels ints = int_labels(labels, "chrysalis::fgsm");
    return detail::fgsm_of(net, x, ints.span(), {}, o);
}

/// Targeted FGSM: one step x' = clip(x + ε·sign(∇ₓℓ), lo, hi) with the targeted objective (see
/// attack_gradient); success = classified as the target. Requires, ensures and throws as the
/// untargeted form; also ShapeError for a target count other than N, ValueError for a target
/// out of range or equal to its label.
template <class Net, class Derived, LabelRange Labels, LabelRange Targets>
AttackResult<typename Net::scalar_type> fgsm(Net& net, const Eigen::MatrixBase<Derived>& x,
                                             const Labels& labels, const Targets& targets,
                                             const FgsmOptions& o = {}) {
    const IntLabels ints = int_labels(labels, "chrysalis::fgsm");
    const IntLabels tints = int_labels(targets, "chrysalis::fgsm");
    if (tints.span().empty() && x.cols() > 0)
        detail::check_targets(tints.span(), ints.span(), Net::output_size, "chrysalis::fgsm");
    return detail::fgsm_of(net, x, ints.span(), tints.span(), o);
}

/// Projected gradient descent in L∞ (iterated FGSM): from x (or x + U(−ε, ε) with
/// o.random_start), o.steps steps x ← Π(x + α·sign(∇ₓℓ)), Π the projection onto
/// {x' : ‖x' − x‖∞ ≤ ε, lo ≤ x' ≤ hi}. A sample stops moving at its first misclassified iterate.
/// With o.loss = AttackLoss::logit_margin this is the Carlini–Wagner margin attack in L∞.
///
/// Requires: as fgsm.
/// Ensures: as fgsm; every adversarial input within ε of x in L∞ and inside the box; the same
///   o.seed gives the same result.
/// Throws: as fgsm, naming chrysalis::pgd (ε itself may exceed FLT_MAX: it is not the step);
///   also ValueError for steps < 1 and for a step size α that is not a finite number > 0 or
///   exceeds the network scalar's largest value.
template <class Net, class Derived, LabelRange Labels>
AttackResult<typename Net::scalar_type> pgd(Net& net, const Eigen::MatrixBase<Derived>& x,
                                            const Labels& labels, const PgdOptions& o = {}) {
    const IntLabels ints = int_labels(labels, "chrysalis::pgd");
    return detail::pgd_of(net, x, ints.span(), {}, o);
}

/// Targeted PGD: the same steps with the targeted objective (see attack_gradient); a sample
/// stops at its first iterate classified as its target, and success = classified as the target.
/// Requires, ensures and throws as the untargeted form; also ShapeError for a target count
/// other than N, ValueError for a target out of range or equal to its label.
template <class Net, class Derived, LabelRange Labels, LabelRange Targets>
AttackResult<typename Net::scalar_type> pgd(Net& net, const Eigen::MatrixBase<Derived>& x,
                                            const Labels& labels, const Targets& targets,
                                            const PgdOptions& o = {}) {
    const IntLabels ints = int_labels(labels, "chrysalis::pgd");
    const IntLabels tints = int_labels(targets, "chrysalis::pgd");
    if (tints.span().empty() && x.cols() > 0)
        detail::check_targets(tints.span(), ints.span(), Net::output_size, "chrysalis::pgd");
    return detail::pgd_of(net, x, ints.span(), tints.span(), o);
}

/// Jacobian saliency-map attack (Papernot, McDaniel, Jha, Fredrikson, Celik & Swami 2016), the
/// variant of the defensive-distillation paper: targeted, increasing pairs of features (θ = +1:
/// both set to hi). The saliency uses the Jacobian of the *softmax outputs* F = softmax(z), as
/// in the paper: with α = Σ_{i∈{p,q}} ∂F_t/∂x_i and β = Σ_{i∈{p,q}} Σ_{j≠t} ∂F_j/∂x_i, the pair
/// of unchanged features below hi with α > 0, β < 0 and the largest α·|β| is set to hi. Stops
/// when the network predicts the target, when no pair qualifies, or when another pair would
/// change more than ⌊γ·features⌋ features.
///
/// Requires: as fgsm, plus `targets`: N target classes in [0, Net::output_size), each different
///   from the sample's label.
/// Ensures: an AttackResult: success = classified as the target; at most ⌊γ·features⌋ features
///   of each sample changed; mean_l0 (the fraction of features changed) and mean_l2 over the
///   successful samples; parameters unchanged (their gradients too, bar a custom layer without
///   backward_input).
/// Throws: ShapeError for a wrong input width, no samples (N = 0) or a label or target count
///   other than N; ValueError for γ outside (0, 1], a bad box (also one beyond the network
///   scalar's largest value: jsma writes lo and hi into the input) or batch size, an input outside
///   the box, a label or target out of range, a target equal to its label, a NaN or infinite
///   network parameter — each naming chrysalis::jsma.
template <class Net, class Derived, LabelRange Labels, LabelRange Targets>
AttackResult<typename Net::scalar_type> jsma(Net& net, const Eigen::MatrixBase<Derived>& x,
                                             const Labels& labels, const Targets& targets,
                                             const JsmaOptions& o = {}) {
    using S = typename Net::scalar_type;
    constexpr const char* what = "chrysalis::jsma";
    constexpr Eigen::Index classes = Net::output_size;
    const IntLabels ints = int_labels(labels, what);
    const IntLabels tints = int_labels(targets, what);
    if (!(o.gamma > 0 && o.gamma <= 1))
        throw ValueError(detail::concat(what, ": gamma must be in (0, 1], got ", o.gamma));
    detail::require_attack_box(o.lo, o.hi, what);
    detail::require_box_in_scalar_range<S>(o.lo, o.hi, what);
    detail::require_batch_size(o.batch_size, what);
    detail::check_attack_inputs<Net>(x, ints.span(), o.lo, o.hi, what);
    detail::require_finite_parameters(net, what);
    const std::span<const int> y = ints.span(), t = tints.span();
    detail::check_targets(t, y, classes, what);

    const Eigen::Index n = x.cols(), features = x.rows();
    const Eigen::Index budget = Eigen::Index(std::floor(o.gamma * double(features)));
    AttackResult<S> r;
    r.adversarial = x.template cast<S>();
    r.counted.assign(std::size_t(n), 0);
    r.success.assign(std::size_t(n), 0);
    const Eigen::Index cap = std::min(o.batch_size, std::max<Eigen::Index>(n, 1));
    Matrix<S> p(classes, cap), d(classes, cap), ja(features, cap), jb(features, cap);
    // Per sample: whether it still runs, features changed, the search domain Γ.
    std::vector<std::uint8_t> active(static_cast<std::size_t>(cap));
    std::vector<Eigen::Index> changed(static_cast<std::size_t>(cap));
    Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic> domain(features, cap);
    Eigen::Array<double, Eigen::Dynamic, 1> ca(features), cb(features);
    std::vector<Eigen::Index> index(static_cast<std::size_t>(features));
    for (Eigen::Index b0 = 0; b0 < n; b0 += cap) {
        const Eigen::Index nb = std::min(cap, n - b0);
        auto xa = r.adversarial.middleCols(b0, nb);
        domain.leftCols(nb) = xa.array() < S(o.hi);
        {
            const auto z = net.forward(xa, Mode::inference);
            for (Eigen::Index b = 0; b < nb; ++b) {
                const bool ok = detail::arg_max(z.col(b)) == y[std::size_t(b0 + b)];
                r.counted[std::size_t(b0 + b)] = ok;
                active[std::size_t(b)] = ok;
                changed[std::size_t(b)] = 0;
            }
        }
        for (;;) {
            const auto z = net.forward(xa, Mode::inference);
            bool any = false;
            for (Eigen::Index b = 0; b < nb; ++b) {
                auto& on = active[std::size_t(b)];
                if (on && (detail::arg_max(z.col(b)) == t[std::size_t(b0 + b)] ||
                           changed[std::size_t(b)] + 2 > budget))
                    on = 0;
                any = any || on;
            }
            if (!any) break;
            softmax(z, 1.0, p.leftCols(nb));
            // ∂F_j/∂z_k = F_j(δ_jk − F_k). Seed for α: ∂F_t/∂z = F_t(e_t − F); for β:
            // Σ_{j≠t} ∂F_j/∂z_k = F_k·[k ≠ t] − F_k(1 − F_t). (The two sum to 0: for a softmax
            // β = −α up to rounding; both are computed as the paper defines them.)
            auto db = d.leftCols(nb);
            for (Eigen::Index b = 0; b < nb; ++b) {
                const int tb = t[std::size_t(b0 + b)];
                const S pt = p(tb, b);
                for (Eigen::Index k = 0; k < classes; ++k)
                    db(k, b) = active[std::size_t(b)] ? pt * ((k == tb) - p(k, b)) : S(0);
            }
            detail::input_backward(net, db);
            ja.leftCols(nb) = net.input_gradient();
            for (Eigen::Index b = 0; b < nb; ++b) {
                const int tb = t[std::size_t(b0 + b)];
                const S pt = p(tb, b);
                for (Eigen::Index k = 0; k < classes; ++k)
                    db(k, b) = active[std::size_t(b)]
                                   ? (k != tb ? p(k, b) : S(0)) - p(k, b) * (S(1) - pt)
                                   : S(0);
            }
            detail::input_backward(net, db);
            jb.leftCols(nb) = net.input_gradient();
            for (Eigen::Index b = 0; b < nb; ++b) {
                if (!active[std::size_t(b)]) continue;
                // The candidates of Γ, gathered; then the best pair over all p < q.
                Eigen::Index m = 0;
                for (Eigen::Index i = 0; i < features; ++i) {
                    if (!domain(i, b)) continue;
                    ca(m) = double(ja(i, b));
                    cb(m) = double(jb(i, b));
                    index[std::size_t(m++)] = i;
                }
                double best = 0;
                Eigen::Index bp = -1, bq = -1;
                for (Eigen::Index i = 0; i + 1 < m; ++i) {
                    const Eigen::Index rest = m - i - 1;
                    const auto a = ca.segment(i + 1, rest) + ca(i);
                    const auto c = cb.segment(i + 1, rest) + cb(i);
                    Eigen::Index k = 0;
                    const double s = ((a > 0) && (c < 0)).select(a * -c, 0.0).maxCoeff(&k);
                    if (s > best) {
                        best = s;
                        bp = i;
                        bq = i + 1 + k;
                    }
                }
                if (bp < 0) {  // no pair increases the target and decreases the others
                    active[std::size_t(b)] = 0;
                    continue;
                }
                for (const Eigen::Index i : {index[std::size_t(bp)], index[std::size_t(bq)]}) {
                    xa(i, b) = S(o.hi);
                    domain(i, b) = false;
                }
                changed[std::size_t(b)] += 2;
            }
        }
        const auto z = net.forward(xa, Mode::inference);
        for (Eigen::Index b = 0; b < nb; ++b) {
            const std::size_t k = std::size_t(b0 + b);
            if (!r.counted[k])
                xa.col(b) = x.col(b0 + b).template cast<S>();
            else
                r.success[k] = detail::arg_max(z.col(b)) == t[k];
        }
    }
    detail::summarise_attack(r, x);
    return r;
}

/// The Dataset forms: x = data.features, labels = data.labels.
/// Requires, ensures and throws: as the forms above (data.classes is not read: the labels are
/// checked against the network's Net::output_size).
template <class Net>
AttackResult<typename Net::scalar_type> fgsm(Net& net,
                                             const Dataset<typename Net::scalar_type>& data,
                                             const FgsmOptions& o = {}) {
    return fgsm(net, data.features, data.labels, o);
}
template <class Net>
AttackResult<typename Net::scalar_type> pgd(Net& net,
                                            const Dataset<typename Net::scalar_type>& data,
                                            const PgdOptions& o = {}) {
    return pgd(net, data.features, data.labels, o);
}
template <class Net, LabelRange Targets>
AttackResult<typename Net::scalar_type> jsma(Net& net,
                                             const Dataset<typename Net::scalar_type>& data,
                                             const Targets& targets, const JsmaOptions& o = {}) {
    return jsma(net, data.features, data.labels, targets, o);
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
