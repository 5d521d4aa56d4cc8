#pragma once
// chrysalis/gradcheck.hpp — central finite differences against analytic gradients, for a layer,
// a network with a loss on top, or any function of a matrix. Run it in double on your own layers.
//
// For each checked coordinate θ_k the numeric derivative is the five-point central difference
//   (−f(θ + 2h) + 8 f(θ + h) − 8 f(θ − h) + f(θ − 2h)) / 12h,
// whose truncation error is h⁴·f⁽⁵⁾/30 and rounding error about 0.95·δ/h, δ the rounding error of
// one value of f. With the default h = 1e-4 both are near 1e-12 for values and derivatives of
// order one (the plain central difference would leave 1e-10, too close to the 1e-6 a check asks
// for when gradients are small), and kinks such as ReLU's at 0 are crossed only within 2e-4 of
// them. But δ grows with |f| and with the number of terms summed into it: a distillation loss at
// T = 10 holds T² times the teacher's entropy (|f| ≈ 230 for a batch of 32) while its gradient
// entries are of order 1/B, and there the rounding of a correct gradient's differences alone is
// several times 1e-6 of it. So δ is measured, not assumed: the fourth difference
//   Δ⁴ = f(θ + 2h) − 4 f(θ + h) + 6 f(θ) − 4 f(θ − h) + f(θ − 2h)
// is h⁴·f⁽⁴⁾ (about 1e-16·f⁽⁴⁾, nothing) plus rounding of rms √70·δ, so over a block's checked
// coordinates (a block: a parameter matrix or vector, or the input) the median of |Δ⁴| — which
// a few kinks inside the stencil cannot move — estimates δ (for normal noise the median of
// |Δ⁴| is 0.674·√70·δ = 5.6·δ), and the rounding of one numeric derivative has an rms of about
// 0.95·δ/h = 0.17·median|Δ⁴|/h. The allowance r = 2·median|Δ⁴|/h, about twelve times that, is
// what the differences cannot resolve, and the error reported is
//   max(0, |analytic − numeric| − r) / max(|analytic|, |numeric|, floor)
// with floor = 1e-4 by default, so gradients far below the rounding level are judged absolutely.
// For a loss of order one r is a few 1e-11, so a wrong gradient is found as before. Where r is
// large against the block's gradient (float, or a loss whose value dwarfs its gradient) the
// check cannot see small errors: GradcheckReport::resolution says how small, passed(tolerance)
// is false while it exceeds the tolerance, and a larger step lowers it. Where f
// bends on a scale near h (logits divided by a temperature of 0.01, say), Δ⁴ also holds
// h⁴·f⁽⁴⁾, which makes r larger than the rounding: a smaller step lowers it there.
//
// A loss enters a check either as a model of Loss / DistillationLoss (chrysalis/concepts/loss.hpp)
// with its labels — gradcheck_loss(loss, logits, labels), gradcheck_network(net, x, loss,
// labels) — or as a callable of the logits returning what a loss returns: a LossResult
// {.loss, .gradient} (or any struct with those members), or a pair {value, gradient}.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <functional>
#include <limits>
#include <numeric>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "chrysalis/concepts/layer.hpp"
#include "chrysalis/concepts/loss.hpp"
#include "chrysalis/config.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/labels.hpp"
#include "chrysalis/random.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// Settings of a gradient check. Every gradcheck_* refuses, naming itself and the field, a step
/// that is not a finite number > 0, a step so small that x ± step rounds back to x at a checked
/// coordinate (naming it), and a floor that is not a finite number >= 0 (ValueError).
struct GradcheckOptions {
    double step = 1e-4;   ///< h of the five-point central difference
    double floor = 1e-4;  ///< smallest denominator of the relative error
    /// 0: every coordinate; else this many per block (all where the block has fewer), evenly
    /// spaced in storage order with a stride coprime with the block's row count, so that they
    /// fall in as many different rows as there are checks (every row, given at least as many).
    std::size_t max_checks_per_block = 0;
};

