// The layers: forward against hand-computed values, backward against the gradient checker, and
// float against double.

#include <catch2/catch.hpp>

#include <chrysalis/chrysalis.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

using namespace chrysalis;

namespace {

Matrix<double> random_matrix(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed,
                             double lo = -2, double hi = 2) {
    Rng rng(Seed{seed});
    Matrix<double> m(rows, cols);
    for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = rng.uniform(lo, hi);
    return m;
}

template <class L>
Matrix<double> run_forward(L& layer, const Matrix<double>& x, Eigen::Index out_rows,
                           Mode mode = Mode::inference) {
    Matrix<double> y(out_rows, x.cols());
    layer.forward(ConstMatrixRef<double>(x), MatrixRef<double>(y), mode);
    return y;
}

}  // namespace

TEST_CASE("Dense computes W·x + b", "[layers]") {
    Dense<2, 3, double> dense;
    dense.weights() << 1, 2, 3, 4, 5, 6;
    dense.bias() << 0.5, -1, 2;
    Matrix<double> x(2, 2);
    x << 1, 0, -1, 2;  // samples (1, −1) and (0, 2)
    const Matrix<double> y = run_forward(dense, x, 3);
    Matrix<double> expected(3, 2);
    // (1·1 + 2·−1 + 0.5, 1·0 + 2·2 + 0.5), (3 − 4 − 1, 8 − 1), (5 − 6 + 2, 12 + 2)
    expected << -0.5, 4.5, -2, 7, 1, 14;
    CHECK(y == expected);
}

TEST_CASE("activations compute their functions", "[layers]") {
    Matrix<double> x(1, 5);
    x << -2, -0.5, 0, 0.5, 1;
    Identity id;
    CHECK(run_forward(id, x, 1) == x);
    Matrix<double> relu(1, 5);
    relu << 0, 0, 0, 0.5, 1;
    ReLU r;
    CHECK(run_forward(r, x, 1) == relu);
    LeakyReLU leaky(0.1);
    Matrix<double> lk(1, 5);
    lk << -0.2, -0.05, 0, 0.5, 1;
    CHECK(run_forward(leaky, x, 1).isApprox(lk, 1e-15));
    Tanh t;
    CHECK(run_forward(t, x, 1)(0, 4) == Approx(0.7615941559557649).epsilon(1e-15));
    Sigmoid s;
    CHECK(run_forward(s, x, 1)(0, 2) == 0.5);
    CHECK(run_forward(s, x, 1)(0, 4) == Approx(0.7310585786300049).epsilon(1e-15));
    GELU g;
    // x·Φ(x): Φ(1) = 0.8413447460685429, Φ(−2) = 0.022750131948179195
    CHECK(run_forward(g, x, 1)(0, 4) == Approx(0.8413447460685429).epsilon(1e-14));
    CHECK(run_forward(g, x, 1)(0, 0) == Approx(-2 * 0.022750131948179195).epsilon(1e-13));
    CHECK_THROWS_WITH(LeakyReLU(std::nan("")), Catch::Matchers::Contains("slope must be finite"));
}

TEST_CASE("Sigmoid and Tanh saturate without NaN for extreme inputs", "[layers]") {
    Matrix<double> x(1, 4);
    x << -1e4, -800, 800, 1e4;
    Sigmoid s;
    Tanh t;
    const Matrix<double> ys = run_forward(s, x, 1);
    CHECK(ys(0, 0) == 0);
    CHECK(ys(0, 3) == 1);
    CHECK_FALSE(run_forward(t, x, 1).array().isNaN().any());
}

