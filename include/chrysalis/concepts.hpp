#pragma once
// chrysalis/concepts.hpp — the concepts that the library's templates check (Layer here; Loss and
// DistillationLoss in chrysalis/concepts/loss.hpp).

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <concepts>

#include "chrysalis/concepts/loss.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// Layer<L, Scalar> — one stage of a network.
///
/// Represents: a function y = f(x; θ) from an input_size × B batch to an output_size × B batch,
///   with parameters θ (possibly none), applied column by column.
/// Requires:
///   - `L::input_size`, `L::output_size`: compile-time widths (int), or `same_width` for a layer
///     that maps any width to itself (activations, dropout).
///   - `l.forward(x, y, mode)`: x is ConstMatrixRef<Scalar> of input_size × B, y a MatrixRef of
///     output_size × B already sized by the caller; writes f(x) into y. In Mode::training a
///     stochastic layer draws its randomness here and keeps it for backward.
///   - `l.backward(x, y, dy, dx)`: x and y are the input and output of the last forward, dy =
///     ∂loss/∂y; writes ∂loss/∂x into dx (input_size × B, sized by the caller) and overwrites
///     (does not accumulate) the layer's parameter gradients ∂loss/∂θ.
/// Optionally `l.visit_parameters(f)` calls f(parameter, gradient) for each parameter block
/// (Eigen matrices or vectors of Scalar), and `l.initialize(rng)` draws initial parameters.
/// Ensures: forward and backward allocate nothing once the layer has seen the batch size.
template <class L, class Scalar = float>
concept Layer = requires(L& layer, ConstMatrixRef<Scalar> x, MatrixRef<Scalar> y, Mode mode) {
    { L::input_size } -> std::convertible_to<int>;
    { L::output_size } -> std::convertible_to<int>;
    layer.forward(x, y, mode);
    layer.backward(x, x, x, y);
};

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
