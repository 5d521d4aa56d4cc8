// Optimizers against hand-computed updates, and the learning-rate schedules.

#include <catch2/catch.hpp>

#include <chrysalis/chrysalis.hpp>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

using namespace chrysalis;

namespace {
/// A one-parameter-block "network": θ (2 values) with a fixed gradient, for hand computation.
template <class S>
struct BasicToy {
    using Scalar = S;
    Matrix<S> theta = (Matrix<S>(1, 2) << S(1), S(-2)).finished();
    Matrix<S> grad = (Matrix<S>(1, 2) << S(0.5), S(0.25)).finished();
    template <class F>
    void visit_parameters(F&& f) {
        f(theta, grad);
    }
};
using Toy = BasicToy<double>;
using FloatToy = BasicToy<float>;
}  // namespace

TEST_CASE("Sgd with momentum, Nesterov and weight decay matches hand-computed steps", "[optim]") {
    SECTION("plain") {
        Toy t;
        Sgd sgd{.lr = 0.1};
        sgd.step(t);
        CHECK(t.theta(0, 0) == Approx(1 - 0.1 * 0.5));
        CHECK(t.theta(0, 1) == Approx(-2 - 0.1 * 0.25));
    }
    SECTION("momentum: v1 = g, v2 = 0.9 g + g") {
        Toy t;
        Sgd sgd{.lr = 0.1, .momentum = 0.9};
        sgd.step(t);
        sgd.step(t);
        CHECK(t.theta(0, 0) == Approx(1 - 0.1 * 0.5 - 0.1 * 1.9 * 0.5));
    }
    SECTION("Nesterov: θ −= η(g + μ v)") {
        Toy t;
        Sgd sgd{.lr = 0.1, .momentum = 0.9, .nesterov = true};
        sgd.step(t);  // v = g; step g + 0.9 g
        CHECK(t.theta(0, 0) == Approx(1 - 0.1 * 1.9 * 0.5));
        sgd.step(t);  // v = 1.9 g; step g + 0.9·1.9 g
        CHECK(t.theta(0, 0) == Approx(1 - 0.1 * 1.9 * 0.5 - 0.1 * (1 + 0.9 * 1.9) * 0.5));
    }
    SECTION("dampening, PyTorch's: v1 = g (the first step keeps it whole), v2 = 0.9 v1 + 0.5 g") {
        Toy t;
        Sgd sgd{.lr = 0.1, .momentum = 0.9, .dampening = 0.5};
        sgd.step(t);
        CHECK(t.theta(0, 0) == Approx(1 - 0.1 * 0.5));
        sgd.step(t);
        CHECK(t.theta(0, 0) == Approx(1 - 0.1 * 0.5 - 0.1 * 1.4 * 0.5));
        sgd.step(t);  // v3 = 0.9·1.4 g + 0.5 g = 1.76 g
        CHECK(t.theta(0, 1) == Approx(-2 - 0.1 * (1 + 1.4 + 1.76) * 0.25));
        // Without momentum, dampening changes nothing.
        Toy plain, damped;
        Sgd{.lr = 0.1}.step(plain);
        Sgd{.lr = 0.1, .dampening = 0.5}.step(damped);
        CHECK(damped.theta == plain.theta);
    }
    SECTION("weight decay adds λθ to the gradient") {
        Toy t;
        Sgd sgd{.lr = 0.1, .weight_decay = 0.01};
        sgd.step(t);
        CHECK(t.theta(0, 1) == Approx(-2 - 0.1 * (0.25 + 0.01 * -2)));
    }
    SECTION("max-norm rescales a row to the bound") {
        Toy t;
        t.grad.setZero();
        Sgd sgd{.lr = 0.1, .max_norm = 1.0};
        sgd.step(t);
        CHECK(t.theta.norm() == Approx(1.0));
        CHECK(t.theta(0, 0) / t.theta(0, 1) == Approx(-0.5));
    }
}

