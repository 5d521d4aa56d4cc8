#pragma once
// chrysalis/quantize.hpp — int8 post-training quantization of a trained float Sequential:
// quantize(net) (activation scales computed per sample as each batch runs) and
// quantize(net, calibration_inputs) (one scale per layer input, from a calibration set), both
// returning an Int8Network (int8_network.hpp, which has the scheme) that runs float inputs to
// float logits with int8 products; and Int8Builder with the Int8Layer concept, through which a
// layer of the user's own gives its int8 form.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "chrysalis/errors.hpp"
#include "chrysalis/int8_network.hpp"
#include "chrysalis/layer_traits.hpp"
#include "chrysalis/layers/activations.hpp"
#include "chrysalis/layers/dense.hpp"
#include "chrysalis/layers/dropout.hpp"
#include "chrysalis/network.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

namespace detail {

template <class L>
struct is_float_dense : std::false_type {};
template <int In, int Out>
struct is_float_dense<Dense<In, Out, float>> : std::true_type {};
template <class L>
struct is_dropout : std::false_type {};
template <int P>
struct is_dropout<Dropout<P>> : std::true_type {};

/// One part a layer added through Int8Builder, in order: a Dense (its index among the int8
/// network's layers) or an activation. A layer of the user's own keeps its float parts when a
/// calibration needs the values between them.
struct Int8Part {
    std::size_t layer = 0;  ///< the Sequential layer that added it
    long dense = -1;        ///< the int8 network's layer index, or -1 for an activation
    Matrix<float> weights;  ///< a Dense's float weights and bias, when kept
    Vector<float> bias;
    std::optional<Int8Activation> activation;
};

/// What Int8Builder adds to: the int8 layers so far and the conversion's position.
struct Int8Assembly {
    std::vector<Int8Dense> layers;
    std::vector<Int8Part> parts;
    long width = 0;           ///< the width of the values the next part reads
    std::size_t layer = 0;    ///< the Sequential layer being converted
    std::string name;         ///< its name, for messages
    bool keep_float = false;  ///< keep float parts (a user layer's, for a calibration)
};

struct Int8BuilderAccess;

}  // namespace detail

/// What quantize hands a layer of the user's own (the Int8Layer concept below) to describe its
/// Mode::inference forward in the int8 network's parts: Dense products and the activations
/// after them. Parts are added in the order the forward applies them; each reads the values the
/// previous part left (the layer's input at first). A layer that is the identity at inference
/// adds nothing. Made by quantize only (its constructor is private), and neither copied nor
/// moved: a layer's to_int8 takes it by reference.
class Int8Builder {
    friend struct detail::Int8BuilderAccess;
    explicit Int8Builder(detail::Int8Assembly& assembly) noexcept : a_(&assembly) {}

  public:
    Int8Builder(const Int8Builder&) = delete;
    Int8Builder& operator=(const Int8Builder&) = delete;

    /// The width of the values the next part reads: the layer's input width when its to_int8
    /// begins, then the output width of the last Dense added.
    [[nodiscard]] long width() const noexcept { return a_->width; }

