// Adversarial attacks (chrysalis/attacks.hpp) on a seeded toy problem: three classes in 12
// features in [0, 1], class k with its own block of 4 features raised. FGSM, PGD and JSMA must
// fool an undefended network, respect their budgets, and refuse bad parameters; the input
// gradient they step along must match finite differences; and on a network trained at a high
// temperature (defensive distillation) the softmax's gradient vanishes while the logit-margin
// attack still succeeds.

#include <catch2/catch.hpp>

#include <chrysalis/attacks.hpp>
#include <chrysalis/chrysalis.hpp>

#include <cmath>
#include <numbers>
#include <vector>
#include "test_file_namespace.hpp"

namespace CHRYSALIS_TEST_FILE {

using namespace chrysalis;

namespace {

constexpr int features = 12, classes = 3;

template <class S>
Dataset<S> blocks(std::size_t n, Seed seed) {
    Rng rng(seed);
    Dataset<S> d;
    d.classes = classes;
    d.features.resize(features, Eigen::Index(n));
    d.labels.resize(n);
    for (std::size_t j = 0; j < n; ++j) {
        const int y = int(rng.below(classes));
        d.labels[j] = y;
        for (Eigen::Index i = 0; i < features; ++i) {
            const double r = std::sqrt(-2 * std::log(1 - rng.uniform()));
            const double noise = r * std::cos(2 * std::numbers::pi * rng.uniform());
            const double centre = i / 4 == y ? 0.65 : 0.35;
            d.features(i, Eigen::Index(j)) = S(std::clamp(centre + 0.12 * noise, 0.0, 1.0));
        }
    }
    return d;
}

template <class S>
using Net = Sequential<Dense<features, 32, S>, ReLU, Dense<32, classes, S>>;

template <class S>
Net<S> trained(const Dataset<S>& train) {
    Net<S> net(Seed{3});
    Adam opt{.lr = 3e-3};
    fit(net, train, CrossEntropy{}, opt,
        {.epochs = 20, .batch_size = 32, .seed = Seed{4}, .progress = false});
    return net;
}

template <class S>
Matrix<S> one_hot(const Dataset<S>& d) {
    Matrix<S> p = Matrix<S>::Zero(d.classes, d.size());
    for (Eigen::Index b = 0; b < d.size(); ++b) p(d.labels[std::size_t(b)], b) = S(1);
    return p;
}

/// Defensive distillation at temperature T: a network trained at T on the labels, its
/// probabilities at T, a second network of the same shape trained on them at T.
template <class S>
Net<S> defended(const Dataset<S>& train, double T) {
    const TrainOptions<S> o{.epochs = 20, .batch_size = 32, .seed = Seed{4}, .progress = false};
    Net<S> first(Seed{5});
    Adam opt1{.lr = 3e-3};
    distill_soft(first, train, one_hot(train), SoftTargetCrossEntropy{.temperature = T}, opt1, o);
    const Matrix<S> soft = softmax(predict_logits(first, train), T);
    Net<S> second(Seed{6});
    Adam opt2{.lr = 3e-3};
    distill_soft(second, train, soft, SoftTargetCrossEntropy{.temperature = T}, opt2, o);
    return second;
}

template <class S>
std::vector<int> next_class(const Dataset<S>& d) {
    std::vector<int> t(d.labels.size());
    for (std::size_t b = 0; b < t.size(); ++b) t[b] = (d.labels[b] + 1) % classes;
    return t;
}

}  // namespace

TEMPLATE_TEST_CASE("FGSM at epsilon fools an undefended network, and at 0 it changes nothing",
                   "[attacks]", float, double) {
    using S = TestType;
    const auto train = blocks<S>(1500, Seed{1});
    const auto test = blocks<S>(400, Seed{2});
    auto net = trained(train);
    const double clean = accuracy(net, test);
    REQUIRE(clean > 0.95);

    const auto none = fgsm(net, test, {.epsilon = 0});
    CHECK(none.adversarial == test.features);
    CHECK(none.success_rate == 0);
    CHECK(none.attacked == Eigen::Index(std::lround(clean * double(test.size()))));

    const auto r = fgsm(net, test, {.epsilon = 0.25});
    Dataset<S> adv = test;
    adv.features = r.adversarial;
    CHECK(accuracy(net, adv) < clean - 0.4);
    CHECK(r.success_rate > 0.4);
    CHECK(r.mean_linf <= 0.25 + 1e-6);
    CHECK(r.mean_linf > 0.2);
    CHECK(r.adversarial.minCoeff() >= S(0));
    CHECK(r.adversarial.maxCoeff() <= S(1));
    // Success counts only samples classified correctly to begin with.
    for (std::size_t b = 0; b < r.success.size(); ++b)
        if (r.success[b]) CHECK(r.counted[b]);
}

TEMPLATE_TEST_CASE("PGD stays in the epsilon-ball and the box and is at least as strong as FGSM",
                   "[attacks]", float, double) {
    using S = TestType;
    const auto train = blocks<S>(1500, Seed{1});
    const auto test = blocks<S>(400, Seed{2});
    auto net = trained(train);
    const Matrix<S> w0 = net.template layer<0>().weights();

    for (const double eps : {0.05, 0.1, 0.2}) {
        const auto f = fgsm(net, test, {.epsilon = eps});
        for (const bool random : {false, true}) {
            const auto p = pgd(net, test,
                               {.epsilon = eps,
                                .step_size = eps / 4,
                                .steps = 20,
                                .random_start = random,
                                .seed = Seed{7}});
            const S dist = (p.adversarial - test.features).cwiseAbs().maxCoeff();
            CHECK(double(dist) <= eps * (1 + 1e-6));
            CHECK(p.adversarial.minCoeff() >= S(0));
            CHECK(p.adversarial.maxCoeff() <= S(1));
            CHECK(p.success_rate >= f.success_rate);
            CHECK(p.mean_linf <= eps * (1 + 1e-6));
        }
    }
    CHECK(pgd(net, test, {.epsilon = 0.2, .step_size = 0.05, .steps = 10}).success_rate >
          fgsm(net, test, {.epsilon = 0.05}).success_rate);
    // Attacking does not change the weights.
    CHECK(net.template layer<0>().weights() == w0);
    // The same seed, the same result.
    const PgdOptions o{.epsilon = 0.1, .step_size = 0.02, .steps = 5, .random_start = true};
    CHECK(pgd(net, test, o).adversarial == pgd(net, test, o).adversarial);
}

TEST_CASE("the attacks' input gradient matches central differences in double", "[attacks]") {
    // Tanh keeps the network smooth (no ReLU kinks for a difference to straddle). With h = 1e-5
    // the truncation error is O(h²·|f'''|) ≈ 1e-10 and the rounding error O(ε/h) ≈ 1e-11, so
    // 1e-7 (relative to max(1, |g|)) leaves a wide margin while catching any wrong factor.
    using Smooth = Sequential<Dense<features, 16, double>, Tanh, Dense<16, classes, double>>;
    Smooth net(Seed{9});
    const auto d = blocks<double>(6, Seed{10});
    const std::vector<int> y = d.labels;
    std::vector<int> targets(y.size());
    for (std::size_t b = 0; b < y.size(); ++b) targets[b] = (y[b] + 1) % classes;
    for (const bool targeted : {false, true})
        for (const AttackLoss loss : {AttackLoss::cross_entropy, AttackLoss::logit_margin}) {
            const double kappa = 100;  // keeps the margin objective on its linear piece
            const auto objective = [&](const Matrix<double>& x, std::span<const int> labels,
                                       std::span<const int> to, Matrix<double>& g) {
                return targeted ? attack_gradient(net, x, labels, to, loss, kappa, g)
                                : attack_gradient(net, x, labels, loss, kappa, g);
            };
            Matrix<double> g;
            objective(d.features, y, targets, g);
            REQUIRE(g.rows() == features);
            REQUIRE(g.cols() == d.size());
            const double h = 1e-5;
            for (Eigen::Index b = 0; b < d.size(); ++b) {
                for (Eigen::Index i = 0; i < features; ++i) {
                    Matrix<double> x = d.features.col(b);
                    const std::vector<int> yb{y[std::size_t(b)]}, tb{targets[std::size_t(b)]};
                    Matrix<double> unused;
                    x(i, 0) += h;
                    const double up = objective(x, yb, tb, unused)[0];
                    x(i, 0) -= 2 * h;
                    const double down = objective(x, yb, tb, unused)[0];
                    const double fd = (up - down) / (2 * h);
                    CHECK(std::abs(fd - g(i, b)) <= 1e-7 * std::max(1.0, std::abs(g(i, b))));
                }
            }
        }
}

TEMPLATE_TEST_CASE("targeted FGSM and PGD reach the target class, with either objective",
                   "[attacks]", float, double) {
    using S = TestType;
    const auto train = blocks<S>(1500, Seed{1});
    const auto test = blocks<S>(300, Seed{2});
    auto net = trained(train);
    const auto targets = next_class(test);
    for (const AttackLoss loss : {AttackLoss::cross_entropy, AttackLoss::logit_margin}) {
        const auto r = pgd(net, test.features, test.labels, targets,
                           {.epsilon = 0.3, .step_size = 0.03, .steps = 30, .loss = loss});
        CHECK(r.success_rate > 0.8);
        CHECK((r.adversarial - test.features).cwiseAbs().maxCoeff() <= S(0.3 + 1e-6));
        const Matrix<S> z = net.forward(r.adversarial);
        for (Eigen::Index b = 0; b < test.size(); ++b) {
            Eigen::Index k = 0;
            z.col(b).maxCoeff(&k);
            CHECK(bool(r.success[std::size_t(b)]) ==
                  (r.counted[std::size_t(b)] && k == targets[std::size_t(b)]));
        }
        const auto f =
            fgsm(net, test.features, test.labels, targets, {.epsilon = 0.3, .loss = loss});
        CHECK(f.success_rate <= r.success_rate);
    }
}

TEMPLATE_TEST_CASE("JSMA changes at most gamma of the features and reaches the target", "[attacks]",
                   float, double) {
    using S = TestType;
    const auto train = blocks<S>(1500, Seed{1});
    const auto test = blocks<S>(200, Seed{2});
    auto net = trained(train);
    const double gamma = 0.5;
    const auto targets = next_class(test);
    const auto r = jsma(net, test, targets, {.gamma = gamma, .batch_size = 64});
    CHECK(r.success_rate > 0.8);
    for (Eigen::Index b = 0; b < test.size(); ++b) {
        const auto changed = ((r.adversarial.col(b) - test.features.col(b)).array() != 0).count();
        CHECK(double(changed) <= std::floor(gamma * features));
        // Features only increase, to the box maximum.
        for (Eigen::Index i = 0; i < features; ++i) {
            if (r.adversarial(i, b) != test.features(i, b)) CHECK(r.adversarial(i, b) == S(1));
        }
        if (r.success[std::size_t(b)]) {
            Eigen::Index k = 0;
            net.forward(r.adversarial.col(b)).col(0).maxCoeff(&k);
            CHECK(k == targets[std::size_t(b)]);
        }
    }
    CHECK(r.mean_l0 > 0);
    CHECK(r.mean_l0 <= gamma);
    CHECK(r.mean_l2 > 0);
    // A smaller budget cannot do better.
    CHECK(jsma(net, test, targets, {.gamma = 0.17}).success_rate <= r.success_rate);
}

TEST_CASE("defensive distillation masks the softmax gradient but the logit-margin PGD defeats it",
          "[attacks]") {
    // In float, a network trained at T = 100 and deployed at T = 1 has logits ~100 times larger:
    // its softmax rounds to one-hot, so the cross-entropy's input gradient is exactly 0 for most
    // samples and FGSM/PGD with it, and JSMA, cannot move. The margin of the logits still has a
    // gradient (Carlini & Wagner 2016).
    using S = float;
    const auto train = blocks<S>(1500, Seed{1});
    const auto test = blocks<S>(400, Seed{2});
    auto plain = trained(train);
    auto net = defended(train, 100);
    REQUIRE(accuracy(net, test) > 0.95);

    const PgdOptions ce{.epsilon = 0.2, .step_size = 0.02, .steps = 20};
    PgdOptions margin = ce;
    margin.loss = AttackLoss::logit_margin;
    const auto undefended_ce = pgd(plain, test, ce);
    const auto masked = pgd(net, test, ce);
    const auto unmasked = pgd(net, test, margin);
    CHECK(masked.success_rate < 0.5 * undefended_ce.success_rate);
    CHECK(unmasked.success_rate > 2 * masked.success_rate);
    CHECK(unmasked.success_rate > 0.4);
    CHECK(jsma(net, test, next_class(test), {.gamma = 0.5}).success_rate < 0.2);
}

TEST_CASE("the attacks refuse bad parameters, naming the function and the parameter", "[attacks]") {
    using S = double;
    Net<S> net(Seed{1});
    const auto d = blocks<S>(5, Seed{2});
    const auto t = next_class(d);
    const auto nan = std::numeric_limits<double>::quiet_NaN();
    using Catch::Matchers::Contains;
    CHECK_THROWS_WITH(fgsm(net, d, {.epsilon = -0.1}),
                      Contains("chrysalis::fgsm") && Contains("epsilon"));
    CHECK_THROWS_AS(fgsm(net, d, {.epsilon = nan}), ValueError);
    CHECK_THROWS_WITH(fgsm(net, d, {.lo = 1, .hi = 1}), Contains("lo < hi"));
    CHECK_THROWS_AS(fgsm(net, d, {.batch_size = 0}), ValueError);
    CHECK_THROWS_WITH(pgd(net, d, {.steps = 0}), Contains("chrysalis::pgd") && Contains("steps"));
    CHECK_THROWS_WITH(pgd(net, d, {.step_size = 0}), Contains("step_size"));
    CHECK_THROWS_WITH(pgd(net, d, {.kappa = -1}), Contains("kappa"));
    CHECK_THROWS_WITH(jsma(net, d, t, {.gamma = 0}),
                      Contains("chrysalis::jsma") && Contains("gamma"));
    CHECK_THROWS_AS(jsma(net, d, t, {.gamma = 1.5}), ValueError);
    // 12 features: the default γ = 0.145 allows ⌊1.74⌋ = 1 feature, and JSMA changes pairs.
    CHECK_THROWS_WITH(jsma(net, d, t), Contains("chrysalis::jsma: gamma 0.14") &&
                                           Contains("of 12 features allows 1 changed feature") &&
                                           Contains("expected gamma >= 0.1666"));
    CHECK(jsma(net, d, t, {.gamma = 0.17}).adversarial.cols() == d.size());  // ⌊2.04⌋ = 2
    CHECK_THROWS_WITH(jsma(net, d, d.labels), Contains("its true label"));
    CHECK_THROWS_AS(jsma(net, d, std::vector<int>{1, 2}), ShapeError);
    CHECK_THROWS_AS(jsma(net, d, std::vector<int>(5, 7)), ValueError);
    CHECK_THROWS_WITH(pgd(net, d.features, d.labels, d.labels),
                      Contains("chrysalis::pgd") && Contains("its true label"));
    CHECK_THROWS_AS(fgsm(net, d.features, d.labels, std::vector<int>{}), ShapeError);
    CHECK_THROWS_AS(pgd(net, d.features, d.labels, std::vector<int>(5, -1)), ValueError);

    std::vector<int> bad = d.labels;
    bad[2] = 3;
    CHECK_THROWS_WITH(fgsm(net, d.features, bad),
                      Contains("chrysalis::fgsm") && Contains("label 3"));
    CHECK_THROWS_AS(fgsm(net, d.features, std::vector<int>{0}), ShapeError);
    const Matrix<S> wide = Matrix<S>::Zero(features + 1, 5);
    CHECK_THROWS_AS(pgd(net, wide, d.labels), ShapeError);
    Matrix<S> outside = d.features;
    outside(0, 0) = 1.5;
    CHECK_THROWS_WITH(pgd(net, outside, d.labels), Contains("outside the input box"));
    outside(0, 0) = nan;
    CHECK_THROWS_AS(fgsm(net, outside, d.labels), ValueError);
}

TEST_CASE("the attacks refuse logits that overflow, an AttackLoss out of range, and say 'target'",
          "[attacks]") {
    using Catch::Matchers::Contains;
    // Inputs near float's largest overflow the first layer: its infinite outputs make NaN
    // logits, whose gradient's sign is NaN. Stepping on it returned NaN adversarial inputs,
    // outside the box the result promises, with no word.
    Net<float> net(Seed{1});
    const Matrix<float> x = Matrix<float>::Constant(features, 4, 3e38f);
    const std::vector<int> y{0, 1, 2, 0}, t{1, 2, 0, 1};
    const double lo = -3.4e38, hi = 3.4e38;
    // (Catch's combined matchers hold references: each check spells its own.)
    CHECK_THROWS_WITH(fgsm(net, x, y, {.epsilon = 1.7e38, .lo = lo, .hi = hi}),
                      Contains("chrysalis::fgsm: logit ") &&
                          Contains("of the network's logits is") &&
                          Contains("expected a finite number"));
    CHECK_THROWS_AS(fgsm(net, x, y, {.epsilon = 1.7e38, .lo = lo, .hi = hi}), ValueError);
    CHECK_THROWS_WITH(pgd(net, x, y, {.epsilon = 1.7e38, .step_size = 1e37, .lo = lo, .hi = hi}),
                      Contains("chrysalis::pgd: logit ") &&
                          Contains("of the network's logits is") &&
                          Contains("expected a finite number"));
    CHECK_THROWS_WITH(jsma(net, x, y, t, {.gamma = 0.5, .lo = lo, .hi = hi}),
                      Contains("chrysalis::jsma: logit ") &&
                          Contains("of the network's logits is") &&
                          Contains("expected a finite number"));
    Matrix<float> g;
    CHECK_THROWS_WITH(attack_gradient(net, x, y, AttackLoss::cross_entropy, 0, g),
                      Contains("chrysalis::attack_gradient: logit ") &&
                          Contains("of the network's logits is") &&
                          Contains("expected a finite number"));
    // The same network on ordinary inputs attacks without complaint.
    const auto d = blocks<float>(4, Seed{2});
    CHECK(fgsm(net, d, {.epsilon = 0.1}).adversarial.allFinite());

    // An integer cast to AttackLoss ran as logit_margin.
    CHECK_THROWS_WITH(fgsm(net, d, {.loss = AttackLoss(7)}),
                      Contains("chrysalis::fgsm: loss must be") && Contains("got the value 7"));
    CHECK_THROWS_AS(pgd(net, d, {.loss = AttackLoss(-1)}), ValueError);
    CHECK_THROWS_AS(attack_gradient(net, d.features, d.labels, AttackLoss(2), 0, g), ValueError);

    // A target that does not fit in an int is called a target, not a label.
    const std::vector<long> huge{1, 1, 1, 1L << 40};
    CHECK_THROWS_WITH(fgsm(net, d.features, d.labels, huge),
                      Contains("chrysalis::fgsm: target 1099511627776 of sample 3") &&
                          Contains("targets are class indices"));
    CHECK_THROWS_WITH(fgsm(net, d.features, std::vector<long>{0, 1, 2, 1L << 40}),
                      Contains("chrysalis::fgsm: label 1099511627776 of sample 3"));
}

}  // namespace CHRYSALIS_TEST_FILE
