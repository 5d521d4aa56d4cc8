#pragma once
// chrysalis/layers/activations.hpp — element-wise activation layers. Each keeps the width of its
// input (input_size = output_size = same_width), has no parameters, and works for float and
// double. Forward writes y = f(x); backward writes dx = f'(x) ⊙ dy, using whichever of x and y
// gives the derivative most cheaply. Shapes: forward needs y of x's shape (a resizable Matrix is
// resized), backward x, y, dy and dx (unless dx is empty: no input gradient wanted) of one
// shape; otherwise ShapeError naming the layer and the function ("chrysalis::ReLU::backward")
// and the parameter. B = 0 columns is an empty batch, not an error. Each names itself for the
// file formats (static name(), see SerializableLayer in chrysalis/concepts/layer.hpp) and maps
// itself to ONNX (to_onnx, see OnnxLayer in chrysalis/onnx.hpp); Tanh and
// Sigmoid ask for Glorot initialisation of the layer before them (preceding_init,
// chrysalis/init.hpp).

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>
#include <xsimd/xsimd.hpp>

#include <cmath>
#include <limits>
#include <numbers>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "chrysalis/config.hpp"
#include "chrysalis/detail/elementwise.hpp"
#include "chrysalis/detail/layer_shapes.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/init.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

namespace detail {
/// What every activation shares: the widths and the shape check.
struct ActivationBase {
    static constexpr int input_size = same_width;
    static constexpr int output_size = same_width;
};

/// Whether every one of M… stores its columns contiguously (Matrix, Ref, Map, a block of one).
template <class... M>
inline constexpr bool all_contiguous_columns = (contiguous_columns_v<std::remove_cvref_t<M>> &&
                                                ...);

/// Runs assign(first, count), which writes columns [first, first + count) of a pass's output
/// from the same columns of its inputs, over all `cols` columns: split among threads by columns
/// (for_column_blocks) when Split, else once, assign(0, cols), on the calling thread. A pass is
/// split only where each element's bits do not depend on where a block starts: ReLU's max does
/// not (GELU computes every element in a whole register: map_registers), but Eigen computes
/// Tanh and Sigmoid by a vector path and, for the elements before an aligned address and after
/// the last whole register, a scalar one, whose last bits may differ — split, their results
/// would depend on the thread count.
template <bool Split, class F>
void assign_columns(Eigen::Index rows, Eigen::Index cols, F&& assign) {
    if constexpr (Split)
        for_column_blocks(rows, cols, assign);
    else
        assign(Eigen::Index(0), cols);
}
}  // namespace detail

/// y = x. Useful as a placeholder and in tests.
/// forward(x, y) and backward(x, y, dy, dx): shapes and errors as at the top of this file.
struct Identity : detail::ActivationBase {
    static std::string name() { return "Identity"; }
    /// ONNX export (chrysalis/onnx.hpp, OnnxLayer): nothing to add; the output is x.
    template <class Graph>
    std::string to_onnx(Graph& /*graph*/, const std::string& x) const {
        return x;
    }
    template <class X, class Y>
    void forward(const Eigen::MatrixBase<X>& x, Y&& y, Mode = Mode::inference) const {
        detail::prepare_elementwise_output(x, y, "chrysalis::Identity::forward");
        y = x;
    }
    template <class X, class Yv, class DY, class DX>
    void backward(const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Yv>& y,
                  const Eigen::MatrixBase<DY>& dy, DX&& dx) const {
        if (!detail::check_elementwise_backward(x, y, dy, dx, "chrysalis::Identity::backward"))
            return;  // input gradient not wanted
        dx = dy;
    }
};

/// y = max(x, 0);  dx = dy where y > 0, else 0 (the subgradient 0 at x = 0).
/// forward(x, y) and backward(x, y, dy, dx): shapes and errors as at the top of this file.
struct ReLU : detail::ActivationBase {
    static std::string name() { return "ReLU"; }
    /// ONNX export (chrysalis/onnx.hpp, OnnxLayer): Relu.
    template <class Graph>
    std::string to_onnx(Graph& graph, const std::string& x) const {
        return graph.node("Relu", {x});
    }
    template <class X, class Y>
    void forward(const Eigen::MatrixBase<X>& x, Y&& y, Mode = Mode::inference) const {
        detail::prepare_elementwise_output(x, y, "chrysalis::ReLU::forward");
        using S = typename X::Scalar;
        detail::assign_columns<detail::all_contiguous_columns<X, Y>>(
            x.rows(), x.cols(), [&](Eigen::Index j, Eigen::Index n) {
                y.middleCols(j, n) = x.middleCols(j, n).cwiseMax(S(0));
            });
    }
    template <class X, class Yv, class DY, class DX>
    void backward(const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Yv>& y,
                  const Eigen::MatrixBase<DY>& dy, DX&& dx) const {
        if (!detail::check_elementwise_backward(x, y, dy, dx, "chrysalis::ReLU::backward"))
            return;  // input gradient not wanted
        using S = typename DY::Scalar;
        if constexpr (detail::select_positive_applies<Yv, DY, DX>)
            detail::select_positive(y, dy, dx, [](auto v) { return decltype(v)(S(0)); });
        else
            dx = (y.array() > S(0)).select(dy, S(0));
    }
};