namespace {
/// GELU against the exact x·Φ(x) and Φ(x) + x·φ(x), computed in long double with erfc (no
/// cancellation), on 20,001 points of [−10, 10] in a column of 20,001 rows (whole registers and
/// a padded last one), and through a row-major view (one element per register of copies) to
/// the same bits. The bound: forward computes 1 + erf(x/√2), whose rounding and erf's own error
/// of a few ulps are absolute errors of about ε (the unit roundoff 2⁻²⁴ or 2⁻⁵³) each; times
/// |x|/2, plus the roundings of the products: |error| ≤ 4ε·(1 + |x|) for both passes. Then every
/// finite x, up to the largest, gives a finite y and dx, and y = x once Φ(x) rounds to 1.
template <class S>
void check_gelu() {
    constexpr int n = 20001;
    const long double eps = std::numeric_limits<S>::epsilon() / 2;
    Matrix<S> x(n, 1), y(n, 1), dx(n, 1);
    const Matrix<S> dy = Matrix<S>::Ones(n, 1);
    for (int i = 0; i < n; ++i) x(i) = S(-10 + 20.0 * i / (n - 1));
    const GELU g;
    g.forward(x, y);
    g.backward(x, y, dy, dx);
    double worst_y = 0, worst_dx = 0;  // error over the bound
    for (int i = 0; i < n; ++i) {
        const long double v = x(i);
        const long double cdf = 0.5L * std::erfc(-v / std::sqrt(2.0L));
        const long double pdf = std::exp(-0.5L * v * v) / std::sqrt(2 * std::acos(-1.0L));
        const long double bound = 4 * eps * (1 + std::fabs(v));
        worst_y = std::max(worst_y, double(std::fabs(y(i) - v * cdf) / bound));
        worst_dx = std::max(worst_dx, double(std::fabs(dx(i) - (cdf + v * pdf)) / bound));
    }
    CHECK(worst_y <= 1);
    CHECK(worst_dx <= 1);

    using RowMajor = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const RowMajor x_rm = x.transpose();
    RowMajor y_rm(1, n), dx_rm(1, n);
    g.forward(x_rm, y_rm);
    g.backward(x_rm, y_rm, RowMajor(dy.transpose()), dx_rm);
    CHECK(RowMajor(y.transpose()) == y_rm);
    CHECK(RowMajor(dx.transpose()) == dx_rm);

    const S big = std::numeric_limits<S>::max();
    Matrix<S> far(8, 1), far_y(8, 1), far_dx(8, 1);
    far << -big, S(-1e30), S(-800), S(-40), S(40), S(800), S(1e30), big;
    g.forward(far, far_y);
    g.backward(far, far_y, Matrix<S>::Ones(8, 1), far_dx);
    INFO("y = " << far_y.transpose() << "; dx = " << far_dx.transpose());
    CHECK(far_y.allFinite());
    CHECK(far_dx.allFinite());
    CHECK(far_y.bottomRows(4) == far.bottomRows(4));
    CHECK(far_y.topRows(4).cwiseAbs().maxCoeff() == 0);
}
}  // namespace

TEST_CASE("GELU is within a few ulps of x·Φ(x), in float and double, finite for finite x",
          "[layers]") {
    check_gelu<float>();
    check_gelu<double>();
}

TEST_CASE("Dropout keeps 1 - rate of the values, scaled, only in training", "[layers]") {
    Dropout<30> drop;
    drop.seed(Seed{5});
    const Matrix<double> x = Matrix<double>::Ones(100, 1000);
    CHECK(run_forward(drop, x, 100, Mode::inference) == x);
    const Matrix<double> y = run_forward(drop, x, 100, Mode::training);
    const double kept = double((y.array() != 0).count()) / double(y.size());
    // Binomial(1e5, 0.7): standard deviation 0.00145 of the fraction; allow 5σ.
    CHECK(std::abs(kept - 0.7) < 5 * 0.00145);
    // Kept values are scaled by 1/q, q the keep probability the mask uses: 0.7 rounded to a
    // multiple of 2^-16.
    const double q = std::floor(0.7 * 65536 + 0.5) / 65536;
    CHECK(drop.keep_probability() == q);
    CHECK(((y.array() == 0) || (y.array() - 1 / q).abs() < 1e-15).all());
    // The mask is what was used, and backward applies it.
    const auto mask = drop.mask().cast<double>();
    CHECK(((y.array() != 0) == (mask.array() != 0)).all());
    Matrix<double> dx(100, 1000);
    drop.backward(x, y, x, dx);
    CHECK(dx == y);
    // The same seed gives the same mask; another seed another.
    Dropout<30> again;
    again.seed(Seed{5});
    CHECK(run_forward(again, x, 100, Mode::training) == y);
    Dropout<30> other;
    other.seed(Seed{6});
    CHECK(run_forward(other, x, 100, Mode::training) != y);
    CHECK_THROWS_WITH(drop.set_rate(1.0), "chrysalis::Dropout: rate must be in [0, 1), got 1");
    CHECK_THROWS_AS(drop.set_rate(-0.1), ValueError);
}

