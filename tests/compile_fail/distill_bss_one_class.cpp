// expect-error: distill_with_boundary_samples: a boundary needs at least two classes
// Boundary-sample distillation between networks with one output must not compile: every base's
// only other class would be none (class −1), read and written out of bounds.
#include <chrysalis/boundary_distill.hpp>

#include <chrysalis/network.hpp>
#include <chrysalis/optim.hpp>

int main() {
#ifdef CHRYSALIS_COMPILE_FAIL
    using Net = chrysalis::Sequential<chrysalis::Dense<4, 1>>;
#else
    using Net = chrysalis::Sequential<chrysalis::Dense<4, 2>>;
#endif
    Net teacher, student;
    chrysalis::Dataset<float> data;
    chrysalis::Sgd sgd{.lr = 0.1};
    if (data.size() > 0) {
        (void)chrysalis::distill_with_boundary_samples(
            student, data, teacher, chrysalis::Distillation{.alpha = 1.0}, sgd,
            chrysalis::TrainOptions<float>{}, chrysalis::BssOptions{});
    }
    return 0;
}
