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
