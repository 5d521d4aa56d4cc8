#pragma once
// chrysalis/layer_traits.hpp — how serialization asks a layer type for its name and runtime
// hyperparameters: from the layer's own members (see SerializableLayer in concepts/layer.hpp),
// or, for a type its user cannot edit, from a chrysalis::layer_traits<L> specialisation. No
// layer is listed here: each layer describes itself.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <concepts>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "chrysalis/config.hpp"
#include "chrysalis/errors.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// layer_traits<L>: an optional customisation point, for a layer type that cannot be given the
/// members of SerializableLayer (a type from another library). Serialization uses a
/// specialisation's functions in place of the layer's members:
///   static std::string name();                             // for L::name()
///   static std::vector<double> hyperparameters(const L&);  // for l.hyperparameters()
///   static void set_hyperparameters(L&, std::span<const double>);  // for l.set_hyperparameters
/// (the last two both or neither). The contracts are those of the members (concepts/layer.hpp).
/// For a layer `Scale3p` with a public `factor`:
///
///   template <>
///   struct chrysalis::layer_traits<Scale3p> {
///       static std::string name() { return "Scale3p"; }
///       static std::vector<double> hyperparameters(const Scale3p& l) { return {l.factor}; }
///       static void set_hyperparameters(Scale3p& l, std::span<const double> v) {
///           l.factor = v[0];
///       }
///   };
///
/// The primary template is empty: by default every layer speaks for itself.
template <class L>
struct layer_traits {};

namespace detail {

template <class L>
concept traits_name = requires {
    { layer_traits<L>::name() } -> std::convertible_to<std::string>;
};
template <class L>
concept member_name = requires {
    { L::name() } -> std::convertible_to<std::string>;
};
/// Whether serialization can name L: a static name() member or a layer_traits specialisation.
template <class L>
concept has_serialization_name = traits_name<L> || member_name<L>;

template <class L>
concept traits_hyperparameters = requires(const L& c, L& m, const std::vector<double>& v) {
    { layer_traits<L>::hyperparameters(c) } -> std::convertible_to<std::vector<double>>;
    layer_traits<L>::set_hyperparameters(m, v);
};
template <class L>
concept member_hyperparameters = requires(const L& c, L& m, const std::vector<double>& v) {
    { c.hyperparameters() } -> std::convertible_to<std::vector<double>>;
    m.set_hyperparameters(v);
};

/// L's serialization name: layer_traits<L>::name() if specialised, else L::name().
template <class L>
std::string layer_name() {
    if constexpr (traits_name<L>)
        return layer_traits<L>::name();
    else
        return L::name();
}

/// L's name for a message: layer_name<L>() where L has one, else "a layer without name()" (name()
/// is needed only to save a network, so fit, distill and the checks must not need it).
template <class L>
std::string layer_label() {
    if constexpr (has_serialization_name<L>)
        return layer_name<L>();
    else
        return "a layer without name()";
}

/// Whether L has runtime hyperparameters: members or a layer_traits specialisation.
template <class L>
concept has_hyperparameters = traits_hyperparameters<L> || member_hyperparameters<L>;

/// The layer's runtime hyperparameters (empty for a layer without any).
template <class L>
std::vector<double> hyperparameters_of(const L& layer) {
    static_assert(
        member_hyperparameters<L> || traits_hyperparameters<L> ||
            !requires { layer.hyperparameters(); },
        "chrysalis serialization: this layer has hyperparameters() but no "
        "set_hyperparameters(std::span<const double>): a layer saves its "
        "hyperparameters only if load can restore them");
    if constexpr (traits_hyperparameters<L>)
        return layer_traits<L>::hyperparameters(layer);
    else if constexpr (member_hyperparameters<L>)
        return layer.hyperparameters();
    else
        return {};
}

/// Sets hyperparameters read back from a file (as many as hyperparameters_of gave); a layer
/// without any ignores the call. Throws whatever the layer throws for a value it rejects.
template <class L>
void set_hyperparameters_of(L& layer, const std::vector<double>& values) {
    if constexpr (traits_hyperparameters<L>)
        layer_traits<L>::set_hyperparameters(layer, values);
    else if constexpr (member_hyperparameters<L>)
        layer.set_hyperparameters(values);
}

/// hyperparameters_of(layer), after checking on a copy that the layer's own set_hyperparameters
/// accepts them. Throws ValueError "<where()> holds hyperparameters that <refusal>: <the layer's
/// message>" otherwise — a public member such as LeakyReLU::slope set to NaN or beyond float's
/// range after construction. Cheap: only layers with hyperparameters (activations, dropout) are
/// probed, on a copy; a layer without any is not copied (nor needs to be copyable) and gives {}.
template <class L, class Where>
std::vector<double> checked_hyperparameters(const L& layer, const Where& where,
                                            std::string_view refusal) {
    if constexpr (!has_hyperparameters<L>) {
        return hyperparameters_of(layer);  // {}, or its static_assert for a getter without setter
    } else {
        static_assert(std::copy_constructible<L>,
                      "chrysalis: a layer with hyperparameters must be copy-constructible: its "
                      "values are checked on a copy before a call trusts them");
        std::vector<double> values = hyperparameters_of(layer);
        if (!values.empty()) {
            auto probe = layer;
            try {
                set_hyperparameters_of(probe, values);
            } catch (const ValueError& e) {
                throw ValueError(
                    concat(where(), " holds hyperparameters that ", refusal, ": ", e.what()));
            }
        }
        return values;
    }
}

}  // namespace detail

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
