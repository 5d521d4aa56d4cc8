#pragma once
// chrysalis/layer_traits.hpp — how serialization sees a network: each layer type's name and
// runtime hyperparameters (layer_traits), the architecture string built from them, and walks
// over a network's layers and parameter blocks.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <concepts>
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "chrysalis/config.hpp"
#include "chrysalis/layers/activations.hpp"
#include "chrysalis/layers/dense.hpp"
#include "chrysalis/layers/dropout.hpp"
#include "chrysalis/network.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

namespace detail {
/// "float" or "double".
template <class S>
constexpr std::string_view scalar_name() {
    static_assert(is_supported_scalar_v<S>, "chrysalis: the scalar type must be float or double");
    if constexpr (std::is_same_v<S, float>) return "float";
    return "double";
}
}  // namespace detail

/// layer_traits<L>: how serialization names a layer type and which of its runtime settings it
/// saves. architecture, save, load, export_npy and import_npy need a specialisation for every
/// layer of the network; without one the build stops with a static_assert naming
/// chrysalis::layer_traits and (in "In instantiation of …") the layer.
///
/// A specialisation has
///   static std::string name();   // unique per layer type: kind, widths, scalar type
/// and, if the layer has hyperparameters that its type does not fix, both of
///   static std::vector<double> hyperparameters(const L&);               // saved bit-exactly
///   static void set_hyperparameters(L&, const std::vector<double>&);    // restored by load
/// set_hyperparameters receives as many values as hyperparameters returns; it throws
/// chrysalis::ValueError for values the layer rejects (load then throws FormatError and leaves
/// the network unchanged). Trainable parameters are not listed here: they are the blocks the
/// layer's visit_parameters visits. For the Square layer of docs/networks.md:
///
///   template <>
///   struct chrysalis::layer_traits<Square> {
///       static std::string name() { return "Square"; }
///   };
template <class L>
struct layer_traits {};

/// "Dense<784,128,float>".
template <int In, int Out, class Scalar>
struct layer_traits<Dense<In, Out, Scalar>> {
    static std::string name() {
        return detail::concat("Dense<", In, ",", Out, ",", detail::scalar_name<Scalar>(), ">");
    }
};

template <>
struct layer_traits<Identity> {
    static std::string name() { return "Identity"; }
};
template <>
struct layer_traits<ReLU> {
    static std::string name() { return "ReLU"; }
};
template <>
struct layer_traits<Tanh> {
    static std::string name() { return "Tanh"; }
};
template <>
struct layer_traits<Sigmoid> {
    static std::string name() { return "Sigmoid"; }
};
template <>
struct layer_traits<GELU> {
    static std::string name() { return "GELU"; }
};

/// "LeakyReLU"; the slope is saved and restored.
template <>
struct layer_traits<LeakyReLU> {
    static std::string name() { return "LeakyReLU"; }
    static std::vector<double> hyperparameters(const LeakyReLU& layer) { return {layer.slope}; }
    static void set_hyperparameters(LeakyReLU& layer, const std::vector<double>& values) {
        layer.slope = LeakyReLU(values.at(0)).slope;  // the constructor rejects a non-finite slope
    }
};

/// "Dropout<50>" (the type; its default rate is 50/100); the current rate is saved and restored.
template <int Percent>
struct layer_traits<Dropout<Percent>> {
    static std::string name() { return detail::concat("Dropout<", Percent, ">"); }
    static std::vector<double> hyperparameters(const Dropout<Percent>& layer) {
        return {layer.rate()};
    }
    static void set_hyperparameters(Dropout<Percent>& layer, const std::vector<double>& values) {
        layer.set_rate(values.at(0));
    }
};

