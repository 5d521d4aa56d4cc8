// Decision regions on two moons: a teacher, a small student trained from scratch on a handful of
// points, and the same student distilled from the teacher on those same points. Writes
//   <out>/boundaries_grid.csv    x, y, then P(class 1) of teacher, scratch and distilled
//   <out>/boundaries_points.csv  x, y, label, 1 if in the students' transfer set
// for scripts/plot_decision_boundaries.py, and prints the three test accuracies.
//
//   decision_boundaries [--out DIR] [--quick]

#include <chrysalis/chrysalis.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <string>

namespace cy = chrysalis;

using Teacher =
    cy::Sequential<cy::Dense<2, 64>, cy::Tanh, cy::Dense<64, 64>, cy::Tanh, cy::Dense<64, 2>>;
using Student = cy::Sequential<cy::Dense<2, 16>, cy::ReLU, cy::Dense<16, 2>>;

/// Two interleaved half circles with Gaussian noise, seeded.
cy::Dataset<float> moons(std::size_t n, double noise, cy::Seed seed) {
    cy::Rng rng(seed);
    cy::Dataset<float> d;
    d.classes = 2;
    d.features.resize(2, Eigen::Index(n));
    d.labels.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        const int y = int(i % 2);
        const double a = std::numbers::pi * rng.uniform();
        const double r = noise * std::sqrt(-2 * std::log(1 - rng.uniform()));
        const double t = 2 * std::numbers::pi * rng.uniform();
        d.features(0, Eigen::Index(i)) =
            float((y ? 1 - std::cos(a) : std::cos(a)) + r * std::cos(t));
        d.features(1, Eigen::Index(i)) =
            float((y ? 0.5 - std::sin(a) : std::sin(a)) + r * std::sin(t));
        d.labels[i] = y;
    }
    return d;
}

int main(int argc, char** argv) {
    std::string out = ".";
    bool quick = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--out" && i + 1 < argc)
            out = argv[++i];
        else if (a == "--quick")
            quick = true;
    }
    std::filesystem::create_directories(out);
    const auto train = moons(2000, 0.2, cy::Seed{1});
    const auto transfer = moons(30, 0.2, cy::Seed{2});  // what the students see
    const auto test = moons(2000, 0.2, cy::Seed{3});
    const int epochs = quick ? 20 : 300;

    Teacher teacher{cy::Seed{1}};
    cy::Adam t_opt{.lr = 3e-3};
    cy::fit(teacher, train, cy::CrossEntropy{}, t_opt,
            {.epochs = quick ? 5 : 60, .batch_size = 64, .progress = false});
    // Three student seeds for the accuracies (mean ± sample standard deviation); the picture
    // shows the first seed's students.
    Student scratch{cy::Seed{4}}, distilled{cy::Seed{4}};
    const cy::Matrix<float> soft = cy::predict_logits(teacher, transfer);
    double sum_s = 0, sum_d = 0, sq_s = 0, sq_d = 0;
    constexpr int seeds = 3;
    for (int k = seeds - 1; k >= 0; --k) {  // seed 0 last, so its students stay for the picture
        scratch = Student{cy::Seed{4 + std::uint64_t(k)}};
        distilled = Student{cy::Seed{4 + std::uint64_t(k)}};
        cy::Adam a{.lr = 1e-2}, b{.lr = 1e-2};
        const cy::TrainOptions<float> o{.epochs = epochs,
                                        .batch_size = 10,
                                        .seed = cy::Seed{std::uint64_t(k)},
                                        .progress = false};
        cy::fit(scratch, transfer, cy::CrossEntropy{}, a, o);
        cy::distill(distilled, transfer, soft, cy::Distillation{.temperature = 2.0, .alpha = 0.5},
                    b, o);
        const double as = cy::accuracy(scratch, test), ad = cy::accuracy(distilled, test);
        sum_s += as;
        sum_d += ad;
        sq_s += as * as;
        sq_d += ad * ad;
    }
    auto sd = [&](double sum, double sq) {
        return std::sqrt(std::max(0.0, (sq - sum * sum / seeds) / (seeds - 1)));
    };
    std::printf(
        "test accuracy: teacher %.1f%%; over %d seeds, student from scratch %.1f ± %.1f%%, "
        "distilled %.1f ± %.1f%% (students saw %ld points)\n",
        100 * cy::accuracy(teacher, test), seeds, 100 * sum_s / seeds, 100 * sd(sum_s, sq_s),
        100 * sum_d / seeds, 100 * sd(sum_d, sq_d), long(transfer.size()));

    // P(class 1) over a grid of the plane, for the three networks.
    constexpr int n = 150;
    cy::Matrix<float> grid(2, n * n);
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) {
            grid(0, i * n + j) = float(-1.6 + 4.2 * j / (n - 1));
            grid(1, i * n + j) = float(-1.2 + 2.9 * i / (n - 1));
        }
    const cy::Matrix<float> pt = cy::softmax(teacher.forward(grid), 1.0);
    const cy::Matrix<float> ps = cy::softmax(scratch.forward(grid), 1.0);
    const cy::Matrix<float> pd = cy::softmax(distilled.forward(grid), 1.0);
    std::ofstream g(out + "/boundaries_grid.csv");
    g << "x,y,teacher,scratch,distilled\n";
    for (Eigen::Index k = 0; k < grid.cols(); ++k)
        g << grid(0, k) << ',' << grid(1, k) << ',' << pt(1, k) << ',' << ps(1, k) << ','
          << pd(1, k) << '\n';
    std::ofstream p(out + "/boundaries_points.csv");
    p << "x,y,label,transfer\n";
    for (const auto* d : {&train, &transfer})
        for (Eigen::Index k = 0; k < d->size(); ++k)
            p << d->features(0, k) << ',' << d->features(1, k) << ',' << d->labels[std::size_t(k)]
              << ',' << (d == &transfer) << '\n';
    std::printf("wrote %s/boundaries_grid.csv and boundaries_points.csv\n", out.c_str());
}