TEST_CASE("Dropout's training output has the input's mean at any rate", "[layers]") {
    // At max_rate the mask keeps a value with probability q = 2^-16 (1 − rate rounded to 2^-16),
    // while 1 − rate = 2^-17: scaled by 1/(1 − rate), the kept values made the mean 2x. Over
    // 2^22 ones about 64 are kept, so the mean is 1 with a standard deviation of 1/8: 0.5 is
    // 4 deviations, and 2 is 8.
    Dropout<50> drop;
    drop.seed(Seed{3});
    drop.set_rate(Dropout<50>::max_rate);
    CHECK(drop.keep_probability() == 1.0 / 65536);
    const Matrix<float> x = Matrix<float>::Ones(1024, 4096);
    Matrix<float> y(1024, 4096);
    drop.forward(x, y, Mode::training);
    const double kept = double((y.array() != 0).count());
    INFO("kept " << kept << ", mean " << double(y.cast<double>().mean()));
    CHECK(kept > 16);
    CHECK(std::abs(y.cast<double>().mean() - 1.0) < 0.5);
}

TEST_CASE("every layer passes the gradient checker in double", "[layers][gradcheck]") {
    const Matrix<double> x = random_matrix(5, 7, 1);
    GradcheckReport report;
    SECTION("Dense") {
        Dense<5, 3, double> dense;
        Rng rng(Seed{2});
        dense.initialize(rng);
        dense.bias().setRandom();
        report = gradcheck_layer(dense, x, 3);
        // The input twice: from backward and from backward_input.
        CHECK(report.checked == 5 * 3 + 3 + 2 * 5 * 7);
    }
    SECTION("ReLU") {
        ReLU l;
        report = gradcheck_layer(l, x, 5);
    }
    SECTION("LeakyReLU") {
        LeakyReLU l(0.2);
        report = gradcheck_layer(l, x, 5);
    }
    SECTION("Tanh") {
        Tanh l;
        report = gradcheck_layer(l, x, 5);
    }
    SECTION("Sigmoid") {
        Sigmoid l;
        report = gradcheck_layer(l, x, 5);
    }
    SECTION("GELU") {
        GELU l;
        report = gradcheck_layer(l, x, 5);
    }
    SECTION("Identity") {
        Identity l;
        report = gradcheck_layer(l, x, 5);
    }
    SECTION("Dropout, with its mask fixed") {
        Dropout<40> l;
        l.seed(Seed{3});
        l.freeze_mask(true);
        report = gradcheck_layer(l, x, 5);
        CHECK((l.mask() == 0).count() > 0);  // the check really ran through dropped units
    }
    INFO("worst " << report.max_error << " at " << report.where << ": analytic " << report.analytic
                  << ", numeric " << report.numeric);
    CHECK(report.checked >= 35);
    CHECK(report.passed(1e-6));
}

