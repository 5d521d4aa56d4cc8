#pragma once
// chrysalis/network.hpp — Sequential<Layers...>: layers composed left to right, their widths
// checked at compile time.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <array>
#include <cstddef>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>

#include "chrysalis/concepts/layer.hpp"
#include "chrysalis/config.hpp"
#include "chrysalis/errors.hpp"
#include "chrysalis/init.hpp"
// The shipped layers come with the network: Sequential<Dense<…>, ReLU, …> needs no other header.
#include "chrysalis/layers/activations.hpp"
#include "chrysalis/layers/dense.hpp"
#include "chrysalis/layers/dropout.hpp"
#include "chrysalis/random.hpp"
#include "chrysalis/tensor.hpp"

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

namespace detail {

template <class L>
struct declared_scalar {
    using type = void;
};
template <class L>
requires requires {
    typename L::scalar_type;
}
struct declared_scalar<L> {
    using type = typename L::scalar_type;
};

/// The scalar of the first layer that declares one (Dense does), float if none does.
template <class... Ls>
struct first_scalar {
    using type = DefaultScalar;
};
template <class L, class... Ls>
struct first_scalar<L, Ls...> {
    using type =
        std::conditional_t<std::is_void_v<typename declared_scalar<L>::type>,
                           typename first_scalar<Ls...>::type, typename declared_scalar<L>::type>;
};

template <class L>
constexpr int input_width_of() {
    if constexpr (requires { L::input_size; }) return L::input_size;
    return same_width;
}
template <class L>
constexpr int output_width_of() {
    if constexpr (requires { L::output_size; }) return L::output_size;
    return same_width;
}

// The compile-time checks. Each is a class template whose name and arguments, printed by the
// compiler in "In instantiation of …", complete the sentence of its static_assert.

template <class T, class Scalar>
struct Sequential_argument_must_satisfy_the_Layer_concept {
    static_assert(Layer<T, Scalar>,
                  "chrysalis::Sequential: this type is not a layer. A layer has static int "
                  "input_size and output_size (or chrysalis::same_width), forward(x, y, mode) and "
                  "backward(x, y, dy, dx), with Eigen refs of the network's scalar type (the "
                  "first Dense's; a layer of another one must declare `using scalar_type = …` to "
                  "be reported as a mix); see chrysalis/concepts/layer.hpp");
    static constexpr bool ok = Layer<T, Scalar>;
};

template <class T>
struct Sequential_layers_must_be_default_constructible {
    static_assert(std::default_initializable<T>,
                  "chrysalis::Sequential: every layer must be default-constructible: Sequential "
                  "constructs its layers itself, so widths go in template arguments (Dense<784, "
                  "128>) and settings in public members or set_hyperparameters, not in "
                  "constructor arguments");
    static constexpr bool ok = std::default_initializable<T>;
};

template <class T>
struct Sequential_layer_with_parameters_must_initialize_them {
    static constexpr bool ok = !visits_parameters<T> || initializes<T>;
    static_assert(ok,
                  "chrysalis::Sequential: this layer has visit_parameters but no initialize(Rng&) "
                  "or initialize(Rng&, Init): Sequential draws every layer's parameters from its "
                  "seed, and without one they would stay as constructed (ParameterizedLayer, "
                  "chrysalis/concepts/layer.hpp)");
};

template <class Layer, int Width>
struct layer_outputs {};
template <class Layer, int Width>
struct but_next_layer_expects {};

template <class Produced, class Expected>
struct Sequential_widths_must_match;
template <class P, int Out, class N, int In>
struct Sequential_widths_must_match<layer_outputs<P, Out>, but_next_layer_expects<N, In>> {
    static_assert(Out == In,
                  "chrysalis::Sequential: a layer's output width does not match the next layer's "
                  "input width (layer_outputs<Layer, width> and but_next_layer_expects<Layer, "
                  "width> above name both)");
    static constexpr bool ok = Out == In;
};

template <class L, class Scalar>
struct Sequential_layers_must_share_one_scalar_type {
    using declared = typename declared_scalar<L>::type;
    static_assert(std::is_void_v<declared> || std::is_same_v<declared, Scalar>,
                  "chrysalis::Sequential: every layer must use the network's scalar type (the "
                  "first Dense's: all float or all double)");
    static constexpr bool ok = std::is_void_v<declared> || std::is_same_v<declared, Scalar>;
};

/// Index of the layer whose output is the input of layer i: the last one before it with a fixed
/// output width, or layer 0.
template <std::size_t N>
constexpr std::size_t producer_of(const std::array<int, N>& out, std::size_t i) {
    for (std::size_t j = i; j-- > 0;)
        if (out[j] != same_width) return j;
    return 0;
}

}  // namespace detail

