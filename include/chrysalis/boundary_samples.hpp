#pragma once
// chrysalis/boundary_samples.hpp — boundary-supporting samples (Heo, Lee, Yun & Choi, "Knowledge
// Distillation with Adversarial Samples Supporting Decision Boundary", AAAI 2019, arXiv
// 1805.05532): samples moved from a base sample of class b, by gradient steps on the teacher's
// input, to just past the teacher's decision boundary between b and a target class k, and the
// options (BssOptions) of everything built on them: the distillation that adds a term on them
// (boundary_distill.hpp) and the paper's two measures of how alike two networks' decision
// boundaries are (boundary_similarity.hpp). docs/boundary-samples.md has the math and where we
// depart from the paper. No file I/O.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>
#include <span>
#include <vector>

#include "chrysalis/config.hpp"
#include "chrysalis/detail/data_checks.hpp"
#include "chrysalis/detail/input_backward.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/labels.hpp"
#include "chrysalis/random.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// How the target class k of a base sample of class b is chosen from the teacher's logits z.
enum class TargetClass {
    /// The paper's: drawn among the classes other than b with probability proportional to the
    /// teacher's softmax(z)_k (so mostly the top-ranked non-base classes).
    sampled,
    /// The runner-up: the class other than b with the largest logit (ties to the lowest class).
    runner_up,
};

/// The settings of boundary_samples, distill_with_boundary_samples and boundary_similarity.
/// Every field has a default, given first in its comment; each is checked at the door of the
/// function that reads it (ValueError naming the function and the field).
struct BssOptions {
    /// Default 0.3 (the paper's code): η, the step size; finite and > 0.
    double step_size = 0.3;
    /// Default 10 (the paper's code): the most steps per sample; ≥ 1.
    int max_steps = 10;
    /// Default 1e-4 (the paper's code): ε, which carries a step just past the boundary; finite
    /// and ≥ 0.
    double epsilon = 1e-4;
    /// Default 0.1 (logit units): a sample has reached the boundary when 0 ≥ z_b − z_k ≥
    /// −margin and no other class beats k; a step that crosses by more is bisected back
    /// (our addition to the paper, see docs/boundary-samples.md); finite and > 0.
    double margin = 0.1;
    /// Default TargetClass::sampled (the paper's choice).
    TargetClass target = TargetClass::sampled;
    /// Default Seed{0}: the draws of TargetClass::sampled (distill_with_boundary_samples draws
    /// each batch's from derive_seed(derive_seed(seed, epoch), batch), so a resumed run draws
    /// what the uninterrupted one did).
    Seed seed{0};
    // --- distill_with_boundary_samples only ---
    /// Default 64 (the paper's code): the most base samples per batch; ≥ 1.
    Eigen::Index samples_per_batch = 64;
    /// Default 2 (the paper's code): β₀, the weight of the term on the samples at the start;
    /// finite and ≥ 0 (0 is plain distillation).
    double weight = 2.0;
    /// Default 0.75 (the paper's code): the weight falls linearly from β₀ to 0 at this fraction
    /// of the epochs; in (0, 1]. β(e) = β₀·max(0, 1 − (e + 1)/(decay_fraction·epochs)), so when
    /// decay_fraction·epochs ≤ 1 (one epoch, say) β is 0 throughout: plain distillation.
    double decay_fraction = 0.75;
    /// Default 3 (the paper's code): T of the term on the samples; in [1e-3, 1e3], as
    /// Distillation's.
    double temperature = 3.0;
};

/// What boundary_samples returns: n samples and, per sample, where it came from and how it
/// ended.
template <class Scalar>
struct BoundarySamples {
    using scalar_type = Scalar;
    Matrix<Scalar> samples;           ///< features × n, one sample per column
    std::vector<int> base_classes;    ///< b of each sample
    std::vector<int> target_classes;  ///< k of each sample
    std::vector<int> steps;           ///< gradient steps taken (bisection not counted)
    std::vector<double> gaps;         ///< the teacher's z_b − z_k at the sample
    std::vector<bool> reached;        ///< 0 ≥ gap ≥ −margin and no class above k

    /// n, the number of samples.
    [[nodiscard]] Eigen::Index size() const noexcept { return samples.cols(); }
    /// How many reached the boundary.
    [[nodiscard]] Eigen::Index reached_count() const noexcept {
        return Eigen::Index(std::count(reached.begin(), reached.end(), true));
    }
};

