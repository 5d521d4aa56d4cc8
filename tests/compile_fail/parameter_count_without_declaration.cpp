// expect-error: a layer with visit_parameters has no static constexpr std::size_t parameter_count
// Sequential::parameter_count() adds up the layers' static parameter_count; a layer with
// parameters that does not declare one would count as 0, so the call must not compile.
#include "bias_layer.hpp"

#include <cstddef>

struct Bias : BiasBase {
#ifndef CHRYSALIS_COMPILE_FAIL
    static constexpr std::size_t parameter_count = 3;
#endif
    void initialize(chrysalis::Rng&) {
        b.setZero();
    }
};

int main() {
    constexpr std::size_t n =
        chrysalis::Sequential<chrysalis::Dense<4, 3>, Bias>::parameter_count();
    return n == 4 * 3 + 3 + 3 ? 0 : 1;
}
