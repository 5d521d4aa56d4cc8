// expect-error: serialized_layer_needs_static_name<Square>
// A network with a layer that does not name itself (no static std::string name()) cannot be
// saved, loaded or named: the error names the missing member and the layer.
#include <chrysalis/architecture.hpp>

#include <string>

/// y = x², element-wise (the custom layer of docs/networks.md).
struct Square {
    static constexpr int input_size = chrysalis::same_width;
    static constexpr int output_size = chrysalis::same_width;
#ifndef CHRYSALIS_COMPILE_FAIL
    static std::string name() {
        return "Square";
    }
#endif
    template <class X, class Y>
    void forward(const Eigen::MatrixBase<X>& x, Y&& y, chrysalis::Mode = {}) const {
        y = x.cwiseProduct(x);
    }
    template <class X, class Yv, class DY, class DX>
    void backward(const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Yv>&,
                  const Eigen::MatrixBase<DY>& dy, DX&& dx) const {
        if (dx.size() == 0) return;
        dx = (2 * x.array() * dy.array()).matrix();
    }
};

int main() {
    chrysalis::Sequential<chrysalis::Dense<4, 4>, Square, chrysalis::Dense<4, 2>> net;
    return chrysalis::architecture(net) == "Sequential<Dense<4,4,float>,Square,Dense<4,2,float>>"
               ? 0
               : 1;
}