/// What a gradient check found.
struct GradcheckReport {
    double max_error = 0;  ///< worst relative error (see the header comment)
    std::string where;     ///< the coordinate of the worst error, e.g. "parameter 2 (3, 5)"
    double analytic = 0;   ///< the analytic derivative there
    double numeric = 0;    ///< the finite-difference derivative there
    /// The allowance r of the coordinate's block (see the header comment): the part of
    /// |analytic − numeric| the differences cannot resolve, subtracted before dividing.
    double rounding = 0;
    /// The smallest relative error the check could see: the largest, over the blocks, of r over
    /// the block's largest derivative (analytic or numeric; at least floor). About 1e-9 for
    /// losses of order one in double; in float, or for a loss whose value dwarfs its gradient,
    /// it can exceed the tolerance asked, and a larger step (or double) lowers it.
    double resolution = 0;
    std::size_t checked = 0;  ///< coordinates compared

    /// True when every coordinate's error is at most `tolerance` (a NaN derivative anywhere is
    /// an error of ∞, so it never passes) and the check could see an error of `tolerance`
    /// (resolution ≤ tolerance): a check whose differences are too coarse does not pass.
    [[nodiscard]] bool passed(double tolerance = 1e-6) const {
        return max_error <= tolerance && resolution <= tolerance;
    }
};

