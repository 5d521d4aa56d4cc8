// Sequential: widths at compile time, forward as the composition of its layers, backward against
// the gradient checker, seeding, and errors for wrongly shaped batches.

#include <catch2/catch.hpp>

#include <chrysalis/chrysalis.hpp>

#include <cmath>
#include <vector>

using namespace chrysalis;

namespace {

Matrix<double> random_matrix(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed) {
    Rng rng(Seed{seed});
    Matrix<double> m(rows, cols);
    for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = rng.uniform(-2, 2);
    return m;
}

std::vector<int> labels_for(Eigen::Index batch, int classes) {
    std::vector<int> labels(static_cast<std::size_t>(batch));
    for (std::size_t b = 0; b < labels.size(); ++b) labels[b] = int(b * 7 % classes);
    return labels;
}

/// Cross-entropy on fixed labels, as a function of the logits for the gradient checker.
auto cross_entropy_on(std::vector<int> labels) {
    return [labels](const Matrix<double>& logits) {
        auto [loss, grad] = CrossEntropy{}(logits, labels);
        return std::pair{loss, grad};
    };
}

using Small = Sequential<Dense<4, 8, double>, Tanh, Dense<8, 3, double>>;
using WithDropout = Sequential<Dense<5, 16, double>, ReLU, Dropout<30>, Dense<16, 16, double>, GELU,
                               Dense<16, 4, double>>;
using Squashing =
    Sequential<Dense<3, 6, double>, Sigmoid, Dense<6, 6, double>, LeakyReLU, Dense<6, 2, double>>;

}  // namespace

TEST_CASE("a Sequential knows its widths and parameter count at compile time", "[network]") {
    using Net = Sequential<Dense<784, 128>, ReLU, Dropout<50>, Dense<128, 10>>;
    STATIC_REQUIRE(Net::input_size == 784);
    STATIC_REQUIRE(Net::output_size == 10);
    STATIC_REQUIRE(Net::depth == 4);
    STATIC_REQUIRE(Net::widths == std::array<int, 5>{784, 128, 128, 128, 10});
    STATIC_REQUIRE(Net::parameter_count() == 784 * 128 + 128 + 128 * 10 + 10);
    STATIC_REQUIRE(std::is_same_v<Net::Scalar, float>);
    STATIC_REQUIRE(std::is_same_v<Small::Scalar, double>);
    STATIC_REQUIRE(Layer<Dense<3, 4>, float>);
    STATIC_REQUIRE(Layer<ReLU, double>);
    STATIC_REQUIRE_FALSE(Layer<int, float>);
}

TEST_CASE("forward is the composition of the layers", "[network]") {
    Squashing net(Seed{3});
    const Matrix<double> x = random_matrix(3, 11, 1);
    const Matrix<double> out = net.forward(x);
    Matrix<double> h1(6, 11), h2(6, 11), h3(6, 11), h4(6, 11), y(2, 11);
    net.layer<0>().forward(x, h1);
    net.layer<1>().forward(h1, h2);
    net.layer<2>().forward(h2, h3);
    net.layer<3>().forward(h3, h4);
    net.layer<4>().forward(h4, y);
    // The same products in the same order, but the network's buffers and these matrices may be
    // aligned differently, which can change how a kernel splits its vector tails (seen in the
    // RelWithDebInfo sanitizer build). A depth-6 sum in double may differ by about 6·u ≈ 7e-16
    // relative; 1e-13 leaves room for that and still catches any wrong layer or wiring.
    CHECK(out.isApprox(y, 1e-13));
    CHECK(Matrix<double>(net.activation(2)).isApprox(h2, 1e-13));
    CHECK(Matrix<double>(net.activation(5)).isApprox(y, 1e-13));  // depth: the output
    // Past the output there is no activation: a typed error naming the index, not out_of_range.
    CHECK_THROWS_AS(net.activation(6), ValueError);
    CHECK_THROWS_WITH(net.activation(99), Catch::Contains("chrysalis::Sequential::activation") &&
                                              Catch::Contains("99"));
}

