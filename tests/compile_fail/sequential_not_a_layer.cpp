// expect-error: Sequential_argument_must_satisfy_the_Layer_concept<std::
// A type that is not a layer (here std::vector<int>) in a Sequential must not compile, and the
// error must name the concept it misses and the type.
#include <chrysalis/network.hpp>

#include <vector>

int main() {
#ifdef CHRYSALIS_COMPILE_FAIL
    chrysalis::Sequential<chrysalis::Dense<4, 3>, std::vector<int>, chrysalis::Dense<3, 2>> net;
#else
    chrysalis::Sequential<chrysalis::Dense<4, 3>, chrysalis::ReLU, chrysalis::Dense<3, 2>> net;
#endif
    return net.output_size == 2 ? 0 : 1;
}
