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
//
// The attacks' shared parts (AttackLoss, AttackResult, attack_gradient) are in
// chrysalis/attack_gradient.hpp and jsma in chrysalis/jsma.hpp; this header includes both.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "chrysalis/attack_gradient.hpp"
#include "chrysalis/config.hpp"
#include "chrysalis/dataset.hpp"
#include "chrysalis/detail/data_checks.hpp"
#include "chrysalis/detail/input_backward.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/jsma.hpp"
#include "chrysalis/labels.hpp"
#include "chrysalis/random.hpp"
#include "chrysalis/softmax.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

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

namespace detail {

/// fgsm and pgd: `steps` signed steps of size `step` from x (or a random start), each projected
/// onto the ε-ball around x and the box. A counted sample stops moving as soon as it is
/// misclassified (targeted: classified as its target); a sample misclassified to begin with is
/// not moved at all.
template <class Net, class Derived>
AttackResult<typename Net::scalar_type> linf_attack(Net& net, const Eigen::MatrixBase<Derived>& x,
                                                    std::span<const int> y,
                                                    std::span<const int> targets, double epsilon,
                                                    double step, int steps, bool random_start,
                                                    Seed seed, double lo, double hi,
                                                    AttackLoss loss, double kappa,
                                                    Eigen::Index batch_size, const char* what) {
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
        if (random_start || steps == 0) {
            const auto z = net.forward(xa, Mode::inference);
            require_finite_logits(z, b0, what);
            count(z);
        }
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
            require_finite_logits(z, b0, what);
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
        require_finite_logits(z, b0, what);
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

template <class Net, class Derived>
AttackResult<typename Net::scalar_type> fgsm_of(Net& net, const Eigen::MatrixBase<Derived>& x,
                                                std::span<const int> y,
                                                std::span<const int> targets,
                                                const FgsmOptions& o) {
    constexpr const char* what = "chrysalis::fgsm";
    using S = typename Net::scalar_type;
    require_attack_loss(o.loss, what);
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
                       o.loss, o.kappa, o.batch_size, what);
}

template <class Net, class Derived>
AttackResult<typename Net::scalar_type> pgd_of(Net& net, const Eigen::MatrixBase<Derived>& x,
                                               std::span<const int> y, std::span<const int> targets,
                                               const PgdOptions& o) {
    constexpr const char* what = "chrysalis::pgd";
    using S = typename Net::scalar_type;
    require_attack_loss(o.loss, what);
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
                       o.lo, o.hi, o.loss, o.kappa, o.batch_size, what);
}

}  // namespace detail

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
///   the box (or NaN), a label out of range, a NaN or infinite network parameter, an AttackLoss
///   value other than the two, a logit that is not finite on the way (inputs too large for the
///   scalar: the step would be NaN) — each naming chrysalis::fgsm and the parameter or sample.
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
    const IntLabels tints = int_labels(targets, "chrysalis::fgsm", "target");
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
    const IntLabels tints = int_labels(targets, "chrysalis::pgd", "target");
    if (tints.span().empty() && x.cols() > 0)
        detail::check_targets(tints.span(), ints.span(), Net::output_size, "chrysalis::pgd");
    return detail::pgd_of(net, x, ints.span(), tints.span(), o);
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

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
