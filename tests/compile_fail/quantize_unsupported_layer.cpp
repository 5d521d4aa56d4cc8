// expect-error: chrysalis::quantize: this layer has no int8 form
// quantize of a network with a layer that has no int8 form (here a layer of the user's own)
// must not compile, and the error must say which layers quantize supports.
#include <chrysalis/quantize.hpp>

#include <string>

/// y = x², element-wise: a correct layer, but not one quantize knows.
struct Square {
    static constexpr int input_size = chrysalis::same_width;
    static constexpr int output_size = chrysalis::same_width;
    static std::string name() { return "Square"; }
    template <class X, class Y>
    void forward(const Eigen::MatrixBase<X>& x, Y&& y, chrysalis::Mode = {}) const {
        y = x.cwiseProduct(x);
    }
    template <class X, class Yv, class DY, class DX>
    void backward(const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Yv>&,
                  const Eigen::MatrixBase<DY>& dy, DX&& dx) const {
        if (dx.size() != 0) dx = (2 * x.array() * dy.array()).matrix();
    }
};

int main() {
#ifdef CHRYSALIS_COMPILE_FAIL
    chrysalis::Sequential<chrysalis::Dense<4, 3>, Square, chrysalis::Dense<3, 2>> net;
#else
    chrysalis::Sequential<chrysalis::Dense<4, 3>, chrysalis::GELU, chrysalis::Dense<3, 2>> net;
#endif
    chrysalis::Int8Network q = chrysalis::quantize(net);
    return q.output_size() == 2 ? 0 : 1;
}