/// Sequential<L0, L1, …>: y = L_{n−1}(… L1(L0(x))). A network is a type; its widths are checked
/// at compile time, and its work buffers are kept between steps.
///
/// Requires: every Li satisfies chrysalis::Layer; the first has a fixed input width; each layer
///   with a fixed input width gets exactly that many features from the layer before it
///   (activations and dropout pass widths through). Otherwise the build fails with a sentence
///   naming both layers and both widths.
/// Ensures: forward and backward allocate nothing once the largest batch size has been seen
///   (buffers grow, never shrink, so a smaller last batch reuses them).
template <class... Layers>
class Sequential {
    static_assert(sizeof...(Layers) > 0, "chrysalis::Sequential needs at least one layer");

  public:
    /// float or double: the scalar type of every layer (chrysalis names it scalar_type on every
    /// type that has one: Dense, Sequential, Dataset, LossResult, TrainOptions).
    using scalar_type = typename detail::first_scalar<Layers...>::type;
    using Scalar = scalar_type;  ///< the same, under Eigen's name
    static constexpr std::size_t depth = sizeof...(Layers);

  private:
    static constexpr bool layers_ok =
        // A layer is checked at its own scalar if it declares one, so that a float/double mix is
        // reported as such (below) and not as "not a layer".
        (detail::Sequential_argument_must_satisfy_the_Layer_concept<
             Layers,
             std::conditional_t<std::is_void_v<typename detail::declared_scalar<Layers>::type>,
                                Scalar, typename detail::declared_scalar<Layers>::type>>::ok &&
         ...) &&
        (detail::Sequential_layers_must_share_one_scalar_type<Layers, Scalar>::ok && ...) &&
        (detail::Sequential_layers_must_be_default_constructible<Layers>::ok && ...) &&
        (detail::Sequential_layer_with_parameters_must_initialize_them<Layers>::ok && ...);

    static constexpr std::array<int, depth> in_widths{detail::input_width_of<Layers>()...};
    static constexpr std::array<int, depth> out_widths{detail::output_width_of<Layers>()...};
    static_assert(in_widths[0] != same_width,
                  "chrysalis::Sequential: the first layer must have a fixed input width (begin "
                  "with a Dense layer)");

    static constexpr std::array<int, depth + 1> compute_widths() {
        std::array<int, depth + 1> w{};
        w[0] = in_widths[0];
        for (std::size_t i = 0; i < depth; ++i)
            w[i + 1] = out_widths[i] == same_width ? w[i] : out_widths[i];
        return w;
    }

  public:
    /// widths[i] is the number of features entering layer i; widths[depth] the output's.
    static constexpr std::array<int, depth + 1> widths = compute_widths();
    static constexpr int input_size = widths[0];
    static constexpr int output_size = widths[depth];

  private:
    template <std::size_t I>
    using LayerAt = std::tuple_element_t<I, std::tuple<Layers...>>;

    template <std::size_t... I>
    static constexpr bool check_links(std::index_sequence<I...>) {
        return (check_link<I>() && ...);
    }
    template <std::size_t I>
    static constexpr bool check_link() {
        if constexpr (I == 0 || in_widths[I] == same_width) {
            return true;
        } else {
            constexpr std::size_t p = detail::producer_of(out_widths, I);
            return detail::Sequential_widths_must_match<
                detail::layer_outputs<LayerAt<p>, widths[I]>,
                detail::but_next_layer_expects<LayerAt<I>, in_widths[I]>>::ok;
        }
    }
    static constexpr bool links_ok = check_links(std::make_index_sequence<depth>{});