TEST_CASE("three networks pass the gradient checker in double", "[network][gradcheck]") {
    GradcheckReport report;
    SECTION("Dense-Tanh-Dense with cross-entropy") {
        Small net(Seed{1});
        report = gradcheck_network(net, random_matrix(4, 6, 2), cross_entropy_on(labels_for(6, 3)));
        // The input twice: from backward(…, true) and from backward_input.
        CHECK(report.checked == Small::parameter_count() + 2 * 4 * 6);
    }
    SECTION("ReLU, dropout (fixed mask) and GELU") {
        WithDropout net(Seed{2});
        const Matrix<double> x = random_matrix(5, 8, 3);
        net.forward(x, Mode::training);  // draw a mask, then keep it
        net.layer<2>().freeze_mask(true);
        report = gradcheck_network(net, x, cross_entropy_on(labels_for(8, 4)));
        CHECK((net.layer<2>().mask() == 0).count() > 0);
    }
    SECTION("Sigmoid and LeakyReLU") {
        Squashing net(Seed{4});
        report = gradcheck_network(net, random_matrix(3, 9, 5), cross_entropy_on(labels_for(9, 2)));
    }
    INFO("worst " << report.max_error << " at " << report.where << ": analytic " << report.analytic
                  << ", numeric " << report.numeric);
    CHECK(report.passed(1e-6));
}

TEST_CASE("the same seed gives bit-identical weights, another seed others", "[network]") {
    using Net = Sequential<Dense<20, 30>, ReLU, Dense<30, 5>>;
    Net a(Seed{42}), b(Seed{42}), c(Seed{43});
    std::vector<Matrix<float>> pa, pb, pc;
    a.visit_parameters([&](auto& p, auto&) { pa.emplace_back(p); });
    b.visit_parameters([&](auto& p, auto&) { pb.emplace_back(p); });
    c.visit_parameters([&](auto& p, auto&) { pc.emplace_back(p); });
    REQUIRE(pa.size() == 4);
    for (std::size_t i = 0; i < pa.size(); ++i) CHECK(pa[i] == pb[i]);
    CHECK(pa[0] != pc[0]);
    // He initialisation: U(−√(6/20), √(6/20)) for the first layer.
    CHECK(pa[0].cwiseAbs().maxCoeff() <= std::sqrt(6.0 / 20));
    CHECK(pa[0].cwiseAbs().maxCoeff() > 0.9 * std::sqrt(6.0 / 20));
    CHECK(pa[1].isZero());
}

TEST_CASE("a float network computes what the same double network does", "[network]") {
    using NetF = Sequential<Dense<6, 10>, Tanh, Dense<10, 3>>;
    using NetD = Sequential<Dense<6, 10, double>, Tanh, Dense<10, 3, double>>;
    NetF f(Seed{7});
    NetD d(Seed{7});
    const Matrix<double> x = random_matrix(6, 5, 8);
    const Matrix<double> yd = d.forward(x);
    const Matrix<float> yf = f.forward(x.cast<float>());
    CHECK((yf.cast<double>() - yd).cwiseAbs().maxCoeff() < 1e-5);
    // And backward: the first layer's weight gradients agree to float rounding.
    const std::vector<int> labels = labels_for(5, 3);
    f.forward(x.cast<float>(), Mode::training);
    d.forward(x, Mode::training);
    f.backward(
        CrossEntropy{}(Matrix<float>(f.forward(x.cast<float>(), Mode::training)), labels).gradient);
    d.backward(CrossEntropy{}(Matrix<double>(d.forward(x, Mode::training)), labels).gradient);
    CHECK((f.layer<0>().weight_gradient().cast<double>() - d.layer<0>().weight_gradient())
              .cwiseAbs()
              .maxCoeff() < 1e-5);
}