namespace detail {

/// GradcheckOptions at the door of every gradient check: step a finite number > 0 (0, NaN or ∞
/// make every difference NaN), floor a finite number ≥ 0. ValueError naming `what` and the field.
inline void check_gradcheck_options(const GradcheckOptions& o, const char* what) {
    require_positive_finite(o.step, what, "GradcheckOptions::step");
    if (!(o.floor >= 0) || !std::isfinite(o.floor)) {
        throw ValueError(
            concat(what, ": GradcheckOptions::floor must be a finite number >= 0, got ", o.floor));
    }
}

/// Compares the analytic gradient `grad` of f at `x` with central differences, perturbing x in
/// place (it is restored), and folds the result into `report`. Throws ValueError naming `what`,
/// the step and the coordinate when x ± step rounds back to x there: the difference would be 0
/// whatever the derivative, and a backward that wrongly gives 0 would pass.
template <class Value, class Block, class Grad>
void check_block(Value&& value, Block& x, const Grad& grad, const std::string& name,
                 const GradcheckOptions& o, GradcheckReport& report, const char* what) {
    const Eigen::Index n = x.size();
    const bool all = o.max_checks_per_block == 0 || o.max_checks_per_block >= std::size_t(n);
    const Eigen::Index count = all ? n : Eigen::Index(o.max_checks_per_block);
    // Evenly spaced in storage order, with a stride that shares no factor with the row count: a
    // stride that is a multiple of it would check one row only (a wrong gradient in every other
    // row would pass). Coprime, the checks visit count different rows, or every row.
    Eigen::Index stride = all ? 1 : n / count;
    while (stride > 1 && std::gcd(stride, x.rows()) != 1) --stride;
    const double h = o.step;
    const double f0 = double(value());  // f(θ), the same for every coordinate of the block
    std::vector<double> numeric(static_cast<std::size_t>(count));
    std::vector<double> fourth(static_cast<std::size_t>(count));
    for (Eigen::Index c = 0; c < count; ++c) {
        const Eigen::Index k = c * stride;
        auto& xk = x.data()[k];
        const auto saved = xk;
        auto at = [&](double offset) {
            xk = saved + offset;
            return double(value());
        };
        using S = std::remove_cvref_t<decltype(xk)>;
        if (S(saved + h) == saved || S(saved - h) == saved) {
            throw ValueError(concat(what, ": GradcheckOptions::step = ", h, " does not change ",
                                    name, " coordinate ", k, " (", saved,
                                    "): x ± step rounds back to x, so the difference would be 0; "
                                    "expected a step above the coordinate's rounding"));
        }
        const double fp2 = at(2 * h), fp1 = at(h), fm1 = at(-h), fm2 = at(-2 * h);
        xk = saved;
        numeric[std::size_t(c)] = (-fp2 + 8 * fp1 - 8 * fm1 + fm2) / (12 * h);
        fourth[std::size_t(c)] = std::abs(fp2 - 4 * fp1 + 6 * f0 - 4 * fm1 + fm2);
    }
    // The median |Δ⁴| of the block's coordinates (its finite ones: a NaN value makes a NaN
    // derivative, the worst error whatever the allowance), and the allowance r from it.
    std::erase_if(fourth, [](double d) { return !std::isfinite(d); });
    double rounding = 0;
    if (!fourth.empty()) {
        const auto mid = fourth.begin() + std::ptrdiff_t(fourth.size() / 2);
        std::nth_element(fourth.begin(), mid, fourth.end());
        rounding = 2 * *mid / h;
    }
    double scale = o.floor;  // the block's largest derivative, analytic or numeric
    for (Eigen::Index c = 0; c < count; ++c) {
        for (const double d : {double(grad.data()[c * stride]), numeric[std::size_t(c)]})
            if (std::isfinite(d)) scale = std::max(scale, std::abs(d));
    }
    if (count > 0 && scale > 0) report.resolution = std::max(report.resolution, rounding / scale);
    for (Eigen::Index c = 0; c < count; ++c) {
        const Eigen::Index k = c * stride;
        const double analytic = double(grad.data()[k]), num = numeric[std::size_t(c)];
        // Equal derivatives (both 0 included, so floor = 0 works) agree exactly; a NaN error (a
        // NaN derivative) is the worst there is, so that the report names it and never passes.
        double error = 0;
        if (analytic != num) {
            const double excess = std::abs(analytic - num) - rounding;  // NaN stays NaN
            error = (std::isnan(excess) || excess > 0 ? excess : 0.0) /
                    std::max({std::abs(analytic), std::abs(num), o.floor});
        }
        if (std::isnan(error)) error = std::numeric_limits<double>::infinity();
        if (++report.checked == 1 || error > report.max_error) {
            report.max_error = error;
            report.where = concat(name, " (", k % x.rows(), ", ", k / x.rows(), ")");
            report.analytic = analytic;
            report.numeric = num;
            report.rounding = rounding;
        }
    }
}

/// What a loss of the logits returns: a LossResult (or any type with `.loss` and `.gradient`).
template <class R>
concept LossResultLike = requires(const R& r) {
    double(r.loss);
    Matrix<double>(r.gradient);
};
/// The older form: a pair-like {value, gradient}.
template <class R>
concept PairResultLike = requires(const R& r) {
    double(r.first);
    Matrix<double>(r.second);
};

/// A callable f(logits) that returns a loss's value and gradient, in either form above.
template <class F>
concept LogitsObjective = std::invocable < F&,
        const Matrix<double>
& > &&(LossResultLike<std::invoke_result_t<F&, const Matrix<double>&>> ||
       PairResultLike<std::invoke_result_t<F&, const Matrix<double>&>>);

template <class R>
double result_value(const R& r) {
    if constexpr (LossResultLike<R>) {
        return double(r.loss);
    } else {
        return double(r.first);
    }
}
template <class R>
Matrix<double> result_gradient(const R& r) {
    if constexpr (LossResultLike<R>) {
        return r.gradient;
    } else {
        return r.second;
    }
}

/// Sets every element of m to NaN. The contracts say backward and the losses overwrite their
/// gradients (concepts/layer.hpp, concepts/loss.hpp); the checks fill them with NaN first, so a
/// layer or loss that adds to them instead (+= where = was meant, a bug that passes a check of
/// fresh zero buffers and doubles the gradient on the next step of a training) fails.
template <class M>
void fill_nan(M& m) {
    m.setConstant(std::numeric_limits<typename std::remove_cvref_t<M>::Scalar>::quiet_NaN());
}

/// What gradcheck_network needs of a network (Sequential has it): forward(x, mode) returning
/// the logits, backward(∂loss/∂logits, true), input_gradient() and visit_parameters(f). (The
/// requirement is spelled here until a Network concept names it.)
template <class Net>
concept GradcheckNetwork = requires(Net& net, const Matrix<double>& x, Mode mode) {
    typename Net::scalar_type;
    Matrix<double>(net.forward(x, mode));
    net.backward(x, true);
    Matrix<double>(net.input_gradient());
    net.visit_parameters([](auto&, auto&) {});
};

/// A check needs something to check: `x` (what `name` says it is) with at least one row and
/// one column. A check of no coordinate would report max_error 0 and pass — a silent answer —
/// so ShapeError naming `what` instead.
inline void require_coordinates(Eigen::Index rows, Eigen::Index cols, const char* what,
                                const char* name) {
    if (rows == 0 || cols == 0) {
        throw ShapeError(concat(what, ": ", name, " is ", rows, "x", cols,
                                "; expected at least 1 row and 1 column (a check of no coordinate "
                                "would pass without checking anything)"));
    }
}

/// One label per column of the logits, when labels are given (ShapeError naming `what`).
inline void require_label_count(std::span<const int> labels, Eigen::Index cols, const char* what,
                                bool may_be_empty) {
    if ((may_be_empty && labels.empty()) || Eigen::Index(labels.size()) == cols) return;
    throw ShapeError(concat(what, ": ", labels.size(), " labels for ", cols,
                            " samples (logits columns); expected one label per sample",
                            may_be_empty ? ", or none" : ""));
}

/// gradcheck_function's work, for each public gradcheck_* that reduces to it, named `what`.
template <class F>
GradcheckReport check_function(F&& f, Matrix<double> x, const GradcheckOptions& o,
                               const char* what) {
    check_gradcheck_options(o, what);
    require_coordinates(x.rows(), x.cols(), what, "x");
    GradcheckReport report;
    const Matrix<double> grad = result_gradient(f(std::as_const(x)));
    if (grad.rows() != x.rows() || grad.cols() != x.cols()) {
        throw ShapeError(concat(what, ": the gradient f returned is ", grad.rows(), "x",
                                grad.cols(), " but x is ", x.rows(), "x", x.cols(),
                                "; expected a gradient of x's shape"));
    }
    check_block([&] { return result_value(f(std::as_const(x))); }, x, grad, "x", o, report, what);
    return report;
}

}  // namespace detail

