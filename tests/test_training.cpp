// End-to-end: a 2-16-2 network trained by plain gradient descent on two moons converges.

#include <catch2/catch.hpp>

#include <chrysalis/chrysalis.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <span>
#include <string>
#include <thread>
#include <vector>

#if __has_include(<unistd.h>)
#include <unistd.h>
#define CHRYSALIS_TEST_CAN_REDIRECT_STDERR 1
#else
#define CHRYSALIS_TEST_CAN_REDIRECT_STDERR 0
#endif

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
