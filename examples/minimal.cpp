// The whole workflow in one page: define, train, distill, evaluate, save.
//   minimal [fashion-mnist dir] [epochs]
#include <chrysalis/chrysalis.hpp>

#include <cstdio>
#include <string>

namespace cy = chrysalis;

using Teacher = cy::Sequential<cy::Dense<784, 512>, cy::ReLU, cy::Dropout<20>, cy::Dense<512, 512>,
                               cy::ReLU, cy::Dense<512, 10>>;
using Student = cy::Sequential<cy::Dense<784, 64>, cy::ReLU, cy::Dense<64, 10>>;

int main(int argc, char** argv) {
    const std::string dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
    const int epochs = argc > 2 ? std::stoi(argv[2]) : 5;
    const auto train = cy::load_idx<float>(dir + "/train-images-idx3-ubyte.gz",
                                           dir + "/train-labels-idx1-ubyte.gz");
    const auto test =
        cy::load_idx<float>(dir + "/t10k-images-idx3-ubyte.gz", dir + "/t10k-labels-idx1-ubyte.gz");

    Teacher teacher{cy::Seed{1}};  // a big network, trained on hard labels
    cy::Adam teacher_opt{.lr = 1e-3};
    cy::fit(teacher, train, cy::CrossEntropy{}, teacher_opt, {.epochs = epochs});

    const cy::Matrix<float> soft = cy::predict_logits(teacher, train);  // once, for every epoch
    Student student{cy::Seed{2}};  // a small one, trained on the teacher's softened outputs
    cy::Adam student_opt{.lr = 1e-3};
    cy::distill(student, train, soft, cy::Distillation{.temperature = 4, .alpha = 0.9}, student_opt,
                {.epochs = epochs});

    std::printf("teacher %.2f%%, student %.2f%% (%zu parameters instead of %zu)\n",
                100 * cy::accuracy(teacher, test), 100 * cy::accuracy(student, test),
                Student::parameter_count(), Teacher::parameter_count());
    cy::save(student, "student.chrysalis");
    std::printf("saved student.chrysalis\n");
}