/// Checks a scalar function of a matrix.
///
/// Requires: f(x) returns {value, ∂value/∂x} as a LossResult (`.loss`, `.gradient`, as every
///   loss's returning form gives) or a pair-like (`.first`, `.second`); the gradient has x's
///   shape. f is deterministic.
/// Ensures: compares the analytic gradient at x with five-point differences of the value for
///   every coordinate (or max_checks_per_block of them) and reports the worst; x is unchanged.
/// Throws: ShapeError naming chrysalis::gradcheck_function for an x with no row or no column
///   (nothing to check), or a gradient of another shape than x; ValueError naming it, the step
///   and the coordinate when x ± step rounds back to x there (the difference would be 0 whatever
///   the derivative); what f throws.
template <detail::LogitsObjective F>
GradcheckReport gradcheck_function(F&& f, Matrix<double> x, const GradcheckOptions& o = {}) {
    return detail::check_function(std::forward<F>(f), std::move(x), o,
                                  "chrysalis::gradcheck_function");
}

/// Checks a Loss's gradient with respect to the logits, at `logits` with `labels`, calling it as
/// the training loop does: loss(ConstMatrixRef, std::span<const int>, MatrixRef).
///
/// Requires: Loss<L, double> (taken by value: a copy is checked); `logits` classes × B; `labels`
///   a LabelRange of B labels that the loss accepts.
/// Ensures: as gradcheck_function, for f(z) = loss(z, labels).
/// Throws: ShapeError naming chrysalis::gradcheck_loss for logits with no row or no column, or
///   a label count other than B; otherwise what the loss throws.
template <Loss<double> L, LabelRange Labels = std::span<const int>>
GradcheckReport gradcheck_loss(L loss, Matrix<double> logits, const Labels& labels,
                               const GradcheckOptions& o = {}) {
    constexpr const char* what = "chrysalis::gradcheck_loss";
    detail::check_gradcheck_options(o, what);
    detail::require_coordinates(logits.rows(), logits.cols(), what, "logits");
    const IntLabels ints = int_labels(labels, what);
    const std::span<const int> y = ints.span();
    detail::require_label_count(y, logits.cols(), what, false);
    Matrix<double> g(logits.rows(), logits.cols());
    auto f = [&](const Matrix<double>& z) {
        detail::fill_nan(g);  // the loss must overwrite it
        const double value = double(loss(ConstMatrixRef<double>(z), y, MatrixRef<double>(g)));
        return std::pair<double, Matrix<double>>{value, g};
    };
    return detail::check_function(f, std::move(logits), o, what);
}

