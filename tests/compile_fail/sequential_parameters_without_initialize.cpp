// expect-error: has visit_parameters but no initialize
// A layer with parameters whose initialize has a signature Sequential does not call (here an
// extra int): its parameters would stay as constructed, silently. The build must fail instead.
#include "bias_layer.hpp"

struct Bias : BiasBase {
#ifdef CHRYSALIS_COMPILE_FAIL
    void initialize(chrysalis::Rng& rng, int scale) {
        b.setConstant(float(rng.uniform() * scale));
    }
#else
    void initialize(chrysalis::Rng& rng) {
        b.setConstant(float(rng.uniform()));
    }
#endif
};

int main() {
    chrysalis::Sequential<chrysalis::Dense<4, 3>, Bias, chrysalis::Dense<3, 2>> net;
    return net.output_size == 2 ? 0 : 1;
}