  public:
    /// All parameters drawn from Seed{0}.
    Sequential() : Sequential(Seed{0}) {}

    /// Initialises every layer from its own stream derived from `seed`: Dense layers with He
    /// initialisation, or with the next layer's preceding_init if it declares one (Tanh and
    /// Sigmoid declare Glorot; see chrysalis/init.hpp); dropout masks seeded.
    /// The same seed gives bit-identical parameters on every machine.
    explicit Sequential(Seed seed) {
        initialize(seed);
        reserve(0);  // widths[i] × 0 buffers: activation() and input_gradient() have their rows
    }

    /// Redraws every parameter (and the dropout generators) from `seed`.
    void initialize(Seed seed) { initialize_layers(seed, std::make_index_sequence<depth>{}); }

    /// Runs the network on x (input_size × B, any Eigen expression) and returns a view of the
    /// output (output_size × B), valid until the next forward. In Mode::training the
    /// activations are kept for backward. B = 0 (an empty batch) is allowed, before or after
    /// any other forward, and gives an output_size × 0 output. Throws chrysalis::ShapeError
    /// if x has the wrong number of rows.
    template <class Derived>
    ConstMatrixRef<Scalar> forward(const Eigen::MatrixBase<Derived>& x,
                                   Mode mode = Mode::inference) {
        if (x.rows() != input_size) {
            throw ShapeError(
                detail::concat("chrysalis::Sequential::forward: the input has ", x.rows(),
                               " rows (features) but the network's input width is ", input_size));
        }
        batch_ = x.cols();
        reserve(batch_);
        act_[0].leftCols(batch_) = x;
        forwarded_ = true;
        forward_layers(mode, std::make_index_sequence<depth>{});
        return act_[depth].leftCols(batch_);
    }

    /// Backpropagates d_output = ∂loss/∂output (output_size × B, the B of the last forward):
    /// overwrites every layer's parameter gradients and, if `input_gradient`, computes
    /// ∂loss/∂input (see input_gradient()). Call after a Mode::training forward to train. After
    /// a Mode::inference forward it differentiates the inference-mode network (each Dropout acts
    /// as the identity, as in that forward: dx = dy), which is well defined, not an error. After
    /// a forward of B = 0 columns, an output_size × 0 d_output gives zero parameter gradients
    /// (the sum over no samples) and an input_size × 0 input gradient.
    /// Throws chrysalis::ShapeError naming chrysalis::Sequential::backward and d_output when
    /// d_output is not output_size × B, or when no forward has run yet (there are no
    /// activations to differentiate, whatever d_output's shape).
    template <class Derived>
    void backward(const Eigen::MatrixBase<Derived>& d_output, bool input_gradient = false) {
        backward(d_output, input_gradient, [](auto&, auto&, std::size_t) {});
    }

    /// The same, calling on_gradients(parameter, gradient, block) for each parameter block as
    /// soon as its layer's backward is done — the last layer first — with blocks numbered as
    /// visit_parameters numbers them. Each layer has computed its input gradient by then, so
    /// on_gradients may change that layer's parameters: fit and distill update each layer there,
    /// while its weights and gradients are still in cache, with exactly the arithmetic of
    /// backward followed by optimizer.step.
    template <class Derived, class F>
    void backward(const Eigen::MatrixBase<Derived>& d_output, bool input_gradient,
                  F&& on_gradients) {
        start_backward(d_output, input_gradient, "backward");
        backward_layers(on_gradients, std::make_index_sequence<depth>{});
    }