/// Checks a DistillationLoss's gradient with respect to the student's logits, with the teacher's
/// logits (or whatever target the loss takes) and labels fixed, calling it as the training loop
/// does: loss(ConstMatrixRef student, ConstMatrixRef teacher, std::span<const int>, MatrixRef).
///
/// Requires: DistillationLoss<L, double> (taken by value); `student` and `teacher` classes × B;
/// `labels` a
///   LabelRange the loss accepts (empty if it needs none).
/// Ensures: as gradcheck_function, for f(z) = loss(z, teacher, labels).
/// Throws: ShapeError naming chrysalis::gradcheck_loss for student logits with no row or no
///   column, a teacher of another shape, or labels given with a count other than B; otherwise
///   what the loss throws.
template <DistillationLoss<double> L, LabelRange Labels = std::span<const int>>
GradcheckReport gradcheck_loss(L loss, Matrix<double> student, const Matrix<double>& teacher,
                               const Labels& labels, const GradcheckOptions& o = {}) {
    constexpr const char* what = "chrysalis::gradcheck_loss";
    detail::check_gradcheck_options(o, what);
    detail::require_coordinates(student.rows(), student.cols(), what, "student");
    if (teacher.rows() != student.rows() || teacher.cols() != student.cols()) {
        throw ShapeError(detail::concat(what, ": teacher is ", teacher.rows(), "x", teacher.cols(),
                                        " but student is ", student.rows(), "x", student.cols(),
                                        "; expected one classes x batch shape"));
    }
    const IntLabels ints = int_labels(labels, what);
    const std::span<const int> y = ints.span();
    detail::require_label_count(y, student.cols(), what, true);
    Matrix<double> g(student.rows(), student.cols());
    auto f = [&](const Matrix<double>& z) {
        detail::fill_nan(g);  // the loss must overwrite it
        const double value = double(loss(ConstMatrixRef<double>(z), ConstMatrixRef<double>(teacher),
                                         y, MatrixRef<double>(g)));
        return std::pair<double, Matrix<double>>{value, g};
    };
    return detail::check_function(f, std::move(student), o, what);
}

