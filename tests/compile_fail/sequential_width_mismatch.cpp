// expect-error: layer_outputs<chrysalis::(isa_[a-z0-9_]+::)?Dense<784, 128>, 128>,
// chrysalis::detail::but_next_layer_expects<chrysalis::Dense<64, 10>, 64> A network whose second
// Dense expects 64 features after a Dense that outputs 128 (with a ReLU between them) must not
// compile, and the error must name both layers and both widths.
#include <chrysalis/network.hpp>

int main() {
#ifdef CHRYSALIS_COMPILE_FAIL
    chrysalis::Sequential<chrysalis::Dense<784, 128>, chrysalis::ReLU, chrysalis::Dense<64, 10>>
        net;
#else
    chrysalis::Sequential<chrysalis::Dense<784, 128>, chrysalis::ReLU, chrysalis::Dense<128, 10>>
        net;
#endif
    return net.output_size == 10 ? 0 : 1;
}