    /// Backpropagates d_output (as backward does) for ∂loss/∂input alone, read with
    /// input_gradient(): what input-gradient attacks and boundary samples need. Layers with the
    /// optional backward_input (every shipped layer) skip their parameter gradients and leave
    /// them as they were, so a step costs the products of forward plus one per layer instead of
    /// two; a layer without it runs its backward, overwriting its parameter gradients. Throws
    /// chrysalis::ShapeError as backward does (before any forward too), naming backward_input.
    template <class Derived>
    void backward_input(const Eigen::MatrixBase<Derived>& d_output) {
        start_backward(d_output, true, "backward_input");
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (backward_input_layer<depth - 1 - I>(), ...);
        }
        (std::make_index_sequence<depth>{});
    }

    /// ∂loss/∂input from the last backward(…, true) or backward_input: input_size × B;
    /// input_size × 0 before any such call.
    [[nodiscard]] ConstMatrixRef<Scalar> input_gradient() const {
        return grad_[0].leftCols(want_input_gradient_ ? batch_ : 0);
    }

    /// Calls f(parameter, gradient) for every parameter block of every layer, in order.
    template <class F>
    void visit_parameters(F&& f) {
        std::apply([&](auto&... layer) { (visit_layer(layer, f), ...); }, layers_);
    }

    /// The number of trainable values, at compile time: every layer with visit_parameters must
    /// declare `static constexpr std::size_t parameter_count` (Dense does); the build fails,
    /// naming it, where one does not (its blocks would otherwise count as 0).
    static constexpr std::size_t parameter_count() {
        return (parameter_count_of<Layers>() + ... + std::size_t(0));
    }

    /// Layer I, by index: net.layer<0>().weights().
    template <std::size_t I>
    LayerAt<I>& layer() noexcept {
        return std::get<I>(layers_);
    }
    template <std::size_t I>
    const LayerAt<I>& layer() const noexcept {
        return std::get<I>(layers_);
    }

    /// The output of layer i-1 (input of layer i) from the last forward; i = 0 is the input,
    /// i = depth the network's output (widths[i] × 0 before any forward). Throws
    /// chrysalis::ValueError for i > depth.
    [[nodiscard]] ConstMatrixRef<Scalar> activation(std::size_t i) const {
        if (i > depth) {
            throw ValueError(detail::concat("chrysalis::Sequential::activation: index ", i,
                                            " is out of range; expected 0 to depth = ", depth));
        }
        return act_[i].leftCols(batch_);
    }

  private:
    template <class L>
    static constexpr std::size_t parameter_count_of() {
        if constexpr (requires { L::parameter_count; }) {
            return L::parameter_count;
        } else {
            static_assert(!detail::visits_parameters<L>,
                          "chrysalis::Sequential::parameter_count: a layer with visit_parameters "
                          "has no static constexpr std::size_t parameter_count (the number of "
                          "values its blocks hold); declare it to count the layer");
            return 0;
        }
    }

    template <class L, class F>
    static void visit_layer(L& layer, F& f) {
        if constexpr (requires { layer.visit_parameters(f); }) layer.visit_parameters(f);
    }

    template <std::size_t... I>
    void initialize_layers(Seed seed, std::index_sequence<I...>) {
        (initialize_layer<I>(seed), ...);
    }
    template <std::size_t I>
    void initialize_layer(Seed seed) {
        auto& layer = std::get<I>(layers_);
        Rng rng(derive_seed(seed, I));
        if constexpr (requires { layer.initialize(rng, Init::he); }) {
            constexpr Init init = [] {
                if constexpr (I + 1 < depth)
                    return preceding_init_for<LayerAt<I + 1>>();  // the next layer's choice
                return Init::he;
            }();
            layer.initialize(rng, init);
        } else if constexpr (requires { layer.initialize(rng); }) {
            layer.initialize(rng);
        }
    }

    /// Makes every buffer widths[i] × batch or more. capacity_ starts at −1, so the first call,
    /// even for B = 0, gives the buffers their rows: an empty batch before any other is then
    /// the widths[i] × 0 blocks the layers expect, not 0 × 0.
    void reserve(Eigen::Index batch) {
        if (capacity_ >= batch) return;
        for (std::size_t i = 0; i <= depth; ++i) {
            act_[i].resize(widths[i], batch);
            grad_[i].resize(widths[i], batch);
        }
        capacity_ = batch;
    }

    template <std::size_t... I>
    void forward_layers(Mode mode, std::index_sequence<I...>) {
        (std::get<I>(layers_).forward(ConstMatrixRef<Scalar>(act_[I].leftCols(batch_)),
                                      MatrixRef<Scalar>(act_[I + 1].leftCols(batch_)), mode),
         ...);
    }

    template <class F, std::size_t... I>
    void backward_layers(F& on_gradients, std::index_sequence<I...>) {
        (backward_layer<depth - 1 - I>(on_gradients), ...);
    }
    template <std::size_t I, class F>
    void backward_layer(F& on_gradients) {
        const Eigen::Index dx_cols = (I == 0 && !want_input_gradient_) ? 0 : batch_;
        auto& layer = std::get<I>(layers_);
        layer.backward(ConstMatrixRef<Scalar>(act_[I].leftCols(batch_)),
                       ConstMatrixRef<Scalar>(act_[I + 1].leftCols(batch_)),
                       ConstMatrixRef<Scalar>(grad_[I + 1].leftCols(batch_)),
                       MatrixRef<Scalar>(grad_[I].leftCols(dx_cols)));
        if constexpr (detail::visits_parameters<LayerAt<I>>) {
            std::size_t block = first_block<I>();
            auto visit = [&](auto& p, auto& g) { on_gradients(p, g, block++); };
            layer.visit_parameters(visit);  // an lvalue: visit_parameters(F& f) is accepted too
        }
    }
    /// What backward and backward_input share: the shape check, naming `what`, and the seed.
    template <class Derived>
    void start_backward(const Eigen::MatrixBase<Derived>& d_output, bool input_gradient,
                        const char* what) {
        if (!forwarded_) {
            throw ShapeError(detail::concat(
                "chrysalis::Sequential::", what, ": d_output is ", d_output.rows(), " x ",
                d_output.cols(),
                " but no forward has run, so there is no output to differentiate; expected a "
                "forward (Mode::training) first, then the gradient of its output_size x B output"));
        }
        if (d_output.rows() != output_size || d_output.cols() != batch_) {
            throw ShapeError(detail::concat("chrysalis::Sequential::", what,
                                            ": the output gradient is ", d_output.rows(), " x ",
                                            d_output.cols(), " but the last forward produced ",
                                            output_size, " x ", batch_));
        }
        grad_[depth].leftCols(batch_) = d_output;
        want_input_gradient_ = input_gradient;
    }
    template <std::size_t I>
    void backward_input_layer() {
        auto& layer = std::get<I>(layers_);
        const ConstMatrixRef<Scalar> x(act_[I].leftCols(batch_)), y(act_[I + 1].leftCols(batch_)),
            dy(grad_[I + 1].leftCols(batch_));
        MatrixRef<Scalar> dx(grad_[I].leftCols(batch_));
        if constexpr (detail::has_backward_input<std::remove_cvref_t<decltype(layer)>, Scalar>)
            layer.backward_input(x, y, dy, dx);
        else
            layer.backward(x, y, dy, dx);
    }
    /// The number visit_parameters gives layer I's first parameter block.
    template <std::size_t I>
    std::size_t first_block() {
        std::size_t blocks = 0;
        const auto count = [&](auto&, auto&) { ++blocks; };
        [&]<std::size_t... J>(std::index_sequence<J...>) {
            (visit_layer(std::get<J>(layers_), count), ...);
        }
        (std::make_index_sequence<I>{});
        return blocks;
    }

    static_assert(layers_ok && links_ok, "chrysalis::Sequential: see the first error above");

    std::tuple<Layers...> layers_;
    std::array<Matrix<Scalar>, depth + 1> act_;   // act_[i]: input of layer i (capacity columns)
    std::array<Matrix<Scalar>, depth + 1> grad_;  // grad_[i]: ∂loss/∂act_[i]
    Eigen::Index capacity_ = -1, batch_ = 0;      // capacity_ −1: no buffer sized yet (reserve)
    bool want_input_gradient_ = false;
    bool forwarded_ = false;  // a forward has run: backward has activations to work from
};

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