    /// Adds y = W·x + b, quantized as a Dense<In, Out> layer is (int8 weights per output row).
    /// Requires: float `weights` of Out × width() (row o = output o, any Eigen expression) and
    ///   a float `bias` of Out × 1, Out ≥ 1, width() ≤ 133,144.
    /// Throws: ShapeError for other shapes; ValueError for a NaN or infinite weight or bias
    ///   (naming its row and column) or a depth beyond 133,144 (int32 sums could overflow); all
    ///   naming chrysalis::quantize, the layer's index and its name.
    template <class W, class B>
    void dense(const Eigen::MatrixBase<W>& weights, const Eigen::MatrixBase<B>& bias) {
        static_assert(
            std::is_same_v<typename W::Scalar, float> && std::is_same_v<typename B::Scalar, float>,
            "chrysalis::Int8Builder::dense: float weights and bias expected (an int8 "
            "network runs in float)");
        detail::Int8Assembly& a = *a_;
        const auto where = [&] {
            return detail::concat("chrysalis::quantize: net: layer ", a.layer, " (", a.name, ") ");
        };
        if (weights.cols() != a.width || weights.rows() < 1)
            throw ShapeError(detail::concat(where(), "adds a Dense of ", weights.rows(), " × ",
                                            weights.cols(), " weights where the width is ", a.width,
                                            "; expected at least one row of ", a.width,
                                            " columns"));
        if (bias.rows() != weights.rows() || bias.cols() != 1)
            throw ShapeError(detail::concat(where(), "adds a Dense of ", weights.rows(),
                                            " outputs with a bias of ", bias.rows(), " × ",
                                            bias.cols(), "; expected ", weights.rows(), " × 1"));
        if (a.width > detail::int8_max_depth)
            throw ValueError(detail::concat(where(), "adds a Dense of ", a.width,
                                            " inputs; expected at most ", detail::int8_max_depth,
                                            ", where int32 sums of 127·127 products cannot "
                                            "overflow"));
        const Eigen::Ref<const Matrix<float>> w(weights.derived());
        const Eigen::Ref<const Vector<float>> b(bias.derived());
        const auto check = [&](const auto& m, const char* what) {
            for (Eigen::Index c = 0; c < m.cols(); ++c)
                for (Eigen::Index r = 0; r < m.rows(); ++r)
                    if (!std::isfinite(m(r, c)))
                        throw ValueError(
                            detail::concat("chrysalis::quantize: net: the ", what, " of layer ",
                                           a.layer, " (", a.name, ") hold ", m(r, c), " at row ", r,
                                           ", column ", c, "; expected finite parameters"));
        };
        check(w, "weights");
        check(b, "biases");
        Int8Dense d;
        d.input_size = w.cols();
        d.output_size = w.rows();
        const long ld = detail::int8_padded(d.input_size);
        // d is new, so resize gives zeros: assign, with a constant size, trips a GCC 12 false
        // positive (-Wnonnull, a memset of a null pointer on a path where the size is 0).
        d.weights.resize(std::size_t(ld * d.output_size));
        d.weight_scales.resize(std::size_t(d.output_size));
        for (long o = 0; o < d.output_size; ++o) {
            const float s =
                detail::int8_scale(w.row(o).cwiseAbs().maxCoeff(), detail::int8_weight_max);
            d.weight_scales[std::size_t(o)] = s;
            for (long k = 0; k < d.input_size; ++k)
                d.weights[std::size_t(o * ld + k)] =
                    detail::int8_quantize(w(o, k), s, detail::int8_weight_max);
        }
        d.bias = b;
        detail::Int8Part part;
        part.layer = a.layer;
        part.dense = long(a.layers.size());
        if (a.keep_float) {
            part.weights = w;
            part.bias = b;
        }
        a.width = d.output_size;
        a.layers.push_back(std::move(d));
        a.parts.push_back(std::move(part));
    }

    /// Adds an activation, applied to the output of the last Dense: one of ReLU, LeakyReLU,
    /// Identity, Tanh, Sigmoid and GELU (any other does not compile).
    /// Throws: ValueError naming chrysalis::quantize and the layer when no Dense comes before it
    ///   in the network, or for a LeakyReLU slope not finite or beyond float's range.
    template <class A>
    requires detail::is_int8_activation<A>
    void activation(const A& act) {
        detail::Int8Assembly& a = *a_;
        if (a.layers.empty())
            throw ValueError(detail::concat(
                "chrysalis::quantize: net: layer ", a.layer, " (", a.name, ") adds ", A::name(),
                " before any Dense; expected a Dense first (an int8 network's activations "
                "follow its Dense layers)"));
        if constexpr (std::is_same_v<A, LeakyReLU>) {
            // A public slope set after construction: the int8 network would compute with it.
            if (!LeakyReLU::valid_slope(act.slope))
                throw ValueError(detail::concat("chrysalis::quantize: net: layer ", a.layer, " (",
                                                a.name, ") has slope ", act.slope,
                                                "; expected a finite slope within float's range"));
        }
        a.layers.back().activations.emplace_back(act);
        detail::Int8Part part;
        part.layer = a.layer;
        part.activation = Int8Activation(act);
        a.parts.push_back(std::move(part));
    }