TEST_CASE("the gradient checker finds a wrong gradient", "[gradcheck]") {
    // f(x) = Σ x², whose gradient is 2x; claim 2x + 1e-3 at one coordinate.
    const Matrix<double> x = random_matrix(3, 4, 9);
    auto right = [](const Matrix<double>& v) {
        return std::pair{v.squaredNorm(), Matrix<double>(2 * v)};
    };
    auto wrong = [](const Matrix<double>& v) {
        Matrix<double> g = 2 * v;
        g(1, 2) += 1e-3;
        return std::pair{v.squaredNorm(), g};
    };
    CHECK(gradcheck_function(right, x).passed(1e-6));
    const GradcheckReport bad = gradcheck_function(wrong, x);
    CHECK_FALSE(bad.passed(1e-6));
    CHECK(bad.where == "x (1, 2)");
    CHECK(bad.checked == 12);
}

TEST_CASE("max_checks_per_block checks that many coordinates, spread over every row",
          "[gradcheck]") {
    // x is 4 × 8 and f = Σ x², gradient 2x; the claimed gradient is wrong (×5) in rows 1–3. With
    // 8 checks a stride of 32/8 = 4, a multiple of the row count, would check row 0 only and
    // pass; the checks must reach the wrong rows, and be 8, not more.
    const Matrix<double> x = random_matrix(4, 8, 11);
    auto wrong_rows = [](const Matrix<double>& v) {
        Matrix<double> g = 2 * v;
        g.bottomRows(3) *= 5;
        return std::pair{v.squaredNorm(), g};
    };
    for (const std::size_t checks : {std::size_t(2), std::size_t(3), std::size_t(8)}) {
        INFO(checks << " checks");
        const GradcheckReport r =
            gradcheck_function(wrong_rows, x, {.max_checks_per_block = checks});
        CHECK(r.checked == checks);
        CHECK_FALSE(r.passed(1e-6));
    }
    // More checks than coordinates: all of them.
    CHECK(gradcheck_function(wrong_rows, x, {.max_checks_per_block = 100}).checked == 32);
}

TEST_CASE("float layers compute what double layers do, to float rounding", "[layers]") {
    const Matrix<double> x = random_matrix(6, 9, 4);
    const Matrix<float> xf = x.cast<float>();
    Dense<6, 4, double> d;
    Dense<6, 4, float> f;
    Rng r1(Seed{8}), r2(Seed{8});
    d.initialize(r1);
    f.initialize(r2);
    CHECK(f.weights() == d.weights().cast<float>());  // the same draws, rounded
    Matrix<float> yf(4, 9);
    f.forward(xf, yf);
    const Matrix<double> yd = run_forward(d, x, 4);
    // 6 products and sums of values below 2·1: |error| ≤ 8·6·2·2^-24·2 per entry.
    CHECK((yf.cast<double>() - yd).cwiseAbs().maxCoeff() < 8 * 6 * 2 * 1.2e-7);
    GELU g;
    Matrix<float> gf(6, 9);
    g.forward(xf, gf);
    Matrix<double> gd(6, 9);
    g.forward(x, gd);
    CHECK((gf.cast<double>() - gd).cwiseAbs().maxCoeff() < 1e-6);
}

TEST_CASE("Dense rejects batches of the wrong shape", "[layers]") {
    Dense<3, 2> dense;
    Matrix<float> x(4, 5), y(2, 5);
    CHECK_THROWS_WITH(dense.forward(x, y),
                      "chrysalis::Dense<3, 2>::forward: expected input 3 x B "
                      "and output 2 x B, got 4 x 5 and 2 x 5");
}

