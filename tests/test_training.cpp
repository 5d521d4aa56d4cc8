// End-to-end: a 2-16-2 network trained by plain gradient descent on two moons converges.

#include <catch2/catch.hpp>

#include <chrysalis/chrysalis.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <numbers>
#include <span>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#if __has_include(<unistd.h>)
#include <unistd.h>
#include "test_file_namespace.hpp"
#define CHRYSALIS_TEST_CAN_REDIRECT_STDERR 1
#else
#define CHRYSALIS_TEST_CAN_REDIRECT_STDERR 0
#endif

namespace CHRYSALIS_TEST_FILE {

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
    // The packed kernel's depth blocking does not depend on how the rows are split, so one and
    // two threads agree bit for bit too, on every target (docs/networks.md).
    REQUIRE(train_with_threads(1) == train_with_threads(2));
}

// What training prints (docs/distillation.md, "What training prints"): stderr is sent to a file,
// which is what a log is, around a short fit.
#if CHRYSALIS_TEST_CAN_REDIRECT_STDERR
namespace {

/// Sends file descriptor 2 to a temporary file while it lives, and gives back what was written.
/// The destructor puts the old stderr back even if the training threw.
class CapturedStderr {
  public:
    CapturedStderr() : file_(std::tmpfile()) {
        REQUIRE(file_ != nullptr);
        std::fflush(stderr);
        saved_ = ::dup(STDERR_FILENO);
        REQUIRE(saved_ >= 0);
        REQUIRE(::dup2(::fileno(file_), STDERR_FILENO) >= 0);
    }
    CapturedStderr(const CapturedStderr&) = delete;
    CapturedStderr& operator=(const CapturedStderr&) = delete;
    ~CapturedStderr() {
        restore();
        std::fclose(file_);
    }
    /// Restores stderr and returns everything written to it meanwhile.
    std::string text() {
        restore();
        std::string out;
        std::rewind(file_);
        char buffer[4096];
        for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, file_)) > 0;)
            out.append(buffer, n);
        return out;
    }

  private:
    void restore() {
        if (saved_ < 0) return;
        std::fflush(stderr);
        ::dup2(saved_, STDERR_FILENO);
        ::close(saved_);
        saved_ = -1;
    }
    std::FILE* file_;
    int saved_ = -1;
};

/// 16 samples of two features in two classes: 4 batches of 4 an epoch.
Dataset<float> tiny_data() {
    Dataset<float> d;
    d.features.resize(2, 16);
    for (int i = 0; i < 16; ++i) {
        d.features(0, i) = float(i % 2) + 0.05f * float(i);
        d.features(1, i) = 1.0f - float(i % 2);
        d.labels.push_back(i % 2);
    }
    d.classes = 2;
    return d;
}

/// Cross-entropy that takes 80 ms a batch, so that an epoch (4 batches) lasts longer than the
/// 250 ms between two updates of a live progress line: an intra-epoch update, if one were
/// printed, would show up in the capture.
struct SlowCrossEntropy {
    template <class Logits, class Grad>
    auto operator()(const Logits& logits, std::span<const int> labels, Grad& grad) const {
        std::this_thread::sleep_for(std::chrono::milliseconds(80));
        return CrossEntropy{}(logits, labels, grad);
    }
};

/// stderr of a 3-epoch fit with these options, sent to a file.
std::string fit_into_a_file(TrainOptions<float> options) {
    options.epochs = 3;
    options.batch_size = 4;
    Sequential<Dense<2, 8>, ReLU, Dense<8, 2>> net(Seed{1});
    Sgd sgd{.lr = 0.1};
    const auto data = tiny_data();
    CapturedStderr captured;
    const auto history = fit(net, data, SlowCrossEntropy{}, sgd, options);
    std::string text = captured.text();
    CHECK(history.size() == 3);
    return text;
}

std::size_t count(const std::string& s, char c) {
    return std::size_t(std::count(s.begin(), s.end(), c));
}

/// Silences chrysalis while it lives, and lets it speak again even if a check throws.
struct QuietScope {
    QuietScope() { set_quiet(true); }
    ~QuietScope() { set_quiet(false); }
    QuietScope(const QuietScope&) = delete;
    QuietScope& operator=(const QuietScope&) = delete;
};

}  // namespace

