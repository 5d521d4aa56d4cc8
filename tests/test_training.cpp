// End-to-end: a 2-16-2 network trained by plain gradient descent on two moons converges.

#include <catch2/catch.hpp>

#include <chrysalis/chrysalis.hpp>

#include <cmath>
#include <numbers>
#include <vector>

using namespace chrysalis;

namespace {

/// Two interleaved half circles (as scikit-learn's make_moons) with Gaussian noise, seeded.
void two_moons(std::size_t n, double noise, Seed seed, Matrix<double>& x, std::vector<int>& y) {
    Rng rng(seed);
    x.resize(2, Eigen::Index(n));
    y.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        const int label = int(i % 2);
        const double angle = std::numbers::pi * rng.uniform();
        double px = label == 0 ? std::cos(angle) : 1 - std::cos(angle);
        double py = label == 0 ? std::sin(angle) : 0.5 - std::sin(angle);
        // Box–Muller for the noise.
        const double r = std::sqrt(-2 * std::log(1 - rng.uniform()));
        const double t = 2 * std::numbers::pi * rng.uniform();
        px += noise * r * std::cos(t);
        py += noise * r * std::sin(t);
        x(0, Eigen::Index(i)) = px;
        x(1, Eigen::Index(i)) = py;
        y[i] = label;
    }
}

template <class S>
double accuracy(const Matrix<S>& logits, const std::vector<int>& labels) {
    std::size_t right = 0;
    for (Eigen::Index b = 0; b < logits.cols(); ++b) {
        Eigen::Index arg = 0;
        logits.col(b).maxCoeff(&arg);
        right += arg == labels[std::size_t(b)];
    }
    return double(right) / double(labels.size());
}

}  // namespace

TEMPLATE_TEST_CASE("a 2-16-2 network learns two moons by gradient descent", "[training]", float,
                   double) {
    using S = TestType;
    Matrix<double> x;
    std::vector<int> labels;
    two_moons(1000, 0.1, Seed{2026}, x, labels);
    const Matrix<S> xs = x.cast<S>();

    Sequential<Dense<2, 16, S>, Tanh, Dense<16, 2, S>> net(Seed{1});
    const double before = accuracy<S>(Matrix<S>(net.forward(xs)), labels);
    Matrix<S> grad(2, 1000);
    const S lr = S(0.5);
    S loss = 0;
    for (int step = 0; step < 3000; ++step) {
        loss = CrossEntropy{}(net.forward(xs, Mode::training), labels, grad);
        net.backward(grad);
        net.visit_parameters([&](auto& p, auto& g) { p -= lr * g; });
    }
    const double after = accuracy<S>(Matrix<S>(net.forward(xs)), labels);
    INFO("accuracy " << before << " -> " << after << ", final loss " << loss);
    CHECK(after >= 0.97);
    CHECK(loss < 0.1);
}

namespace {

/// Trains a network large enough for its products to be split across threads (each product of
/// the 256-unit layers is ≥ 2^20 multiply-adds per batch), with dropout and shuffling, and
/// returns every parameter.
std::vector<Matrix<float>> train_with_threads(int threads) {
    Dataset<float> data;
    Rng rng(Seed{11});
    data.features.resize(64, 512);
    for (Eigen::Index i = 0; i < data.features.size(); ++i)
        data.features.data()[i] = float(rng.uniform());
    for (int i = 0; i < 512; ++i) data.labels.push_back(i % 4);
    data.classes = 4;
    Sequential<Dense<64, 256>, ReLU, Dropout<20>, Dense<256, 256>, ReLU, Dense<256, 4>> net(
        Seed{3});
    Sgd sgd{.lr = 0.05, .momentum = 0.9};
    fit(net, data, CrossEntropy{}, sgd,
        {.epochs = 2, .batch_size = 64, .seed = Seed{5}, .progress = false, .threads = threads});
    std::vector<Matrix<float>> params;
    net.visit_parameters([&](auto& p, auto&) { params.emplace_back(p); });
    return params;
}

}  // namespace

TEST_CASE("the same seed and thread count give bit-identical weights", "[training][threads]") {
    // Each element of every product is computed by one thread, with a summation order that
    // does not depend on the others, so repeating a run repeats every bit.
    REQUIRE(train_with_threads(1) == train_with_threads(1));
    REQUIRE(train_with_threads(2) == train_with_threads(2));
    // The packed kernel's depth blocking does not depend on how the rows are split, so on x86
    // with AVX2 or AVX-512 one and two threads agree bit for bit too (docs/performance.md).
    if constexpr (detail::packed_gemm_available) {
        REQUIRE(train_with_threads(1) == train_with_threads(2));
    }
}