TEST_CASE("Adam and AdamW match hand-computed steps", "[optim]") {
    // Step 1: m = (1−β1)g, v = (1−β2)g², m̂ = g, v̂ = g²: θ −= η·g/(|g| + ε) = η·sign(g).
    Toy a;
    Adam adam{.lr = 0.01};
    adam.step(a);
    CHECK(a.theta(0, 0) == Approx(1 - 0.01 * 0.5 / (0.5 + 1e-8)));
    CHECK(a.theta(0, 1) == Approx(-2 - 0.01 * 0.25 / (0.25 + 1e-8)));
    // Step 2 with the same g: m̂ = g, v̂ = g² again.
    adam.step(a);
    CHECK(a.theta(0, 0) == Approx(1 - 2 * 0.01 * 0.5 / (0.5 + 1e-8)));
    CHECK(adam.steps() == 2);
    // AdamW: θ ← θ(1 − ηλ) first, then the Adam step.
    Toy w;
    AdamW adamw{.lr = 0.01, .weight_decay = 0.1};
    adamw.step(w);
    CHECK(w.theta(0, 0) == Approx(1 * (1 - 0.01 * 0.1) - 0.01 * 0.5 / (0.5 + 1e-8)));
    // Adam's weight decay is L2 in the gradient: g' = g + λθ = 0.5 + 0.1.
    Toy l2;
    Adam adam_l2{.lr = 0.01, .weight_decay = 0.1};
    adam_l2.step(l2);
    CHECK(l2.theta(0, 0) == Approx(1 - 0.01 * 0.6 / (0.6 + 1e-8)));
}

TEST_CASE("Adam in float: the bias correction uses the betas the moments decay with", "[optim]") {
    // β = 0.99999997 is accepted (below 1) but rounds to 1 − 2⁻²⁴ in float, so the moments decay
    // with 1 − β_float = 5.96e-8, not 3e-8. Step 1 is θ −= η·g/(|g| + ε) exactly when the bias
    // correction 1 − β^t uses the same β; with the double β, m̂ and v̂ came out 1.99 times too
    // large and the step 1.41 times (m̂/√v̂). Tolerance: θ is stored in float, and half an ulp
    // of |θ| ≤ 2.1 (1.2e-7) is 1.2e-6 of the 0.1 step; 1e-5 of the step, against the 0.41 the
    // mismatch gave.
    for (const double beta : {0.99999997, 0.9}) {
        INFO("beta " << beta);
        FloatToy t;
        Adam adam{.lr = 0.1, .beta1 = beta, .beta2 = beta};
        adam.step(t);
        CHECK(double(t.theta(0, 0)) - 1.0 == Approx(-0.1 * 0.5 / (0.5 + 1e-8)).epsilon(1e-5));
        CHECK(double(t.theta(0, 1)) + 2.0 == Approx(-0.1 * 0.25 / (0.25 + 1e-8)).epsilon(1e-5));
    }
}

TEST_CASE("a custom schedule whose rate overflows the parameters' type is refused", "[optim]") {
    // lr ≤ FLT_MAX is checked at construction; a custom factor above 1 can still take lr·factor
    // beyond float's range, and an infinite rate would make the parameters ±∞ or NaN silently.
    const Schedule huge{[](int) { return 1e42; }};  // Adam's default lr 1e-3: rate 1e39
    FloatToy t;
    const Matrix<float> before = t.theta;
    Sgd sgd{.lr = 1.0};
    sgd.schedule = huge;
    CHECK_THROWS_WITH(sgd.step(t),
                      Catch::Contains("chrysalis::Sgd: the learning rate at epoch 0") &&
                          Catch::Contains("lr 1 times the schedule's factor"));
    Adam adam;
    adam.schedule = huge;
    CHECK_THROWS_WITH(adam.step(t), Catch::Contains("chrysalis::Adam: the learning rate"));
    CHECK(t.theta == before);
    // In double the same rate is representable: taken as given.
    Toy d;
    Sgd sgd_d{.lr = 1e-30};
    sgd_d.schedule = huge;
    sgd_d.step(d);
    CHECK(d.theta(0, 0) == Approx(1 - 1e12 * 0.5));
}