namespace {
/// The custom layer of docs/networks.md: y = x², dx = 2x·dy.
struct Square {
    static constexpr int input_size = chrysalis::same_width;
    static constexpr int output_size = chrysalis::same_width;
    template <class X, class Y>
    void forward(const Eigen::MatrixBase<X>& x, Y&& y, chrysalis::Mode = {}) const {
        y = x.cwiseProduct(x);
    }
    template <class X, class Yv, class DY, class DX>
    void backward(const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Yv>&,
                  const Eigen::MatrixBase<DY>& dy, DX&& dx) const {
        if (dx.size() == 0) return;
        dx = (2 * x.array() * dy.array()).matrix();
    }
};

/// The same layer with a mistake in its derivative (x·dy instead of 2x·dy).
struct BrokenSquare : Square {
    template <class X, class Yv, class DY, class DX>
    void backward(const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Yv>&,
                  const Eigen::MatrixBase<DY>& dy, DX&& dx) const {
        dx = (x.array() * dy.array()).matrix();
    }
};
}  // namespace

namespace {
/// Square with the optional backward_input, wrong (x·dy) while backward is right: the attacks and
/// the boundary samples would get the wrong input gradient.
struct SquareWrongInputOnly : Square {
    template <class X, class Yv, class DY, class DX>
    void backward_input(const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Yv>&,
                        const Eigen::MatrixBase<DY>& dy, DX&& dx) const {
        dx = (x.array() * dy.array()).matrix();
    }
};
/// And with it right.
struct SquareWithInputOnly : Square {
    template <class X, class Yv, class DY, class DX>
    void backward_input(const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Yv>&,
                        const Eigen::MatrixBase<DY>& dy, DX&& dx) const {
        dx = (2 * x.array() * dy.array()).matrix();
    }
};
}  // namespace

TEST_CASE("the checker judges a layer's backward_input too, in a layer and in a network",
          "[gradcheck]") {
    STATIC_REQUIRE(detail::has_backward_input<SquareWrongInputOnly, double>);
    const Matrix<double> x = random_matrix(5, 7, 13);
    SquareWithInputOnly good;
    SquareWrongInputOnly bad;
    CHECK(gradcheck_layer(good, x, 5).passed(1e-6));
    const GradcheckReport layer_report = gradcheck_layer(bad, x, 5);
    CHECK_FALSE(layer_report.passed(1e-6));
    CHECK(layer_report.where.starts_with("input (backward_input)"));
    const std::vector<int> labels{0, 1, 0, 1, 1, 0, 0};
    Sequential<Dense<5, 4, double>, SquareWithInputOnly, Dense<4, 2, double>> good_net(Seed{3});
    Sequential<Dense<5, 4, double>, SquareWrongInputOnly, Dense<4, 2, double>> bad_net(Seed{3});
    CHECK(gradcheck_network(good_net, x, CrossEntropy{}, labels).passed(1e-6));
    const GradcheckReport net_report = gradcheck_network(bad_net, x, CrossEntropy{}, labels);
    CHECK_FALSE(net_report.passed(1e-6));
    CHECK(net_report.where.starts_with("input (backward_input)"));
}

namespace {
/// y = x + b per feature, its visitor taken as F& (an lvalue reference, not F&&). Add = true
/// makes backward add to its gradients (+= where = was meant) instead of overwriting them.
template <class S, bool Add = false, bool AddToDx = false>
struct Bias4 {
    using scalar_type = S;
    static constexpr int input_size = 4, output_size = 4;
    static constexpr std::size_t parameter_count = 4;
    Vector<S> b = Vector<S>::Zero(4), db = Vector<S>::Zero(4);
    void initialize(Rng& rng) {
        for (Eigen::Index i = 0; i < 4; ++i) b(i) = S(rng.uniform(-1, 1));
    }
    template <class F>
    void visit_parameters(F& f) {
        f(b, db);
    }
    void forward(ConstMatrixRef<S> x, MatrixRef<S> y, Mode) { y = x.colwise() + b; }
    void backward(ConstMatrixRef<S>, ConstMatrixRef<S>, ConstMatrixRef<S> dy, MatrixRef<S> dx) {
        if constexpr (Add)
            db += dy.rowwise().sum();
        else
            db = dy.rowwise().sum();
        if (dx.cols() == 0) return;
        if constexpr (AddToDx)
            dx += dy;
        else
            dx = dy;
    }
};
}  // namespace