  private:
    detail::Int8Assembly* a_;
};

/// Int8Layer<L> — a layer of the user's own that quantize can convert.
///
/// void to_int8(Int8Builder& builder) const
///   Requires: builder.width() is the layer's input width.
///   Ensures: adds, through builder alone, Dense parts and activations that compute the layer's
///     Mode::inference forward; afterwards builder.width() is the layer's output width (quantize
///     checks it). The shipped Dense, activations and Dropout need no member: quantize converts
///     them itself.
///   Throws: what builder throws; nothing else is expected.
/// The member is usually a template over the builder, `template <class Builder> void
/// to_int8(Builder& builder) const`, so that the layer's header needs no include of this one.
template <class L>
concept Int8Layer = requires(const L& layer, Int8Builder& builder) {
    layer.to_int8(builder);
};

namespace detail {

/// The compile-time check of each layer; its name and argument complete the sentence.
template <class L>
struct quantize_has_no_int8_form_for_this_layer {
    static constexpr bool ok =
        is_float_dense<L>::value || is_dropout<L>::value || is_int8_activation<L> || Int8Layer<L>;
    static_assert(ok,
                  "chrysalis::quantize: this layer has no int8 form. quantize supports float "
                  "Dense<In, Out> layers, the activations ReLU, LeakyReLU, Identity, Tanh, "
                  "Sigmoid and GELU, Dropout (the identity at inference), and a layer of your "
                  "own with a member void to_int8(chrysalis::Int8Builder&) const (Int8Layer); "
                  "a double network cannot be quantized (see docs/quantization.md)");
};

template <class L>
struct quantize_depth_must_fit_int32 {
    static constexpr bool ok = !is_float_dense<L>::value || L::input_size <= int8_max_depth;
    static_assert(ok,
                  "chrysalis::quantize: a Dense layer is wider than 133144 inputs, where int32 "
                  "sums of 127·127 products could overflow");
};

/// A layer quantize converts through its to_int8 (a layer of the user's own).
template <class L>
constexpr bool is_own_int8_layer =
    !(is_float_dense<L>::value || is_dropout<L>::value || is_int8_activation<L>);

template <class Net>
struct quantize_needs_a_float_network {
    static constexpr bool ok = std::is_same_v<typename Net::scalar_type, float>;
    static_assert(ok,
                  "chrysalis::quantize: a double network cannot be quantized (an int8 network "
                  "runs in float; see docs/quantization.md)");
};

/// How quantize makes the Int8Builder it hands a layer (the one way to make one).
struct Int8BuilderAccess {
    static Int8Builder make(Int8Assembly& assembly) noexcept { return Int8Builder(assembly); }
};

/// Layer I of a Sequential into the assembly: a Dense adds a Dense part, an activation joins
/// the last Dense, a dropout is dropped, a layer of the user's own adds what its to_int8 adds.
/// Throws what Int8Builder throws, and ShapeError when a user layer leaves a width other than
/// its output width.
template <class L>
void add_int8_layer(const L& layer, std::size_t index, Int8Assembly& a, bool calibrating) {
    const long input_width = a.width;
    a.layer = index;
    a.name = layer_label<L>();
    a.keep_float = false;
    Int8Builder builder = Int8BuilderAccess::make(a);
    if constexpr (is_float_dense<L>::value) {
        builder.dense(layer.weights(), layer.bias());
    } else if constexpr (is_int8_activation<L>) {
        builder.activation(layer);
    } else if constexpr (is_dropout<L>::value) {
        // The identity at inference: nothing to keep.
    } else {
        a.keep_float = calibrating;
        layer.to_int8(builder);
        const long expected = L::output_size == same_width ? input_width : long(L::output_size);
        if (a.width != expected)
            throw ShapeError(concat("chrysalis::quantize: net: layer ", index, " (", a.name,
                                    ")'s to_int8 ends at width ", a.width, "; expected ", expected,
                                    ", the layer's output width"));
    }
}

/// The int8 parts of every layer of net, in order.
/// Throws: as add_int8_layer; ValueError when no layer adds a Dense.
template <class... Layers>
Int8Assembly int8_assembly(const Sequential<Layers...>& net, bool calibrating) {
    Int8Assembly a;
    a.width = Sequential<Layers...>::input_size;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        (add_int8_layer(net.template layer<I>(), I, a, calibrating), ...);
    }
    (std::index_sequence_for<Layers...>{});
    if (a.layers.empty())
        throw ValueError(
            "chrysalis::quantize: net: no layer adds a Dense; expected at least one "
            "(an int8 network is made of Dense layers and their activations)");
    return a;
}

