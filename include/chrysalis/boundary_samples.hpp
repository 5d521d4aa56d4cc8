#pragma once
// chrysalis/boundary_samples.hpp — boundary-supporting samples (Heo, Lee, Yun & Choi, "Knowledge
// Distillation with Adversarial Samples Supporting Decision Boundary", AAAI 2019, arXiv
// 1805.05532): samples moved from a base sample of class b, by gradient steps on the teacher's
// input, to just past the teacher's decision boundary between b and a target class k; a
// distillation that adds a distillation term on them; and the paper's two measures of how alike
// two networks' decision boundaries are (MagSim, AngSim). docs/boundary-samples.md has the math
// and where we depart from the paper. No file I/O.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "chrysalis/concepts/loss.hpp"
#include "chrysalis/concepts/observer.hpp"
#include "chrysalis/config.hpp"
#include "chrysalis/dataset.hpp"
#include "chrysalis/detail/data_checks.hpp"
#include "chrysalis/detail/input_backward.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/losses.hpp"
#include "chrysalis/optimizer_state.hpp"
#include "chrysalis/random.hpp"
#include "chrysalis/softmax.hpp"
#include "chrysalis/tensor.hpp"
#include "chrysalis/train_options.hpp"
#include "chrysalis/training_loop.hpp"

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
    /// of the epochs; in (0, 1].
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
}