TEST_CASE("a layer whose visit_parameters takes F& is trained, counted and checked",
          "[gradcheck][network]") {
    // Such a layer models ParameterizedLayer; chrysalis once tested for the member with a
    // temporary visitor, which F& does not bind, and then skipped its update and its check.
    STATIC_REQUIRE(ParameterizedLayer<Bias4<float>, float>);
    Sequential<Dense<6, 4>, Bias4<float>, ReLU, Dense<4, 3>> net(Seed{2});
    const Vector<float> before = net.layer<1>().b;
    Dataset<float> data{random_matrix(6, 64, 31).cast<float>(), std::vector<int>(64), 3};
    for (std::size_t i = 0; i < data.labels.size(); ++i) data.labels[i] = int(i % 3);
    Sgd sgd{.lr = 0.1};
    fit(net, data, CrossEntropy{}, sgd, {.epochs = 1, .batch_size = 16});
    // Four steps of 0.1 × a gradient that is not zero move the bias (not updated at all before).
    CHECK((net.layer<1>().b - before).norm() > 0);
    CHECK(net.parameter_count() == 6 * 4 + 4 + 4 + 4 * 3 + 3);
    std::size_t blocks = 0;
    net.visit_parameters([&](auto&, auto&) { ++blocks; });
    CHECK(blocks == 5);

    const Matrix<double> x = random_matrix(4, 7, 21);
    Bias4<double> good;
    Rng rng(Seed{5});
    good.initialize(rng);
    const GradcheckReport report = gradcheck_layer(good, x, 4);
    CHECK(report.passed(1e-6));
    CHECK(report.checked == 4 + 28);  // the bias's 4 coordinates and the input's 28
}

TEST_CASE("the checkers fail a layer that adds to its gradients instead of overwriting them",
          "[gradcheck]") {
    // On fresh zero buffers += gives the right numbers once; the contract says backward
    // overwrites, and in training the second step would see twice the gradient.
    const Matrix<double> x = random_matrix(4, 7, 22);
    Bias4<double> good;
    Bias4<double, true> adds;
    Bias4<double, false, true> adds_dx;
    CHECK(gradcheck_layer(good, x, 4).passed(1e-6));
    const GradcheckReport layer_report = gradcheck_layer(adds, x, 4);
    CHECK_FALSE(layer_report.passed(1e-6));
    CHECK(layer_report.where.starts_with("parameter 0"));
    CHECK_FALSE(gradcheck_layer(adds_dx, x, 4).passed(1e-6));

    const std::vector<int> labels{0, 1, 2, 0, 1, 2, 0};
    Sequential<Dense<4, 4, double>, Bias4<double>, Dense<4, 3, double>> good_net(Seed{3});
    Sequential<Dense<4, 4, double>, Bias4<double, true>, Dense<4, 3, double>> adds_net(Seed{3});
    CHECK(gradcheck_network(good_net, x, CrossEntropy{}, labels).passed(1e-6));
    CHECK_FALSE(gradcheck_network(adds_net, x, CrossEntropy{}, labels).passed(1e-6));
    // (A layer adding to dx inside a network is not run here: its first backward reads the
    // network's buffer before anything wrote it, which memcheck rightly reports in CI.)
}

TEST_CASE("a user-written layer is a Layer and the checker judges its gradient", "[gradcheck]") {
    STATIC_REQUIRE(Layer<Square, double>);
    const Matrix<double> x = random_matrix(5, 7, 12);
    Square good;
    BrokenSquare bad;
    CHECK(gradcheck_layer(good, x, 5).passed(1e-6));
    CHECK_FALSE(gradcheck_layer(bad, x, 5).passed(1e-6));
    Sequential<Dense<5, 5, double>, Square, Dense<5, 2, double>> net(Seed{3});
    CHECK(net.forward(x).rows() == 2);
}

