#pragma once
// chrysalis/quantize.hpp — int8 post-training quantization of a trained float Sequential:
// quantize(net) (activation scales computed per sample as each batch runs) and
// quantize(net, calibration_inputs) (one scale per layer input, from a calibration set), both
// returning an Int8Network (int8_network.hpp, which has the scheme) that runs float inputs to
// float logits with int8 products.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "chrysalis/errors.hpp"
#include "chrysalis/int8_network.hpp"
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

/// The compile-time check of each layer; its name and argument complete the sentence.
template <class L>
struct quantize_has_no_int8_form_for_this_layer {
    static constexpr bool ok =
        is_float_dense<L>::value || is_dropout<L>::value || is_int8_activation<L>;
    static_assert(ok,
                  "chrysalis::quantize: this layer has no int8 form. quantize supports float "
                  "Dense<In, Out> layers, the activations ReLU, LeakyReLU, Identity, Tanh, "
                  "Sigmoid and GELU, and Dropout (the identity at inference); a double network "
                  "or a layer of your own cannot be quantized (see docs/quantization.md)");
};

template <class L>
struct quantize_depth_must_fit_int32 {
    static constexpr bool ok = !is_float_dense<L>::value || L::input_size <= int8_max_depth;
    static_assert(ok,
                  "chrysalis::quantize: a Dense layer is wider than 133144 inputs, where int32 "
                  "sums of 127·127 products could overflow");
};

/// Layer I of a Sequential into `out`: a Dense starts a new Int8Dense, an activation joins the
/// last one's list, a dropout is dropped. Throws ValueError naming chrysalis::quantize and the
/// block for a non-finite weight or bias, or the layer for a LeakyReLU slope that is not finite
/// or beyond float's range.
template <class L>
void add_int8_layer(const L& layer, std::size_t index, std::vector<Int8Dense>& out) {
    if constexpr (is_float_dense<L>::value) {
        const Matrix<float>& w = layer.weights();
        const Vector<float>& b = layer.bias();
        const auto check = [&](const auto& m, const char* what) {
            for (Eigen::Index c = 0; c < m.cols(); ++c)
                for (Eigen::Index r = 0; r < m.rows(); ++r)
                    if (!std::isfinite(m(r, c)))
                        throw ValueError(concat("chrysalis::quantize: net: the ", what,
                                                " of layer ", index, " (", L::name(), ") hold ",
                                                m(r, c), " at row ", r, ", column ", c,
                                                "; expected finite parameters"));
        };
        check(w, "weights");
        check(b, "biases");
        Int8Dense d;
        d.input_size = L::input_size;
        d.output_size = L::output_size;
        const long ld = int8_padded(L::input_size);
        // d is new, so resize gives zeros: assign, with its constant size here, trips a GCC 12
        // false positive (-Wnonnull, a memset of a null pointer on a path where the size is 0).
        d.weights.resize(std::size_t(ld * L::output_size));
        d.weight_scales.resize(std::size_t(L::output_size));
        for (long o = 0; o < L::output_size; ++o) {
            const float s = int8_scale(w.row(o).cwiseAbs().maxCoeff(), int8_weight_max);
            d.weight_scales[std::size_t(o)] = s;
            for (long k = 0; k < L::input_size; ++k)
                d.weights[std::size_t(o * ld + k)] = int8_quantize(w(o, k), s, int8_weight_max);
        }
        d.bias = b;
        out.push_back(std::move(d));
    } else if constexpr (is_int8_activation<L>) {
        if constexpr (std::is_same_v<L, LeakyReLU>) {
            // A public slope set after construction: the int8 network would compute with it.
            if (!LeakyReLU::valid_slope(layer.slope))
                throw ValueError(concat("chrysalis::quantize: net: layer ", index,
                                        " (LeakyReLU) has slope ", layer.slope,
                                        "; expected a finite slope within float's range"));
        }
        out.back().activations.emplace_back(layer);
    }
    // Dropout: the identity at inference, nothing to keep.
}

template <class... Layers, std::size_t... I>
std::vector<Int8Dense> int8_layers(const Sequential<Layers...>& net, std::index_sequence<I...>) {
    std::vector<Int8Dense> out;
    (add_int8_layer(net.template layer<I>(), I, out), ...);
    return out;
}

template <class... Layers>
constexpr bool check_quantizable() {
    return (quantize_has_no_int8_form_for_this_layer<Layers>::ok && ...) &&
           (quantize_depth_must_fit_int32<Layers>::ok && ...);
}

}  // namespace detail

/// The int8 form of a trained float network, with activation scales computed for each sample
/// as it runs (dynamic quantization): per-output-row symmetric int8 weights, int32 products and
/// a float epilogue (the scheme at the top of int8_network.hpp). The network is not changed.
/// Requires (at compile time): every layer a float Dense, ReLU, LeakyReLU, Identity, Tanh,
///   Sigmoid, GELU or Dropout — otherwise the build stops with a sentence naming the layer.
/// Throws: ValueError naming chrysalis::quantize, the layer and the value for a NaN or
///   infinite weight or bias, or a LeakyReLU slope that is not finite or beyond float's range
///   (a public `slope` set after construction).
template <class... Layers>
Int8Network quantize(const Sequential<Layers...>& net) {
    static_assert(detail::check_quantizable<Layers...>(), "chrysalis::quantize: see above");
    return Int8Network(detail::int8_layers(net, std::index_sequence_for<Layers...>{}));
}

/// The int8 form with static activation scales: the float network runs (Mode::inference) on
/// `calibration_inputs` (input_size × N, N ≥ 1 samples, any float Eigen expression), and each
/// Dense layer's input scale is the largest |value| seen at its input over the N samples, / 63
/// (1 where all were 0). Later inputs beyond a layer's calibrated range are clamped to ±63.
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
    std::vector<Int8Dense> layers = detail::int8_layers(net, std::index_sequence_for<Layers...>{});

    // The input of each Dense layer: its index in the Sequential is the index of its input
    // activation.
    std::vector<std::size_t> dense_at;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        ((detail::is_float_dense<std::tuple_element_t<I, std::tuple<Layers...>>>::value
              ? dense_at.push_back(I)
              : void()),
         ...);
    }
    (std::index_sequence_for<Layers...>{});

    Net scratch = net;  // forward keeps activations inside the network
    std::vector<float> max_abs(dense_at.size(), 0.0f);
    constexpr Eigen::Index chunk = 256;
    for (Eigen::Index j = 0; j < calibration.cols(); j += chunk) {
        const Eigen::Index n = std::min(chunk, calibration.cols() - j);
        scratch.forward(calibration.middleCols(j, n), Mode::inference);
        for (std::size_t d = 0; d < dense_at.size(); ++d) {
            // PropagateNaN: the default maxCoeff may skip a NaN that is not the first entry.
            const float m =
                scratch.activation(dense_at[d]).cwiseAbs().template maxCoeff<Eigen::PropagateNaN>();
            if (!std::isfinite(m))
                throw ValueError(detail::concat(
                    "chrysalis::quantize: calibration_inputs: the input of layer ", dense_at[d],
                    " is not finite for samples ", j, " to ", j + n - 1,
                    " (the network overflows on them); expected finite activations"));
            max_abs[d] = std::max(max_abs[d], m);
        }
    }
    for (std::size_t d = 0; d < layers.size(); ++d)
        layers[d].input_scale = detail::int8_scale(max_abs[d], detail::int8_activation_max);
    return Int8Network(std::move(layers));
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