TEST_CASE("wrongly shaped batches are rejected with the widths named", "[network]") {
    Sequential<Dense<4, 3>, ReLU, Dense<3, 2>> net;
    CHECK_THROWS_WITH(net.forward(Matrix<float>::Zero(5, 2)),
                      "chrysalis::Sequential::forward: the input has 5 rows (features) but the "
                      "network's input width is 4");
    net.forward(Matrix<float>::Zero(4, 6), Mode::training);
    CHECK_THROWS_WITH(net.backward(Matrix<float>::Zero(2, 5)),
                      "chrysalis::Sequential::backward: the output gradient is 2 x 5 but the last "
                      "forward produced 2 x 6");
}

namespace {
/// Dense without the optional backward_input: Sequential::backward_input must fall back to its
/// backward (and so overwrite its parameter gradients).
struct DenseWithoutInputOnly : Dense<8, 3, double> {
    static std::string name() { return "DenseWithoutInputOnly"; }
    void backward_input() = delete;
};
}  // namespace

TEST_CASE("backward_input gives backward's input gradient and leaves parameter gradients be",
          "[network]") {
    Small net(Seed{9});
    const Matrix<double> x = random_matrix(4, 5, 10), d = random_matrix(3, 5, 11);
    net.forward(x, Mode::training);
    net.backward(d, true);
    const Matrix<double> full = net.input_gradient();
    // Stale parameter gradients, from another batch: backward_input must not touch them.
    net.forward(random_matrix(4, 5, 12), Mode::training);
    net.backward(random_matrix(3, 5, 13));
    const Matrix<double> dw0 = net.layer<0>().weight_gradient(),
                         dw2 = net.layer<2>().weight_gradient();
    const Vector<double> db2 = net.layer<2>().bias_gradient();
    net.forward(x, Mode::training);
    net.backward_input(d);
    REQUIRE(net.input_gradient().cols() == 5);
    // The same products in the same order: identical, not merely close.
    CHECK(Matrix<double>(net.input_gradient()) == full);
    CHECK(net.layer<0>().weight_gradient() == dw0);
    CHECK(net.layer<2>().weight_gradient() == dw2);
    CHECK(net.layer<2>().bias_gradient() == db2);
    CHECK_THROWS_WITH(net.backward_input(Matrix<double>::Ones(3, 4)),
                      Catch::Contains("chrysalis::Sequential::backward_input") &&
                          Catch::Contains("3 x 4") && Catch::Contains("3 x 5"));

    // A layer without backward_input gets its backward: same input gradient, its parameter
    // gradients overwritten with this batch's.
    Sequential<Dense<4, 8, double>, Tanh, DenseWithoutInputOnly> other(Seed{9});
    other.forward(x, Mode::training);
    other.backward(d, true);
    const Matrix<double> dw_this = other.layer<2>().weight_gradient();
    CHECK(Matrix<double>(other.input_gradient()) == full);
    other.forward(random_matrix(4, 5, 12), Mode::training);
    other.backward(random_matrix(3, 5, 13));
    other.forward(x, Mode::training);
    other.backward_input(d);
    CHECK(Matrix<double>(other.input_gradient()) == full);
    CHECK(other.layer<2>().weight_gradient() == dw_this);
}

TEST_CASE("the input gradient is computed only when asked", "[network]") {
    Small net(Seed{9});
    const Matrix<double> x = random_matrix(4, 3, 10);
    net.forward(x, Mode::training);
    net.backward(Matrix<double>::Ones(3, 3));
    CHECK(net.input_gradient().cols() == 0);
    net.backward(Matrix<double>::Ones(3, 3), true);
    REQUIRE(net.input_gradient().cols() == 3);
    // ∂(Σ outputs)/∂x = W0ᵀ·(tanh'·(W1ᵀ·1)).
    const Matrix<double> h = net.activation(2);
    const Matrix<double> back =
        net.layer<0>().weights().transpose() *
        ((1 - h.array().square()) *
         (net.layer<2>().weights().transpose() * Matrix<double>::Ones(3, 3)).array())
            .matrix();
    CHECK(Matrix<double>(net.input_gradient()).isApprox(back, 1e-12));
}