TEST_CASE("optimizer hyperparameters are checked at construction, naming them", "[optim]") {
    CHECK_THROWS_WITH((Sgd{.lr = 0.0}),
                      "chrysalis::Sgd: learning rate lr must be a finite number > 0, got 0");
    CHECK_THROWS_WITH((Sgd{.lr = 0.1, .momentum = 1.0}),
                      "chrysalis::Sgd: momentum must be in [0, 1), got 1");
    CHECK_THROWS_AS((Sgd{.lr = std::nan("")}), ValueError);
    CHECK_THROWS_WITH((Sgd{.lr = 0.1, .momentum = 0.9, .dampening = 1.5}),
                      "chrysalis::Sgd: dampening must be in [0, 1], got 1.5");
    // Nesterov with dampening, which PyTorch refuses too: at the first update (and at fit's
    // check of each epoch), before anything changes.
    Sgd nesterov{.lr = 0.1, .momentum = 0.9, .nesterov = true, .dampening = 0.1};
    Toy t;
    const Matrix<double> before = t.theta;
    CHECK_THROWS_WITH(nesterov.step(t),
                      Catch::Matchers::StartsWith("chrysalis::Sgd: nesterov requires dampening 0"));
    CHECK_THROWS_AS(nesterov.check_epoch<float>(0), ValueError);
    CHECK(t.theta == before);
    CHECK_THROWS_WITH((Adam{.lr = 1e-3, .beta1 = 1.0}),
                      "chrysalis::Adam: beta1 must be in [0, 1), got 1");
    CHECK_THROWS_AS((Adam{.beta2 = -0.5}), ValueError);
    CHECK_THROWS_AS((AdamW{.eps = 0.0}), ValueError);
    CHECK_THROWS_AS((AdamW{.weight_decay = -1.0}), ValueError);
}

TEST_CASE("learning-rate schedules give the chosen factors", "[optim]") {
    CHECK(schedule::constant()(7) == 1.0);
    const auto st = schedule::step(3, 0.5);
    CHECK(st(0) == 1.0);
    CHECK(st(2) == 1.0);
    CHECK(st(3) == 0.5);
    CHECK(st(7) == 0.25);
    CHECK(schedule::exponential(0.9)(2) == Approx(0.81));
    const auto cos = schedule::cosine(10, 0.1);
    CHECK(cos(0) == Approx(1.0));
    CHECK(cos(5) == Approx(0.1 + 0.9 * 0.5));
    CHECK(cos(10) == Approx(0.1));
    CHECK(cos(25) == Approx(0.1));
    const auto wu = schedule::warmup(3, schedule::step(2, 0.1));
    CHECK(wu(0) == Approx(0.25));
    CHECK(wu(2) == Approx(0.75));
    CHECK(wu(3) == 1.0);
    CHECK(wu(5) == Approx(0.1));
    // MultiStepLR: γ^(milestones ≤ epoch), in any order, a repeated milestone twice.
    const auto ms = schedule::multistep({180, 150, 210}, 0.1);
    CHECK(ms(0) == 1.0);
    CHECK(ms(149) == 1.0);
    CHECK(ms(150) == Approx(0.1));
    CHECK(ms(179) == Approx(0.1));
    CHECK(ms(180) == Approx(0.01));
    CHECK(ms(239) == Approx(0.001));
    const auto twice = schedule::multistep({2, 2}, 0.5);
    CHECK(twice(1) == 1.0);
    CHECK(twice(2) == 0.25);
    CHECK(schedule::multistep({}, 0.5)(1000) == 1.0);
    CHECK_THROWS_WITH(schedule::multistep({3, -1}, 0.5),
                      "chrysalis::schedule::multistep: milestones must be epochs >= 0, got -1");
    CHECK_THROWS_AS(schedule::multistep({3}, 1.5), ValueError);
    CHECK_THROWS_AS(schedule::multistep({3}, 0.0), ValueError);
    // An optimizer applies the factor of the epoch it is given.
    Toy t;
    Sgd sgd{.lr = 0.1, .schedule = schedule::step(1, 0.5)};
    sgd.step(t, 2);  // rate 0.1·0.25
    CHECK(t.theta(0, 0) == Approx(1 - 0.025 * 0.5));
    CHECK_THROWS_AS(schedule::step(0, 0.5), ValueError);
    CHECK_THROWS_AS(schedule::cosine(5, 2.0), ValueError);
}

