// Boundary-supporting samples (Heo, Lee, Yun & Choi, AAAI 2019, arXiv 1805.05532) against plain
// distillation, in the low-data regime where the paper's gain is largest.
//
// Fashion-MNIST mode (the default): a teacher 784-256-256-10 with dropout, trained on 55,000
// images (smaller and shorter than the flagship's, to keep the full run within 15 minutes on two
// cores); students 784-128-10 distilled from it on transfer sets of 3,000, 1,000 and 300 images
// (drawn as the flagship draws its transfer set), plainly and with boundary-supporting samples.
// Per transfer size and method: test accuracy and the paper's MagSim and AngSim between teacher
// and student, mean ± sample standard deviation over the student seeds.
//
// Two-moons mode (--moons --out DIR): a teacher on 2,000 points, students on 30, and CSVs for
// scripts/plot_boundary_samples.py: the samples, and both students' decision regions.
//
//   boundary_samples [--data DIR] [--seed N] [--seeds N] [--transfer N] [--quick]
//   boundary_samples --moons [--out DIR] [--seed N] [--quick]

#include <chrysalis/boundary_distill.hpp>
#include <chrysalis/boundary_samples.hpp>
#include <chrysalis/boundary_similarity.hpp>
#include <chrysalis/chrysalis.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <numbers>
#include <numeric>
#include <string>
#include <vector>

namespace cy = chrysalis;
using Clock = std::chrono::steady_clock;

namespace {

using Teacher = cy::Sequential<cy::Dense<784, 256>, cy::ReLU, cy::Dropout<20>, cy::Dense<256, 256>,
                               cy::ReLU, cy::Dropout<20>, cy::Dense<256, 10>>;
using Student = cy::Sequential<cy::Dense<784, 128>, cy::ReLU, cy::Dense<128, 10>>;

using MoonTeacher =
    cy::Sequential<cy::Dense<2, 64>, cy::Tanh, cy::Dense<64, 64>, cy::Tanh, cy::Dense<64, 2>>;
using MoonStudent = cy::Sequential<cy::Dense<2, 16>, cy::ReLU, cy::Dense<16, 2>>;

struct Options {
    std::string data = "/usr/share/datasets/fashion-mnist";
    std::string out = "boundary-samples";
    std::uint64_t seed = 1;
    int seeds = 3;
    std::vector<Eigen::Index> transfer = {3000, 1000, 300};
    bool quick = false;
    bool moons = false;
};

Options parse(int argc, char** argv) {
    Options o;
    bool transfer_given = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw std::invalid_argument("option " + a + " needs a value");
            return argv[++i];
        };
        if (a == "--data") {
            o.data = value();
        } else if (a == "--out") {
            o.out = value();
        } else if (a == "--seed") {
            o.seed = std::stoull(value());
        } else if (a == "--seeds") {
            o.seeds = std::max(1, std::stoi(value()));
        } else if (a == "--transfer") {
            if (!transfer_given) o.transfer.clear();
            transfer_given = true;
            o.transfer.push_back(std::stol(value()));
        } else if (a == "--quick") {
            o.quick = true;
        } else if (a == "--moons") {
            o.moons = true;
        } else if (a == "--help" || a == "-h") {
            std::cout
                << "usage: boundary_samples [--data DIR] [--seed N] [--seeds N] [--transfer N]...\n"
                   "                        [--quick]\n"
                   "       boundary_samples --moons [--out DIR] [--seed N] [--quick]\n\n"
                   "Plain distillation against distillation with boundary-supporting samples\n"
                   "(Heo et al. 2019) on Fashion-MNIST transfer sets of 3000, 1000 and 300\n"
                   "images (--transfer N, repeatable, replaces them): test accuracy, MagSim and\n"
                   "AngSim, mean ± sd over --seeds student seeds (default 3). --moons writes\n"
                   "CSVs of two moons for scripts/plot_boundary_samples.py into --out.\n"
                   "--quick: a small budget, for the test suite.\n";
            std::exit(0);
        } else {
            throw std::invalid_argument("unknown option " + a + " (try --help)");
        }
    }
    if (o.quick && !transfer_given) o.transfer = {300};
    if (o.quick) o.seeds = std::min(o.seeds, 2);
    return o;
}

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

struct Stat {
    double mean = 0, sd = 0;
};
Stat stat(const std::vector<double>& v) {
    Stat s;
    s.mean = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
    double ss = 0;
    for (double x : v) ss += (x - s.mean) * (x - s.mean);
    s.sd = v.size() > 1 ? std::sqrt(ss / double(v.size() - 1)) : 0.0;
    return s;
}