namespace detail {

template <class L>
struct serialization_needs_layer_traits_for {
    static constexpr bool ok = requires {
        { layer_traits<L>::name() } -> std::convertible_to<std::string>;
    };
    static_assert(ok,
                  "chrysalis serialization: every layer needs a chrysalis::layer_traits<L> "
                  "specialisation with static std::string name(); the layer without one is named "
                  "above (see chrysalis/layer_traits.hpp)");
};

template <class Net>
struct serialization_needs_a_Sequential {
    static_assert(sizeof(Net) == 0,
                  "chrysalis serialization: the network must be a chrysalis::Sequential");
    static constexpr bool ok = false;
};
template <class... Layers>
struct serialization_needs_a_Sequential<Sequential<Layers...>> {
    static constexpr bool ok = (serialization_needs_layer_traits_for<Layers>::ok && ...);
};

template <class L>
concept has_hyperparameters = requires(const L& c, L& m, const std::vector<double>& v) {
    { layer_traits<L>::hyperparameters(c) } -> std::convertible_to<std::vector<double>>;
    layer_traits<L>::set_hyperparameters(m, v);
};

template <class L>
std::vector<double> hyperparameters_of(const L& layer) {
    if constexpr (has_hyperparameters<L>) return layer_traits<L>::hyperparameters(layer);
    return {};
}
template <class L>
void set_hyperparameters_of(L& layer, const std::vector<double>& values) {
    if constexpr (has_hyperparameters<L>) layer_traits<L>::set_hyperparameters(layer, values);
}

template <class Net, std::size_t I>
using layer_type = std::remove_cvref_t<decltype(std::declval<Net&>().template layer<I>())>;

/// The layer_traits names of Net's layers, in order.
template <class Net, std::size_t... I>
std::vector<std::string> layer_names(std::index_sequence<I...>) {
    return {layer_traits<layer_type<Net, I>>::name()...};
}
template <class Net>
std::vector<std::string> layer_names() {
    return layer_names<Net>(std::make_index_sequence<Net::depth>{});
}

template <class Net>
std::string architecture_of() {
    std::string text = "Sequential<";
    const std::vector<std::string> names = layer_names<Net>();
    for (std::size_t i = 0; i < names.size(); ++i) text += (i > 0 ? "," : "") + names[i];
    return text + ">";
}

/// Calls f(index, layer) for every layer of net, in order (layer is const if net is).
template <class Net, class F, std::size_t... I>
void for_each_layer(Net& net, F& f, std::index_sequence<I...>) {
    (f(I, net.template layer<I>()), ...);
}
template <class Net, class F>
void for_each_layer(Net& net, F&& f) {
    for_each_layer(net, f, std::make_index_sequence<std::remove_const_t<Net>::depth>{});
}

/// Calls f(block) for every parameter block of `layer`, in its visit_parameters order. Layers
/// only offer mutable visiting; for a const layer the blocks are passed as const and only read.
template <class L, class F>
void for_each_block(L& layer, F&& f) {
    auto& mutable_layer = const_cast<std::remove_const_t<L>&>(layer);
    auto visitor = [&f](auto& parameter, auto& /*gradient*/) {
        if constexpr (std::is_const_v<L>) {
            f(std::as_const(parameter));
        } else {
            f(parameter);
        }
    };
    if constexpr (requires { mutable_layer.visit_parameters(visitor); })
        mutable_layer.visit_parameters(visitor);
}

}  // namespace detail

/// The architecture string of a network type: "Sequential<" + the layer_traits names of its
/// layers, comma-separated, + ">", e.g.
///   "Sequential<Dense<784,128,float>,ReLU,Dropout<50>,Dense<128,10,float>>".
/// It depends on the type only: runtime hyperparameters (dropout rate, LeakyReLU slope) are
/// saved beside it, not in it. Requires: Net is a Sequential whose layers all have layer_traits.
template <class Net>
std::string architecture(const Net&) {
    static_assert(detail::serialization_needs_a_Sequential<Net>::ok,
                  "chrysalis::architecture: see the first error above");
    return detail::architecture_of<Net>();
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