namespace detail {

inline void check_bss_generation(const BssOptions& o, const char* what) {
    require_positive_finite(o.step_size, what, "step_size (eta)");
    if (o.max_steps < 1)
        throw ValueError(concat(what, ": max_steps must be >= 1, got ", o.max_steps));
    if (!(o.epsilon >= 0) || !std::isfinite(o.epsilon)) {
        throw ValueError(concat(what, ": epsilon must be a finite number >= 0, got ", o.epsilon));
    }
    require_positive_finite(o.margin, what, "margin");
    if (o.target != TargetClass::sampled && o.target != TargetClass::runner_up) {
        throw ValueError(concat(what, ": target must be TargetClass::sampled or ",
                                "TargetClass::runner_up, got the value ", int(o.target)));
    }
}

/// One class per column, each in [0, classes): ShapeError / ValueError naming `name`.
inline void check_classes(std::span<const int> classes, Eigen::Index n, int count, const char* what,
                          const char* name) {
    if (Eigen::Index(classes.size()) != n) {
        throw ShapeError(concat(what, ": ", classes.size(), " ", name, " for ", n,
                                " samples; expected one per sample (column)"));
    }
    for (std::size_t j = 0; j < classes.size(); ++j) {
        if (classes[j] < 0 || classes[j] >= count) {
            throw ValueError(concat(what, ": ", name, "[", j, "] = ", classes[j],
                                    " is outside [0, ", count, ")"));
        }
    }
}

/// The target of each column of teacher logits z for base classes `base` (see TargetClass).
template <class Derived>
std::vector<int> choose_targets(const Eigen::MatrixBase<Derived>& z, std::span<const int> base,
                                TargetClass how, Rng& rng) {
    const Eigen::Index classes = z.rows();
    std::vector<int> out(base.size());
    for (Eigen::Index j = 0; j < z.cols(); ++j) {
        const int b = base[std::size_t(j)];
        int best = -1;
        if (how == TargetClass::runner_up) {
            for (int c = 0; c < classes; ++c)
                if (c != b && (best < 0 || z(c, j) > z(best, j))) best = c;
        } else {
            // p_c ∝ exp(z_c − top) over c ≠ b, drawn by inversion of the cumulative sum. top is
            // the largest logit *other than b's*, so the largest term is 1: shifted by z_b, all of
            // them underflow to 0 where z_b leads by more than about 745, and the draw would fall
            // through to the last class.
            double top = -std::numeric_limits<double>::infinity();
            for (int c = 0; c < classes; ++c)
                if (c != b) top = std::max(top, double(z(c, j)));
            double total = 0;
            for (int c = 0; c < classes; ++c)
                if (c != b) total += std::exp(double(z(c, j)) - top);
            const double u = rng.uniform() * total;
            double sum = 0;
            for (int c = 0; c < classes; ++c) {
                if (c == b) continue;
                best = c;
                sum += std::exp(double(z(c, j)) - top);
                if (sum > u) break;
            }
        }
        out[std::size_t(j)] = best;
    }
    return out;
}

/// Whether no class other than b and k has a logit above z_k in column j.
template <class Z>
bool k_on_top(const Z& z, Eigen::Index j, int b, int k) {
    for (Eigen::Index c = 0; c < z.rows(); ++c)
        if (c != b && c != k && z(c, j) > z(k, j)) return false;
    return true;
}
template <class Z>
bool b_or_k_on_top(const Z& z, Eigen::Index j, int b, int k) {
    const auto top = std::max(z(b, j), z(k, j));
    for (Eigen::Index c = 0; c < z.rows(); ++c)
        if (c != b && c != k && z(c, j) > top) return false;
    return true;
}

/// The generator behind boundary_samples, with its arguments checked.
template <class Net>
BoundarySamples<typename Net::scalar_type> generate_boundary_samples(
    Net& teacher, const Matrix<typename Net::scalar_type>& bases, std::span<const int> base,
    std::span<const int> target, const BssOptions& o) {
    using S = typename Net::scalar_type;
    const Eigen::Index n = bases.cols();
    BoundarySamples<S> r;
    r.samples = bases;
    r.base_classes.assign(base.begin(), base.end());
    r.target_classes.assign(target.begin(), target.end());
    r.steps.assign(std::size_t(n), 0);
    r.gaps.assign(std::size_t(n), 0.0);
    r.reached.assign(std::size_t(n), false);
    if (n == 0) return r;
    // The samples still moving, and the position before their last step (for the bisection).
    std::vector<Eigen::Index> active(static_cast<std::size_t>(n));
    std::iota(active.begin(), active.end(), Eigen::Index(0));
    Matrix<S> x(Net::input_size, n), previous(Net::input_size, n), d(Net::output_size, n);
    std::vector<double> previous_gap(std::size_t(n), 0.0);
    std::vector<char> crossed(std::size_t(n), 0);
    for (int step = 0; !active.empty(); ++step) {
        const auto m = Eigen::Index(active.size());
        for (Eigen::Index a = 0; a < m; ++a) x.col(a) = r.samples.col(active[std::size_t(a)]);
        // L = z_b − z_k; ∂L/∂z = e_b − e_k, backpropagated through the inference-mode network
        // (dropout is the identity there) to ∂L/∂x.
        const auto z = teacher.forward(x.leftCols(m), Mode::inference);
        d.leftCols(m).setZero();
        std::vector<Eigen::Index> still;
        for (Eigen::Index a = 0; a < m; ++a) {
            const Eigen::Index j = active[std::size_t(a)];
            const int b = base[std::size_t(j)], k = target[std::size_t(j)];
            const double gap = double(z(b, a)) - double(z(k, a));
            r.gaps[std::size_t(j)] = gap;
            // Stop: past the b–k boundary; or in a third class's region (the paper's code stops
            // once the teacher's class is no longer b); or out of steps.
            if (gap <= 0) {
                crossed[std::size_t(j)] = 1;
                continue;
            }
            if (!b_or_k_on_top(z, a, b, k) || step == o.max_steps) continue;
            d(b, a) = S(1);
            d(k, a) = S(-1);
            still.push_back(a);
        }
        if (still.empty()) break;
        detail::input_backward(teacher, d.leftCols(m));
        const auto g = teacher.input_gradient();
        std::vector<Eigen::Index> next;
        for (const Eigen::Index a : still) {
            const Eigen::Index j = active[std::size_t(a)];
            const double norm = double(g.col(a).norm());
            if (!(norm > 0) || !std::isfinite(norm)) continue;  // flat: no direction to go
            // The paper's step: x ← x − η·(L + ε)·∇L/‖∇L‖.
            previous.col(j) = r.samples.col(j);
            previous_gap[std::size_t(j)] = r.gaps[std::size_t(j)];
            r.samples.col(j) -=
                (S(o.step_size * (r.gaps[std::size_t(j)] + o.epsilon) / norm) * g.col(a)).eval();
            // A step beyond the scalar's range (a step_size or epsilon that is finite as a double
            // but not as a float, or a huge gap) would leave an infinite or NaN sample: undo it
            // and stop the sample there, not reached. O(features), against the step's forward.
            if (!r.samples.col(j).allFinite()) {
                r.samples.col(j) = previous.col(j);
                r.gaps[std::size_t(j)] = previous_gap[std::size_t(j)];
                continue;
            }
            ++r.steps[std::size_t(j)];
            next.push_back(j);
        }
        active = std::move(next);
    }
    // A step that crossed by more than the margin is bisected back along itself, forwards only:
    // lo keeps gap > 0, hi gap ≤ 0.
    Matrix<S> lo(Net::input_size, 1), hi(Net::input_size, 1), mid(Net::input_size, 1);
    for (Eigen::Index j = 0; j < n; ++j) {
        if (!crossed[std::size_t(j)] || r.gaps[std::size_t(j)] >= -o.margin ||
            r.steps[std::size_t(j)] == 0)
            continue;
        const int b = base[std::size_t(j)], k = target[std::size_t(j)];
        lo = previous.col(j);
        hi = r.samples.col(j);
        for (int i = 0; i < 60 && r.gaps[std::size_t(j)] < -o.margin; ++i) {
            mid = (lo + hi) * S(0.5);
            const auto z = teacher.forward(mid, Mode::inference);
            const double gap = double(z(b, 0)) - double(z(k, 0));
            if (gap <= 0) {
                hi = mid;
                r.gaps[std::size_t(j)] = gap;
            } else {
                lo = mid;
            }
        }
        r.samples.col(j) = hi;
    }
    const Matrix<S> z = teacher.forward(r.samples, Mode::inference);
    for (Eigen::Index j = 0; j < n; ++j) {
        const int b = base[std::size_t(j)], k = target[std::size_t(j)];
        const double gap = double(z(b, j)) - double(z(k, j));
        r.gaps[std::size_t(j)] = gap;
        r.reached[std::size_t(j)] = gap <= 0 && gap >= -o.margin && k_on_top(z, j, b, k);
    }
    return r;
}

template <class Net, class Derived>
void check_bases(const Eigen::MatrixBase<Derived>& bases, const char* what) {
    if (bases.rows() != Net::input_size) {
        throw ShapeError(concat(what, ": the base samples have ", bases.rows(),
                                " rows (features) but the teacher's input width is ",
                                Net::input_size));
    }
    require_finite(bases, what, "the base samples", "feature");
}

}  // namespace detail