TEST_CASE("a bool still sets TrainOptions::progress, whose default is automatic",
          "[training][output]") {
    CHECK(TrainOptions<float>{}.progress == Progress::automatic);
    CHECK(TrainOptions<float>{.progress = true}.progress == Progress::on);
    CHECK(TrainOptions<float>{.progress = false}.progress == Progress::off);
    TrainOptions<double> o;
    o.progress = false;
    CHECK(o.progress == Progress::off);
    CHECK_FALSE(is_quiet());
}

TEST_CASE("training into a file prints at most one plain line per epoch", "[training][output]") {
    SECTION("by default: nothing, since a file is not a terminal") {
        const std::string text = fit_into_a_file({});
        INFO("stderr: [" << text << "]");
        CHECK(count(text, '\r') == 0);
        CHECK(count(text, '\n') <= 3);
        CHECK(text.empty());
    }
    SECTION("progress forced on: exactly one line per epoch, without a carriage return") {
        const std::string text = fit_into_a_file({.progress = true});
        INFO("stderr: [" << text << "]");
        CHECK(count(text, '\r') == 0);
        CHECK(count(text, '\n') == 3);
        CHECK(text.back() == '\n');
        CHECK(text.starts_with("chrysalis::fit: epoch 1/3  loss "));
        CHECK(text.find("\nchrysalis::fit: epoch 2/3  loss ") != std::string::npos);
        CHECK(text.find("\nchrysalis::fit: epoch 3/3  loss ") != std::string::npos);
        CHECK(text.find("ETA") == std::string::npos);  // only an intra-epoch update has an ETA
    }
    SECTION("progress off: nothing") {
        CHECK(fit_into_a_file({.progress = false}).empty());
    }
    SECTION("set_quiet(true): nothing, even with progress forced on") {
        const QuietScope quiet_scope;
        REQUIRE(is_quiet());
        const std::string text = fit_into_a_file({.progress = true});
        INFO("stderr: [" << text << "]");
        CHECK(text.size() == 0);
    }
    CHECK_FALSE(is_quiet());
}

TEST_CASE("distill into a file with progress on prints one plain line per epoch",
          "[training][output]") {
    Sequential<Dense<2, 8>, ReLU, Dense<8, 2>> student(Seed{2});
    Sgd sgd{.lr = 0.1};
    const auto data = tiny_data();
    const Matrix<float> teacher_logits = Matrix<float>::Zero(2, 16);
    CapturedStderr captured;
    distill(student, data, teacher_logits, Distillation{}, sgd,
            {.epochs = 3, .batch_size = 4, .progress = true});
    const std::string text = captured.text();
    INFO("stderr: [" << text << "]");
    CHECK(count(text, '\r') == 0);
    CHECK(count(text, '\n') == 3);
    CHECK(text.starts_with("chrysalis::distill: epoch 1/3  loss "));
}
#endif

namespace {

Dataset<float> moons_dataset(std::size_t n, Seed seed) {
    Matrix<double> x;
    std::vector<int> y;
    two_moons(n, 0.15, seed, x, y);
    Dataset<float> d;
    d.features = x.cast<float>();
    d.labels = y;
    d.classes = 2;
    return d;
}

using MoonNet = Sequential<Dense<2, 16>, ReLU, Dense<16, 2>>;

std::vector<float> parameters_of(MoonNet& net) {
    std::vector<float> out;
    net.visit_parameters(
        [&](auto& p, auto&) { out.insert(out.end(), p.data(), p.data() + p.size()); });
    return out;
}

/// Writes what it is told into a shared log; stops training after epoch `stop_after`.
struct Recorder {
    std::vector<std::string>* log;
    std::string name;
    int stop_after = -1;
    int batches = 0;
    template <class Ctx>
    void on_train_begin(Ctx& ctx) {
        log->push_back(name + " begin " + std::to_string(ctx.first_epoch) + "/" +
                       std::to_string(ctx.epochs));
    }
    template <class Ctx>
    void on_batch_end(Ctx&, const BatchReport& b) {
        CHECK(b.seen > 0);
        ++batches;
    }
    template <class Ctx>
    void on_epoch_end(Ctx& ctx, EpochReport& r) {
        log->push_back(name + " epoch " + std::to_string(r.epoch));
        if (r.epoch == stop_after) ctx.stop = true;
    }
    template <class Ctx>
    void on_train_end(Ctx&, const std::vector<EpochReport>& history) {
        log->push_back(name + " end " + std::to_string(history.size()));
    }
};

}  // namespace

