#pragma once
// chrysalis/concepts/layer.hpp — what a layer is: Layer (forward and backward),
// ParameterizedLayer (a layer with trainable parameters), SerializableLayer (a layer the file
// formats can name and restore). Each member is documented the way dlib documents
// EXAMPLE_COMPUTATIONAL_LAYER_: what it requires of the caller, what it ensures.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <concepts>
#include <string>
#include <vector>

#include "chrysalis/init.hpp"
#include "chrysalis/layer_traits.hpp"
#include "chrysalis/random.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// Layer<L, Scalar> — one stage of a network.
///
/// Represents: a function y = f(x; θ) from an input_size × B batch to an output_size × B batch,
///   with parameters θ (possibly none), applied column by column.
///
/// static constexpr int input_size, output_size
///   Ensures: the layer's compile-time widths, > 0; or chrysalis::same_width for a layer that
///     maps any width to itself (activations, dropout). Sequential checks that they chain.
///
/// void forward(ConstMatrixRef<Scalar> x, MatrixRef<Scalar> y, Mode mode)
///   Requires: x is input_size × B; y is output_size × B, already sized by the caller. B may be
///     0: Sequential passes an empty batch through (an empty output, zero parameter gradients).
///     The shipped layers throw ShapeError naming themselves for any other shape.
///   Ensures: y = f(x). In Mode::training a stochastic layer draws its randomness here and keeps
///     it for backward; in Mode::inference the layer is deterministic. Allocates nothing once the
///     layer has seen a batch of B columns or more.
///
/// void backward(ConstMatrixRef<Scalar> x, ConstMatrixRef<Scalar> y,
///               ConstMatrixRef<Scalar> dy, MatrixRef<Scalar> dx)
///   Requires: x and y are the input and output of the last forward (Mode::training), dy =
///     ∂loss/∂y of y's shape; dx is input_size × B, or empty (0 columns) when the input gradient
///     is not wanted (the first layer of a network).
///   Ensures: dx = ∂loss/∂x unless dx is empty; the layer's parameter gradients ∂loss/∂θ are
///     overwritten (not accumulated). Allocates nothing once the batch size has been seen.
///
/// Optionally:
/// void backward_input(ConstMatrixRef<Scalar> x, ConstMatrixRef<Scalar> y,
///                     ConstMatrixRef<Scalar> dy, MatrixRef<Scalar> dx)
///   Requires: as backward, with dx input_size × B (never empty).
///   Ensures: dx = ∂loss/∂x, exactly as backward computes it; the parameter gradients are left
///     as they were. Sequential::backward_input uses it (input-gradient attacks, boundary
///     samples: they need ∂loss/∂input only); a layer with parameters that lacks it is given
///     backward instead, which costs its parameter gradients and overwrites them.
template <class L, class Scalar = float>
concept Layer = requires(L& layer, ConstMatrixRef<Scalar> x, MatrixRef<Scalar> y, Mode mode) {
    { L::input_size } -> std::convertible_to<int>;
    { L::output_size } -> std::convertible_to<int>;
    layer.forward(x, y, mode);
    layer.backward(x, x, x, y);
};

namespace detail {
/// Whether L has the optional backward_input of the Layer contract.
template <class L, class Scalar>
concept has_backward_input = requires(L& layer, ConstMatrixRef<Scalar> x, MatrixRef<Scalar> y) {
    layer.backward_input(x, x, x, y);
};
}  // namespace detail

namespace detail {
/// A visitor of the shape visit_parameters receives: f(parameter, gradient).
struct ParameterVisitorProbe {
    template <class P, class G>
    void operator()(P&, G&) const noexcept {}
};

template <class L>
concept visits_parameters = requires(L& layer, ParameterVisitorProbe f) {
    layer.visit_parameters(f);
};

template <class L>
concept initializes_from_rng = requires(L& layer, Rng& rng) {
    layer.initialize(rng);
};
template <class L>
concept initializes_with_init = requires(L& layer, Rng& rng) {
    layer.initialize(rng, Init::he);
};
template <class L>
concept initializes = initializes_from_rng<L> || initializes_with_init<L>;
}  // namespace detail

/// ParameterizedLayer<L, Scalar> — a Layer with trainable parameters.
///
/// template <class F> void visit_parameters(F&& f)
///   Requires: f(parameter, gradient) is callable with two Eigen matrices or vectors of Scalar.
///   Ensures: calls f once per parameter block, always in the same order and with the same
///     shapes: the parameter (writable: optimizers update it in place, load overwrites it) and
///     its gradient from the last backward. That order numbers the blocks for optimizers, model
///     files and checkpoints.
///
/// void initialize(Rng& rng)  or  void initialize(Rng& rng, Init init)
///   Requires: nothing (Sequential calls it from its constructor and initialize(seed), with a
///     generator of the layer's own, derived from the seed and the layer's index).
///   Ensures: every parameter is drawn afresh, from rng only, so a seed gives bit-identical
///     parameters on every machine. A layer taking an Init receives the next layer's
///     preceding_init (chrysalis/init.hpp): Init::glorot before Tanh or Sigmoid, else Init::he.
///   Sequential refuses to compile a layer that has visit_parameters but neither initialize.
///
/// Optionally: static constexpr std::size_t parameter_count
///   Ensures: the number of values the layer's blocks hold. Sequential::parameter_count() adds
///     these up and refuses to compile where a layer with visit_parameters lacks it.
///
/// chrysalis passes visit_parameters a named (lvalue) visitor, so F&&, F& and const F& all work.
template <class L, class Scalar = float>
concept ParameterizedLayer =
    Layer<L, Scalar> && detail::visits_parameters<L> && detail::initializes<L>;

/// SerializableLayer<L, Scalar> — a Layer that save, load, checkpoints and export_npy can name
/// and restore.
///
/// static std::string name()
///   Ensures: a name unique to the type that includes whatever its type fixes (kind, widths,
///     scalar type: "Dense<784,128,float>", "Dropout<50>", "ReLU"); the architecture string is
///     the names of a network's layers, and load refuses a file whose string differs. A
///     layer's name never changes between versions: files written with it must still load.
///
/// Optionally, for settings the type does not fix, both of:
/// std::vector<double> hyperparameters() const
///   Ensures: the layer's runtime settings (Dropout's rate, LeakyReLU's slope), always the same
///     number of them; saved bit-exactly beside the parameters.
/// void set_hyperparameters(std::span<const double> values)
///   Requires: values.size() is the number hyperparameters() returns.
///   Ensures: hyperparameters() == values afterwards; throws chrysalis::ValueError naming the
///     layer and the value for a value the layer rejects, leaving the layer unchanged (load then
///     throws FormatError and leaves the whole network unchanged).
///
/// Trainable parameters are not hyperparameters: they are the blocks visit_parameters visits.
/// A type that cannot be edited can get its name and hyperparameters from a
/// chrysalis::layer_traits specialisation instead (chrysalis/layer_traits.hpp).
template <class L, class Scalar = float>
concept SerializableLayer = Layer<L, Scalar> && detail::has_serialization_name<L> &&
    (detail::member_hyperparameters<L> || detail::traits_hyperparameters<L> ||
     !requires(const L& layer) { layer.hyperparameters(); });

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