template <class... Layers>
constexpr bool check_quantizable() {
    return quantize_needs_a_float_network<Sequential<Layers...>>::ok &&
           (quantize_has_no_int8_form_for_this_layer<Layers>::ok && ...) &&
           (quantize_depth_must_fit_int32<Layers>::ok && ...);
}

}  // namespace detail

/// The int8 form of a trained float network, with activation scales computed for each sample
/// as it runs (dynamic quantization): per-output-row symmetric int8 weights, int32 products and
/// a float epilogue (the scheme at the top of int8_network.hpp). The network is not changed.
/// Requires (at compile time): a float network whose every layer is a Dense, ReLU, LeakyReLU,
///   Identity, Tanh, Sigmoid, GELU, Dropout or a layer of the user's own that models Int8Layer
///   — otherwise the build stops with a sentence naming the layer.
/// Throws: ValueError naming chrysalis::quantize, the layer and the value for a NaN or
///   infinite weight or bias, or a LeakyReLU slope that is not finite or beyond float's range
///   (a public `slope` set after construction); from a user layer's to_int8, what Int8Builder
///   throws, and ShapeError when it leaves a width other than the layer's output width.
template <class... Layers>
Int8Network quantize(const Sequential<Layers...>& net) {
    static_assert(detail::check_quantizable<Layers...>(), "chrysalis::quantize: see above");
    return Int8Network(detail::int8_assembly(net, false).layers);
}

