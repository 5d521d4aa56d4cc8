// expect-error: chrysalis::quantize: a double network cannot be quantized
// quantize of a double network must not compile, even where every layer has an int8 form (here
// a layer of the user's own with to_int8): an int8 network runs in float.
#include <chrysalis/quantize.hpp>

#include <string>

/// y = x, in the network's scalar type, with an int8 form (it adds nothing) for any scalar.
template <class Scalar>
struct Pass {
    using scalar_type = Scalar;
    static constexpr int input_size = 4;
    static constexpr int output_size = 4;
    static std::string name() { return "Pass"; }
    template <class X, class Y>
    void forward(const Eigen::MatrixBase<X>& x, Y&& y, chrysalis::Mode = {}) const {
        y = x;
    }
    template <class X, class Yv, class DY, class DX>
    void backward(const Eigen::MatrixBase<X>&, const Eigen::MatrixBase<Yv>&,
                  const Eigen::MatrixBase<DY>& dy, DX&& dx) const {
        if (dx.size() != 0) dx = dy;
    }
    template <class Builder>
    void to_int8(Builder& b) const {
        b.dense(Eigen::MatrixXf::Identity(4, 4), Eigen::VectorXf::Zero(4));
    }
};

int main() {
#ifdef CHRYSALIS_COMPILE_FAIL
    chrysalis::Sequential<Pass<double>, chrysalis::ReLU> net;
#else
    chrysalis::Sequential<Pass<float>, chrysalis::ReLU> net;
#endif
    chrysalis::Int8Network q = chrysalis::quantize(net);
    return q.output_size() == 4 ? 0 : 1;
}
