// expect-error: distill_paired: the teacher and the student disagree on the number of classes
// Cross-modal distillation lets the teacher's and the student's input widths differ (two
// modalities), but a 10-class teacher and a 5-class student must not compile.
#include <chrysalis/cross_modal.hpp>

#include <chrysalis/network.hpp>
#include <chrysalis/optim.hpp>

int main() {
    using Teacher =
        chrysalis::Sequential<chrysalis::Dense<16, 8>, chrysalis::ReLU, chrysalis::Dense<8, 10>>;
#ifdef CHRYSALIS_COMPILE_FAIL
    using Student = chrysalis::Sequential<chrysalis::Dense<4, 5>>;
#else
    using Student = chrysalis::Sequential<chrysalis::Dense<4, 10>>;
#endif
    Teacher teacher;
    Student student;
    chrysalis::Dataset<float> full, view;
    chrysalis::Sgd sgd{.lr = 0.1};
    if (view.size() > 0) {
        chrysalis::distill_paired(student, view, teacher, full, chrysalis::Distillation{.alpha = 1},
                                  sgd);
    }
    return 0;
}
