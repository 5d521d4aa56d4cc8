#pragma once
// chrysalis/init.hpp — how a layer with weights draws its initial values, and how the layer after
// it chooses among them.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <concepts>

#include "chrysalis/config.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// How Dense (and any layer whose initialize takes an Init) draws its initial weights. Both are
/// uniform, so the same seed gives bit-identical weights on every machine.
enum class Init {
    he,  ///< U(−√(6/In), √(6/In)): variance 2/In, for ReLU-like activations (He et al. 2015)
    glorot,  ///< U(−√(6/(In+Out)), √(6/(In+Out))), for tanh / sigmoid (Glorot & Bengio 2010)
};

/// The Init that Sequential passes to the initialize(rng, init) of the layer just before a layer
/// of type Next: Next::preceding_init if Next declares one (Tanh and Sigmoid declare
/// Init::glorot: they squash, and He's variance would saturate them), else Init::he. A layer
/// declares it as
///   static constexpr chrysalis::Init preceding_init = chrysalis::Init::glorot;
template <class Next>
constexpr Init preceding_init_for() {
    if constexpr (requires {
                      { Next::preceding_init } -> std::convertible_to<Init>;
                  })
        return Next::preceding_init;
    return Init::he;
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