/// y = x for x > 0, slope·x otherwise (slope 0.01 by default, PyTorch's);  dx = dy or slope·dy.
/// The slope must be finite with |slope| ≤ 3.4028234663852886e38 (float's largest value), so it
/// is the same number in a float network as in a double one: the constructor and
/// set_hyperparameters refuse anything else, and save refuses a network whose public `slope`
/// member was set outside that range afterwards.
/// forward(x, y) and backward(x, y, dy, dx): shapes and errors as at the top of this file.
struct LeakyReLU : detail::ActivationBase {
    double slope = 0.01;

    /// The one rule for a slope, here and wherever a public `slope` set afterwards is checked
    /// (quantize, Int8Network): finite with |slope| ≤ float's largest value (a slope of 1e300
    /// would be ∞ in a float network). False for NaN.
    static constexpr bool valid_slope(double s) noexcept {
        return s <= double(std::numeric_limits<float>::max()) &&
               s >= -double(std::numeric_limits<float>::max());
    }

    /// "LeakyReLU"; the slope is a hyperparameter, saved and restored.
    static std::string name() { return "LeakyReLU"; }
    /// {slope}.
    [[nodiscard]] std::vector<double> hyperparameters() const { return {slope}; }
    /// Sets the slope from {slope}. Throws ValueError, leaving the layer unchanged, unless
    /// values holds exactly one slope the constructor accepts.
    void set_hyperparameters(std::span<const double> values) {
        if (values.size() != 1)
            throw ValueError(detail::concat(
                "chrysalis::LeakyReLU::set_hyperparameters: expected 1 value (slope), got ",
                values.size()));
        slope = LeakyReLU(values[0]).slope;  // the constructor checks the slope
    }
    /// ONNX export (chrysalis/onnx.hpp, OnnxLayer): LeakyRelu(alpha = slope) in a float network.
    /// ONNX's alpha is a float attribute, which would round a double network's slope, so there
    /// the slope is a double constant of PRelu (y = slope·x for x < 0, else x: the same values).
    template <class Graph>
    std::string to_onnx(Graph& graph, const std::string& x) const {
        if constexpr (std::is_same_v<typename Graph::scalar_type, float>)
            return graph.node("LeakyRelu", {x}, {Graph::float_attribute("alpha", slope)});
        else
            return graph.node("PRelu", {x, graph.scalar("slope", slope)});
    }

    LeakyReLU() = default;
    /// Throws ValueError naming the slope unless valid_slope(negative_slope).
    explicit LeakyReLU(double negative_slope) : slope(negative_slope) {
        if (!valid_slope(slope))
            throw ValueError(
                detail::concat("chrysalis::LeakyReLU: slope must be finite with |slope| <= ",
                               double(std::numeric_limits<float>::max()),
                               " (float's largest value), got ", slope));
    }
    template <class X, class Y>
    void forward(const Eigen::MatrixBase<X>& x, Y&& y, Mode = Mode::inference) const {
        detail::prepare_elementwise_output(x, y, "chrysalis::LeakyReLU::forward");
        using S = typename X::Scalar;
        if constexpr (detail::select_positive_applies<X, X, Y>)
            detail::select_positive(x, x, y, [s = S(slope)](auto v) { return decltype(v)(s) * v; });
        else
            y = (x.array() > S(0)).select(x, S(slope) * x);
    }
    template <class X, class Yv, class DY, class DX>
    void backward(const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Yv>& y,
                  const Eigen::MatrixBase<DY>& dy, DX&& dx) const {
        if (!detail::check_elementwise_backward(x, y, dy, dx, "chrysalis::LeakyReLU::backward"))
            return;  // input gradient not wanted
        using S = typename DY::Scalar;
        if constexpr (detail::select_positive_applies<X, DY, DX>)
            detail::select_positive(x, dy, dx,
                                    [s = S(slope)](auto v) { return decltype(v)(s) * v; });
        else
            dx = (x.array() > S(0)).select(dy, S(slope) * dy);
    }
};