TEST_CASE("observers run in the order given, after validation and before on_epoch, and can stop",
          "[training][observers]") {
    const auto data = moons_dataset(100, Seed{1});
    MoonNet net(Seed{2});
    Sgd sgd{.lr = 0.1};
    std::vector<std::string> log;
    Recorder a{&log, "a"}, b{&log, "b", 1};
    TrainOptions<float> o{.epochs = 5, .batch_size = 32, .progress = false};
    o.validation = &data;
    o.on_epoch = [&](const EpochReport& r) { log.push_back("option " + std::to_string(r.epoch)); };
    const auto history = fit(net, data, CrossEntropy{}, sgd, o, a, b, [&](const EpochReport& r) {
        CHECK(!std::isnan(r.validation_accuracy));  // the validation observer ran first
        log.push_back("lambda " + std::to_string(r.epoch));
    });
    CHECK(history.size() == 2);  // b stopped it after epoch 1
    CHECK(log == std::vector<std::string>{"a begin 0/5", "b begin 0/5", "a epoch 0", "b epoch 0",
                                          "lambda 0", "option 0", "a epoch 1", "b epoch 1",
                                          "lambda 1", "option 1", "a end 2", "b end 2"});
    CHECK(a.batches == 2 * 4);  // 100 samples in batches of 32: 4 a epoch
    CHECK(b.batches == a.batches);
}

namespace {
/// Moves the run's first epoch to `first` in on_train_begin.
struct MovesFirstEpoch {
    int first;
    template <class Ctx>
    void on_train_begin(Ctx& ctx) {
        ctx.first_epoch = first;
    }
    template <class Ctx>
    void on_epoch_end(Ctx&, EpochReport&) {}
};
}  // namespace

TEST_CASE("an empty observer or a negative first epoch is refused before anything trains",
          "[training][observers]") {
    const auto data = moons_dataset(64, Seed{1});
    MoonNet net(Seed{2});
    const std::vector<float> before = parameters_of(net);
    Sgd sgd{.lr = 0.1};
    const TrainOptions<float> o{.epochs = 2, .batch_size = 32, .progress = false};
    std::function<void(const EpochReport&)> empty;
    void (*null)(const EpochReport&) = nullptr;
    const auto noop = [](const EpochReport&) {};
    // Called, either would throw std::bad_function_call or crash after an epoch had trained.
    CHECK_THROWS_MATCHES(fit(net, data, CrossEntropy{}, sgd, o, noop, empty), ValueError,
                         Catch::Matchers::Message(
                             "chrysalis::fit: observer 1 (counting from 0, after the options) is "
                             "empty (a null function pointer or an empty std::function); "
                             "expected something to call"));
    CHECK_THROWS_AS(fit(net, data, CrossEntropy{}, sgd, o, null), ValueError);
    CHECK_THROWS_WITH(fit(net, data, CrossEntropy{}, sgd, o, null),
                      Catch::Matchers::StartsWith("chrysalis::fit: observer 0 ") &&
                          Catch::Matchers::Contains("is empty"));
    CHECK(parameters_of(net) == before);
    // A negative first epoch would run extra epochs, numbered below 0, into the schedules.
    CHECK_THROWS_MATCHES(
        fit(net, data, CrossEntropy{}, sgd, o, MovesFirstEpoch{-2}), ValueError,
        Catch::Matchers::Message("chrysalis::fit: an observer's on_train_begin set first_epoch to "
                                 "-2; expected an epoch >= 0 (epochs count from 0)"));
    CHECK(parameters_of(net) == before);
    // Past the last epoch is allowed: nothing left to run.
    CHECK(fit(net, data, CrossEntropy{}, sgd, o, MovesFirstEpoch{2}).empty());
}

