#pragma once
// chrysalis/detail/input_backward.hpp — one backward pass for ∂loss/∂input alone, for the code
// that differentiates a network with respect to its input (attacks, boundary samples).

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <Eigen/Core>

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail {

/// Backpropagates d (output_size × B of the last forward) into net.input_gradient(): through
/// net.backward_input(d) where the network has it (Sequential: parameter gradients skipped and
/// left as they were), else through net.backward(d, true) (parameter gradients overwritten).
template <class Net, class Derived>
void input_backward(Net& net, const Eigen::MatrixBase<Derived>& d) {
    if constexpr (requires { net.backward_input(d); })
        net.backward_input(d);
    else
        net.backward(d, true);
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail
