// expect-error: the teacher and the student disagree on the number of classes
// Distilling a 10-class teacher into a 5-class student must not compile.
#include <chrysalis/train.hpp>

#include <chrysalis/network.hpp>
#include <chrysalis/optim.hpp>

int main() {
    using Teacher =
        chrysalis::Sequential<chrysalis::Dense<4, 8>, chrysalis::ReLU, chrysalis::Dense<8, 10>>;
#ifdef CHRYSALIS_COMPILE_FAIL
    using Student = chrysalis::Sequential<chrysalis::Dense<4, 5>>;
#else
    using Student = chrysalis::Sequential<chrysalis::Dense<4, 10>>;
#endif
    Teacher teacher;
    Student student;
    chrysalis::Dataset<float> data;
    chrysalis::Sgd sgd{.lr = 0.1};
    if (data.size() > 0) chrysalis::distill(student, data, teacher, chrysalis::Distillation{}, sgd);
    return 0;
}