/// Boundary-supporting samples of `teacher` from base samples (features × n, one per column) of
/// classes `base_classes` toward `target_classes`, all n at once. For each sample, with the
/// teacher's logits z(x) and L(x) = z_b(x) − z_k(x), the paper's step
///   x ← x − η·(L(x) + ε)·∇L(x)/‖∇L(x)‖
/// is repeated until L(x) ≤ 0 (the sample is past the b–k boundary), a class other than b and k
/// leads, the gradient vanishes, or max_steps steps are taken. A step that crosses by more than
/// the margin is bisected back along itself (our addition: see docs/boundary-samples.md).
///
///   auto s = boundary_samples(teacher, x, classes, targets, BssOptions{.step_size = 0.1});
///
/// The classes may be any LabelRange (std::vector<int>, std::vector<long>, Eigen::VectorXi, …).
///
/// Requires: `teacher` a Sequential (any Net with forward, backward(d, true) or backward_input(d),
///   and input_gradient), float or double; it is run in inference mode, so dropout is the
///   identity; its parameters are not changed, nor its parameter gradients (backward_input),
///   bar those of a custom layer without backward_input.
/// Ensures: returns n samples in the input order with their base and target classes, steps,
///   final gaps z_b − z_k and `reached` = (0 ≥ gap ≥ −margin and no class above k). A sample
///   whose gap is ≤ 0 to begin with is returned unchanged after 0 steps. No bases (n = 0, with
///   the teacher's input width in rows) give an empty result: a per-sample transform of no
///   samples, no mean.
/// Throws: ShapeError if `bases` has a row count other than the teacher's input width or a class
///   count other than n; ValueError for a NaN or infinite feature, a class outside
///   [0, Net::output_size), a target equal to its base, or a bad option (step_size ≤ 0, NaN or
///   ∞; max_steps < 1; epsilon < 0 or NaN; margin ≤ 0; a TargetClass value other than the two),
///   or a NaN or infinite parameter of the teacher (naming the block, row and column) — each
///   naming chrysalis::boundary_samples and the parameter.
template <class Net, class Derived, LabelRange Bases, LabelRange Targets>
BoundarySamples<typename Net::scalar_type> boundary_samples(Net& teacher,
                                                            const Eigen::MatrixBase<Derived>& bases,
                                                            const Bases& base_labels,
                                                            const Targets& target_labels,
                                                            const BssOptions& options = {}) {
    constexpr const char* what = "chrysalis::boundary_samples";
    const IntLabels base_ints = int_labels(base_labels, what);
    const IntLabels target_ints = int_labels(target_labels, what, "target");
    const std::span<const int> base_classes = base_ints.span();
    const std::span<const int> target_classes = target_ints.span();
    detail::check_bss_generation(options, what);
    detail::check_bases<Net>(bases, what);
    detail::check_classes(base_classes, bases.cols(), Net::output_size, what, "base_classes");
    detail::check_classes(target_classes, bases.cols(), Net::output_size, what, "target_classes");
    for (std::size_t j = 0; j < base_classes.size(); ++j) {
        if (base_classes[j] == target_classes[j]) {
            throw ValueError(detail::concat(what, ": target_classes[", j, "] = ", target_classes[j],
                                            " equals its base class; expected another class"));
        }
    }
    detail::require_finite_parameters(teacher, what, "the teacher");
    const Matrix<typename Net::scalar_type> x = bases;
    return detail::generate_boundary_samples(teacher, x, base_classes, target_classes, options);
}

