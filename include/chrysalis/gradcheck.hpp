#pragma once
// chrysalis/gradcheck.hpp — central finite differences against analytic gradients, for a layer,
// a network with a loss on top, or any function of a matrix. Run it in double on your own layers.
//
// For each checked coordinate θ_k the numeric derivative is the five-point central difference
//   (−f(θ + 2h) + 8 f(θ + h) − 8 f(θ − h) + f(θ − 2h)) / 12h,
// whose truncation error is h⁴·f⁽⁵⁾/30 and rounding error about 3u·|f|/h (u = 1.1e-16 in
// double). With the default h = 1e-4 both are near 1e-12 for values and derivatives of order one
// (the plain central difference would leave 1e-10, too close to the 1e-6 a check asks for when
// gradients are small), and kinks such as ReLU's at 0 are crossed only within 2e-4 of them. The
// error reported is
//   |analytic − numeric| / max(|analytic|, |numeric|, floor)
// with floor = 1e-4 by default, so gradients far below the rounding level are judged absolutely.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "chrysalis/config.hpp"
#include "chrysalis/random.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// Settings of a gradient check.
struct GradcheckOptions {
    double step = 1e-4;                    ///< h of the five-point central difference
    double floor = 1e-4;                   ///< smallest denominator of the relative error
    std::size_t max_checks_per_block = 0;  ///< 0: every coordinate; else this many, evenly spaced
};

/// What a gradient check found.
struct GradcheckReport {
    double max_error = 0;     ///< worst relative error (see the header comment)
    std::string where;        ///< the coordinate of the worst error, e.g. "parameter 2 (3, 5)"
    double analytic = 0;      ///< the analytic derivative there
    double numeric = 0;       ///< the finite-difference derivative there
    std::size_t checked = 0;  ///< coordinates compared

    /// True when every coordinate's error is at most `tolerance`.
    [[nodiscard]] bool passed(double tolerance = 1e-6) const { return max_error <= tolerance; }
};

namespace detail {

/// Compares the analytic gradient `grad` of f at `x` with central differences, perturbing x in
/// place (it is restored), and folds the result into `report`.
template <class Value, class Block, class Grad>
void check_block(Value&& value, Block& x, const Grad& grad, const std::string& name,
                 const GradcheckOptions& o, GradcheckReport& report) {
    const Eigen::Index n = x.size();
    const Eigen::Index stride =
        o.max_checks_per_block == 0
            ? 1
            : std::max<Eigen::Index>(1, n / Eigen::Index(o.max_checks_per_block));
    for (Eigen::Index k = 0; k < n; k += stride) {
        auto& xk = x.data()[k];
        const auto saved = xk;
        auto at = [&](double offset) {
            xk = saved + offset;
            return double(value());
        };
        const double h = o.step;
        const double numeric = (-at(2 * h) + 8 * at(h) - 8 * at(-h) + at(-2 * h)) / (12 * h);
        xk = saved;
        const double analytic = double(grad.data()[k]);
        const double error = std::abs(analytic - numeric) /
                             std::max({std::abs(analytic), std::abs(numeric), o.floor});
        if (++report.checked == 1 || error > report.max_error) {
            report.max_error = error;
            report.where = concat(name, " (", k % x.rows(), ", ", k / x.rows(), ")");
            report.analytic = analytic;
            report.numeric = numeric;
        }
    }
}

}  // namespace detail

/// Checks a scalar function of a matrix: f(x) returns {value, ∂value/∂x} (any pair-like with
/// .first convertible to double and .second a matrix of x's shape), e.g. a loss of logits.
template <class F>
GradcheckReport gradcheck_function(F&& f, Matrix<double> x, const GradcheckOptions& o = {}) {
    GradcheckReport report;
    const Matrix<double> grad = f(x).second;
    detail::check_block([&] { return double(f(x).first); }, x, grad, "x", o, report);
    return report;
}

/// Checks a network and a loss on top: `loss(logits)` returns {value, ∂value/∂logits}. Every
/// parameter block (in visit_parameters order) and the input gradient are compared with central
/// differences of loss(net.forward(x, mode)). Stochastic layers must be fixed first (for
/// Dropout: one training forward, then freeze_mask(true)).
template <class Net, class Loss>
GradcheckReport gradcheck_network(Net& net, Matrix<double> x, Loss&& loss,
                                  const GradcheckOptions& o = {}, Mode mode = Mode::training) {
    static_assert(std::is_same_v<typename Net::Scalar, double>,
                  "chrysalis::gradcheck_network: check a double network (Dense<In, Out, double>); "
                  "float rounding would swamp the finite differences");
    auto value = [&] { return double(loss(Matrix<double>(net.forward(x, mode))).first); };
    const Matrix<double> logits = net.forward(x, mode);
    net.backward(loss(logits).second, true);

    // Snapshot the analytic gradients before the perturbed forwards.
    std::vector<Matrix<double>> grads;
    net.visit_parameters([&](auto&, auto& g) { grads.emplace_back(g); });
    const Matrix<double> input_grad = net.input_gradient();

    GradcheckReport report;
    std::size_t block = 0;
    net.visit_parameters([&](auto& p, auto&) {
        detail::check_block(value, p, grads[block], detail::concat("parameter ", block), o, report);
        ++block;
    });
    detail::check_block(value, x, input_grad, "input", o, report);
    return report;
}

/// Checks one layer: the loss is L = Σ r ⊙ layer(x) with r a fixed random matrix, so
/// ∂L/∂output = r; the parameter gradients and ∂L/∂x from backward are compared with central
/// differences. The layer must compute in double.
template <class L>
GradcheckReport gradcheck_layer(L& layer, Matrix<double> x, Eigen::Index output_rows,
                                const GradcheckOptions& o = {}, Seed seed = {},
                                Mode mode = Mode::training) {
    Rng rng(seed);
    Matrix<double> r(output_rows, x.cols());
    for (Eigen::Index i = 0; i < r.size(); ++i) r.data()[i] = rng.uniform(-1, 1);
    Matrix<double> y(output_rows, x.cols());
    auto value = [&] {
        layer.forward(ConstMatrixRef<double>(x), MatrixRef<double>(y), mode);
        return (r.array() * y.array()).sum();
    };
    value();
    Matrix<double> dx(x.rows(), x.cols());
    layer.backward(ConstMatrixRef<double>(x), ConstMatrixRef<double>(y), ConstMatrixRef<double>(r),
                   MatrixRef<double>(dx));
    std::vector<Matrix<double>> grads;
    if constexpr (requires { layer.visit_parameters([](auto&, auto&) {}); }) {
        layer.visit_parameters([&](auto&, auto& g) { grads.emplace_back(g); });
    }

    GradcheckReport report;
    if constexpr (requires { layer.visit_parameters([](auto&, auto&) {}); }) {
        std::size_t block = 0;
        layer.visit_parameters([&](auto& p, auto&) {
            detail::check_block(value, p, grads[block], detail::concat("parameter ", block), o,
                                report);
            ++block;
        });
    }
    detail::check_block(value, x, dx, "input", o, report);
    return report;
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