/// Checks a network and a loss on top.
///
/// Requires: `net` a double network (Sequential<…, double> or anything with its forward,
///   backward, input_gradient and visit_parameters); `loss(logits)` returns {value,
///   ∂value/∂logits} as a LossResult or a pair-like, e.g.
///   [&](const auto& z) { return CrossEntropy{}(z, labels); }. Stochastic layers must be fixed
///   first (for Dropout: one training forward, then freeze_mask(true)).
/// Ensures: every parameter block (in visit_parameters order) and the input gradient are
///   compared with central differences of loss(net.forward(x, mode)) — the input gradient of
///   backward(…, true) and, where the network has backward_input, the one it gives (reported
///   as "input (backward_input)"); the parameters are restored.
/// Throws: ShapeError naming chrysalis::gradcheck_network for an x with no column (no sample:
///   nothing to check), for a network with an input_size another row count, or a loss whose
///   gradient is not of the logits' shape; otherwise what the network and the loss throw.
template <detail::GradcheckNetwork Net, detail::LogitsObjective F>
GradcheckReport gradcheck_network(Net& net, Matrix<double> x, F&& loss,
                                  const GradcheckOptions& o = {}, Mode mode = Mode::training) {
    static_assert(std::is_same_v<typename Net::scalar_type, double>,
                  "chrysalis::gradcheck_network: check a double network (Dense<In, Out, double>); "
                  "float rounding would swamp the finite differences");
    constexpr const char* what = "chrysalis::gradcheck_network";
    detail::check_gradcheck_options(o, what);
    if constexpr (requires { Net::input_size; }) {
        if (x.rows() != Net::input_size) {
            throw ShapeError(detail::concat(what, ": x has ", x.rows(),
                                            " rows (features) but the network's input width is ",
                                            Net::input_size));
        }
    }
    detail::require_coordinates(x.rows(), x.cols(), what, "x");
    auto value = [&] {
        const Matrix<double> z = net.forward(x, mode);
        return detail::result_value(loss(z));
    };
    const Matrix<double> logits = net.forward(x, mode);
    const Matrix<double> d_logits = detail::result_gradient(loss(logits));
    if (d_logits.rows() != logits.rows() || d_logits.cols() != logits.cols()) {
        throw ShapeError(detail::concat(what, ": the loss's gradient is ", d_logits.rows(), "x",
                                        d_logits.cols(), " but the logits are ", logits.rows(), "x",
                                        logits.cols(), "; expected a gradient of their shape"));
    }
    // Twice, the parameter gradients NaN before: backward overwrites them, and each layer's dx,
    // so a layer that adds to either (to the network's buffers of the first call, the second
    // time) fails the check.
    net.visit_parameters([](auto&, auto& g) { detail::fill_nan(g); });
    net.backward(d_logits, true);
    net.backward(d_logits, true);

    // Snapshot the analytic gradients before the perturbed forwards.
    std::vector<Matrix<double>> grads;
    net.visit_parameters([&](auto&, auto& g) { grads.emplace_back(g); });
    const Matrix<double> input_grad = net.input_gradient();

    GradcheckReport report;
    std::size_t block = 0;
    net.visit_parameters([&](auto& p, auto&) {
        detail::check_block(value, p, grads[block], detail::concat("parameter ", block), o, report,
                            what);
        ++block;
    });
    detail::check_block(value, x, input_grad, "input", o, report, what);
    if constexpr (requires { net.backward_input(d_logits); }) {
        // The input gradient without the parameters' (what the attacks and the boundary samples
        // use): the same finite differences must agree with it too. check_block's last forward
        // was at a perturbed x, so a forward at x first.
        (void)net.forward(x, mode);
        net.backward_input(d_logits);
        const Matrix<double> input_only = net.input_gradient();
        detail::check_block(value, x, input_only, "input (backward_input)", o, report, what);
    }
    return report;
}

/// Checks a network with a Loss on top and these labels: as gradcheck_network(net, x, f) with
/// f(z) = loss(z, labels), calling the loss as the training loop does.
///
/// Requires: as above; Loss<L, double>; `labels` a LabelRange of x.cols() labels.
/// Throws: as above; also ShapeError naming chrysalis::gradcheck_network for a label count other
///   than x.cols().
template <detail::GradcheckNetwork Net, Loss<double> L, LabelRange Labels = std::span<const int>>
GradcheckReport gradcheck_network(Net& net, Matrix<double> x, L loss, const Labels& labels,
                                  const GradcheckOptions& o = {}, Mode mode = Mode::training) {
    const IntLabels ints = int_labels(labels, "chrysalis::gradcheck_network");
    const std::span<const int> y = ints.span();
    detail::require_label_count(y, x.cols(), "chrysalis::gradcheck_network", false);
    Matrix<double> g;
    auto f = [&](const Matrix<double>& z) {
        g.resize(z.rows(), z.cols());
        detail::fill_nan(g);  // the loss must overwrite it
        const double value = double(loss(ConstMatrixRef<double>(z), y, MatrixRef<double>(g)));
        return std::pair<double, Matrix<double>>{value, g};
    };
    return gradcheck_network(net, std::move(x), f, o, mode);
}