/// The int8 form with static activation scales: the float network runs (Mode::inference) on
/// `calibration_inputs` (input_size × N, N ≥ 1 samples, any float Eigen expression), and each
/// Dense layer's input scale is the largest |value| seen at its input over the N samples, / 63
/// (1 where all were 0). Later inputs beyond a layer's calibrated range are clamped to ±63.
/// A Dense that a user layer adds after other parts reads values the network does not keep:
/// they are computed from the layer's input through those parts, in float.
/// Otherwise as quantize(net).
/// Throws: as quantize(net); ShapeError naming chrysalis::quantize and calibration_inputs for
///   the wrong number of rows; ValueError naming them for N = 0 or a NaN or infinite value, or
///   one beyond float's range (with its sample and feature, as given), or when a Dense layer's
///   input is not finite on some of the samples (the network overflows on them: naming the layer
///   and the samples).
template <class... Layers, class Derived>
Int8Network quantize(const Sequential<Layers...>& net,
                     const Eigen::MatrixBase<Derived>& calibration_inputs) {
    static_assert(detail::check_quantizable<Layers...>(), "chrysalis::quantize: see above");
    using Net = Sequential<Layers...>;
    const auto& c = calibration_inputs;
    if (c.rows() != Net::input_size)
        throw ShapeError(detail::concat("chrysalis::quantize: calibration_inputs has ", c.rows(),
                                        " rows (features) but the network's input width is ",
                                        Net::input_size));
    if (c.cols() == 0)
        throw ValueError(
            "chrysalis::quantize: calibration_inputs is empty (0 samples); expected at least "
            "one sample to calibrate the activation scales on");
    // Checked before the conversion to float, so that a double beyond float's range is named
    // as given (1e300), not as the ∞ it converts to.
    const auto in_float_range = [](double v) {
        return std::isfinite(v) && std::abs(v) <= double(std::numeric_limits<float>::max());
    };
    for (Eigen::Index j = 0; j < c.cols(); ++j)
        for (Eigen::Index k = 0; k < c.rows(); ++k)
            if (!in_float_range(double(c(k, j))))
                throw ValueError(detail::concat(
                    "chrysalis::quantize: calibration_inputs holds ", double(c(k, j)),
                    " at sample ", j, ", feature ", k,
                    "; expected finite values within float's range (int8 networks run in float)"));
    const Matrix<float> calibration = c.template cast<float>();
    detail::Int8Assembly a = detail::int8_assembly(net, true);
    const std::vector<detail::Int8Part>& parts = a.parts;

    Net scratch = net;  // forward keeps activations inside the network
    std::vector<float> max_abs(a.layers.size(), 0.0f);
    // The values between the parts of a user layer, computed only in a program that has one
    // (shipped layers add one part each): each output of a Dense a dot product (Eigen's
    // coefficient-wise product, not its GEMM, which would add its kernels to every program
    // that calibrates), the activations a column at a time as Int8Network runs them.
    constexpr bool own_layers = (detail::is_own_int8_layer<Layers> || ...);
    Matrix<float> x, next;
    Vector<float> column;
    const auto largest = [](ConstMatrixRef<float> v) {
        // PropagateNaN: the default maxCoeff may skip a NaN that is not the first entry.
        return v.cwiseAbs().template maxCoeff<Eigen::PropagateNaN>();
    };
    constexpr Eigen::Index chunk = 256;
    for (Eigen::Index j = 0; j < calibration.cols(); j += chunk) {
        const Eigen::Index n = std::min(chunk, calibration.cols() - j);
        scratch.forward(calibration.middleCols(j, n), Mode::inference);
        long nth = 0;  // the part's position within its layer
        for (std::size_t p = 0; p < parts.size(); ++p) {
            const detail::Int8Part& part = parts[p];
            nth = p > 0 && parts[p - 1].layer == part.layer ? nth + 1 : 0;
            const bool more = p + 1 < parts.size() && parts[p + 1].layer == part.layer;
            if (part.dense >= 0) {
                // Shipped layers add one part each (nth is 0): x is read only after a user
                // layer's part, and compiled only where there is one (g++ 12 at -O3 saw the
                // empty x's maxCoeff in every program and warned with -Wnull-dereference).
                const float m =
                    !own_layers || nth == 0 ? largest(scratch.activation(part.layer)) : largest(x);
                if (!std::isfinite(m))
                    throw ValueError(detail::concat(
                        "chrysalis::quantize: calibration_inputs: the input of layer ", part.layer,
                        nth == 0 ? "" : detail::concat("'s part ", nth, " (a Dense)"),
                        " is not finite for samples ", j, " to ", j + n - 1,
                        " (the network overflows on them); expected finite activations"));
                const std::size_t d = std::size_t(part.dense);
                max_abs[d] = std::max(max_abs[d], m);
            }
            if constexpr (own_layers) {
                if (!more) continue;
                if (nth == 0) x = scratch.activation(part.layer);
                if (part.dense >= 0) {
                    next = part.weights.lazyProduct(x);
                    next.colwise() += part.bias;
                    x.swap(next);
                } else {
                    for (Eigen::Index s = 0; s < x.cols(); ++s) {
                        column = x.col(s);
                        std::visit([&](const auto& act) { act.forward(column, column); },
                                   *part.activation);
                        x.col(s) = column;
                    }
                }
            }
        }
    }
    for (std::size_t d = 0; d < a.layers.size(); ++d)
        a.layers[d].input_scale = detail::int8_scale(max_abs[d], detail::int8_activation_max);
    return Int8Network(std::move(a.layers));
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