namespace {

/// The bits of a value: NaN compares unequal to itself, −0 equal to +0, and the test means both.
template <class S>
auto bits(S v) {
    if constexpr (std::is_same_v<S, float>)
        return std::bit_cast<std::uint32_t>(v);
    else
        return std::bit_cast<std::uint64_t>(v);
}

/// ReLU's backward and LeakyReLU's forward and backward against their definitions, element by
/// element and to the bit, on values that catch a select done wrong: ±0, ±∞, NaN, subnormals.
/// `Fast` holds the operands as the training step does (blocks of columns of a column-major
/// matrix: select_positive, a register at a time); `Other` as a row-major matrix, which takes the
/// Eigen select. Rows 37: registers and a remainder in every column. At 1000 × 131 on two
/// threads the passes are split by columns (for_column_blocks: blocks of 16, a last of 3):
/// a block cut wrong leaves columns unwritten or written from the wrong ones.
template <class S>
void check_selects(Eigen::Index rows, Eigen::Index cols) {
    const S special[] = {S(0),
                         -S(0),
                         std::numeric_limits<S>::infinity(),
                         -std::numeric_limits<S>::infinity(),
                         std::numeric_limits<S>::quiet_NaN(),
                         std::numeric_limits<S>::denorm_min(),
                         -std::numeric_limits<S>::denorm_min(),
                         std::numeric_limits<S>::max()};
    Rng rng(Seed{11});
    Matrix<S> x_store(rows + 3, cols + 2), dy_store(rows + 3, cols + 2);
    for (Eigen::Index i = 0; i < x_store.size(); ++i) {
        x_store.data()[i] = S(rng.uniform(-2, 2));
        dy_store.data()[i] = S(rng.uniform(-2, 2));
    }
    for (Eigen::Index i = 0; i < 8; ++i) {
        x_store(1 + i, 1 + i % cols) = special[i];
        dy_store(1 + (i * 3) % rows, 1 + (i + 2) % cols) = special[(i + 3) % 8];
        x_store(1 + (i * 3) % rows, 1 + (i + 2) % cols) = S(i % 2 ? 1 : -1);
    }
    // Blocks of the larger matrices: the outer stride is not the rows.
    const auto x = x_store.block(1, 1, rows, cols);
    const auto dy = dy_store.block(1, 1, rows, cols);
    using RowMajor = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const RowMajor x_rm = x, dy_rm = dy;
    STATIC_REQUIRE(detail::select_positive_applies<decltype(x), decltype(dy), Matrix<S>&>);
    STATIC_REQUIRE_FALSE(detail::select_positive_applies<RowMajor, RowMajor, RowMajor&>);

    const ReLU relu;
    const LeakyReLU leaky(0.3);
    const S slope = S(0.3);
    Matrix<S> y(rows, cols), dx(rows, cols);
    RowMajor y_rm(rows, cols), dx_rm(rows, cols);
    // Every element compared; the first that differs (if any) reported, and how many do.
    const auto expect = [&](const auto& got, auto want) {
        Eigen::Index wrong = 0, wi = 0, wj = 0;
        for (Eigen::Index j = 0; j < cols; ++j)
            for (Eigen::Index i = 0; i < rows; ++i)
                if (bits(S(got(i, j))) != bits(S(want(i, j))) && wrong++ == 0) {
                    wi = i;
                    wj = j;
                }
        INFO(wrong << " elements differ; the first at row " << wi << ", column " << wj
                   << ": x = " << x(wi, wj) << ", dy = " << dy(wi, wj) << ", got " << got(wi, wj)
                   << ", expected " << want(wi, wj));
        CHECK(wrong == 0);
    };
    relu.forward(x, y);  // y = max(x, 0), by Eigen (vectorised): NaN stays NaN, −0 stays −0
    expect(y, [&](auto i, auto j) { return std::max(x(i, j), S(0)); });
    relu.backward(x, y, dy, dx);
    expect(dx, [&](auto i, auto j) { return y(i, j) > S(0) ? dy(i, j) : S(0); });
    relu.backward(x_rm, RowMajor(y), dy_rm, dx_rm);
    expect(dx_rm, [&](auto i, auto j) { return y(i, j) > S(0) ? dy(i, j) : S(0); });

    leaky.forward(x, y);
    expect(y, [&](auto i, auto j) { return x(i, j) > S(0) ? x(i, j) : slope * x(i, j); });
    leaky.forward(x_rm, y_rm);
    expect(y_rm, [&](auto i, auto j) { return x(i, j) > S(0) ? x(i, j) : slope * x(i, j); });
    leaky.backward(x, y, dy, dx);
    expect(dx, [&](auto i, auto j) { return x(i, j) > S(0) ? dy(i, j) : slope * dy(i, j); });
    leaky.backward(x_rm, y_rm, dy_rm, dx_rm);
    expect(dx_rm, [&](auto i, auto j) { return x(i, j) > S(0) ? dy(i, j) : slope * dy(i, j); });
}

}  // namespace