/// The same with the targets chosen from the teacher's logits at the bases as options.target
/// says (TargetClass::sampled draws from options.seed). Requires, ensures and throws as above
/// (without the target checks), and also ValueError naming the sample when a logit at the bases
/// is NaN or infinite (the network overflows there: no target to choose); a network with fewer
/// than 2 outputs does not compile.
template <class Net, class Derived, LabelRange Bases>
BoundarySamples<typename Net::scalar_type> boundary_samples(Net& teacher,
                                                            const Eigen::MatrixBase<Derived>& bases,
                                                            const Bases& base_labels,
                                                            const BssOptions& options = {}) {
    static_assert(Net::output_size >= 2,
                  "chrysalis::boundary_samples: a boundary needs at least two classes");
    constexpr const char* what = "chrysalis::boundary_samples";
    const IntLabels base_ints = int_labels(base_labels, what);
    const std::span<const int> base_classes = base_ints.span();
    detail::check_bss_generation(options, what);
    detail::check_bases<Net>(bases, what);
    detail::check_classes(base_classes, bases.cols(), Net::output_size, what, "base_classes");
    detail::require_finite_parameters(teacher, what, "the teacher");
    const Matrix<typename Net::scalar_type> x = bases;
    Rng rng(options.seed);
    const Matrix<typename Net::scalar_type> z = teacher.forward(x, Mode::inference);
    // A target chosen from a NaN or infinite logit would be arbitrary.
    detail::require_finite(z, what, "the teacher's logits at the bases", "logit");
    const std::vector<int> targets = detail::choose_targets(z, base_classes, options.target, rng);
    return detail::generate_boundary_samples(teacher, x, base_classes, targets, options);
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