/// y = tanh x;  dx = (1 − y²)·dy.
/// forward(x, y) and backward(x, y, dy, dx): shapes and errors as at the top of this file.
struct Tanh : detail::ActivationBase {
    static std::string name() { return "Tanh"; }
    /// ONNX export (chrysalis/onnx.hpp, OnnxLayer): Tanh.
    template <class Graph>
    std::string to_onnx(Graph& graph, const std::string& x) const {
        return graph.node("Tanh", {x});
    }
    /// It squashes: He initialisation of the layer before would saturate it.
    static constexpr Init preceding_init = Init::glorot;
    template <class X, class Y>
    void forward(const Eigen::MatrixBase<X>& x, Y&& y, Mode = Mode::inference) const {
        detail::prepare_elementwise_output(x, y, "chrysalis::Tanh::forward");
        y = x.array().tanh().matrix();
    }
    template <class X, class Yv, class DY, class DX>
    void backward(const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Yv>& y,
                  const Eigen::MatrixBase<DY>& dy, DX&& dx) const {
        if (!detail::check_elementwise_backward(x, y, dy, dx, "chrysalis::Tanh::backward"))
            return;  // input gradient not wanted
        using S = typename DY::Scalar;
        dx = ((S(1) - y.array().square()) * dy.array()).matrix();
    }
};

/// y = 1/(1 + e^−x) (Eigen's logistic, stable for large |x|);  dx = y(1 − y)·dy.
/// forward(x, y) and backward(x, y, dy, dx): shapes and errors as at the top of this file.
struct Sigmoid : detail::ActivationBase {
    static std::string name() { return "Sigmoid"; }
    /// ONNX export (chrysalis/onnx.hpp, OnnxLayer): Sigmoid.
    template <class Graph>
    std::string to_onnx(Graph& graph, const std::string& x) const {
        return graph.node("Sigmoid", {x});
    }
    /// It squashes: He initialisation of the layer before would saturate it.
    static constexpr Init preceding_init = Init::glorot;
    template <class X, class Y>
    void forward(const Eigen::MatrixBase<X>& x, Y&& y, Mode = Mode::inference) const {
        detail::prepare_elementwise_output(x, y, "chrysalis::Sigmoid::forward");
        y = x.array().logistic().matrix();
    }
    template <class X, class Yv, class DY, class DX>
    void backward(const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Yv>& y,
                  const Eigen::MatrixBase<DY>& dy, DX&& dx) const {
        if (!detail::check_elementwise_backward(x, y, dy, dx, "chrysalis::Sigmoid::backward"))
            return;  // input gradient not wanted
        using S = typename DY::Scalar;
        dx = (y.array() * (S(1) - y.array()) * dy.array()).matrix();
    }
};