TEST_CASE("ReLU and LeakyReLU select to the bit, through any view, in float and double",
          "[layers]") {
    check_selects<float>(37, 5);
    check_selects<double>(37, 5);
}

TEST_CASE("ReLU and LeakyReLU split among threads select to the bit", "[layers][parallel]") {
    ThreadsScope two(2);
    check_selects<float>(1000, 131);
    check_selects<double>(1000, 131);
}

namespace {
/// Every element-wise layer's forward and backward on a pass large enough to be split (1000 ×
/// 131: ReLU, LeakyReLU and GELU split by columns on two threads), on one thread and on two:
/// the same bits, as the thread count must never change a result.
template <class S, class Layer>
void check_same_bits_on_two_threads(const Layer& layer) {
    constexpr Eigen::Index rows = 1000, cols = 131;
    Rng rng(Seed{12});
    Matrix<S> x(rows, cols), dy(rows, cols);
    for (Eigen::Index i = 0; i < x.size(); ++i) {
        x.data()[i] = S(rng.uniform(-4, 4));
        dy.data()[i] = S(rng.uniform(-1, 1));
    }
    const auto run = [&](int threads, Matrix<S>& y, Matrix<S>& dx) {
        ThreadsScope scope(threads);
        layer.forward(x, y);
        dx.resize(rows, cols);
        layer.backward(x, y, dy, dx);
    };
    Matrix<S> y1, dx1, y2, dx2;
    run(1, y1, dx1);
    run(2, y2, dx2);
    const auto differ = [](const Matrix<S>& a, const Matrix<S>& b) {
        Eigen::Index n = 0;
        for (Eigen::Index i = 0; i < a.size(); ++i) n += bits(a.data()[i]) != bits(b.data()[i]);
        return n;
    };
    INFO(Layer::name() << " in " << (std::is_same_v<S, float> ? "float" : "double"));
    CHECK(differ(y1, y2) == 0);
    CHECK(differ(dx1, dx2) == 0);
    CHECK(y1.allFinite());  // the comparison is of values, not of NaNs or nothing
    CHECK(dx1.cwiseAbs().maxCoeff() > S(0));
}
}  // namespace

TEST_CASE("every activation gives the same bits on one thread and on two", "[layers][parallel]") {
    const auto each = [](auto scalar) {
        using S = decltype(scalar);
        check_same_bits_on_two_threads<S>(ReLU{});
        check_same_bits_on_two_threads<S>(LeakyReLU{0.2});
        check_same_bits_on_two_threads<S>(GELU{});
        check_same_bits_on_two_threads<S>(Tanh{});
        check_same_bits_on_two_threads<S>(Sigmoid{});
        check_same_bits_on_two_threads<S>(Identity{});
    };
    each(float{});
    each(double{});
}