inline void check_bss_training(const BssOptions& o, const char* what) {
    check_bss_generation(o, what);
    if (o.samples_per_batch < 1) {
        throw ValueError(
            concat(what, ": samples_per_batch must be >= 1, got ", o.samples_per_batch));
    }
    if (!(o.weight >= 0) || !std::isfinite(o.weight))
        throw ValueError(concat(what, ": weight must be a finite number >= 0, got ", o.weight));
    if (!(o.decay_fraction > 0 && o.decay_fraction <= 1)) {
        throw ValueError(
            concat(what, ": decay_fraction must be in (0, 1], got ", o.decay_fraction));
    }
    require_temperature(o.temperature, what, "temperature");
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
            // p_c ∝ exp(z_c − max z) over c ≠ b, drawn by inversion of the cumulative sum.
            const double top = double(z.col(j).maxCoeff());
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
///   ∞; max_steps < 1; epsilon < 0 or NaN; margin ≤ 0), or a NaN or infinite parameter of the
///   teacher (naming the block, row and column) — each naming chrysalis::boundary_samples and
///   the parameter.
template <class Net, class Derived>
BoundarySamples<typename Net::scalar_type> boundary_samples(Net& teacher,
                                                            const Eigen::MatrixBase<Derived>& bases,
                                                            std::span<const int> base_classes,
                                                            std::span<const int> target_classes,
                                                            const BssOptions& options = {}) {
    constexpr const char* what = "chrysalis::boundary_samples";
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
/// (without the target checks); a network with fewer than 2 outputs does not compile.
template <class Net, class Derived>
BoundarySamples<typename Net::scalar_type> boundary_samples(Net& teacher,
                                                            const Eigen::MatrixBase<Derived>& bases,
                                                            std::span<const int> base_classes,
                                                            const BssOptions& options = {}) {
    static_assert(Net::output_size >= 2,
                  "chrysalis::boundary_samples: a boundary needs at least two classes");
    constexpr const char* what = "chrysalis::boundary_samples";
    detail::check_bss_generation(options, what);
    detail::check_bases<Net>(bases, what);
    detail::check_classes(base_classes, bases.cols(), Net::output_size, what, "base_classes");
    detail::require_finite_parameters(teacher, what, "the teacher");
    const Matrix<typename Net::scalar_type> x = bases;
    Rng rng(options.seed);
    const Matrix<typename Net::scalar_type> z = teacher.forward(x, Mode::inference);
    const std::vector<int> targets = detail::choose_targets(z, base_classes, options.target, rng);
    return detail::generate_boundary_samples(teacher, x, base_classes, targets, options);
}

/// How alike two networks' decision boundaries are, by the paper's two measures, on base samples
/// that both classify correctly: from each base x (class b) toward the same target k, each
/// network's own boundary-supporting sample, x_t (first network) and x_s (second), and their
/// perturbations v_t = x_t − x, v_s = x_s − x. Over the pairs where both reached the boundary:
///   magsim = mean of min(‖v_t‖, ‖v_s‖)/max(‖v_t‖, ‖v_s‖)   (1: equally far; 0: very unequal)
///   angsim = mean of cos ∠(v_t, v_s)                      (1: same direction; −1: opposite)
struct BoundarySimilarity {
    double magsim = std::numeric_limits<double>::quiet_NaN();
    double angsim = std::numeric_limits<double>::quiet_NaN();
    Eigen::Index pairs = 0;  ///< pairs in the means (NaN means when 0)
    Eigen::Index bases = 0;  ///< base samples both networks classify correctly
};

/// boundary_similarity(teacher, student, data, options, max_bases): MagSim and AngSim (see
/// BoundarySimilarity) between two networks of the same input and output widths, on the first
/// max_bases samples of `data` both classify correctly, the targets chosen from the first
/// network's logits as options.target says.
/// Requires: networks as for boundary_samples.
/// Ensures: a network with itself gives magsim = angsim = 1 (to rounding) on every pair.
/// Throws: ValueError for max_bases < 1 or a bad option, ShapeError/ValueError for data that
///   does not fit the networks (as accuracy), ValueError for a NaN or infinite parameter or
///   logit of either network (a NaN logit has no class, so no base could be chosen honestly),
///   each naming chrysalis::boundary_similarity.
template <class Teacher, class Student>
BoundarySimilarity boundary_similarity(Teacher& teacher, Student& student,
                                       const Dataset<typename Teacher::scalar_type>& data,
                                       const BssOptions& options = {},
                                       Eigen::Index max_bases = 1000) {
    static_assert(
        Teacher::input_size == Student::input_size && Teacher::output_size == Student::output_size,
        "chrysalis::boundary_similarity: the networks differ in input or output width");
    static_assert(std::is_same_v<typename Teacher::scalar_type, typename Student::scalar_type>,
                  "chrysalis::boundary_similarity: the networks differ in scalar type");
    static_assert(Teacher::output_size >= 2,
                  "chrysalis::boundary_similarity: a boundary needs at least two classes");
    using S = typename Teacher::scalar_type;
    constexpr const char* what = "chrysalis::boundary_similarity";
    detail::check_bss_generation(options, what);
    if (max_bases < 1)
        throw ValueError(detail::concat(what, ": max_bases must be >= 1, got ", max_bases));
    detail::check_data<Teacher>(data, what);
    detail::check_labels<Teacher>(data, what);
    detail::require_finite_parameters(teacher, what, "the first network (teacher)");
    detail::require_finite_parameters(student, what, "the second network (student)");
    const Matrix<S> zt = teacher.forward(data.features, Mode::inference);
    const Matrix<S> zs = student.forward(data.features, Mode::inference);
    // A NaN logit would make maxCoeff's class, hence the bases chosen, arbitrary.
    detail::require_finite(zt, what, "the first network's (teacher's) logits", "logit");
    detail::require_finite(zs, what, "the second network's (student's) logits", "logit");
    std::vector<Eigen::Index> chosen;
    for (Eigen::Index j = 0; j < data.size() && Eigen::Index(chosen.size()) < max_bases; ++j) {
        Eigen::Index at = 0, as = 0;
        zt.col(j).maxCoeff(&at);
        zs.col(j).maxCoeff(&as);
        if (at == data.labels[std::size_t(j)] && as == at) chosen.push_back(j);
    }
    BoundarySimilarity out;
    out.bases = Eigen::Index(chosen.size());
    if (chosen.empty()) return out;
    Matrix<S> x(Teacher::input_size, out.bases), z(Teacher::output_size, out.bases);
    std::vector<int> base(chosen.size());
    for (std::size_t i = 0; i < chosen.size(); ++i) {
        x.col(Eigen::Index(i)) = data.features.col(chosen[i]);
        z.col(Eigen::Index(i)) = zt.col(chosen[i]);
        base[i] = data.labels[std::size_t(chosen[i])];
    }
    Rng rng(options.seed);
    const std::vector<int> target = detail::choose_targets(z, base, options.target, rng);
    const auto t = detail::generate_boundary_samples(teacher, x, base, target, options);
    const auto s = detail::generate_boundary_samples(student, x, base, target, options);
    double mag = 0, ang = 0;
    for (Eigen::Index j = 0; j < out.bases; ++j) {
        if (!t.reached[std::size_t(j)] || !s.reached[std::size_t(j)]) continue;
        const Vector<double> vt = (t.samples.col(j) - x.col(j)).template cast<double>();
        const Vector<double> vs = (s.samples.col(j) - x.col(j)).template cast<double>();
        const double nt = vt.norm(), ns = vs.norm();
        if (!(nt > 0) || !(ns > 0)) continue;  // a base already on the boundary has no direction
        mag += std::min(nt, ns) / std::max(nt, ns);
        ang += vt.dot(vs) / (nt * ns);
        ++out.pairs;
    }
    if (out.pairs > 0) {
        out.magsim = mag / double(out.pairs);
        out.angsim = ang / double(out.pairs);
    }
    return out;
}

namespace detail {

/// The optimizer distill_with_boundary_samples hands train_loop: before the wrapped optimizer's
/// step it adds, block by block, the gradient of the term on the boundary-supporting samples
/// (computed in the loss step, before the batch's own backward overwrote the gradients). It
/// steps through step(net, epoch), so the per-layer update inside backward is not used.
template <class Optimizer, class Scalar>
struct WithExtraGradient {
    Optimizer* inner;
    const std::vector<Vector<Scalar>>* extra;
    const bool* active;

    static std::string name() { return Optimizer::name(); }
    template <class S>
    void save_state(StateWriter<S>& out) const {
        inner->save_state(out);
    }
    template <class S>
    void load_state(StateReader<S>& in) {
        inner->load_state(in);
    }
    template <class Net>
    void step(Net& net, int epoch) {
        if (*active) {
            std::size_t block = 0;
            net.visit_parameters([&](auto&, auto& g) {
                const Vector<Scalar>& e = (*extra)[block++];
                Eigen::Map<Vector<Scalar>>(g.data(), g.size()) += e;
            });
        }
        if constexpr (requires { inner->step(net, epoch); }) {
            inner->step(net, epoch);
        } else {
            inner->begin_step();
            std::size_t block = 0;
            net.visit_parameters([&](auto& p, auto& g) { inner->update(p, g, block++, epoch); });
        }
    }
};

}  // namespace detail

/// Distillation with boundary-supporting samples (the paper's training): each batch is distilled
/// from the live teacher with `kd` as distill does, plus a term on boundary-supporting samples
/// made fresh for the batch:
///   loss = kd(z_s(x), z_t(x), y) + β(e)·KL(softmax(z_t(x̃)/T) ‖ softmax(z_s(x̃)/T))
/// where x̃ are boundary_samples of the teacher from the batch samples it classifies correctly
/// (at most samples_per_batch of them: those where student and teacher probabilities differ most
/// off the true class, as the paper picks them), toward targets chosen as options.target says,
/// and β(e) = weight·max(0, 1 − (e + 1)/(decay_fraction·epochs)) for epoch e from 0 (the paper's
/// schedule). The term's gradient is the paper's soft cross-entropy's (KL differs from it by the
/// teacher's entropy, a constant). Returns one report per epoch; its loss includes the term.
///
///   distill_with_boundary_samples(student, transfer, teacher, Distillation{.temperature = 4,
///       .alpha = 0.9}, adam, {.epochs = 40}, BssOptions{.step_size = 0.3});
///
/// Requires: `kd` models DistillationLoss (called with the teacher's logits); teacher and
///   student of the same input and output widths and scalar type; observers as for fit (they
///   see a wrapper of `optimizer` with its name and state). Each batch costs, besides the
///   distillation step, up to max_steps teacher forward/backward passes on its bases.
/// Ensures: only the student's parameters (and `optimizer`'s state) change; the teacher's
///   parameter gradients are left as boundary_samples leaves them. With weight = 0 every batch is
///   distill's, bar the order of the update (after backward rather than inside it). β(e) and
///   the targets' draws depend only on the epoch and the batch index, so a run resumed through
///   Checkpointing{.resume_from} ends bit-identical to the uninterrupted run, as fit's does.
/// Throws: as distill; ValueError for a bad BssOptions field (naming it and
///   chrysalis::distill_with_boundary_samples), or for the student object itself as the teacher.
template <class Net, class Teacher, class KD, class Optimizer, class... Observers>
requires DistillationLoss < std::remove_reference_t<KD>,
typename Net::scalar_type > std::vector<EpochReport> distill_with_boundary_samples(
                                Net& student, const Dataset<typename Net::scalar_type>& data,
                                Teacher& teacher, KD&& kd, Optimizer& optimizer,
                                const TrainOptions<typename Net::scalar_type>& options,
                                const BssOptions& bss, Observers&&... observers) {
    static_assert(!takes_probabilities_v<KD>,
                  "chrysalis::distill_with_boundary_samples: this loss reads teacher "
                  "probabilities, not logits (takes_probabilities)");
    static_assert(Teacher::output_size == Net::output_size,
                  "chrysalis::distill_with_boundary_samples: the teacher and the student "
                  "disagree on the number of classes (their output widths differ)");
    static_assert(Teacher::input_size == Net::input_size,
                  "chrysalis::distill_with_boundary_samples: the teacher and the student take "
                  "inputs of different widths");
    static_assert(Teacher::output_size >= 2,
                  "chrysalis::distill_with_boundary_samples: a boundary needs at least two "
                  "classes");
    using S = typename Net::scalar_type;
    constexpr const char* what = "chrysalis::distill_with_boundary_samples";
    detail::check_bss_training(bss, what);
    detail::check_options(options, what);
    if (static_cast<const void*>(&teacher) == static_cast<const void*>(&student)) {
        throw ValueError(detail::concat(what,
                                        ": the teacher is the student itself; distil from a "
                                        "copy (auto teacher = student;)"));
    }
    detail::require_finite_parameters(teacher, what, "the teacher");

    std::vector<Vector<S>> extra;
    student.visit_parameters(
        [&](auto& p, auto&) { extra.emplace_back(Vector<S>::Zero(p.size())); });
    bool active = false;
    detail::WithExtraGradient<Optimizer, S> wrapped{&optimizer, &extra, &active};
    Distillation soft{.temperature = bss.temperature, .alpha = 1.0};
    Matrix<S> t, bases, bss_teacher, bss_grad;

    return detail::train_loop(
        student, data, wrapped, options,
        [&](auto& batcher, auto& grad, const BatchReport& at) {
            const auto x = batcher.features();
            const auto y = batcher.labels();
            const Eigen::Index b = x.cols();
            // β and the targets' generator follow the loop's epoch and batch, not a count of
            // calls: a run resumed from a checkpoint (Checkpointing::resume_from) draws what the
            // uninterrupted run drew from that batch on.
            const int epoch = at.epoch;
            const double beta =
                bss.weight *
                std::max(0.0, 1.0 - double(epoch + 1) / (bss.decay_fraction * options.epochs));
            t = teacher.forward(x, Mode::inference);
            double extra_loss = 0;
            active = false;
            if (beta > 0) {
                // Bases: samples the teacher classifies correctly; if too many, those where the
                // student's probabilities differ most from the teacher's off the true class.
                std::vector<Eigen::Index> candidates;
                for (Eigen::Index j = 0; j < b; ++j) {
                    Eigen::Index arg = 0;
                    t.col(j).maxCoeff(&arg);
                    if (arg == y[std::size_t(j)]) candidates.push_back(j);
                }
                if (Eigen::Index(candidates.size()) > bss.samples_per_batch) {
                    const Matrix<S> pt = softmax(t, 1.0);
                    const Matrix<S> ps = softmax(student.forward(x, Mode::inference), 1.0);
                    std::vector<double> score(std::size_t(b), 0.0);
                    for (const Eigen::Index j : candidates) {
                        const Eigen::Index c = y[std::size_t(j)];
                        score[std::size_t(j)] =
                            double((pt.col(j) - ps.col(j)).squaredNorm()) -
                            double((pt(c, j) - ps(c, j)) * (pt(c, j) - ps(c, j)));
                    }
                    std::stable_sort(candidates.begin(), candidates.end(),
                                     [&](Eigen::Index i, Eigen::Index j) {
                                         return score[std::size_t(i)] > score[std::size_t(j)];
                                     });
                    candidates.resize(std::size_t(bss.samples_per_batch));
                }
                if (!candidates.empty()) {
                    const auto m = Eigen::Index(candidates.size());
                    bases.resize(Net::input_size, m);
                    Matrix<S> zb(Net::output_size, m);
                    std::vector<int> base(candidates.size());
                    for (Eigen::Index i = 0; i < m; ++i) {
                        bases.col(i) = x.col(candidates[std::size_t(i)]);
                        zb.col(i) = t.col(candidates[std::size_t(i)]);
                        base[std::size_t(i)] = y[std::size_t(candidates[std::size_t(i)])];
                    }
                    Rng rng(derive_seed(derive_seed(bss.seed, std::uint64_t(at.epoch)),
                                        std::uint64_t(at.batch)));
                    const std::vector<int> target =
                        detail::choose_targets(zb, base, bss.target, rng);
                    const auto gen =
                        detail::generate_boundary_samples(teacher, bases, base, target, bss);
                    bss_teacher = teacher.forward(gen.samples, Mode::inference);
                    const auto zs = student.forward(gen.samples, Mode::training);
                    // β·KL·T²/T²: Distillation's T² undone, so the gradient is the paper's.
                    const S scale = S(beta / (bss.temperature * bss.temperature));
                    extra_loss = double(scale) *
                                 double(soft(zs, bss_teacher, std::span<const int>{}, bss_grad));
                    bss_grad *= scale;
                    student.backward(bss_grad);
                    std::size_t block = 0;
                    student.visit_parameters([&](auto&, auto& g) {
                        extra[block++] = Eigen::Map<const Vector<S>>(g.data(), g.size());
                    });
                    active = true;
                }
            }
            const auto zs = student.forward(x, Mode::training);
            return double(kd(zs, t, y, grad)) + extra_loss;
        },
        what, observers...);
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
