// expect-error: every layer must use the network's scalar type
// A float Dense followed by a double Dense must not compile.
#include <chrysalis/network.hpp>

int main() {
#ifdef CHRYSALIS_COMPILE_FAIL
    chrysalis::Sequential<chrysalis::Dense<4, 3, float>, chrysalis::Dense<3, 2, double>> net;
#else
    chrysalis::Sequential<chrysalis::Dense<4, 3, double>, chrysalis::Dense<3, 2, double>> net;
#endif
    return net.output_size == 2 ? 0 : 1;
}