/// The exact GELU (Hendrycks & Gimpel 2016; PyTorch's default): y = x·Φ(x) with Φ the standard
/// normal CDF, Φ(x) = (1 + erf(x/√2))/2;  dx = (Φ(x) + x·φ(x))·dy, φ(x) = e^{−x²/2}/√(2π).
/// forward(x, y) and backward(x, y, dy, dx): shapes and errors as at the top of this file.
struct GELU : detail::ActivationBase {
    static std::string name() { return "GELU"; }
    /// ONNX export (chrysalis/onnx.hpp, OnnxLayer): opset 17 has no Gelu, so forward's own
    /// steps, x·(½·(1 + erf(x·(½√2)))), as Mul, Erf, Add, Mul and Mul nodes with the constants
    /// rounded to the network's scalar as forward rounds them.
    template <class Graph>
    std::string to_onnx(Graph& graph, const std::string& x) const {
        const std::string scaled =
            graph.node("Mul", {x, graph.scalar("inv_sqrt2", 0.5 * std::numbers::sqrt2)});
        const std::string erf = graph.node("Erf", {scaled});
        const std::string one_plus = graph.node("Add", {erf, graph.scalar("one", 1.0)});
        const std::string cdf = graph.node("Mul", {one_plus, graph.scalar("half", 0.5)});
        return graph.node("Mul", {x, cdf});
    }
    template <class X, class Y>
    void forward(const Eigen::MatrixBase<X>& x, Y&& y, Mode = Mode::inference) const {
        detail::prepare_elementwise_output(x, y, "chrysalis::GELU::forward");
        using S = typename X::Scalar;
        const auto gelu = [](auto v) { return v * cdf(v); };
        if constexpr (registers_apply<S, X, Y>()) {
            detail::for_column_blocks(x.rows(), x.cols(), [&](Eigen::Index j, Eigen::Index n) {
                for (Eigen::Index c = j; c < j + n; ++c)
                    detail::map_registers<S>(x.rows(), y.data() + c * y.outerStride(), gelu,
                                             x.derived().data() + c * x.derived().outerStride());
            });
        } else if constexpr (std::is_same_v<S, float>) {
            // Any other view: each element in a register of copies, for the same bits.
            y = x.unaryExpr([&](S v) { return gelu(xsimd::batch<S>(v)).get(0); });
        } else {
            detail::assign_columns<detail::all_contiguous_columns<X, Y>>(
                x.rows(), x.cols(), [&](Eigen::Index j, Eigen::Index n) {
                    y.middleCols(j, n) = x.middleCols(j, n).unaryExpr([&](S v) { return gelu(v); });
                });
        }
    }
    template <class X, class Yv, class DY, class DX>
    void backward(const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Yv>& y,
                  const Eigen::MatrixBase<DY>& dy, DX&& dx) const {
        if (!detail::check_elementwise_backward(x, y, dy, dx, "chrysalis::GELU::backward"))
            return;  // input gradient not wanted
        using S = typename DY::Scalar;
        const auto derivative = [](auto v, auto g) { return derivative_times(v, g); };
        if constexpr (registers_apply<S, X, DY, DX>()) {
            detail::for_column_blocks(x.rows(), x.cols(), [&](Eigen::Index j, Eigen::Index n) {
                for (Eigen::Index c = j; c < j + n; ++c)
                    detail::map_registers<S>(x.rows(), dx.data() + c * dx.outerStride(), derivative,
                                             x.derived().data() + c * x.derived().outerStride(),
                                             dy.derived().data() + c * dy.derived().outerStride());
            });
        } else if constexpr (std::is_same_v<S, float>) {
            using B = xsimd::batch<S>;
            dx = x.binaryExpr(dy, [&](S v, S g) { return derivative(B(v), B(g)).get(0); });
        } else {
            detail::assign_columns<detail::all_contiguous_columns<X, DY, DX>>(
                x.rows(), x.cols(), [&](Eigen::Index j, Eigen::Index n) {
                    dx.middleCols(j, n) =
                        x.middleCols(j, n).binaryExpr(dy.middleCols(j, n), derivative);
                });
        }
    }

  private:
    /// Whether a float pass over these operands runs in whole registers (map_registers, split by
    /// columns): xsimd's erf and exp, about 25 times faster than the scalar std::erf and
    /// std::exp and as accurate in float (within 5e-7 of the exact GELU on [−10, 10], as the
    /// scalar ones; docs/performance.md, "GELU in registers"). Double keeps std::erf and
    /// std::exp, split by columns too: xsimd's double erf is ten times less accurate (1e-14
    /// against 1e-15) and gives NaN for |x| near double's largest value.
    template <class S, class... M>
    static constexpr bool registers_apply() {
        constexpr bool same_scalar =
            (std::is_same_v<S, typename std::remove_cvref_t<M>::Scalar> && ...);
        return std::is_same_v<S, float> && detail::all_contiguous_columns<M...> && same_scalar;
    }
    /// The scalar type of T: T itself, or the lanes' type of a register.
    template <class T>
    struct lane {
        using type = T;
    };
    template <class S, class A>
    struct lane<xsimd::batch<S, A>> {
        using type = S;
    };
    /// Φ(v) = (1 + erf(v/√2))/2, for one value (std::erf) or a register of them (xsimd::erf).
    template <class T>
    static T cdf(T v) {
        using S = typename lane<T>::type;
        return T(S(0.5)) * (T(S(1)) + xsimd::erf(v * T(S(0.5 * std::numbers::sqrt2))));
    }
    /// (Φ(v) + v·φ(v))·g, φ(v) = e^{−v²/2}/√(2π), for values or registers of them.
    template <class T>
    static T derivative_times(T v, T g) {
        using S = typename lane<T>::type;
        const T pdf = xsimd::exp(T(S(-0.5)) * v * v) *
                      T(S(0.5 * std::numbers::inv_sqrtpi * std::numbers::sqrt2));
        return multiply_add(v, pdf, cdf(v)) * g;
    }
    /// a·b + c rounded once where the instruction set has FMA, twice where it has none. Written
    /// out, not left to the compiler: g++ at -O2 and above fuses a multiply and an add wherever
    /// it sees fit, so the same expression inlined into two passes (whole registers, and the
    /// register of copies that other views take) could round differently, and Φ(v) + v·φ(v)
    /// cancels for negative v, so that the last bit showed (one float in twenty at -O3).
    template <class T>
    static T multiply_add(T a, T b, T c) {
        if constexpr (std::is_floating_point_v<T>) {
#if defined(__FMA__)
            return std::fma(a, b, c);
#else
            return a * b + c;
#endif
        } else {
            return xsimd::fma(a, b, c);
        }
    }
};

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
