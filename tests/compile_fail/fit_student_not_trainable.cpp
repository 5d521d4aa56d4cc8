// expect-error: the network trained must be a Sequential, or have what the training loop uses
// A network type of the user's own that can be evaluated but lacks what the training loop uses
// (depth, layer<I>(), activation(i)): fit must say so, not fail deep inside the loop.
#include <chrysalis/fit.hpp>
#include <chrysalis/losses.hpp>
#include <chrysalis/optim.hpp>

#include <vector>

using Inner = chrysalis::Sequential<chrysalis::Dense<4, 2>>;

/// A wrapper that forwards the evaluation members to a Sequential.
struct Wrapped {
    using scalar_type = float;
    static constexpr int input_size = 4, output_size = 2;
    Inner inner;
    template <class X>
    chrysalis::ConstMatrixRef<float> forward(const X& x, chrysalis::Mode mode) {
        return inner.forward(x, mode);
    }
    template <class D>
    void backward(const D& d, bool input_gradient) {
        inner.backward(d, input_gradient);
    }
    [[nodiscard]] chrysalis::ConstMatrixRef<float> input_gradient() const {
        return inner.input_gradient();
    }
    template <class F>
    void visit_parameters(F&& f) {
        inner.visit_parameters(f);
    }
};

int main() {
    chrysalis::Dataset<float> data{chrysalis::Matrix<float>::Zero(4, 8), std::vector<int>(8), 2};
    chrysalis::Sgd sgd;
#ifdef CHRYSALIS_COMPILE_FAIL
    Wrapped net;
#else
    Inner net;
#endif
    chrysalis::fit(net, data, chrysalis::CrossEntropy{}, sgd, {.epochs = 1});
    return 0;
}
