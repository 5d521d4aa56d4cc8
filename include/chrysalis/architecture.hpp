#pragma once
// chrysalis/architecture.hpp — how the file formats see a network: its architecture string,
// built from each layer's own name, and walks over its layers and parameter blocks.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "chrysalis/config.hpp"
#include "chrysalis/layer_traits.hpp"
#include "chrysalis/network.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

namespace detail {

/// The check behind "every layer of a saved network names itself". Its name and argument,
/// printed by the compiler in "In instantiation of …", name the layer without a name.
template <class L>
struct serialized_layer_needs_static_name {
    static constexpr bool ok = has_serialization_name<L>;
    static_assert(ok,
                  "chrysalis serialization: every layer needs a member static std::string name() "
                  "(SerializableLayer, chrysalis/concepts/layer.hpp); the layer without one is "
                  "named above. For a type you cannot edit, specialise chrysalis::layer_traits "
                  "(chrysalis/layer_traits.hpp)");
};

template <class Net>
struct serialization_needs_a_Sequential {
    static_assert(sizeof(Net) == 0,
                  "chrysalis serialization: the network must be a chrysalis::Sequential");
    static constexpr bool ok = false;
};
template <class... Layers>
struct serialization_needs_a_Sequential<Sequential<Layers...>> {
    static constexpr bool ok = (serialized_layer_needs_static_name<Layers>::ok && ...);
};

template <class Net, std::size_t I>
using layer_type = std::remove_cvref_t<decltype(std::declval<Net&>().template layer<I>())>;

/// The names of Net's layers, in order.
template <class Net, std::size_t... I>
std::vector<std::string> layer_names(std::index_sequence<I...>) {
    return {layer_name<layer_type<Net, I>>()...};
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

/// The architecture string of a network type: "Sequential<" + the names of its layers
/// (L::name(), or layer_traits<L>::name()), comma-separated, + ">", e.g.
///   "Sequential<Dense<784,128,float>,ReLU,Dropout<50>,Dense<128,10,float>>".
/// It depends on the type only: runtime hyperparameters (dropout rate, LeakyReLU slope) are
/// saved beside it, not in it. Requires: Net is a Sequential whose layers all have a name
/// (otherwise the build stops naming the layer and the missing member).
template <class Net>
std::string architecture(const Net&) {
    static_assert(detail::serialization_needs_a_Sequential<Net>::ok,
                  "chrysalis::architecture: see the first error above");
    return detail::architecture_of<Net>();
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