/// Checks one layer: the loss is L = Σ r ⊙ layer(x) with r a fixed random matrix, so
/// ∂L/∂output = r; the parameter gradients and ∂L/∂x from backward — and from the layer's
/// optional backward_input, where it has one ("input (backward_input)") — are compared with
/// central differences. The layer must compute in double.
/// Throws: ShapeError naming chrysalis::gradcheck_layer for an x with no row or no column,
///   output_rows < 1, or widths other than the layer's: x.rows() its input_size and output_rows
///   its output_size (x.rows() for a same_width layer); otherwise what the layer throws.
template <class L>
GradcheckReport gradcheck_layer(L& layer, Matrix<double> x, Eigen::Index output_rows,
                                const GradcheckOptions& o = {}, Seed seed = {},
                                Mode mode = Mode::training) {
    static_assert(Layer<L, double>,
                  "chrysalis::gradcheck_layer: check a layer (forward(x, y, mode) and "
                  "backward(x, y, dy, dx), chrysalis::Layer) that computes in double, e.g. "
                  "Dense<In, Out, double>: float rounding would swamp the finite differences. "
                  "For a whole network, use gradcheck_network");
    constexpr const char* what = "chrysalis::gradcheck_layer";
    detail::check_gradcheck_options(o, what);
    detail::require_coordinates(x.rows(), x.cols(), what, "x");
    Eigen::Index in = x.rows(), out = x.rows();
    if constexpr (requires { L::input_size; }) {
        if constexpr (L::input_size != same_width) in = L::input_size;
    }
    if constexpr (requires { L::output_size; }) {
        if constexpr (L::output_size != same_width) out = L::output_size;
    }
    if (x.rows() != in || output_rows != out) {
        throw ShapeError(detail::concat(what, ": x has ", x.rows(), " rows and output_rows is ",
                                        output_rows, " but the layer maps ", in, " to ", out,
                                        " rows; expected x of ", in,
                                        " rows and output_rows = ", out));
    }
    Rng rng(seed);
    Matrix<double> r(output_rows, x.cols());
    for (Eigen::Index i = 0; i < r.size(); ++i) r.data()[i] = rng.uniform(-1, 1);
    Matrix<double> y(output_rows, x.cols());
    auto value = [&] {
        layer.forward(ConstMatrixRef<double>(x), MatrixRef<double>(y), mode);
        return (r.array() * y.array()).sum();
    };
    value();
    // dx and the parameter gradients NaN first: backward must overwrite them (detail::fill_nan).
    Matrix<double> dx(x.rows(), x.cols());
    detail::fill_nan(dx);
    std::vector<Matrix<double>> grads;
    if constexpr (detail::visits_parameters<L>) {
        auto poison = [](auto&, auto& g) { detail::fill_nan(g); };
        layer.visit_parameters(poison);
    }
    layer.backward(ConstMatrixRef<double>(x), ConstMatrixRef<double>(y), ConstMatrixRef<double>(r),
                   MatrixRef<double>(dx));
    if constexpr (detail::visits_parameters<L>) {
        auto snapshot = [&](auto&, auto& g) { grads.emplace_back(g); };
        layer.visit_parameters(snapshot);
    }

    GradcheckReport report;
    if constexpr (detail::visits_parameters<L>) {
        std::size_t block = 0;
        auto check = [&](auto& p, auto&) {
            detail::check_block(value, p, grads[block], detail::concat("parameter ", block), o,
                                report, what);
            ++block;
        };
        layer.visit_parameters(check);
    }
    detail::check_block(value, x, dx, "input", o, report, what);
    if constexpr (detail::has_backward_input<L, double>) {
        // The optional backward_input must give backward's dx (concepts/layer.hpp): checked
        // against the same finite differences, after a forward at x (check_block's last forward
        // was at a perturbed x).
        value();
        Matrix<double> dx_only(x.rows(), x.cols());
        detail::fill_nan(dx_only);
        layer.backward_input(ConstMatrixRef<double>(x), ConstMatrixRef<double>(y),
                             ConstMatrixRef<double>(r), MatrixRef<double>(dx_only));
        detail::check_block(value, x, dx_only, "input (backward_input)", o, report, what);
    }
    return report;
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
