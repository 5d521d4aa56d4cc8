#pragma once
// chrysalis/jsma.hpp — the Jacobian saliency-map attack (Papernot et al. 2016, the one used to
// evaluate defensive distillation, arXiv 1511.04508): targeted, an L0 attack that sets pairs of
// features to the top of the input box. See docs/attacks.md; chrysalis/attacks.hpp includes it.
//
// It runs a whole features × N set through the caller's network in batches, in Mode::inference
// (dropout off), with work buffers made once per call, and never changes a parameter.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "chrysalis/attack_gradient.hpp"
#include "chrysalis/config.hpp"
#include "chrysalis/dataset.hpp"
#include "chrysalis/detail/data_checks.hpp"
#include "chrysalis/detail/input_backward.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/labels.hpp"
#include "chrysalis/softmax.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// Options of jsma. Defaults: the paper's γ = 14.5%, box [0, 1], batches of 100.
struct JsmaOptions {
    double gamma = 0.145;  ///< the largest fraction of features changed, in (0, 1]
    double lo = 0;         ///< the valid input box; changed features are set to hi (θ = +1)
    double hi = 1;
    Eigen::Index batch_size = 100;  ///< ≥ 1
};

/// Jacobian saliency-map attack (Papernot, McDaniel, Jha, Fredrikson, Celik & Swami 2016), the
/// variant of the defensive-distillation paper: targeted, increasing pairs of features (θ = +1:
/// both set to hi). The saliency uses the Jacobian of the *softmax outputs* F = softmax(z) (what
/// Carlini & Wagner 2017 call JSMA-F, used in the defensive-distillation evaluation): with α =
/// Σ_{i∈{p,q}} ∂F_t/∂x_i and β = Σ_{i∈{p,q}} Σ_{j≠t} ∂F_j/∂x_i, the pair of unchanged features
/// below hi with α > 0, β < 0 and the largest α·|β| is set to hi. Stops when the network predicts
/// the target, when no pair qualifies, or when another pair would change more than ⌊γ·features⌋
/// features.
///
/// Requires: as fgsm, plus `targets`: N target classes in [0, Net::output_size), each different
///   from the sample's label.
/// Ensures: an AttackResult: success = classified as the target; at most ⌊γ·features⌋ features
///   of each sample changed; mean_l0 (the fraction of features changed) and mean_l2 over the
///   successful samples; parameters unchanged (their gradients too, bar a custom layer without
///   backward_input).
/// Throws: ShapeError for a wrong input width, no samples (N = 0) or a label or target count
///   other than N; ValueError for γ outside (0, 1] or with ⌊γ·features⌋ < 2 (no pair to
///   change), a bad box (also one beyond the network
///   scalar's largest value: jsma writes lo and hi into the input) or batch size, an input outside
///   the box, a label or target out of range, a target equal to its label, a NaN or infinite
///   network parameter, a logit that is not finite on the way (naming the sample) — each naming
///   chrysalis::jsma.
template <class Net, class Derived, LabelRange Labels, LabelRange Targets>
AttackResult<typename Net::scalar_type> jsma(Net& net, const Eigen::MatrixBase<Derived>& x,
                                             const Labels& labels, const Targets& targets,
                                             const JsmaOptions& o = {}) {
    using S = typename Net::scalar_type;
    constexpr const char* what = "chrysalis::jsma";
    constexpr Eigen::Index classes = Net::output_size;
    const IntLabels ints = int_labels(labels, what);
    const IntLabels tints = int_labels(targets, what, "target");
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
    if (budget < 2) {
        // Each iteration sets a pair of features: a budget of 0 or 1 changes nothing, and a
        // success rate of 0 would read as a perfectly defended network.
        throw ValueError(detail::concat(
            what, ": gamma ", o.gamma, " of ", features, " features allows ", budget,
            " changed feature(s), fewer than the pair each iteration sets; expected gamma >= ",
            2.0 / double(features)));
    }
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
            detail::require_finite_logits(z, b0, what);
            for (Eigen::Index b = 0; b < nb; ++b) {
                const bool ok = detail::arg_max(z.col(b)) == y[std::size_t(b0 + b)];
                r.counted[std::size_t(b0 + b)] = ok;
                active[std::size_t(b)] = ok;
                changed[std::size_t(b)] = 0;
            }
        }
        for (;;) {
            const auto z = net.forward(xa, Mode::inference);
            detail::require_finite_logits(z, b0, what);
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
        detail::require_finite_logits(z, b0, what);
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

/// The Dataset form: x = data.features, labels = data.labels.
/// Requires, ensures and throws: as the form above (data.classes is not read: the labels are
/// checked against the network's Net::output_size).
template <class Net, LabelRange Targets>
AttackResult<typename Net::scalar_type> jsma(Net& net,
                                             const Dataset<typename Net::scalar_type>& data,
                                             const Targets& targets, const JsmaOptions& o = {}) {
    return jsma(net, data.features, data.labels, targets, o);
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