TEST_CASE("EarlyStopping stops after patience epochs without improvement and restores the best",
          "[training][observers]") {
    const auto data = moons_dataset(200, Seed{3});
    const auto validation = moons_dataset(100, Seed{4});
    TrainOptions<float> o{.epochs = 10, .batch_size = 32, .seed = Seed{5}, .progress = false};
    o.validation = &validation;

    // min_delta = 1: no later epoch can beat the first by more than 1, so the first is the best.
    MoonNet net(Seed{1});
    Sgd sgd{.lr = 0.1};
    EarlyStopping stop{.patience = 2, .min_delta = 1.0};
    const auto history = fit(net, data, CrossEntropy{}, sgd, o, stop);
    CHECK(history.size() == 3);
    CHECK(stop.stopped());
    CHECK(stop.best_epoch() == 0);
    CHECK(stop.best_accuracy() == history[0].validation_accuracy);
    // The weights are those after epoch 0: the same as a run of one epoch.
    MoonNet one(Seed{1});
    Sgd sgd_one{.lr = 0.1};
    auto o1 = o;
    o1.epochs = 1;
    fit(one, data, CrossEntropy{}, sgd_one, o1);
    CHECK(parameters_of(net) == parameters_of(one));

    // Without restore_best, the weights of the last epoch run stay.
    MoonNet kept(Seed{1});
    Sgd sgd_kept{.lr = 0.1};
    EarlyStopping no_restore{.patience = 2, .min_delta = 1.0, .restore_best = false};
    fit(kept, data, CrossEntropy{}, sgd_kept, o, no_restore);
    CHECK(parameters_of(kept) != parameters_of(one));

    // A patience longer than the run: all epochs, the best is the first epoch of the highest
    // validation accuracy, and its weights are restored.
    MoonNet full(Seed{1});
    Sgd sgd_full{.lr = 0.1};
    EarlyStopping patient{.patience = 100};
    const auto all = fit(full, data, CrossEntropy{}, sgd_full, o, patient);
    CHECK(all.size() == 10);
    CHECK_FALSE(patient.stopped());
    const auto best = std::max_element(all.begin(), all.end(), [](const auto& x, const auto& y) {
        return x.validation_accuracy < y.validation_accuracy;
    });
    CHECK(patient.best_epoch() == best->epoch);
    CHECK(accuracy(full, validation) == best->validation_accuracy);

    // Bad settings, or nothing to watch, are refused before training.
    MoonNet untouched(Seed{1});
    const auto before = parameters_of(untouched);
    EarlyStopping zero{.patience = 0};
    CHECK_THROWS_WITH(fit(untouched, data, CrossEntropy{}, sgd, o, zero),
                      "chrysalis::fit: EarlyStopping::patience must be >= 1, got 0");
    auto unwatched = o;
    unwatched.validation = nullptr;
    CHECK_THROWS_WITH(fit(untouched, data, CrossEntropy{}, sgd, unwatched, EarlyStopping{}),
                      "chrysalis::fit: EarlyStopping watches the validation accuracy; set "
                      "TrainOptions::validation");
    CHECK(parameters_of(untouched) == before);
}

TEST_CASE("inference works on a const network and gives the logits of the network itself",
          "[training]") {
    const auto data = moons_dataset(300, Seed{6});
    MoonNet net(Seed{7});
    Sgd sgd{.lr = 0.1};
    fit(net, data, CrossEntropy{}, sgd, {.epochs = 2, .progress = false});
    const MoonNet& frozen = net;
    const Matrix<float> mutable_logits = predict_logits(net, data);
    const auto before = parameters_of(net);
    CHECK(predict_logits(frozen, data) == mutable_logits);
    CHECK(accuracy(frozen, data) == accuracy(net, data));
    CHECK(confusion_matrix(frozen, data) == confusion_matrix(net, data));
    CHECK(evaluate(frozen, data).loss == evaluate(net, data).loss);
    CHECK(parameters_of(net) == before);
    CHECK_THROWS_AS(predict_logits(frozen, data, 0), ValueError);
}

TEST_CASE("accuracy and evaluate refuse a network whose weights are NaN instead of scoring it",
          "[training]") {
    const auto data = moons_dataset(50, Seed{8});
    MoonNet net(Seed{9});
    net.layer<2>().weights()(0, 0) = std::numeric_limits<float>::quiet_NaN();  // logit 0 is NaN
    CHECK_THROWS_AS(accuracy(net, data), ValueError);
    CHECK_THROWS_AS(evaluate(net, data), ValueError);
    CHECK_THROWS_AS(confusion_matrix(net, data), ValueError);
}

