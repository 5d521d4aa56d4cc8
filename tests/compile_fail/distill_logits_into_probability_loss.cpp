// expect-error: this loss reads teacher probabilities, not logits
// SoftTargetCrossEntropy reads teacher probabilities: handing it cached teacher logits through
// distill must not compile (distill_soft, which hands it probabilities, must).
#include <chrysalis/distill.hpp>

#include <chrysalis/losses.hpp>
#include <chrysalis/network.hpp>
#include <chrysalis/optim.hpp>

int main() {
    chrysalis::Sequential<chrysalis::Dense<4, 3>> student;
    chrysalis::Dataset<float> data;
    chrysalis::Matrix<float> teacher_outputs;
    chrysalis::Sgd sgd{.lr = 0.1};
    if (data.size() > 0) {
#ifdef CHRYSALIS_COMPILE_FAIL
        chrysalis::distill(student, data, teacher_outputs, chrysalis::SoftTargetCrossEntropy{},
                           sgd);
#else
        chrysalis::distill_soft(student, data, teacher_outputs, chrysalis::SoftTargetCrossEntropy{},
                                sgd);
#endif
    }
    return 0;
}
