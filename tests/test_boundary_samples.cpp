// Boundary-supporting samples (chrysalis/boundary_samples.hpp): the generator lands within its
// margin of the teacher's boundary, its steps close the gap, its gradient is the finite-difference
// one, MagSim/AngSim are perfect for a network with itself, the distillation trains, and bad
// arguments throw the documented errors.

#include <catch2/catch.hpp>

#include <chrysalis/boundary_distill.hpp>
#include <chrysalis/boundary_samples.hpp>
#include <chrysalis/boundary_similarity.hpp>
#include <chrysalis/chrysalis.hpp>

#include "temp_dir.hpp"

#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>
#include <vector>
#include "test_file_namespace.hpp"

namespace CHRYSALIS_TEST_FILE {

using namespace chrysalis;
using chrysalis::test::TempDir;

// The exception's type, and a matcher on its message.
#define CHECK_THROWS_NAMING(expr, Type, matcher) \
    do {                                         \
        CHECK_THROWS_AS(expr, Type);             \
        CHECK_THROWS_WITH(expr, matcher);        \
    } while (false)

namespace {

/// Four Gaussian clusters in 6 dimensions, overlapping a little: a 4-class toy.
template <class S>
Dataset<S> clusters(std::size_t n, Seed seed) {
    Rng centres_rng(Seed{777});
    Matrix<double> centres(6, 4);
    for (Eigen::Index i = 0; i < centres.size(); ++i)
        centres.data()[i] = centres_rng.uniform(-1.5, 1.5);
    Rng rng(seed);
    Dataset<S> d;
    d.classes = 4;
    d.features.resize(6, Eigen::Index(n));
    d.labels.resize(n);
    for (std::size_t j = 0; j < n; ++j) {
        const int y = int(rng.below(4));
        d.labels[j] = y;
        for (Eigen::Index i = 0; i < 6; ++i) {
            const double r = std::sqrt(-2 * std::log(1 - rng.uniform()));
            d.features(i, Eigen::Index(j)) =
                S(centres(i, y) + 0.6 * r * std::cos(2 * std::numbers::pi * rng.uniform()));
        }
    }
    return d;
}

template <class S>
using Teacher =
    Sequential<Dense<6, 32, S>, ReLU, Dropout<10>, Dense<32, 32, S>, ReLU, Dense<32, 4, S>>;
template <class S>
using Student = Sequential<Dense<6, 8, S>, ReLU, Dense<8, 4, S>>;
template <class S>
using Smooth = Sequential<Dense<6, 16, S>, Tanh, Dense<16, 4, S>>;

template <class Net>
Net trained(const Dataset<typename Net::scalar_type>& d, Seed seed, int epochs = 15) {
    Net net(seed);
    Adam opt{.lr = 3e-3};
    fit(net, d, CrossEntropy{}, opt, {.epochs = epochs, .batch_size = 32, .progress = false});
    return net;
}

/// The first n samples the network classifies correctly: features and labels.
template <class Net>
std::pair<Matrix<typename Net::scalar_type>, std::vector<int>> correct_bases(
    Net& net, const Dataset<typename Net::scalar_type>& d, Eigen::Index n) {
    const auto z = predict_logits(net, d);
    const Eigen::VectorXi arg = argmax(z);
    std::vector<Eigen::Index> idx;
    for (Eigen::Index j = 0; j < d.size() && Eigen::Index(idx.size()) < n; ++j)
        if (arg(j) == d.labels[std::size_t(j)]) idx.push_back(j);
    const auto s = subset(d, idx);
    return {s.features, s.labels};
}

}  // namespace

TEMPLATE_TEST_CASE(
    "a boundary-supporting sample lies within the margin of the teacher's b-k "
    "boundary",
    "[boundary]", float, double) {
    using S = TestType;
    const auto train = clusters<S>(2000, Seed{1});
    auto teacher = trained<Teacher<S>>(train, Seed{2});
    auto [x, base] = correct_bases(teacher, train, 200);
    for (const TargetClass how : {TargetClass::runner_up, TargetClass::sampled}) {
        const BssOptions o{.step_size = 0.3, .max_steps = 30, .margin = 0.05, .target = how};
        const auto s = boundary_samples(teacher, x, base, o);
        REQUIRE(s.size() == x.cols());
        // Most reach it within 30 steps (the toy's classes are a few logits apart).
        CHECK(s.reached_count() >= s.size() * 9 / 10);
        const Matrix<S> z = predict_logits(teacher, Dataset<S>{s.samples, s.base_classes, 4});
        for (Eigen::Index j = 0; j < s.size(); ++j) {
            const int b = s.base_classes[std::size_t(j)], k = s.target_classes[std::size_t(j)];
            CHECK(b != k);
            if (!s.reached[std::size_t(j)]) continue;
            const double gap = double(z(b, j)) - double(z(k, j));
            INFO("sample " << j << " b " << b << " k " << k << " gap " << gap);
            CHECK(gap <= 0);
            CHECK(gap >= -0.05);
            Eigen::Index arg = 0;
            z.col(j).maxCoeff(&arg);
            CHECK((arg == b || arg == k));
            CHECK(s.steps[std::size_t(j)] >= 1);
            CHECK(s.gaps[std::size_t(j)] == Approx(gap).margin(1e-5));
        }
    }
}

TEST_CASE("boundary_samples takes its classes as any LabelRange, as the other functions do",
          "[boundary][labels]") {
    const auto train = clusters<float>(400, Seed{1});
    auto teacher = trained<Teacher<float>>(train, Seed{2}, 3);
    auto [x, base] = correct_bases(teacher, train, 20);
    const BssOptions o{.max_steps = 5};
    const auto want = boundary_samples(teacher, x, base, o);
    std::vector<int> target = want.target_classes;
    const auto want_targeted = boundary_samples(teacher, x, base, target, o);
    const std::vector<long> base_long(base.begin(), base.end());
    const Eigen::VectorXi target_eigen =
        Eigen::Map<const Eigen::VectorXi>(target.data(), Eigen::Index(target.size()));
    const auto got = boundary_samples(teacher, x, base_long, o);
    const auto got_targeted = boundary_samples(teacher, x, base_long, target_eigen, o);
    CHECK(got.samples == want.samples);
    CHECK(got.target_classes == want.target_classes);
    CHECK(got_targeted.samples == want_targeted.samples);
    CHECK(got_targeted.base_classes == base);
    // A label that does not fit an int is refused by name, as everywhere.
    std::vector<long> too_big = base_long;
    too_big[3] = 1L << 40;
    CHECK_THROWS_AS(boundary_samples(teacher, x, too_big, o), ValueError);
    CHECK_THROWS_WITH(boundary_samples(teacher, x, too_big, o),
                      Catch::Matchers::StartsWith("chrysalis::boundary_samples: label"));
}

TEMPLATE_TEST_CASE("each step moves the teacher's base-vs-target gap monotonically toward 0",
                   "[boundary]", float, double) {
    using S = TestType;
    const auto train = clusters<S>(1000, Seed{3});
    auto teacher = trained<Smooth<S>>(train, Seed{4});
    auto [x, base] = correct_bases(teacher, train, 40);
    // A small step: η·‖∇L‖ < 1 near the bases, so the linearised gap shrinks by a factor
    // (1 − η‖∇L‖) per step and does not overshoot.
    std::vector<std::vector<double>> gaps;  // gaps[s][j] after s steps
    for (int steps = 1; steps <= 12; ++steps) {
        const BssOptions o{.step_size = 0.02, .max_steps = steps, .target = TargetClass::runner_up};
        gaps.push_back(boundary_samples(teacher, x, base, o).gaps);
    }
    int compared = 0;
    for (std::size_t j = 0; j < gaps[0].size(); ++j) {
        for (std::size_t s = 1; s < gaps.size(); ++s) {
            INFO("sample " << j << " after " << s + 1 << " steps");
            if (gaps[s - 1][j] <= 0) break;  // past the boundary: it stopped
            CHECK(gaps[s][j] < gaps[s - 1][j]);
            CHECK(gaps[s][j] >= -0.1);  // never beyond the margin
            ++compared;
        }
    }
    // Not vacuous: most samples are still on b's side after several steps.
    CHECK(compared >= 5 * int(gaps[0].size()));
}

TEST_CASE("the generator's step is the paper's, with the finite-difference input gradient",
          "[boundary]") {
    // Double and a smooth (tanh) network: central differences of L = z_b − z_k with h = 1e-5
    // have truncation error O(h²·|L'''|) ≈ 1e-10 and rounding error O(1e-16/h) ≈ 1e-11, so the
    // gradient agrees to 1e-7 relative with room to spare; a ReLU net would have kinks.
    const auto train = clusters<double>(1000, Seed{5});
    auto net = trained<Smooth<double>>(train, Seed{6});
    auto [x, base] = correct_bases(net, train, 10);
    const std::vector<int> target = {1, 2, 3, 0, 1, 2, 3, 0, 1, 2};
    std::vector<int> tgt(base.size());
    for (std::size_t j = 0; j < base.size(); ++j)
        tgt[j] = target[j] == base[j] ? (target[j] + 1) % 4 : target[j];
    const BssOptions o{.step_size = 0.05, .max_steps = 1, .epsilon = 1e-3};
    const auto s = boundary_samples(net, x, base, tgt, o);
    const double h = 1e-5;
    for (Eigen::Index j = 0; j < x.cols(); ++j) {
        const int b = base[std::size_t(j)], k = tgt[std::size_t(j)];
        auto L = [&](const Vector<double>& v) {
            const auto z = net.forward(v);
            return z(b, 0) - z(k, 0);
        };
        const Vector<double> x0 = x.col(j);
        Vector<double> g(6);
        for (int i = 0; i < 6; ++i) {
            Vector<double> p = x0, m = x0;
            p(i) += h;
            m(i) -= h;
            g(i) = (L(p) - L(m)) / (2 * h);
        }
        const double l0 = L(x0);
        if (l0 <= 0) continue;
        const Vector<double> expected = x0 - o.step_size * (l0 + o.epsilon) * g / g.norm();
        INFO("sample " << j);
        CHECK((s.samples.col(j) - expected).norm() <= 1e-7 * (1 + expected.norm()));
        CHECK(s.steps[std::size_t(j)] == 1);
    }
}

TEMPLATE_TEST_CASE("MagSim and AngSim are 1 for a network with itself and drop for another",
                   "[boundary]", float, double) {
    using S = TestType;
    const auto train = clusters<S>(2000, Seed{7});
    auto teacher = trained<Teacher<S>>(train, Seed{8});
    auto same = teacher;
    auto other = trained<Student<S>>(clusters<S>(60, Seed{9}), Seed{10}, 5);
    const BssOptions o{.max_steps = 30, .target = TargetClass::runner_up};
    const auto self = boundary_similarity(teacher, same, train, o, 300);
    REQUIRE(self.pairs > 100);
    CHECK(self.magsim == Approx(1).margin(1e-6));
    CHECK(self.angsim == Approx(1).margin(1e-6));
    const auto diff = boundary_similarity(teacher, other, train, o, 300);
    INFO("other: magsim " << diff.magsim << ", angsim " << diff.angsim << ", pairs " << diff.pairs);
    REQUIRE(diff.pairs > 20);
    CHECK(diff.magsim < 0.9);
    CHECK(diff.angsim < 0.9);
    CHECK(diff.angsim > -1.0);
}

TEMPLATE_TEST_CASE("distillation with boundary-supporting samples trains a student", "[boundary]",
                   float, double) {
    using S = TestType;
    const auto train = clusters<S>(2000, Seed{11});
    const auto transfer = clusters<S>(200, Seed{12});
    const auto test = clusters<S>(2000, Seed{13});
    auto teacher = trained<Teacher<S>>(train, Seed{14});
    Student<S> student(Seed{15});
    Adam opt{.lr = 3e-3};
    const auto history = distill_with_boundary_samples(
        student, transfer, teacher, Distillation{.temperature = 4, .alpha = 0.9}, opt,
        {.epochs = 30, .batch_size = 32, .progress = false}, BssOptions{.samples_per_batch = 16});
    REQUIRE(history.size() == 30);
    CHECK(history.back().loss < 0.5 * history.front().loss);
    const double acc = accuracy(student, test);
    INFO("student accuracy " << acc << ", teacher " << accuracy(teacher, test));
    CHECK(acc > 0.6);  // chance is 0.25
}

namespace {

/// Ends training after `epochs` epochs, as an interruption would (TrainingObserver).
struct StopAfter {
    int epochs;
    template <class Net, class Optimizer>
    void on_epoch_end(TrainingContext<Net, Optimizer>& ctx, const EpochReport& report) const {
        if (report.epoch + 1 >= epochs) ctx.stop = true;
    }
};

template <class Net>
std::vector<typename Net::scalar_type> parameters_of(Net& net) {
    std::vector<typename Net::scalar_type> all;
    net.visit_parameters(
        [&](auto& p, auto&) { all.insert(all.end(), p.data(), p.data() + p.size()); });
    return all;
}

}  // namespace

TEST_CASE(
    "distill_with_boundary_samples resumed from its checkpoint ends bit-identical to an "
    "uninterrupted run",
    "[boundary][checkpoint]") {
    // β(e) and the sampled targets must follow the run's epoch and batch: a resumed call that
    // counted its own batches from 0 would weight epoch 2 as epoch 0 (β = 0.75·2 instead of
    // 0.25·2 here) and redraw epoch 0's targets, and its weights would differ.
    using S = float;
    const auto transfer = clusters<S>(160, Seed{21});
    auto teacher = trained<Teacher<S>>(clusters<S>(600, Seed{22}), Seed{23}, 5);
    const Distillation kd{.temperature = 4, .alpha = 0.9};
    const TrainOptions<S> o{.epochs = 4, .batch_size = 32, .progress = false};
    const BssOptions bss{.samples_per_batch = 8, .decay_fraction = 1.0};
    TempDir dir;
    const std::string path = dir.file("bss.ckpt");

    Student<S> straight(Seed{24});
    Adam straight_adam{.lr = 3e-3};
    const auto straight_reports =
        distill_with_boundary_samples(straight, transfer, teacher, kd, straight_adam, o, bss);
    REQUIRE(straight_reports.size() == 4);

    {  // interrupted after two of the four epochs; the checkpoint holds epoch 2
        Student<S> first(Seed{24});
        Adam adam{.lr = 3e-3};
        CHECK(distill_with_boundary_samples(first, transfer, teacher, kd, adam, o, bss,
                                            StopAfter{2}, Checkpointing{.path = path})
                  .size() == 2);
    }
    Student<S> resumed(Seed{99});  // the checkpoint must override this initialization
    Adam resumed_adam{.lr = 3e-3};
    const auto resumed_reports = distill_with_boundary_samples(
        resumed, transfer, teacher, kd, resumed_adam, o, bss, Checkpointing{.resume_from = path});
    REQUIRE(resumed_reports.size() == 2);
    for (std::size_t k = 0; k < 2; ++k) {
        CHECK(resumed_reports[k].epoch == straight_reports[k + 2].epoch);
        CHECK(resumed_reports[k].loss == straight_reports[k + 2].loss);
    }
    CHECK(parameters_of(resumed) == parameters_of(straight));
    CHECK(resumed_adam.steps() == straight_adam.steps());
}

TEST_CASE(
    "boundary_samples, distill_with_boundary_samples and boundary_similarity refuse bad "
    "arguments, naming them",
    "[boundary]") {
    using Catch::Matchers::Contains;
    const auto d = clusters<float>(50, Seed{1});
    Student<float> net(Seed{1});
    const Matrix<float> x = d.features.leftCols(3);
    const std::vector<int> b = {0, 1, 2}, k = {1, 2, 3};
    const char* bs = "chrysalis::boundary_samples";
    auto throws_value = [&](BssOptions o, const char* name) {
        CHECK_THROWS_NAMING(boundary_samples(net, x, b, k, o), ValueError,
                            Contains(bs) && Contains(name));
    };
    throws_value({.step_size = 0}, "step_size");
    throws_value({.step_size = -1}, "step_size");
    throws_value({.step_size = std::nan("")}, "step_size");
    throws_value({.max_steps = 0}, "max_steps");
    throws_value({.epsilon = -1}, "epsilon");
    throws_value({.epsilon = std::nan("")}, "epsilon");
    throws_value({.margin = 0}, "margin");
    CHECK_THROWS_NAMING(boundary_samples(net, x, b, std::vector<int>{1, 1, 3}), ValueError,
                        Contains(bs) && Contains("target_classes[1] = 1 equals its base"));
    CHECK_THROWS_NAMING(boundary_samples(net, x, b, std::vector<int>{1, 2, 4}), ValueError,
                        Contains("target_classes[2] = 4 is outside [0, 4)"));
    CHECK_THROWS_NAMING(boundary_samples(net, x, std::vector<int>{-1, 1, 2}, k), ValueError,
                        Contains("base_classes[0] = -1 is outside"));
    CHECK_THROWS_NAMING(boundary_samples(net, x, std::vector<int>{0, 1}, k), ShapeError,
                        Contains(bs) && Contains("2 base_classes for 3 samples"));
    CHECK_THROWS_NAMING(boundary_samples(net, x, b, std::vector<int>{1}), ShapeError,
                        Contains("1 target_classes for 3 samples"));
    const Matrix<float> wide = Matrix<float>::Zero(7, 3);
    CHECK_THROWS_NAMING(boundary_samples(net, wide, b, k), ShapeError,
                        Contains(bs) && Contains("7 rows"));
    Matrix<float> bad = x;
    bad(2, 1) = std::numeric_limits<float>::infinity();
    CHECK_THROWS_NAMING(boundary_samples(net, bad, b, k), ValueError,
                        Contains(bs) && Contains("sample 1"));
    {
        // Finite weights whose logits overflow at the bases: the overload that chooses the
        // targets refuses them rather than pick a target from NaN or ∞.
        auto overflowing = net;
        overflowing.layer<0>().weights().setConstant(3e38f);
        const Matrix<float> ones = Matrix<float>::Ones(x.rows(), 3);
        CHECK_THROWS_NAMING(boundary_samples(overflowing, ones, b), ValueError,
                            Contains(bs) && Contains("of the teacher's logits at the bases"));
    }

    Student<float> student(Seed{2});
    Adam opt{.lr = 1e-3};
    const char* dw = "chrysalis::distill_with_boundary_samples";
    auto distill_throws = [&](BssOptions o, const char* name) {
        CHECK_THROWS_NAMING(distill_with_boundary_samples(student, d, net, Distillation{}, opt,
                                                          {.epochs = 1, .progress = false}, o),
                            ValueError, Contains(dw) && Contains(name));
    };
    distill_throws({.samples_per_batch = 0}, "samples_per_batch");
    distill_throws({.weight = -1}, "weight");
    distill_throws({.weight = 1e39}, "weight must be a finite number in [0, 3.40282");
    distill_throws({.decay_fraction = 0}, "decay_fraction");
    distill_throws({.decay_fraction = 1.5}, "decay_fraction");
    distill_throws({.temperature = 0}, "temperature");
    distill_throws({.step_size = -2}, "step_size");
    CHECK_THROWS_NAMING(boundary_similarity(net, student, d, {}, 0), ValueError,
                        Contains("chrysalis::boundary_similarity") && Contains("max_bases"));
}

TEST_CASE("the sampled target follows the softmax when the base's logit leads by far",
          "[boundary]") {
    // Logits {1000, 0, 2000} at every input (zero weights, these biases), base class 2: class 0
    // has probability 1 − e^−1000 among the other two. Shifted by the largest logit (the
    // base's), both terms underflowed to 0 and the draw fell through to class 1, every time.
    Sequential<Dense<2, 3, double>> net(Seed{1});
    net.layer<0>().weights().setZero();
    net.layer<0>().bias() << 1000, 0, 2000;
    const Matrix<double> x = Matrix<double>::Zero(2, 8);
    const std::vector<int> base(8, 2);
    for (std::uint64_t s = 1; s <= 5; ++s) {
        const auto r = boundary_samples(net, x, base, BssOptions{.seed = Seed{s}});
        CHECK(r.target_classes == std::vector<int>(8, 0));
    }
    // Runner-up agrees.
    CHECK(boundary_samples(net, x, base, BssOptions{.target = TargetClass::runner_up})
              .target_classes == std::vector<int>(8, 0));
    // And an integer cast to TargetClass is refused, not run as `sampled`.
    CHECK_THROWS_WITH(boundary_samples(net, x, base, BssOptions{.target = TargetClass(9)}),
                      Catch::Matchers::Contains("chrysalis::boundary_samples: target must be") &&
                          Catch::Matchers::Contains("got the value 9"));
}

}  // namespace CHRYSALIS_TEST_FILE