int fashion(const Options& o) {
    const auto start = Clock::now();
    std::printf("chrysalis %s: boundary-supporting samples on Fashion-MNIST (data: %s)%s\n",
                cy::version_string.data(), o.data.c_str(), o.quick ? " [quick]" : "");
    auto all = cy::load_idx<float>(o.data + "/train-images-idx3-ubyte.gz",
                                   o.data + "/train-labels-idx1-ubyte.gz");
    const auto test = cy::load_idx<float>(o.data + "/t10k-images-idx3-ubyte.gz",
                                          o.data + "/t10k-labels-idx1-ubyte.gz");
    // The flagship's split: 5,000 validation images aside, the teacher on the rest.
    auto [train, validation] = cy::split(all, 5000.0 / double(all.size()), cy::Seed{o.seed});
    if (o.quick) {
        std::vector<Eigen::Index> first(std::size_t(std::min<Eigen::Index>(10000, train.size())));
        std::iota(first.begin(), first.end(), 0);
        train = cy::subset(train, first);
    }
    Teacher teacher(cy::Seed{o.seed});
    cy::Adam teacher_opt{.lr = 1e-3};
    auto t0 = Clock::now();
    cy::fit(teacher, train, cy::CrossEntropy{}, teacher_opt,
            {.epochs = o.quick ? 1 : 8,
             .batch_size = 128,
             .seed = cy::Seed{o.seed},
             .progress = false});
    std::printf("teacher 784-256-256-10: %ld training images, %.0f s, test accuracy %.2f%%\n",
                long(train.size()), seconds_since(t0), 100 * cy::accuracy(teacher, test));
    // MagSim and AngSim on the first 500 test images both networks classify correctly.
    const cy::BssOptions measure{.max_steps = 30, .target = cy::TargetClass::runner_up};
    const cy::Distillation kd{.temperature = 4, .alpha = 0.9};
    std::printf(
        "\nstudents 784-128-10, distilled with T = 4, alpha = 0.9, Adam 1e-3; with BSS: the\n"
        "paper's settings (eta 0.3, 10 steps, 64 bases per batch, weight 2 decaying to 0 at 3/4\n"
        "of the epochs, T = 3). Mean ± sd over %d student seed%s.\n\n",
        o.seeds, o.seeds > 1 ? "s" : "");
    std::printf("%-9s %-7s %-6s %17s %15s %15s %9s\n", "transfer", "method", "epochs",
                "test accuracy", "MagSim", "AngSim", "train (s)");
    for (const Eigen::Index n : o.transfer) {
        const auto [rest, transfer] =
            cy::split(train, double(n) / double(train.size()), cy::Seed{o.seed + 1});
        // About 1,000 batches at any size (fewer with --quick), at least 30 epochs.
        const int epochs = o.quick ? 10 : std::max(30, int(120000 / transfer.size()));
        for (const bool bss : {false, true}) {
            std::vector<double> acc, mag, ang, secs;
            for (int k = 0; k < o.seeds; ++k) {
                const auto seed = cy::Seed{o.seed + 3 + 10 * std::uint64_t(k)};
                Student student(seed);
                cy::Adam opt{.lr = 1e-3};
                const cy::TrainOptions<float> options{
                    .epochs = epochs, .batch_size = 128, .seed = seed, .progress = false};
                t0 = Clock::now();
                if (bss) {
                    cy::distill_with_boundary_samples(student, transfer, teacher, kd, opt, options,
                                                      cy::BssOptions{.seed = seed});
                } else {
                    cy::distill(student, transfer, teacher, kd, opt, options);
                }
                secs.push_back(seconds_since(t0));
                acc.push_back(cy::accuracy(student, test));
                const auto sim = cy::boundary_similarity(teacher, student, test, measure, 500);
                mag.push_back(sim.magsim);
                ang.push_back(sim.angsim);
            }
            const Stat a = stat(acc), m = stat(mag), g = stat(ang), s = stat(secs);
            std::printf("%-9ld %-7s %-6d %8.2f ± %5.2f%% %7.3f ± %5.3f %7.3f ± %5.3f %9.1f\n",
                        long(transfer.size()), bss ? "BSS" : "plain", epochs, 100 * a.mean,
                        100 * a.sd, m.mean, m.sd, g.mean, g.sd, s.mean);
            std::fflush(stdout);
        }
    }
    std::printf("\nboundary-supporting samples: done in %.0f s\n", seconds_since(start));
    return 0;
}

/// Two interleaved half circles with Gaussian noise, seeded (as examples/decision_boundaries).
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