TEST_CASE("clip_grad_norm scales the whole gradient down to the norm asked, as clip_grad_norm_",
          "[training]") {
    // One epoch of one batch of plain Sgd: the step is θ0 − θ1 = η·g, so (θ0 − θ1)/η is the
    // gradient the update used, all blocks together. Clipped to c, its norm is c·‖g‖/(‖g‖ +
    // 1e-6), c to 1e-6 relative for the ‖g‖ of about 0.1–1 of a fresh network. In float each
    // element of θ0 − θ1 (θ of at most about 1) is within an ulp of 1, 1.2e-7, of η·g: with c =
    // 0.01 spread over 82 parameters the elements are about 1e-4, so 2e-3 relative bounds the
    // norm's error, with room.
    const auto data = moons_dataset(200, Seed{4});
    const double lr = 0.1, c = 0.01;
    const auto step_of = [&](double clip) {
        MoonNet net(Seed{5});
        const auto before = parameters_of(net);
        Sgd sgd{.lr = lr};
        fit(net, data, CrossEntropy{}, sgd,
            {.epochs = 1,
             .batch_size = 200,
             .shuffle = false,
             .progress = false,
             .threads = 1,
             .clip_grad_norm = clip});
        const auto after = parameters_of(net);
        double squares = 0;
        for (std::size_t i = 0; i < before.size(); ++i) {
            const double g = (double(before[i]) - double(after[i])) / lr;
            squares += g * g;
        }
        return std::pair{after, std::sqrt(squares)};
    };
    const auto [plain, plain_norm] = step_of(0);
    // The control: the unclipped gradient is longer than c, so clipping has something to do.
    REQUIRE(plain_norm > 5 * c);
    const auto [clipped, clipped_norm] = step_of(c);
    CHECK(std::abs(clipped_norm - c) <= 2e-3 * c);
    // A bound the gradient stays within leaves it alone: the update after the whole backward is
    // bit for bit the update each layer makes inside it.
    CHECK(step_of(1e30).first == plain);
    // The option is checked with the others, naming it.
    MoonNet net(Seed{5});
    Sgd sgd{.lr = lr};
    CHECK_THROWS_WITH(
        fit(net, data, CrossEntropy{}, sgd, {.progress = false, .clip_grad_norm = -1}),
        Catch::Matchers::Contains("clip_grad_norm must be a finite number >= 0"));
    CHECK_THROWS_AS(
        fit(net, data, CrossEntropy{}, sgd, {.progress = false, .clip_grad_norm = std::nan("")}),
        ValueError);
}

TEST_CASE(
    "clipping measures a double gradient whose squares overflow, and leaves a NaN to the "
    "divergence check",
    "[training]") {
    // Eight gradient values of 1e200: Σ g² overflows double, ‖g‖ = 1e200·√8 does not. Clipped
    // to 2, each becomes 2/√8 (relative error a few ulp: the scaled sum, its square root, the
    // coefficient and the product), so the norm is 2 to 1e-14 relative.
    Sequential<Dense<3, 2, double>> net(Seed{1});
    net.visit_parameters([](auto&, auto& g) { g.setConstant(1e200); });
    const double expected = 1e200 * std::sqrt(8.0);
    CHECK(std::abs(detail::gradient_norm(net) - expected) <= 1e-14 * expected);
    detail::clip_gradients(net, 2.0);
    double squares = 0;
    net.visit_parameters([&](auto&, auto& g) { squares += g.squaredNorm(); });
    CHECK(std::abs(std::sqrt(squares) - 2) <= 2e-14);
    // A NaN anywhere: the norm is NaN and the gradients are left as they are.
    net.visit_parameters([](auto&, auto& g) { g.setConstant(3); });
    net.visit_parameters([](auto&, auto& g) {  // the weights' 6 gradients, then the bias's 2
        if (g.cols() == 1) g.data()[1] = std::numeric_limits<double>::quiet_NaN();
    });
    CHECK(std::isnan(detail::gradient_norm(net)));
    detail::clip_gradients(net, 1.0);
    std::vector<double> after;
    net.visit_parameters([&](auto&, auto& g) {
        for (Eigen::Index i = 0; i < g.size(); ++i) after.push_back(g.data()[i]);
    });
    REQUIRE(after.size() == 8);
    CHECK(std::isnan(after[7]));
    after.pop_back();
    CHECK(std::all_of(after.begin(), after.end(), [](double v) { return v == 3; }));
}

TEST_CASE("scalar_type names the scalar on every type that has one", "[training]") {
    using DoubleNet = Sequential<Dense<2, 3, double>, ReLU, Dense<3, 2, double>>;
    STATIC_REQUIRE(std::is_same_v<MoonNet::scalar_type, float>);
    STATIC_REQUIRE(std::is_same_v<DoubleNet::scalar_type, double>);
    STATIC_REQUIRE(std::is_same_v<Dense<2, 3, double>::scalar_type, double>);
    STATIC_REQUIRE(std::is_same_v<Dataset<double>::scalar_type, double>);
    STATIC_REQUIRE(std::is_same_v<LossResult<double>::scalar_type, double>);
    STATIC_REQUIRE(std::is_same_v<TrainOptions<double>::scalar_type, double>);
    STATIC_REQUIRE(std::is_same_v<DoubleNet::Scalar, DoubleNet::scalar_type>);  // Eigen's name
}

}  // namespace CHRYSALIS_TEST_FILE
