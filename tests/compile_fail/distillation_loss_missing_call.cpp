// expect-error: (satisfaction of|does not satisfy|because) [^ ]*DistillationLoss
// A type without the four-argument call operator (student, teacher, labels, gradient), passed
// where a DistillationLoss is required, must not compile, and the error must name the concept.
#include <chrysalis/concepts/loss.hpp>

#include <span>

namespace {

/// A function a training loop would be: it takes any model of DistillationLoss.
template <chrysalis::DistillationLoss<float> L>
float one_step(L& loss, chrysalis::ConstMatrixRef<float> student,
               chrysalis::ConstMatrixRef<float> teacher, std::span<const int> labels,
               chrysalis::MatrixRef<float> gradient) {
    return loss(student, teacher, labels, gradient);
}

struct HalfALoss {
#ifdef CHRYSALIS_COMPILE_FAIL
    // Only the returning-style call of the student and the teacher: no labels, no gradient.
    float operator()(chrysalis::ConstMatrixRef<float>, chrysalis::ConstMatrixRef<float>) {
        return 0;
    }
#else
    float operator()(chrysalis::ConstMatrixRef<float>, chrysalis::ConstMatrixRef<float>,
                     std::span<const int>, chrysalis::MatrixRef<float> gradient) {
        gradient.setZero();
        return 0;
    }
#endif
};

}  // namespace

int main() {
    chrysalis::Matrix<float> z = chrysalis::Matrix<float>::Zero(3, 2), g(3, 2);
    const int labels[] = {0, 1};
    HalfALoss loss;
    return int(one_step(loss, z, z, labels, g));
}