int two_moons(const Options& o) {
    std::filesystem::create_directories(o.out);
    const auto train = moons(2000, 0.2, cy::Seed{o.seed});
    const auto transfer = moons(30, 0.2, cy::Seed{o.seed + 1});
    const auto test = moons(2000, 0.2, cy::Seed{o.seed + 2});
    MoonTeacher teacher{cy::Seed{o.seed}};
    cy::Adam t_opt{.lr = 3e-3};
    cy::fit(teacher, train, cy::CrossEntropy{}, t_opt,
            {.epochs = o.quick ? 5 : 60, .batch_size = 64, .progress = false});
    const cy::TrainOptions<float> options{.epochs = o.quick ? 20 : 300,
                                          .batch_size = 10,
                                          .seed = cy::Seed{o.seed},
                                          .progress = false};
    const cy::Distillation kd{.temperature = 2, .alpha = 0.5};
    MoonStudent plain{cy::Seed{o.seed + 3}}, bss{cy::Seed{o.seed + 3}};
    cy::Adam a{.lr = 1e-2}, b{.lr = 1e-2};
    cy::distill(plain, transfer, teacher, kd, a, options);
    cy::distill_with_boundary_samples(bss, transfer, teacher, kd, b, options,
                                      cy::BssOptions{.step_size = 0.3, .max_steps = 20});
    const cy::BssOptions measure{.max_steps = 30, .target = cy::TargetClass::runner_up};
    const auto sp = cy::boundary_similarity(teacher, plain, test, measure, 500);
    const auto sb = cy::boundary_similarity(teacher, bss, test, measure, 500);
    std::printf(
        "two moons: teacher %.1f%%; students on %ld points: plain %.1f%% (MagSim %.3f, AngSim "
        "%.3f), BSS %.1f%% (MagSim %.3f, AngSim %.3f)\n",
        100 * cy::accuracy(teacher, test), long(transfer.size()), 100 * cy::accuracy(plain, test),
        sp.magsim, sp.angsim, 100 * cy::accuracy(bss, test), sb.magsim, sb.angsim);

    // The boundary-supporting samples of the transfer points the teacher gets right.
    std::vector<Eigen::Index> right;
    const Eigen::VectorXi arg = cy::argmax(cy::predict_logits(teacher, transfer));
    for (Eigen::Index j = 0; j < transfer.size(); ++j)
        if (arg(j) == transfer.labels[std::size_t(j)]) right.push_back(j);
    const auto bases = cy::subset(transfer, right);
    const auto s = cy::boundary_samples(teacher, bases.features, bases.labels,
                                        cy::BssOptions{.step_size = 0.3, .max_steps = 20});
    std::ofstream f(o.out + "/bss_samples.csv");
    f << "x,y,base_x,base_y,base,target,steps,reached\n";
    for (Eigen::Index j = 0; j < s.size(); ++j)
        f << s.samples(0, j) << ',' << s.samples(1, j) << ',' << bases.features(0, j) << ','
          << bases.features(1, j) << ',' << s.base_classes[std::size_t(j)] << ','
          << s.target_classes[std::size_t(j)] << ',' << s.steps[std::size_t(j)] << ','
          << int(s.reached[std::size_t(j)]) << '\n';
    std::ofstream p(o.out + "/bss_points.csv");
    p << "x,y,label\n";
    for (Eigen::Index k = 0; k < transfer.size(); ++k)
        p << transfer.features(0, k) << ',' << transfer.features(1, k) << ','
          << transfer.labels[std::size_t(k)] << '\n';
    constexpr int n = 150;
    cy::Matrix<float> grid(2, n * n);
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) {
            grid(0, i * n + j) = float(-1.6 + 4.2 * j / (n - 1));
            grid(1, i * n + j) = float(-1.2 + 2.9 * i / (n - 1));
        }
    const cy::Matrix<float> pt = cy::softmax(teacher.forward(grid), 1.0);
    const cy::Matrix<float> pp = cy::softmax(plain.forward(grid), 1.0);
    const cy::Matrix<float> pb = cy::softmax(bss.forward(grid), 1.0);
    std::ofstream g(o.out + "/bss_grid.csv");
    g << "x,y,teacher,plain,bss\n";
    for (Eigen::Index k = 0; k < grid.cols(); ++k)
        g << grid(0, k) << ',' << grid(1, k) << ',' << pt(1, k) << ',' << pp(1, k) << ','
          << pb(1, k) << '\n';
    std::printf(
        "wrote %s/bss_grid.csv, bss_points.csv and bss_samples.csv (%ld samples, %ld "
        "reached the boundary)\n",
        o.out.c_str(), long(s.size()), long(s.reached_count()));
    return 0;
}

}  // namespace

int main(int argc, char** argv) try {
    const Options o = parse(argc, argv);
    return o.moons ? two_moons(o) : fashion(o);
} catch (const std::exception& e) {
    std::fprintf(stderr, "boundary_samples: %s\n", e.what());
    return 1;
}