namespace {

/// Five steps of `Opt` on a small network, either as backward then step() or with each layer
/// updated from inside backward (what fit does); returns every parameter.
template <class Opt>
std::vector<Matrix<float>> five_steps(Opt opt, bool per_layer) {
    Sequential<Dense<6, 16>, ReLU, Dense<16, 16>, Tanh, Dense<16, 3>> net(Seed{9});
    Rng rng(Seed{4});
    Matrix<float> x(6, 20);
    for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = float(rng.uniform(-1, 1));
    std::vector<int> y(20);
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = int(i % 3);
    Matrix<float> g(3, 20);
    for (int s = 0; s < 5; ++s) {
        CrossEntropy{}(net.forward(x, Mode::training), y, g);
        if (per_layer) {
            detail::backward_and_step(net, g, opt, s);
        } else {
            net.backward(g);
            opt.step(net, s);
        }
    }
    std::vector<Matrix<float>> params;
    net.visit_parameters([&](auto& p, auto&) { params.emplace_back(p); });
    return params;
}

}  // namespace

TEST_CASE("updating each layer inside backward is bit-identical to backward then step()",
          "[optim]") {
    // Each block's update reads only its own parameter, gradient and state, and a layer's input
    // gradient is computed before its parameters change, so the order cannot matter.
    const Sgd sgd{.lr = 0.1, .momentum = 0.9, .nesterov = true, .weight_decay = 1e-3};
    CHECK(five_steps(sgd, true) == five_steps(sgd, false));
    const Adam adam{.lr = 1e-2, .weight_decay = 1e-3};
    CHECK(five_steps(adam, true) == five_steps(adam, false));
    const AdamW adamw{.lr = 1e-2};
    CHECK(five_steps(adamw, true) == five_steps(adamw, false));
    // And it does train: the parameters moved.
    Sequential<Dense<6, 16>, ReLU, Dense<16, 16>, Tanh, Dense<16, 3>> fresh(Seed{9});
    std::vector<Matrix<float>> initial;
    fresh.visit_parameters([&](auto& p, auto&) { initial.emplace_back(p); });
    CHECK(five_steps(sgd, true) != initial);
}

namespace {
/// One parameter block of n values with a fixed gradient, in the scalar S.
template <class S>
struct Block {
    using Scalar = S;
    Matrix<S> theta, grad;
    template <class F>
    void visit_parameters(F&& f) {
        f(theta, grad);
    }
};

struct StepSettings {
    double lr, momentum, weight_decay;
    bool nesterov, adam, decoupled;
    double dampening;
};

/// Three steps of the update, element by element in long double, written from the formulas in
/// optim.hpp's comments (not from its code).
std::vector<long double> reference_steps(std::vector<long double> theta,
                                         const std::vector<long double>& g, const StepSettings& s) {
    std::vector<long double> v(theta.size(), 0), m(theta.size(), 0);
    const long double b1 = 0.9L, b2 = 0.999L, eps = 1e-8L;
    for (int t = 1; t <= 3; ++t) {
        for (std::size_t i = 0; i < theta.size(); ++i) {
            if (s.adam) {
                if (s.decoupled) theta[i] *= 1 - s.lr * s.weight_decay;
                const long double d = g[i] + (s.decoupled ? 0 : s.weight_decay * theta[i]);
                m[i] = b1 * m[i] + (1 - b1) * d;
                v[i] = b2 * v[i] + (1 - b2) * d * d;
                const long double c1 = 1 - std::pow(b1, t), c2 = 1 - std::pow(b2, t);
                theta[i] -= s.lr / c1 * m[i] / (std::sqrt(v[i] / c2) + eps);
            } else {
                const long double d = g[i] + s.weight_decay * theta[i];
                // PyTorch's momentum buffer: the first gradient whole, then dampened.
                v[i] = t == 1 ? d : s.momentum * v[i] + (1 - s.dampening) * d;
                theta[i] -= s.lr * (s.momentum == 0 ? d
                                    : s.nesterov    ? d + s.momentum * v[i]
                                                    : v[i]);
            }
        }
    }
    return theta;
}
}  // namespace

