// Hostile inputs III, the gaps a read-through of the public API found after the first two sweeps
// (numbered G1–G24 in that review, with its notes U1–U6; each test case carries its number): image
// sizes whose product overflows, margin attacks and boundary samples on one-output networks,
// optimizer blocks numbered past any network, step counts that overflow, gradient checks that
// passed a NaN, float arithmetic that overflowed where the result is representable, and more. Each
// input here used to crash, trip UBSan or an Eigen assertion, or give a silently wrong answer; each
// now throws the exact typed error naming the public function and the parameter, or gives the right
// result.
//
// Compiled with assertions on in every build (NDEBUG undefined before the first include, without
// the shared precompiled header), like test_hostile_shapes.cpp, so that an out-of-bounds index
// aborts the test even in release.
#undef NDEBUG

#include "hostile_support.hpp"
#include "temp_dir.hpp"

#include <chrysalis/checkpoint.hpp>
#include <chrysalis/gradcheck.hpp>
#include <chrysalis/views.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <utility>
#include <vector>
#include "test_file_namespace.hpp"

namespace CHRYSALIS_TEST_FILE {

using namespace chrysalis;
using namespace chrysalis::test;
using Catch::Matchers::Contains;

#ifdef NDEBUG
#error "test_hostile_sweep.cpp must be compiled with assertions on"
#endif

namespace {

/// The network's class of each column of x.
template <class Net, class M>
std::vector<int> argmax_labels(Net& net, const M& x) {
    const Matrix<typename Net::scalar_type> z = net.forward(x, Mode::inference);
    std::vector<int> y;
    for (Eigen::Index j = 0; j < z.cols(); ++j) {
        Eigen::Index k = 0;
        z.col(j).maxCoeff(&k);
        y.push_back(int(k));
    }
    return y;
}

}  // namespace

// G1: width · height and first_row + rows used to be formed in Eigen::Index: UB, and a product
// that wrapped to the feature count let a 4-feature set through to reads and writes far out of
// bounds.
TEMPLATE_TEST_CASE("sweep: image views with sizes that overflow are refused", "[sweep][views]",
                   float, double) {
    Dataset<TestType> d;
    d.classes = 2;
    d.features = Matrix<TestType>::Zero(4, 3);
    d.labels = {0, 1, 0};
    constexpr auto max = std::numeric_limits<Eigen::Index>::max();
    CHECK_THAT(thrown<ValueError>([&] { (void)crop_rows(d, 1, 4, max, 1); }),
               Contains("chrysalis::crop_rows: first_row + rows = 9223372036854775807 + 1 is "
                        "beyond the image's height 4"));
    CHECK_THAT(thrown<ValueError>([&] { (void)crop_rows(d, 1, 4, 1, max); }),
               Contains("chrysalis::crop_rows: first_row + rows"));
    const Eigen::Index wide = (Eigen::Index(1) << 62) + 1;  // wide · 4 wraps to 4
    CHECK_THAT(thrown<ShapeError>([&] { (void)crop_rows(d, wide, 4, 0, 1); }),
               Contains("chrysalis::crop_rows: the data has 4 features per sample") &&
                   Contains("more pixels than an Eigen::Index holds"));
    CHECK_THAT(thrown<ShapeError>([&] { (void)downsample(d, wide, 4, 1); }),
               Contains("chrysalis::downsample: the data has 4 features"));
    const Eigen::Index big = Eigen::Index(1) << 32;
    CHECK_THAT(
        thrown<ShapeError>([&] { (void)downsample(d, big, big, 1); }),
        Contains("chrysalis::downsample") && Contains("more pixels than an Eigen::Index holds"));
    // The product is still printed when it fits, and valid sizes work as before.
    CHECK_THAT(thrown<ShapeError>([&] { (void)downsample(d, 3, 2, 1); }),
               Contains("width x height = 3 x 2 = 6"));
    CHECK(crop_rows(d, 2, 2, 1, 1).features == d.features.bottomRows(2));
    CHECK(downsample(d, 2, 2, 2).features.rows() == 1);
}

// G2: the logit-margin objective of a one-output network compared logit row 0 with row 1.
TEST_CASE("sweep: a margin attack on a network of one class is refused", "[sweep][attacks]") {
    Sequential<Dense<4, 1>> net(Seed{1});
    const Matrix<float> x = Matrix<float>::Constant(4, 3, 0.5f);
    const std::vector<int> y{0, 0, 0};
    const auto refused = [](const std::string& m, const char* fn) {
        CHECK_THAT(m, Contains(fn) && Contains("the logit_margin objective") &&
                          Contains("the network has 1 output; expected at least 2 classes"));
    };
    refused(thrown<ShapeError>(
                [&] { (void)fgsm(net, x, y, FgsmOptions{.loss = AttackLoss::logit_margin}); }),
            "chrysalis::fgsm: ");
    refused(thrown<ShapeError>(
                [&] { (void)pgd(net, x, y, PgdOptions{.loss = AttackLoss::logit_margin}); }),
            "chrysalis::pgd: ");
    Matrix<float> g;
    refused(thrown<ShapeError>(
                [&] { (void)attack_gradient(net, x, y, AttackLoss::logit_margin, 0.0, g); }),
            "chrysalis::attack_gradient: ");
    // Cross-entropy on one class is defined (its gradient is 0): still allowed.
    CHECK_NOTHROW(attack_gradient(net, x, y, AttackLoss::cross_entropy, 0.0, g));
    CHECK(g.isZero());
}

// G4: block + 1 wrapped to 0 for SIZE_MAX (resize(0), then blocks[SIZE_MAX]); a block near it
// asked for petabytes (std::length_error, outside the hierarchy).
TEST_CASE("sweep: optimizer updates refuse a block number past any network", "[sweep][optim]") {
    Matrix<float> p = Matrix<float>::Ones(3, 2);
    const Matrix<float> g = Matrix<float>::Constant(3, 2, 0.5f);
    Sgd sgd{.lr = 0.1, .momentum = 0.9};
    sgd.begin_step();
    sgd.update(p, g, 0);
    const Matrix<float> after_one = p;
    CHECK_THAT(thrown<ValueError>([&] { sgd.update(p, g, std::size_t(-1)); }),
               Contains("chrysalis::Sgd::update: block must be < 1048576") &&
                   Contains("got 18446744073709551615"));
    AdamW adam;
    adam.begin_step();
    CHECK_THAT(thrown<ValueError>([&] { adam.update(p, g, std::size_t(1) << 50); }),
               Contains("chrysalis::AdamW::update: block must be < 1048576"));
    CHECK(p == after_one);  // nothing was written
    // The momentum of block 0 survived: a second step moves p by lr·(0.9·0.5 + 0.5).
    sgd.update(p, g, 0);
    CHECK(p.isApprox(after_one - Matrix<float>::Constant(3, 2, 0.1f * 0.95f)));
}

// G5: a step count of INT64_MAX was accepted, and the next begin_step overflowed a long.
TEST_CASE("sweep: a checkpoint whose step count would overflow is refused", "[sweep][checkpoint]") {
    TempDir dir;
    const std::string path = dir.file("run.ckpt");
    SmallNet net(Seed{1});
    Adam adam{.lr = 0.01};
    fit(net, small_set(), CrossEntropy{}, adam, {.epochs = 1, .progress = false});
    save_checkpoint(net, adam, Checkpoint{1}, path);
    // The "steps" record: its name, its kind (4 bytes), then the count (8 bytes).
    const std::string good = read_bytes(path);
    const std::size_t at = good.find("steps");
    REQUIRE(at != std::string::npos);
    const auto with_steps = [&](std::int64_t steps) {
        std::string bytes = good, count;
        detail::put_le(count, steps);
        bytes.replace(at + 5 + 4, 8, count);
        bytes.resize(bytes.size() - 4);
        detail::put_le(bytes, detail::crc32(bytes));
        write_bytes(path, bytes);
    };
    SmallNet other(Seed{3});
    Adam other_adam;
    with_steps(std::numeric_limits<std::int64_t>::max());
    CHECK_THAT(thrown<FormatError>([&] { (void)load_checkpoint(other, other_adam, path); }),
               Contains("chrysalis::load_checkpoint: '" + path +
                        "' holds optimizer state that Adam rejects: the saved step count is "
                        "9223372036854775807; expected a count <= 2^53 = 9007199254740992"));
    CHECK(other_adam.steps() == 0);
    with_steps(std::int64_t(1) << 53);  // the largest count accepted
    CHECK_NOTHROW(load_checkpoint(other, other_adam, path));
    CHECK(other_adam.steps() == (std::int64_t(1) << 53));
}

// G6: a NaN error failed `error > max_error` and was dropped at every coordinate but the first,
// so a gradient with a NaN passed; the options were never checked.
TEST_CASE("sweep: a gradient check never passes a NaN gradient", "[sweep][gradcheck]") {
    const auto f = [](const Matrix<double>& x) {
        Matrix<double> g = 2 * x;
        g(1, 0) = std::nan("");
        return std::pair<double, Matrix<double>>{x.squaredNorm(), g};
    };
    const Matrix<double> x = Matrix<double>::Ones(3, 1);
    const auto r = gradcheck_function(f, x);
    CHECK_FALSE(r.passed());
    CHECK(r.where == "x (1, 0)");
    CHECK(r.checked == 3);
    // floor = 0: a coordinate where both derivatives are 0 agrees exactly (was 0/0).
    const auto flat = [](const Matrix<double>& z) {
        Matrix<double> g = Matrix<double>::Zero(z.rows(), z.cols());
        g(0, 0) = 2 * z(0, 0);
        return std::pair<double, Matrix<double>>{z(0, 0) * z(0, 0), g};
    };
    const auto r0 = gradcheck_function(flat, x, {.floor = 0});
    CHECK(r0.passed());
    for (const double h : {0.0, -0.0, -1e-4, std::nan(""), HUGE_VAL}) {
        CHECK_THAT(thrown<ValueError>([&] { (void)gradcheck_function(f, x, {.step = h}); }),
                   Contains("chrysalis::gradcheck_function: GradcheckOptions::step must be a "
                            "finite number > 0"));
    }
    for (const double fl : {-1.0, std::nan(""), HUGE_VAL}) {
        CHECK_THAT(thrown<ValueError>([&] { (void)gradcheck_function(f, x, {.floor = fl}); }),
                   Contains("chrysalis::gradcheck_function: GradcheckOptions::floor must be a "
                            "finite number >= 0"));
    }
    Sequential<Dense<4, 3, double>> net(Seed{1});
    const Matrix<double> xs = Matrix<double>::Constant(4, 2, 0.5);
    const std::vector<int> labels{0, 1};
    CHECK_THAT(thrown<ValueError>(
                   [&] { (void)gradcheck_network(net, xs, CrossEntropy{}, labels, {.step = 0}); }),
               Contains("chrysalis::gradcheck_network: GradcheckOptions::step"));
    CHECK_THAT(thrown<ValueError>([&] {
                   (void)gradcheck_loss(CrossEntropy{}, Matrix<double>::Zero(3, 2), labels,
                                        {.floor = -1});
               }),
               Contains("chrysalis::gradcheck_loss: GradcheckOptions::floor"));
    Dense<4, 3, double> layer;
    CHECK_THAT(thrown<ValueError>([&] { (void)gradcheck_layer(layer, xs, 3, {.step = -1}); }),
               Contains("chrysalis::gradcheck_layer: GradcheckOptions::step"));

    // A step below a coordinate's rounding: x ± h is x, the difference 0 whatever the
    // derivative, so a backward that wrongly gave 0 would pass. Refused, naming the coordinate.
    const auto wrong_zero = [](const Matrix<double>& z) {
        return std::pair<double, Matrix<double>>{z.squaredNorm(),
                                                 Matrix<double>::Zero(z.rows(), z.cols())};
    };
    const Matrix<double> ones = Matrix<double>::Ones(2, 2);
    CHECK_FALSE(gradcheck_function(wrong_zero, ones).passed());  // the default step sees it
    CHECK_THAT(
        thrown<ValueError>([&] { (void)gradcheck_function(wrong_zero, ones, {.step = 1e-17}); }),
        Contains("chrysalis::gradcheck_function: GradcheckOptions::step = ") &&
            Contains("does not change x coordinate 0 (1): x ± step rounds back to x"));
    CHECK_THAT(thrown<ValueError>([&] {
                   (void)gradcheck_loss(CrossEntropy{}, Matrix<double>::Constant(3, 2, 1e6), labels,
                                        {.step = 1e-12});
               }),
               Contains("chrysalis::gradcheck_loss: GradcheckOptions::step = ") &&
                   Contains("does not change x coordinate 0 (1000000)"));
    CHECK_THAT(thrown<ValueError>([&] { (void)gradcheck_layer(layer, xs, 3, {.step = 1e-17}); }),
               Contains("chrysalis::gradcheck_layer: GradcheckOptions::step = ") &&
                   Contains("does not change input coordinate 0 (0.5)"));
}

// G8: checked in [0, 1) as doubles, then converted to float, where 0.99999999 is 1: a beta1 of 1
// freezes Adam's first moment at 0 (no update ever), a beta2 of 1 blows the steps up.
TEST_CASE("sweep: momentum and betas that round to 1 in float are refused", "[sweep][optim]") {
    const auto rounds = [](const std::string& m, const char* name) {
        CHECK_THAT(m, Contains(name) &&
                          Contains("must round to a float below 1, got 0.99999998999999995") &&
                          Contains("expected at most 0.99999994039535522"));
    };
    rounds(thrown<ValueError>([] { (void)Adam{.beta1 = 0.99999999}; }), "chrysalis::Adam: beta1");
    rounds(thrown<ValueError>([] { (void)AdamW{.beta2 = 0.99999999}; }), "chrysalis::AdamW: beta2");
    rounds(thrown<ValueError>([] { (void)Sgd{.momentum = 0.99999999}; }),
           "chrysalis::Sgd: momentum");
    Adam adam;
    CHECK_THROWS_AS(adam.beta1 = 0.99999999, ValueError);  // on assignment too
    // The largest float below 1, and values just above it that round down to it, are fine.
    const double below_one = 1.0 - double(std::numeric_limits<float>::epsilon()) / 2;
    CHECK_NOTHROW(Adam{.beta2 = below_one});
    CHECK_NOTHROW(Adam{.beta2 = 0.9999999});
    CHECK_NOTHROW(Sgd{.momentum = below_one + 1e-9});
}

// G9: ε (fgsm's step) or step_size beyond float's range is ∞ in a float network, and ∞·sign(0)
// made NaN adversarials; a box edge beyond it made jsma write infinite features.
TEST_CASE("sweep: attack steps and boxes beyond the network's scalar range are refused",
          "[sweep][attacks]") {
    SmallNet net(Seed{3});
    const Matrix<float> x = Matrix<float>::Constant(4, 5, 0.5f);
    const std::vector<int> y = argmax_labels(net, x);
    const auto beyond = [](const std::string& m, const char* fn, const char* name) {
        CHECK_THAT(m, Contains(fn) && Contains(name) &&
                          Contains("in magnitude (float's largest value: the network computes in "
                                   "float), got "));
    };
    beyond(thrown<ValueError>([&] { (void)fgsm(net, x, y, FgsmOptions{.epsilon = 1e300}); }),
           "chrysalis::fgsm: ", "epsilon must be at most 3.40282");
    beyond(thrown<ValueError>(
               [&] { (void)pgd(net, x, y, PgdOptions{.epsilon = 0.1, .step_size = 1e39}); }),
           "chrysalis::pgd: ", "step_size must be at most 3.40282");
    beyond(thrown<ValueError>([&] { (void)pgd(net, x, y, PgdOptions{.lo = -1e39}); }),
           "chrysalis::pgd: ", "the input box's lo must be at most");
    std::vector<int> targets(5);
    for (std::size_t i = 0; i < targets.size(); ++i) targets[i] = (y[i] + 1) % 3;
    beyond(thrown<ValueError>([&] { (void)jsma(net, x, y, targets, JsmaOptions{.hi = 1e39}); }),
           "chrysalis::jsma: ", "the input box's hi must be at most");
    // In a double network the same ε is a finite step: the attack runs, inside the box.
    Sequential<Dense<4, 8, double>, ReLU, Dense<8, 3, double>> dnet(Seed{3});
    const Matrix<double> xd = x.cast<double>();
    const auto r = fgsm(dnet, xd, argmax_labels(dnet, xd), FgsmOptions{.epsilon = 1e300});
    CHECK(r.adversarial.allFinite());
    CHECK(((r.adversarial.array() >= 0) && (r.adversarial.array() <= 1)).all());
}

// G10: the system calls read a path only up to a NUL byte: a load read the prefix's file, and a
// save truncated and wrote the prefix's file in place (its temporary's name, cut at the NUL, is
// that file), deleting it if the save failed.
TEST_CASE("sweep: a path with a NUL byte is refused and the file before the NUL is untouched",
          "[sweep][files]") {
    TempDir dir;
    SmallNet net(Seed{1});
    const std::string path = dir.file("m.chrysalis");
    save(net, path);
    const std::string before = read_bytes(path);
    const std::string bad = path + std::string("\0.bak", 5);
    const std::string shown = path + "\\0.bak': the path contains a NUL byte at offset " +
                              std::to_string(path.size()) + ", which no file name can hold";
    CHECK_THAT(thrown<IoError>([&] { save(net, bad); }),
               Contains("chrysalis::save: cannot write '" + shown));
    CHECK_THAT(thrown<IoError>([&] { load(net, bad); }),
               Contains("chrysalis::load: cannot read '" + shown));
    Sgd sgd;
    CHECK_THAT(thrown<IoError>([&] { save_checkpoint(net, sgd, Checkpoint{}, bad); }),
               Contains("chrysalis::save_checkpoint: cannot write '" + shown));
    CHECK_THAT(thrown<IoError>([&] { (void)load_npy<float>(bad); }),
               Contains("chrysalis::load_npy: cannot read '" + shown));
    CHECK_THAT(thrown<IoError>([&] { (void)load_csv<float>(bad); }),
               Contains("chrysalis::load_csv: cannot read '" + shown));
    CHECK_THAT(thrown<IoError>([&] { (void)load_idx<float>(bad, path); }),
               Contains("chrysalis::load_idx") && Contains("NUL byte at offset"));
    CHECK_THAT(thrown<IoError>([&] { export_npy(net, bad); }),
               Contains("chrysalis::export_npy: cannot write the directory '" + shown));
    CHECK_THAT(thrown<IoError>([&] { import_npy(net, bad); }),
               Contains("chrysalis::import_npy: cannot read the directory '" + shown));
    CHECK(read_bytes(path) == before);
    CHECK(dir.entries() == std::vector<std::string>{"m.chrysalis"});
}

// G11: Adam's bias correction of step 0 divides by 0: an update before any begin_step() wrote
// NaN parameters without an error.
TEST_CASE("sweep: Adam's update before begin_step is refused", "[sweep][optim]") {
    Matrix<float> p = Matrix<float>::Ones(3, 2);
    const Matrix<float> g = Matrix<float>::Constant(3, 2, 0.5f);
    Adam adam;
    CHECK_THAT(thrown<std::logic_error>([&] { adam.update(p, g, 0); }),
               Contains("chrysalis::Adam::update: call begin_step() first"));
    AdamW adamw;
    CHECK_THAT(thrown<std::logic_error>([&] { adamw.update(p, g, 0); }),
               Contains("chrysalis::AdamW::update: call begin_step() first"));
    CHECK(p == Matrix<float>::Ones(3, 2));
    adam.begin_step();
    adam.update(p, g, 0);
    CHECK(p.allFinite());
    CHECK(p(0, 0) < 1.0f);
}

// G7: only finiteness was checked, so logits passed to distill_soft by mistake (what distill
// takes) trained on meaningless targets, with a plausible loss.
TEST_CASE("sweep: distill_soft refuses targets that are not distributions", "[sweep][distill]") {
    const Dataset<float> train = small_set();
    SmallNet teacher(Seed{1}), student(Seed{2});
    const SmallNet untouched = student;
    Sgd opt{.lr = 0.1};
    const TrainOptions<float> o{.epochs = 1, .progress = false};
    Matrix<float> p = softmax(predict_logits(teacher, train), 4.0);
    p.col(5) = p.col(5) * 0.5f;  // sums to 0.5
    CHECK_THAT(thrown<ValueError>([&] {
                   (void)distill_soft(student, train, p, SoftTargetCrossEntropy{}, opt, o);
               }),
               Contains("chrysalis::distill_soft: the probabilities of sample 5 are not a "
                        "distribution (the column sums to 0.5"));
    Matrix<float> logits = predict_logits(teacher, train);
    logits.col(0) << 0.5f, -0.25f, 0.75f;
    CHECK_THAT(thrown<ValueError>([&] {
                   (void)distill_soft(student, train, logits,
                                      Distillation{.temperature = 4, .alpha = 1}, opt, o);
               }),
               Contains("chrysalis::distill_soft: the probabilities of sample 0 are not a "
                        "distribution (entry 1 is -0.25)") &&
                   Contains("pass logits to distill instead"));
    CHECK(student.layer<0>().weights() == untouched.layer<0>().weights());
    // Softmax outputs (sums within float rounding of 1) train as before.
    const Matrix<float> good = softmax(predict_logits(teacher, train), 4.0);
    CHECK_NOTHROW(
        distill_soft(student, train, good, SoftTargetCrossEntropy{.temperature = 4}, opt, o));
}

// G15: a user schedule's factor was used as is: NaN weights, or a negative factor silently
// maximising the loss; an empty one threw std::bad_function_call.
TEST_CASE("sweep: a user schedule's factor is checked", "[sweep][optim]") {
    Matrix<float> p = Matrix<float>::Ones(3, 2);
    const Matrix<float> g = Matrix<float>::Constant(3, 2, 0.5f);
    Sgd nan_lr{.lr = 0.1, .schedule = Schedule{[](int) { return std::nan(""); }}};
    nan_lr.begin_step();
    CHECK_THAT(thrown<ValueError>([&] { nan_lr.update(p, g, 0, 3); }),
               Contains("chrysalis::Schedule: the factor at epoch 3 is nan; expected a finite "
                        "number >= 0"));
    Adam ascent{.schedule = Schedule{[](int) { return -1.0; }}};
    ascent.begin_step();
    CHECK_THAT(thrown<ValueError>([&] { ascent.update(p, g, 0); }),
               Contains("chrysalis::Schedule: the factor at epoch 0 is -1"));
    CHECK(p == Matrix<float>::Ones(3, 2));  // nothing was written
    const Schedule empty{nullptr};
    CHECK_THAT(thrown<ValueError>([&] { (void)empty(0); }),
               Contains("chrysalis::Schedule: factor is empty"));
    // Built-in schedules, and a custom factor above 1, work as before.
    CHECK(schedule::constant()(7) == 1.0);
    CHECK(Schedule{[](int e) { return 1.0 + e; }}(2) == 3.0);
}

// A schedule refused inside update() had already counted the step and run the training-mode
// forward, moving the dropout generator: Adam's bias correction, and every later dropout mask,
// then differed from a run that never made the refused call.
TEST_CASE("sweep: fit refuses a bad schedule before the epoch's first step", "[sweep][optim]") {
    using Net = Sequential<Dense<4, 8>, ReLU, Dropout<20>, Dense<8, 3>>;
    Dataset<float> d;
    d.classes = 3;
    d.features = Matrix<float>::Random(4, 24);
    d.labels.resize(24);
    for (std::size_t j = 0; j < 24; ++j) d.labels[j] = int(j % 3);
    const TrainOptions<float> o{.epochs = 1, .batch_size = 8, .progress = false};
    Net a(Seed{1}), b(Seed{1});
    Adam adam_a{.lr = 1e-2}, adam_b{.lr = 1e-2};
    fit(a, d, CrossEntropy{}, adam_a, o);
    fit(b, d, CrossEntropy{}, adam_b, o);
    adam_b.schedule = Schedule{[](int) { return std::nan(""); }};
    CHECK_THAT(thrown<ValueError>([&] { fit(b, d, CrossEntropy{}, adam_b, o); }),
               Contains("chrysalis::Schedule: the factor at epoch 0 is nan"));
    CHECK(adam_b.steps() == adam_a.steps());
    adam_b.schedule = adam_a.schedule;
    fit(a, d, CrossEntropy{}, adam_a, o);
    fit(b, d, CrossEntropy{}, adam_b, o);
    CHECK(adam_b.steps() == adam_a.steps());
    CHECK(a.layer<0>().weights() == b.layer<0>().weights());
    CHECK(a.layer<3>().weights() == b.layer<3>().weights());
    // Sgd alike: lr times the factor beyond float's range, refused with the network unchanged.
    Sgd sgd{.lr = 1.0, .schedule = Schedule{[](int) { return 1e300; }}};
    Net c(Seed{2});
    const Matrix<float> before = c.layer<0>().weights();
    CHECK_THAT(thrown<ValueError>([&] { fit(c, d, CrossEntropy{}, sgd, o); }),
               Contains("chrysalis::Sgd: the learning rate at epoch 0"));
    CHECK(c.layer<0>().weights() == before);
}

// G16: `pt > 0` skipped a NaN probability, so the loss came back finite while the gradient
// column was NaN. Columns 0 (a SIMD lane) and 8 (the scalar tail) both.
TEMPLATE_TEST_CASE("sweep: a NaN probability gives a NaN soft-target loss", "[sweep][losses]",
                   float, double) {
    using S = TestType;
    Matrix<S> zs(3, 9), p(3, 9);
    for (Eigen::Index j = 0; j < 9; ++j) {
        zs.col(j) << S(0.5), S(-1), S(2);
        p.col(j) << S(0.25), S(0.25), S(0.5);
    }
    for (const Eigen::Index col : {Eigen::Index(0), Eigen::Index(8)}) {
        Matrix<S> q = p;
        q(2, col) = std::numeric_limits<S>::quiet_NaN();
        CHECK(std::isnan(double(SoftTargetCrossEntropy{}(zs, q).loss)));
        CHECK(std::isnan(double(Distillation{.alpha = 1}.soft_targets(zs, q).loss)));
        q(2, col) = S(-0.5);  // negative: log of a negative number, NaN too
        CHECK(std::isnan(double(Distillation{.alpha = 1}.soft_targets(zs, q).loss)));
        q(2, col) = S(0.5);  // and in SoftTargetCrossEntropy, whose −p·log p_s would be finite
        q(0, col) = S(0.75);
        q(1, col) = S(-0.25);
        CHECK(std::isnan(double(SoftTargetCrossEntropy{}(zs, q).loss)));
    }
    // Exact zeros still contribute nothing.
    Matrix<S> zero = p;
    zero.row(0).setZero();
    zero.row(2).array() += S(0.25);
    CHECK(std::isfinite(double(Distillation{.alpha = 1}.soft_targets(zs, zero).loss)));
    CHECK(std::isfinite(double(SoftTargetCrossEntropy{}(zs, zero).loss)));
}

// G17: a negative epoch was written as 4294967295, which load_checkpoint refuses as corrupt.
TEST_CASE("sweep: save_checkpoint refuses a negative epoch before writing", "[sweep][checkpoint]") {
    TempDir dir;
    const std::string path = dir.file("run.ckpt");
    SmallNet net(Seed{1});
    Sgd sgd;
    CHECK_THAT(thrown<ValueError>([&] { save_checkpoint(net, sgd, Checkpoint{-1}, path); }),
               Contains("chrysalis::save_checkpoint: info.epoch must be >= 0 (the epochs "
                        "completed), got -1"));
    CHECK(dir.entries().empty());
    save_checkpoint(net, sgd, Checkpoint{0}, path);
    CHECK(load_checkpoint(net, sgd, path).epoch == 0);
}

// The all-zero generator state: xoshiro256** draws 0 from it forever, so a run resumed from it
// would shuffle every epoch alike. Checkpoint's default is a real state; save refuses the zero
// one before writing, and load refuses a file that holds it (crafted, with its checksum fixed).
TEST_CASE("sweep: checkpoints refuse the all-zero generator state", "[sweep][checkpoint]") {
    TempDir dir;
    const std::string path = dir.file("run.ckpt");
    SmallNet net(Seed{1});
    Sgd sgd;
    CHECK(Checkpoint{}.rng.words[0] == Rng().state().words[0]);
    CHECK_THAT(thrown<ValueError>([&] {
                   save_checkpoint(net, sgd, Checkpoint{1, Rng::State{}}, path);
               }),
               Contains("chrysalis::save_checkpoint: info.rng is the all-zero generator state"));
    CHECK(dir.entries().empty());

    const Rng::State state = Rng(Seed{5}).state();
    save_checkpoint(net, sgd, Checkpoint{1, state}, path);
    std::string words;
    for (const std::uint64_t w : state.words) detail::put_le(words, w);
    std::string bytes = read_bytes(path);
    const std::size_t at = bytes.find(words);
    REQUIRE(at != std::string::npos);
    bytes.replace(at, words.size(), std::string(words.size(), '\0'));
    bytes.resize(bytes.size() - 4);
    detail::put_le(bytes, detail::crc32(bytes));
    write_bytes(path, bytes);
    CHECK_THAT(thrown<FormatError>([&] { (void)load_checkpoint(net, sgd, path); }),
               Contains("is corrupt: its generator state is all zero"));
}

// G18: the image file was committed, then replaced by the label file.
TEST_CASE("sweep: save_idx refuses one file for images and labels", "[sweep][data]") {
    TempDir dir;
    Dataset<float> d;
    d.classes = 2;
    d.features = Matrix<float>::Zero(4, 3);
    d.labels = {0, 1, 0};
    const std::string path = dir.file("both.idx");
    CHECK_THAT(thrown<ValueError>([&] { save_idx(d, 2, 2, path, path); }),
               Contains("chrysalis::save_idx: images_path '" + path + "' and labels_path '" + path +
                        "' are one file; expected two files"));
    CHECK(dir.entries().empty());
    // Two names for one file: a symbolic link to it.
    save_idx(d, 2, 2, dir.file("i.idx"), dir.file("l.idx"));
    std::filesystem::create_symlink(dir.file("i.idx"), dir.file("link.idx"));
    CHECK_THAT(
        thrown<ValueError>([&] { save_idx(d, 2, 2, dir.file("i.idx"), dir.file("link.idx")); }),
        Contains("are one file"));
    CHECK(load_idx<float>(dir.file("i.idx"), dir.file("l.idx")).labels == d.labels);
}

// G19: the 16-bit mask's keep threshold rounds to 0 above 1 − 2^-17: everything dropped.
TEST_CASE("sweep: a Dropout rate that keeps nothing is refused", "[sweep][layers]") {
    CHECK_THAT(thrown<ValueError>([] { (void)Dropout<50>(0.999999); }),
               Contains("chrysalis::Dropout: rate must be at most 0.99999237060546875") &&
                   Contains("got 0.99999899999999997"));
    Dropout<50> d;
    const double at_most = 1.0 - 1.0 / 131072.0;
    d.set_rate(at_most);  // the highest rate accepted keeps values with probability 2^-16
    const std::vector<double> bad{0.9999999};
    CHECK_THROWS_AS(d.set_hyperparameters(bad), ValueError);
    CHECK(d.rate() == at_most);
}

// G21: the teacher's output view is the student's buffer: KL(student ‖ student) = 0, nothing
// learnt from "the teacher".
TEST_CASE("sweep: distilling from the student object itself is refused", "[sweep][distill]") {
    const Dataset<float> train = small_set();
    SmallNet net(Seed{1});
    Sgd opt{.lr = 0.1};
    const TrainOptions<float> o{.epochs = 1, .progress = false};
    CHECK_THAT(thrown<ValueError>(
                   [&] { (void)distill(net, train, net, Distillation{.alpha = 1}, opt, o); }),
               Contains("chrysalis::distill: the teacher is the student itself"));
    CHECK_THAT(thrown<ValueError>([&] {
                   (void)distill_with_boundary_samples(net, train, net, Distillation{.alpha = 1},
                                                       opt, o, BssOptions{});
               }),
               Contains("chrysalis::distill_with_boundary_samples: the teacher is the student "
                        "itself"));
    SmallNet copy = net;
    CHECK_NOTHROW(distill(net, train, copy, Distillation{.alpha = 1}, opt, o));
}

// G24: a gradient of the wrong shape was refused by Sequential::backward, naming it.
TEST_CASE("sweep: gradcheck_network names itself for a loss gradient of the wrong shape",
          "[sweep][gradcheck]") {
    Sequential<Dense<4, 3, double>> net(Seed{1});
    const Matrix<double> x = Matrix<double>::Constant(4, 2, 0.5);
    CHECK_THAT(thrown<ShapeError>([&] {
                   (void)gradcheck_network(net, x, [](const Matrix<double>&) {
                       return std::pair<double, Matrix<double>>{0.0, Matrix<double>(1, 1)};
                   });
               }),
               Contains("chrysalis::gradcheck_network: the loss's gradient is 1x1 but the logits "
                        "are 3x2"));
}

// G12: the updates run over p.data() and g.data() as flat arrays: a row-major p paired with a
// column-major g matched the wrong elements, and a corner of a larger matrix was updated
// outside itself.
TEST_CASE("sweep: optimizer updates refuse strided or mixed-order blocks", "[sweep][optim]") {
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> w(3, 2);
    w.setOnes();
    const Matrix<float> dw = Matrix<float>::Constant(3, 2, 0.5f);
    Sgd sgd{.lr = 0.1};
    sgd.begin_step();
    CHECK_THAT(thrown<ShapeError>([&] { sgd.update(w, dw, 0); }),
               Contains("chrysalis::Sgd::update: block 0: p and g must each be stored "
                        "contiguously, in the same order") &&
                   Contains("(row-major)"));
    Matrix<float> big = Matrix<float>::Ones(4, 3), gbig = Matrix<float>::Constant(4, 3, 0.5f);
    auto top = big.topRows(2);
    auto gtop = gbig.topRows(2);
    Adam adam;
    adam.begin_step();
    CHECK_THAT(thrown<ShapeError>([&] { adam.update(top, gtop, 1); }),
               Contains("chrysalis::Adam::update: block 1: p and g must each be stored "
                        "contiguously"));
    CHECK(big == Matrix<float>::Ones(4, 3));  // rows 2–3 untouched
    // Both row-major, a column, a Map of a Matrix: contiguous, one order — accepted.
    const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> dwr = dw;
    sgd.update(w, dwr, 0);
    CHECK(
        w.isApprox(Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>::Constant(
            3, 2, 0.95f)));
    auto column = big.col(0);
    sgd.update(column, gbig.col(0), 2);
    CHECK(big.col(0).isApprox(Vector<float>::Constant(4, 0.95f)));
    CHECK(big.col(1) == Vector<float>::Ones(4));
}

// G14: a step_size or epsilon finite as a double but not as a float made the step ∞ in a float
// network: the samples came back ±∞ or NaN, silently, with reached = false.
TEST_CASE("sweep: boundary samples stay finite for steps beyond float's range",
          "[sweep][boundary]") {
    SmallNet teacher(Seed{3});
    const Dataset<float> d = small_set();
    const std::vector<int> base = argmax_labels(teacher, d.features);
    for (const BssOptions& o : {BssOptions{.epsilon = 1e300}, BssOptions{.step_size = 1e300}}) {
        const auto s = boundary_samples(teacher, d.features, base, o);
        REQUIRE(s.size() == d.size());
        CHECK(s.samples.allFinite());
        for (std::size_t j = 0; j < base.size(); ++j) CHECK(std::isfinite(s.gaps[j]));
    }
    // Ordinary options are unaffected: the samples move, and most reach the boundary.
    const auto s = boundary_samples(teacher, d.features, base, BssOptions{.max_steps = 50});
    CHECK(s.samples.allFinite());
    CHECK(s.samples != d.features);
}

// G20: LogitMatching formed z_s − z_t in float: 3e38 − (−3e38) = ∞, so the gradient entry
// (6e38)/4 = 1.5e38, representable, came back ∞.
TEST_CASE("sweep: LogitMatching's gradient is finite where the exact one is representable",
          "[sweep][losses]") {
    constexpr float big = 3e38f, max = std::numeric_limits<float>::max();
    Matrix<float> zs(3, 4), zt(3, 4);
    for (Eigen::Index b = 0; b < 4; ++b)
        for (Eigen::Index i = 0; i < 3; ++i) {
            zs(i, b) = 0.25f * float((i + b) % 4) - 0.5f;
            zt(i, b) = 0.75f * float((i * 3 + b) % 4);
        }
    zs(0, 0) = big;
    zt(0, 0) = -big;
    zs(2, 3) = -max;  // the widest difference: 2·FLT_MAX, whose quarter is within range
    zt(2, 3) = max;
    // Tolerance: the reference (z_s − z_t)/4 is exact in long double, and the library forms the
    // same value exactly in double (the two floats of each pair have exponents within 29 of
    // each other, so their difference fits 53 bits; dividing by 4 is exact), then rounds it to
    // float once, to nearest: half an ulp, at most 2^-24 of the value (all are normal floats).
    const auto check = [&](const Matrix<float>& g) {
        REQUIRE(g.allFinite());
        for (Eigen::Index b = 0; b < 4; ++b)
            for (Eigen::Index i = 0; i < 3; ++i) {
                INFO("entry (" << i << ", " << b << ")");
                const long double exact = ((long double)zs(i, b) - (long double)zt(i, b)) / 4;
                CHECK(std::abs((long double)g(i, b) - exact) <= 0x1p-24L * std::abs(exact));
            }
    };
    const auto r = LogitMatching{}(zs, zt);
    check(r.gradient);
    CHECK(r.gradient(0, 0) == big / 2);  // 1.5e38, exactly
    Matrix<float> into(3, 4);
    const float loss = LogitMatching{}(zs, zt, into);
    check(into);
    // The loss, (1/2B)·Σ d² ≈ 1e77, is itself beyond float's range: ∞ is its rounding. In
    // double, from the same logits, it is finite. Tolerance: 12 products and 11 additions of
    // positive terms, each rounded to double (2^-53 relative), then exact scalings by 1/2 and
    // 1/4: within 23·2^-53 of the long double value (whose own rounding is 2^11 times smaller).
    CHECK(std::isinf(r.loss));
    CHECK(std::isinf(loss));
    const Matrix<double> ds = zs.cast<double>(), dt = zt.cast<double>();
    long double sum = 0;
    for (Eigen::Index k = 0; k < ds.size(); ++k)
        sum +=
            ((long double)ds.data()[k] - dt.data()[k]) * ((long double)ds.data()[k] - dt.data()[k]);
    const double dloss = LogitMatching{}(ds, dt).loss;
    CHECK(std::abs((long double)dloss - sum / 8) <= 24 * 0x1p-53L * (sum / 8));
}

// G20: apply_max_norm took each row's norm in float: a row of entries 2e19 has a float squared
// norm of ∞, so c/norm = 0 and the row was zeroed instead of rescaled to max_norm.
TEST_CASE("sweep: max_norm rescales a row whose float norm overflows", "[sweep][optim]") {
    Matrix<float> p(2, 3);
    p << 2e19f, -2e19f, 2e19f,  // squared norm 1.2e39 > FLT_MAX
        1.0f, 0.0f, 0.0f;       // norm 1, within the bound: untouched
    const Matrix<float> before = p;
    const Matrix<float> g = Matrix<float>::Zero(2, 3);  // the update moves nothing
    Sgd sgd{.lr = 0.1, .max_norm = 3.0};
    sgd.begin_step();
    sgd.update(p, g, 0);
    // Tolerance: the factor c/‖row‖ (in double) is rounded to float, then each product is: two
    // roundings to nearest, each at most 2^-24 relative, so each entry — and the norm — is
    // within 2^-23 (plus the double arithmetic's ~2^-52) of its exact value.
    const long double norm = std::sqrt((long double)p.row(0).cast<double>().squaredNorm());
    CHECK(std::abs(norm - 3) <= 3 * 0x1p-23L * 1.001L);
    // Each entry: 2e19·3/(√3·2e19) = √3 exactly, within the same 2^-23.
    CHECK(std::abs(double(p(0, 0)) - std::sqrt(3.0)) <= std::sqrt(3.0) * 0x1p-23 * 1.001);
    CHECK(p(0, 1) == -p(0, 0));
    CHECK(p(0, 2) == p(0, 0));
    CHECK(p.row(1) == before.row(1));
    Adam adam{.lr = 0.1, .max_norm = 3.0};  // the same constraint in the Adam family
    Matrix<float> q = before;
    adam.begin_step();
    adam.update(q, g, 0);
    CHECK(q.row(0) == p.row(0));
}

// G20 (note): evaluate's loss was a float CrossEntropy, whose log-softmax is ∞ for logits more
// than FLT_MAX apart; Evaluation::loss is a double and the exact loss is representable.
TEST_CASE("sweep: evaluate's loss is finite for float logits more than FLT_MAX apart",
          "[sweep][evaluate]") {
    Sequential<Dense<1, 2, float>> net(Seed{1});
    net.layer<0>().weights() << 1.0f, -1.0f;
    net.layer<0>().bias().setZero();
    constexpr float big = 3e38f;
    Dataset<float> d;
    d.classes = 2;
    d.features = Matrix<float>::Constant(1, 2, big);  // logits {3e38, −3e38} for both samples
    d.labels = {0, 1};
    const Evaluation e = evaluate(net, d);
    // Sample 0: log(1 + e^(−6e38)) = 0; sample 1: 6e38 + 0 = 2·big, exact in double. The mean,
    // big, is exact: every operation above is exact in double.
    CHECK(e.loss == double(big));
    CHECK(e.accuracy == 0.5);
}

// The same in double: logits near ±1e308 whose gap (2e308) or whose sum over the samples
// overflows double, while the mean does not.
TEST_CASE("sweep: evaluate's loss is finite for double logits whose gap overflows double",
          "[sweep][evaluate]") {
    Sequential<Dense<1, 2, double>> net(Seed{1});
    net.layer<0>().weights() << 1.0, -1.0;
    net.layer<0>().bias().setZero();
    Dataset<double> d;
    d.classes = 2;
    d.features = Matrix<double>::Constant(1, 2, 1e308);  // logits {1e308, −1e308}
    d.labels = {0, 1};
    // Sample 0 loses log(1 + e^(−2e308)) = 0, sample 1 loses 2e308, beyond double: the mean,
    // 1e308, is representable. From halved gaps it is 1e308·(2/2) + log 1 = 1e308 exactly.
    Evaluation e = evaluate(net, d);
    CHECK(e.loss == 1e308);
    CHECK(e.accuracy == 0.5);
    // Logits {8e307, −8e307}, both samples on the lower class: each loses 1.6e308, whose sum
    // overflows and whose mean is representable. Each quotient 8e307·(2/2) is exact; their sum
    // 1.6e308 is too.
    d.features.setConstant(8e307);
    d.labels = {1, 1};
    e = evaluate(net, d);
    CHECK(e.loss == 1.6e308);
    // Every sample at 2e308: the mean is beyond double, and ∞ says so.
    d.features.setConstant(1e308);
    e = evaluate(net, d);
    CHECK(std::isinf(e.loss));
    CHECK(e.loss > 0);
}

namespace {
/// A loss of one constant value and a zero gradient, so that the network never moves.
struct ConstantLoss {
    double value;
    double operator()(ConstMatrixRef<double>, std::span<const int>, MatrixRef<double> g) const {
        g.setZero();
        return value;
    }
};
/// Records each batch's BatchReport::mean_loss().
struct BatchMeans {
    std::vector<double>* means;
    template <class Ctx>
    void on_batch_end(Ctx&, const BatchReport& b) {
        means->push_back(b.mean_loss());
    }
    template <class Ctx>
    void on_epoch_end(Ctx&, EpochReport&) {}
};
}  // namespace

// fit's epoch loss was Σ batch loss · batch size / samples: a double network's batch losses
// near 1e308, each finite, made that sum +∞ where their mean is representable.
TEST_CASE("sweep: fit's epoch loss is the mean of double batch losses whose sum overflows",
          "[sweep][training]") {
    Sequential<Dense<1, 2, double>> net(Seed{1});
    Dataset<double> d;
    d.classes = 2;
    d.features = Matrix<double>::Zero(1, 4);
    d.labels = {0, 1, 0, 1};
    Sgd sgd{.lr = 0.1};
    std::vector<double> means;
    // Two batches of two: the first already makes Σ loss · batch size 3e308, beyond double. The
    // running mean's shares are 1 and 1/2, so each of its products and its sum is exact.
    const auto history = fit(net, d, ConstantLoss{1.5e308}, sgd,
                             {.epochs = 1, .batch_size = 2, .progress = false}, BatchMeans{&means});
    REQUIRE(history.size() == 1);
    CHECK(history[0].loss == 1.5e308);
    CHECK(means == std::vector<double>{1.5e308, 1.5e308});
    CHECK(BatchReport{}.mean_loss() == 0);  // before the first batch, as its contract says
    // Where the sum fits, the epoch's loss is still that sum over the samples, bit for bit.
    const auto small =
        fit(net, d, ConstantLoss{0.1}, sgd, {.epochs = 1, .batch_size = 3, .progress = false});
    CHECK(small[0].loss == (0.1 * 3 + 0.1 * 1) / 4);
}

// U4: set_threads had no upper bound: set_threads(1'000'000) was accepted, and a large product
// then started up to that many helper threads, kept for the program's life.
TEST_CASE("sweep: a thread count above max_threads is refused", "[sweep][parallel]") {
    const int before = threads();
    CHECK(max_threads == 1024);
    CHECK_THAT(thrown<ValueError>([] { set_threads(1'000'000); }),
               Contains("chrysalis::set_threads: the thread count must be <= 1024 "
                        "(chrysalis::max_threads), got 1000000"));
    CHECK_THAT(thrown<ValueError>([] { set_threads(max_threads + 1); }),
               Contains("must be <= 1024") && Contains("got 1025"));
    CHECK_THAT(thrown<ValueError>([] { ThreadsScope scope(1'000'000); }),
               Contains("chrysalis::ThreadsScope: the thread count must be <= 1024"));
    CHECK_THAT(thrown<ValueError>([] { ThreadsScope scope(-1); }),
               Contains("chrysalis::ThreadsScope: the thread count must be >= 0"));
    SmallNet net(Seed{1});
    const SmallNet untouched = net;
    Sgd sgd{.lr = 0.1};
    CHECK_THAT(thrown<ValueError>([&] {
                   fit(net, small_set(), CrossEntropy{}, sgd,
                       {.epochs = 1, .progress = false, .threads = 1'000'000});
               }),
               Contains("chrysalis::fit: threads must be <= 1024 (chrysalis::max_threads), got "
                        "1000000"));
    CHECK(net.layer<0>().weights() == untouched.layer<0>().weights());
    CHECK(threads() == before);  // the refused calls changed nothing
    {
        ThreadsScope most(max_threads);  // the bound itself is accepted (no product runs here)
        CHECK(threads() == (has_openmp ? max_threads : 1));
    }
    CHECK(threads() == before);
}

// U2: Dense::forward writes the bias into y before the product reads x, so y = x (a
// Dense<N, N>) gave a wrong result silently.
TEST_CASE("sweep: Dense::forward refuses an output that overlaps its input", "[sweep][layers]") {
    Dense<4, 4, float> layer;
    Rng rng(Seed{2});
    layer.initialize(rng);
    layer.bias().setConstant(0.5f);
    Matrix<float> x = Matrix<float>::Constant(4, 3, 0.25f);
    const Matrix<float> before = x;
    CHECK_THAT(thrown<ValueError>([&] { layer.forward(x, x); }),
               Contains("chrysalis::Dense<4, 4>::forward: y overlaps x in memory"));
    CHECK(x == before);  // refused before anything was written
    // Overlapping column blocks of one matrix are refused; disjoint ones are fine.
    Matrix<float> m = Matrix<float>::Constant(4, 6, 0.25f);
    auto first = m.leftCols(3);
    auto shifted = m.middleCols(2, 3);
    CHECK_THAT(thrown<ValueError>([&] { layer.forward(first, shifted); }),
               Contains("chrysalis::Dense<4, 4>::forward: y overlaps x"));
    auto last = m.rightCols(3);
    layer.forward(first, last);
    const Matrix<float> expected = (layer.weights() * before).colwise() + layer.bias();
    CHECK(last.isApprox(expected));
    // A separate output, and an empty batch (no storage), work as before.
    Matrix<float> y(4, 3);
    layer.forward(before, y);
    CHECK(y.isApprox(expected));
    Matrix<float> empty(4, 0);
    CHECK_NOTHROW(layer.forward(empty, empty));
}

// U6: hard_targets of a network on an empty set throws, naming hard_targets (not the
// predict_logits it runs); the logits overload returns an empty set, as errors.md now says.
TEST_CASE("sweep: hard_targets of an empty set: the network overload names itself",
          "[sweep][evaluate]") {
    Dataset<float> empty;
    empty.classes = 3;
    empty.features.resize(4, 0);
    SmallNet net(Seed{1});
    CHECK_THAT(thrown<ShapeError>([&] { (void)hard_targets(net, empty); }),
               Contains("chrysalis::hard_targets: the data is empty"));
    const Dataset<float> none = hard_targets(empty, Matrix<float>(3, 0));
    CHECK(none.size() == 0);
    CHECK(none.labels.empty());
    CHECK(none.classes == 3);
}

// U1: Rng::uniform(lo, hi) requires hi − lo finite (asserted here: this file keeps assertions
// on). pgd's random start drew uniform(−ε, ε), and an ε above DBL_MAX/2 in a double network
// made every draw +∞: every start was the box's upper corner (and this assertion would fire).
TEST_CASE("sweep: pgd's random start with an epsilon near DBL_MAX covers the box",
          "[sweep][attacks]") {
    Sequential<Dense<4, 8, double>, ReLU, Dense<8, 3, double>> net(Seed{3});
    const Matrix<double> x = Matrix<double>::Constant(4, 5, 0.5);
    const std::vector<int> y = argmax_labels(net, x);
    const PgdOptions o{.epsilon = std::numeric_limits<double>::max(),
                       .step_size = 1e-3,
                       .steps = 1,
                       .random_start = true,
                       .seed = Seed{4}};
    const auto r = pgd(net, x, y, o);
    REQUIRE(r.attacked == 5);
    const Matrix<double>& a = r.adversarial;
    CHECK(a.allFinite());
    CHECK(((a.array() >= 0) && (a.array() <= 1)).all());
    // ε·U(−1, 1) puts each feature at one face of the box or the other (the clip), about half
    // each: 20 features all on one side would have probability 2^-19.
    CHECK((a.array() < 0.5).count() > 0);
    CHECK((a.array() > 0.5).count() > 0);
}

}  // namespace CHRYSALIS_TEST_FILE
