// expect-error: every layer must be default-constructible
// A layer sized through its constructor: Sequential constructs its layers itself, so the build
// must fail with a sentence that says so, not a page about std::tuple's constructors.
#include <chrysalis/network.hpp>

/// Multiplies by a factor given to the constructor (in the control, by a member's default).
struct Gain {
    static constexpr int input_size = chrysalis::same_width;
    static constexpr int output_size = chrysalis::same_width;
#ifdef CHRYSALIS_COMPILE_FAIL
    explicit Gain(float f) : factor(f) {}
    float factor;
#else
    float factor = 2;
#endif
    void forward(chrysalis::ConstMatrixRef<float> x, chrysalis::MatrixRef<float> y,
                 chrysalis::Mode) {
        y = factor * x;
    }
    void backward(chrysalis::ConstMatrixRef<float>, chrysalis::ConstMatrixRef<float>,
                  chrysalis::ConstMatrixRef<float> dy, chrysalis::MatrixRef<float> dx) {
        if (dx.cols() != 0) dx = factor * dy;
    }
};

int main() {
    chrysalis::Sequential<chrysalis::Dense<4, 3>, Gain, chrysalis::Dense<3, 2>> net;
    return net.output_size == 2 ? 0 : 1;
}