TEMPLATE_TEST_CASE("Sgd and Adam update every element alike: in SIMD registers and the tail",
                   "[optim]", float, double) {
    // The updates run over each block one SIMD register at a time and then one element at a
    // time (detail::elementwise), in runs of 4096 shared between threads. Sizes around a
    // register (4, 8 or 16 lanes), around a run, and from 2·2^16 on, where a block is split
    // between threads in four blocks per thread (300001: eight blocks of 40960 values on two
    // threads, the last one shorter), against long double. Each element goes through three steps of
    // at most about a dozen rounded operations on values of magnitude at most about 2 (θ and g in
    // [-1, 1], each step's change below lr/(1 − β₁) = 0.1): 64·eps·(1 + |θ|) bounds the error with
    // room (float 3.8e-6, double 1.4e-14).
    using S = TestType;
    const StepSettings settings[] = {
        {0.05, 0.0, 0.0, false, false, false, 0},   {0.05, 0.0, 0.01, false, false, false, 0},
        {0.05, 0.9, 0.0, false, false, false, 0},   {0.05, 0.9, 0.01, true, false, false, 0},
        {0.05, 0.9, 0.0, false, false, false, 0.5}, {0.05, 0.9, 0.01, false, false, false, 0.3},
        {0.01, 0.0, 0.0, false, true, false, 0},    {0.01, 0.0, 0.1, false, true, false, 0},
        {0.01, 0.0, 0.1, false, true, true, 0}};
    const double tolerance = 64 * double(std::numeric_limits<S>::epsilon());
    std::mt19937 rng(5);
    std::uniform_real_distribution<double> uniform(-1, 1);
    for (const Eigen::Index n : {1, 3, 4, 7, 8, 15, 16, 17, 33, 4101, 70001, 300001}) {
        Block<S> block;
        block.theta.resize(1, n);
        block.grad.resize(1, n);
        for (Eigen::Index i = 0; i < n; ++i) {
            block.theta(0, i) = S(uniform(rng));
            block.grad(0, i) = S(uniform(rng));
        }
        std::vector<long double> theta0(static_cast<std::size_t>(n)),
            g(static_cast<std::size_t>(n));
        for (Eigen::Index i = 0; i < n; ++i) {
            theta0[std::size_t(i)] = block.theta(0, i);
            g[std::size_t(i)] = block.grad(0, i);
        }
        for (const StepSettings& s : settings) {
            Block<S> b = block;
            if (s.adam && s.decoupled) {
                AdamW opt{.lr = s.lr, .weight_decay = s.weight_decay};
                for (int t = 0; t < 3; ++t) opt.step(b);
            } else if (s.adam) {
                Adam opt{.lr = s.lr, .weight_decay = s.weight_decay};
                for (int t = 0; t < 3; ++t) opt.step(b);
            } else {
                Sgd opt{.lr = s.lr,
                        .momentum = s.momentum,
                        .nesterov = s.nesterov,
                        .weight_decay = s.weight_decay,
                        .dampening = s.dampening};
                for (int t = 0; t < 3; ++t) opt.step(b);
            }
            const std::vector<long double> want = reference_steps(theta0, g, s);
            double worst = 0;
            Eigen::Index where = -1;
            for (Eigen::Index i = 0; i < n; ++i) {
                const long double w = want[std::size_t(i)];
                const double err = double(std::abs(b.theta(0, i) - w) / (1 + std::abs(w)));
                if (!(err <= worst)) {
                    worst = err;
                    where = i;
                }
            }
            INFO("n = " << n << ", lr " << s.lr << ", momentum " << s.momentum << ", wd "
                        << s.weight_decay << ", dampening " << s.dampening
                        << (s.nesterov ? ", nesterov" : "")
                        << (s.adam ? (s.decoupled ? ", AdamW" : ", Adam") : ", Sgd")
                        << ": worst element " << where);
            CHECK(worst <= tolerance);
        }
    }
}
