// The zero-warnings consumer: a user's program that includes the umbrella header and
// instantiates the library's public templates in float and double — softmax and log_softmax,
// every loss (both call forms), fit, distill (live teacher and cached logits), predict, accuracy,
// save/load, checkpoint/resume and the gradient checker. CTest builds it with
// -Wall -Wextra -Wpedantic -Wshadow -Werror under g++ and clang++, with and without
// -march=native (tests/consumer/consumer.cmake); then runs it, on a tiny problem.
#include <chrysalis/chrysalis.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <type_traits>
#include <vector>

namespace cy = chrysalis;

namespace {

template <class S>
cy::Dataset<S> blobs(int n, unsigned seed) {
    cy::Rng rng(cy::Seed{seed});
    cy::Dataset<S> d;
    d.classes = 3;
    d.features.resize(4, n);
    d.labels.resize(std::size_t(n));
    for (int j = 0; j < n; ++j) {
        const int c = j % 3;
        d.labels[std::size_t(j)] = c;
        for (int i = 0; i < 4; ++i) d.features(i, j) = S((i == c ? 2.0 : 0.0) + rng.uniform(-1, 1));
    }
    return d;
}

template <class S>
int exercise(const std::string& dir) {
    // One architecture for teacher and student (every kind of layer in it): each template is
    // instantiated once per scalar type, which keeps this file's compile time down.
    using Net = cy::Sequential<cy::Dense<4, 16, S>, cy::ReLU, cy::Dropout<10>, cy::Dense<16, 8, S>,
                               cy::GELU, cy::Dense<8, 8, S>, cy::Tanh, cy::Dense<8, 8, S>,
                               cy::Sigmoid, cy::Dense<8, 8, S>, cy::LeakyReLU, cy::Dense<8, 3, S>>;
    using Teacher = Net;
    using Student = Net;
    const auto train = blobs<S>(96, 1), test = blobs<S>(48, 2);
    const cy::TrainOptions<S> quiet{.epochs = 2, .batch_size = 16, .progress = false};

    cy::Matrix<S> logits = cy::Matrix<S>::Random(3, 5), other = cy::Matrix<S>::Random(3, 5);
    const std::vector<int> labels{0, 1, 2, 1, 0};
    cy::Matrix<S> p = cy::softmax(logits, 2.0), lp = cy::log_softmax(logits, 2.0);
    cy::softmax(logits, 1.0, p);
    cy::log_softmax(logits, 1.0, lp);
    cy::Matrix<S> g;
    S total = cy::CrossEntropy{}(logits, labels).loss + cy::CrossEntropy{}(logits, labels, g);
    const cy::Distillation kd{.temperature = 4, .alpha = 0.9};
    total += kd(logits, other, labels).loss + kd(logits, other, labels, g) +
             cy::Distillation{.temperature = 4, .alpha = 1}(logits, other).loss;
    total += kd.soft_targets(logits, cy::softmax(other, 4.0), labels).loss;
    total += cy::SoftTargetCrossEntropy{}(logits, p).loss +
             cy::LogitMatching{}(logits, other).loss + cy::ReverseKL{}(logits, other).loss;
    // The into forms of the other distillation losses, labels of another integer type, metrics.
    const std::vector<long> long_labels{0, 1, 2, 1, 0};
    total += cy::SoftTargetCrossEntropy{}(logits, p, labels, g) +
             cy::LogitMatching{}(logits, other, long_labels, g) + cy::ReverseKL{}(logits, other, g);
    total += S(cy::accuracy(logits, long_labels)) + S(cy::argmax(logits).sum());

    Teacher teacher{cy::Seed{1}};
    cy::Sgd sgd{.lr = 0.05, .momentum = 0.9};
    cy::fit(teacher, train, cy::CrossEntropy{}, sgd, quiet);
    const cy::Matrix<S> soft = cy::predict_logits(teacher, train);
    Student student{cy::Seed{2}}, live{cy::Seed{3}};
    cy::Adam adam{.lr = 1e-2};
    cy::distill(student, train, soft, kd, adam, quiet);
    cy::AdamW adamw{.lr = 1e-2};
    cy::distill(live, train, teacher, kd, adamw, quiet);
    const double acc = cy::accuracy(student, test) + cy::accuracy(live, test);

    const std::string model = dir + "/student.chrysalis", ckpt = dir + "/teacher.ckpt";
    cy::save(student, model);
    Student loaded;
    cy::load(loaded, model);
    cy::TrainOptions<S> resumable = quiet;
    cy::Sgd sgd2{.lr = 0.05, .momentum = 0.9};
    Teacher resumed{cy::Seed{1}};
    cy::fit(resumed, train, cy::CrossEntropy{}, sgd2, resumable, cy::Checkpointing{.path = ckpt});
    resumable.epochs = 3;
    resumable.validation = &test;
    cy::fit(resumed, train, cy::CrossEntropy{}, sgd2, resumable,
            cy::Checkpointing{.path = ckpt, .resume_from = ckpt}, cy::EarlyStopping{.patience = 2},
            [](const cy::EpochReport&) {});

    int failures = 0;
    if constexpr (std::is_same_v<S, double>) {
        Student checked{cy::Seed{4}};
        const std::vector<int> three{0, 1, 2};
        const auto report = cy::gradcheck_network(
            checked, cy::Matrix<double>::Random(4, 3),
            [&](const cy::Matrix<double>& z) {
                auto r = cy::CrossEntropy{}(z, three);
                return std::pair{r.loss, r.gradient};
            },
            {}, cy::Mode::inference);  // Dropout: identity
        failures += report.passed(1e-6) ? 0 : 1;
        const cy::Matrix<double> zs = cy::Matrix<double>::Random(3, 3),
                                 zt = cy::Matrix<double>::Random(3, 3);
        failures += cy::gradcheck_loss(cy::Distillation{}, zs, zt, three).passed(1e-6) ? 0 : 1;
        failures += cy::gradcheck_loss(cy::CrossEntropy{}, zs, three).passed(1e-6) ? 0 : 1;
    }
    std::printf("%s: loss sum %.3f, accuracy sum %.3f\n", sizeof(S) == 4 ? "float" : "double",
                double(total), acc);
    return failures + (std::isfinite(double(total)) ? 0 : 1);
}

}  // namespace

int main() {
    const auto dir = std::filesystem::temp_directory_path() / "chrysalis_consumer_warnings";
    std::filesystem::create_directories(dir);
    const int failures = exercise<float>(dir.string()) + exercise<double>(dir.string());
    std::filesystem::remove_all(dir);
    return failures == 0 ? 0 : 1;
}
