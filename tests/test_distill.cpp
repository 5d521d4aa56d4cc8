// End to end: on a seeded synthetic 10-class problem, a small student distilled from a teacher
// beats the same student trained from scratch, and the same student trained on the teacher's
// predictions (hard targets), on the same small transfer set and budget.

#include <catch2/catch.hpp>

#include <chrysalis/chrysalis.hpp>

#include <cmath>
#include <limits>
#include <numbers>
#include <thread>
#include <vector>
#include "test_file_namespace.hpp"

namespace CHRYSALIS_TEST_FILE {

using namespace chrysalis;

namespace {

/// Ten Gaussian clusters in 20 dimensions whose centres lie close enough to overlap: the best
/// possible classifier errs, and the teacher's soft outputs carry how the classes overlap.
Dataset<float> clusters(std::size_t n, Seed seed) {
    Rng centres_rng(Seed{12345});  // the same classes for every call
    Matrix<double> centres(20, 10);
    for (Eigen::Index i = 0; i < centres.size(); ++i)
        centres.data()[i] = centres_rng.uniform(-1, 1);
    Rng rng(seed);
    Dataset<float> d;
    d.classes = 10;
    d.features.resize(20, Eigen::Index(n));
    d.labels.resize(n);
    for (std::size_t j = 0; j < n; ++j) {
        const int y = int(rng.below(10));
        d.labels[j] = y;
        for (Eigen::Index i = 0; i < 20; ++i) {
            const double r = std::sqrt(-2 * std::log(1 - rng.uniform()));
            const double noise = r * std::cos(2 * std::numbers::pi * rng.uniform());
            d.features(i, Eigen::Index(j)) = float(centres(i, y) + 0.9 * noise);
        }
    }
    return d;
}

using Teacher = Sequential<Dense<20, 256>, ReLU, Dense<256, 256>, ReLU, Dense<256, 10>>;
using Student = Sequential<Dense<20, 64>, ReLU, Dense<64, 10>>;

}  // namespace

TEST_CASE("a distilled student beats the same student trained from scratch", "[distill]") {
    const Dataset<float> train = clusters(20000, Seed{1});
    const Dataset<float> transfer = clusters(300, Seed{2});  // the student's small data set
    const Dataset<float> test = clusters(5000, Seed{3});

    Teacher teacher(Seed{10});
    Adam teacher_opt{.lr = 1e-3};
    fit(teacher, train, CrossEntropy{}, teacher_opt,
        {.epochs = 8, .batch_size = 128, .progress = false});
    const double teacher_acc = accuracy(teacher, test);
    const Matrix<float> soft = predict_logits(teacher, transfer);

    const Dataset<float> hard = hard_targets(transfer, soft);
    double scratch_sum = 0, distilled_sum = 0, hard_sum = 0;
    for (std::uint64_t seed : {21, 22, 23}) {
        const TrainOptions<float> o{
            .epochs = 60, .batch_size = 32, .seed = Seed{seed}, .progress = false};
        Student scratch(Seed{seed});
        Adam a{.lr = 1e-3};
        fit(scratch, transfer, CrossEntropy{}, a, o);
        Student distilled(Seed{seed});
        Adam b{.lr = 1e-3};
        distill(distilled, transfer, soft, Distillation{.temperature = 4.0, .alpha = 0.9}, b, o);
        Student on_hard(Seed{seed});
        Adam c{.lr = 1e-3};
        fit(on_hard, hard, CrossEntropy{}, c, o);
        scratch_sum += accuracy(scratch, test);
        distilled_sum += accuracy(distilled, test);
        hard_sum += accuracy(on_hard, test);
    }
    INFO("teacher " << teacher_acc << ", scratch " << scratch_sum / 3 << ", hard targets "
                    << hard_sum / 3 << ", distilled " << distilled_sum / 3
                    << " (test accuracy, mean of 3 student seeds)");
    CHECK(teacher_acc > scratch_sum / 3);
    CHECK(distilled_sum / 3 > scratch_sum / 3 + 0.01);
    // Hinton et al.'s claim: soft targets carry more than the teacher's predictions as labels.
    // Measured 83.5% against 80.2%; the margin asked, 1 point, is above the test set's sampling
    // noise (5,000 samples at 80%: sd 0.57 points per accuracy) and well below the gap.
    CHECK(distilled_sum / 3 > hard_sum / 3 + 0.01);
}

TEST_CASE("fit stops with the epoch and batch when the loss diverges", "[distill]") {
    const Dataset<float> d = clusters(64, Seed{4});
    Student net(Seed{1});
    // The first batch starts from finite weights, so its loss is finite; its update, with a
    // gradient of order 0.1, makes weights of order 1e29, and the second batch's logits
    // (products of two such layers) overflow float: the loss of batch 2 is not finite.
    Sgd sgd{.lr = 1e30};
    const TrainOptions<float> o{.epochs = 2, .batch_size = 16, .shuffle = false, .progress = false};
    CHECK_THROWS_AS(fit(net, d, CrossEntropy{}, sgd, o), TrainingDiverged);
    Student again(Seed{1});
    Sgd sgd2{.lr = 1e30};
    try {
        fit(again, d, CrossEntropy{}, sgd2, o);
        FAIL("fit did not throw");
    } catch (const TrainingDiverged& e) {
        CHECK(e.epoch == 0);
        CHECK(e.batch == 1);
        CHECK_THAT(e.what(),
                   Catch::Matchers::Contains(
                       "chrysalis::fit: training diverged at epoch 1, batch 2: the loss"));
    }
}

TEST_CASE("fit refuses an infinite feature before training, naming the sample", "[distill]") {
    Dataset<float> d = clusters(64, Seed{4});
    d.features(0, 40) = std::numeric_limits<float>::infinity();
    Student net(Seed{1});
    Sgd sgd{.lr = 0.1};
    CHECK_THROWS_AS(fit(net, d, CrossEntropy{}, sgd, {.progress = false}), ValueError);
    CHECK_THROWS_WITH(fit(net, d, CrossEntropy{}, sgd, {.progress = false}),
                      Catch::Matchers::Contains("feature 0 of sample 40 of the data is inf"));
}

TEST_CASE("training options and data shapes are checked", "[distill]") {
    const Dataset<float> d = clusters(50, Seed{5});
    Student net;
    Sgd sgd{.lr = 0.1};
    CHECK_THROWS_WITH(fit(net, d, CrossEntropy{}, sgd, {.epochs = 0}),
                      "chrysalis::fit: epochs must be >= 1, got 0");
    CHECK_THROWS_WITH(fit(net, d, CrossEntropy{}, sgd, {.batch_size = 0}),
                      "chrysalis::fit: batch_size must be >= 1, got 0");
    Sequential<Dense<21, 8>, ReLU, Dense<8, 10>> wide;
    CHECK_THROWS_WITH(fit(wide, d, CrossEntropy{}, sgd, {.progress = false}),
                      "chrysalis::fit: the data has 20 features per sample but the network's "
                      "input width is 21");
    const Matrix<float> wrong = Matrix<float>::Zero(10, 49);
    CHECK_THROWS_WITH(distill(net, d, wrong, Distillation{}, sgd, {.progress = false}),
                      "chrysalis::distill: the teacher logits are 10x49 but the student has 10 "
                      "outputs and the data 50 samples; expected classes x samples = 10x50");
}

TEST_CASE("an ensemble's soft targets are the weighted mean of its probabilities", "[distill]") {
    Matrix<float> a(3, 2), b(3, 2);
    a << 1, 0, 2, 0, 3, 0;
    b << 0, 5, 0, 0, 0, 0;
    const std::vector<Matrix<float>> teachers{a, b};
    const std::vector<double> weights{3, 1};
    const Matrix<float> p = ensemble_probabilities<float>(teachers, weights, 2.0);
    const Matrix<float> expected = 0.75f * softmax(a, 2.0) + 0.25f * softmax(b, 2.0);
    CHECK(p.isApprox(expected, 1e-6f));
    CHECK((p.colwise().sum().array() - 1).abs().maxCoeff() < 1e-6f);
    CHECK_THROWS_AS(ensemble_probabilities<float>(teachers, std::vector<double>{1}, 2.0),
                    ShapeError);
    CHECK_THROWS_AS(ensemble_probabilities<float>(teachers, std::vector<double>{-1, 2}, 2.0),
                    ValueError);
}

TEST_CASE("confusion matrix and evaluate agree with accuracy", "[distill]") {
    const Dataset<float> d = clusters(500, Seed{6});
    Student net(Seed{2});
    Adam opt{.lr = 3e-3};
    fit(net, d, CrossEntropy{}, opt, {.epochs = 5, .batch_size = 50, .progress = false});
    const Eigen::MatrixXi cm = confusion_matrix(net, d);
    CHECK(cm.sum() == 500);
    const Evaluation e = evaluate(net, d);
    CHECK(double(cm.trace()) / 500 == Approx(e.accuracy));
    CHECK(e.accuracy == Approx(accuracy(net, d)));
    CHECK(e.loss > 0);
}

TEST_CASE("hard_targets relabels a data set with the teacher's predictions", "[distill]") {
    const Dataset<float> d = clusters(400, Seed{7});
    Student teacher(Seed{3});
    Adam opt{.lr = 3e-3};
    fit(teacher, d, CrossEntropy{}, opt, {.epochs = 2, .batch_size = 50, .progress = false});
    const Matrix<float> z = predict_logits(teacher, d);
    const Dataset<float> hard = hard_targets(d, z);
    REQUIRE(hard.labels.size() == 400);
    CHECK(hard.classes == 10);
    CHECK(hard.features == d.features);
    long changed = 0;
    for (Eigen::Index j = 0; j < z.cols(); ++j) {
        Eigen::Index arg = 0;
        z.col(j).maxCoeff(&arg);
        CHECK(hard.labels[std::size_t(j)] == int(arg));
        changed += hard.labels[std::size_t(j)] != d.labels[std::size_t(j)];
    }
    // A teacher trained for two epochs errs on some of its own training set: the labels are its
    // predictions, not a copy of the originals.
    CHECK(changed > 0);
    // The network form runs predict_logits itself; a const teacher is fine, labels are not needed.
    const Student& frozen = teacher;
    Dataset<float> unlabelled = d;
    unlabelled.labels.clear();
    CHECK(hard_targets(frozen, unlabelled).labels == hard.labels);
    // Wrong shapes and NaN logits are refused, naming the function.
    CHECK_THROWS_AS(hard_targets(d, Matrix<float>(10, 399)), ShapeError);
    CHECK_THROWS_WITH(hard_targets(d, Matrix<float>(10, 399)),
                      Catch::Contains("chrysalis::hard_targets") && Catch::Contains("399"));
    Matrix<float> bad = z;
    bad(4, 17) = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_AS(hard_targets(d, bad), ValueError);
    CHECK_THROWS_WITH(hard_targets(d, bad),
                      Catch::Contains("chrysalis::hard_targets") && Catch::Contains("sample 17"));
}

TEST_CASE("distilling from a teacher network and from soft targets both learn", "[distill]") {
    const Dataset<float> d = clusters(600, Seed{7});
    Teacher teacher(Seed{3});
    Adam t_opt{.lr = 1e-3};
    fit(teacher, d, CrossEntropy{}, t_opt, {.epochs = 5, .batch_size = 64, .progress = false});
    const Distillation kd{.temperature = 3.0, .alpha = 0.8};
    SECTION("the teacher runs on every (jittered) batch") {
        Student s(Seed{4});
        Adam opt{.lr = 2e-3};
        const auto h = distill(s, d, teacher, kd, opt,
                               {.epochs = 6,
                                .batch_size = 64,
                                .progress = false,
                                .jitter = 1,
                                .image_width = 5,
                                .image_height = 4});
        REQUIRE(h.size() == 6);
        CHECK(h.back().loss < h.front().loss);
        // Cached logits with jitter would pair logits with the wrong inputs: refused.
        CHECK_THROWS_WITH(distill(s, d, predict_logits(teacher, d), kd, opt, {.jitter = 1}),
                          Catch::Matchers::Contains("pass the teacher network itself"));
    }
    SECTION("soft targets of a two-teacher ensemble") {
        Teacher second(Seed{5});
        Adam opt2{.lr = 1e-3};
        fit(second, d, CrossEntropy{}, opt2, {.epochs = 3, .batch_size = 64, .progress = false});
        const std::vector<Matrix<float>> logits{predict_logits(teacher, d),
                                                predict_logits(second, d)};
        const Matrix<float> p = ensemble_probabilities<float>(logits, {}, 3.0);
        Student s(Seed{6});
        Adam opt{.lr = 2e-3};
        std::vector<int> epochs_seen;
        const auto h = distill_soft(
            s, d, p, kd, opt,
            {.epochs = 6,
             .batch_size = 64,
             .progress = false,
             .on_epoch = [&](const EpochReport& r) { epochs_seen.push_back(r.epoch); }});
        CHECK(h.back().loss < h.front().loss);
        CHECK(epochs_seen == std::vector<int>{0, 1, 2, 3, 4, 5});
        CHECK(accuracy(s, d) > 0.5);
    }
}

TEST_CASE(
    "in double, the three ways to distil reach the same student, and evaluate's loss is the "
    "cross-entropy of its logits",
    "[distill]") {
    // Cached logits, the live teacher and distill_soft on the teacher's probabilities at T feed
    // the same Distillation the same batches: only the rounding of the teacher's logits (a batch
    // at a time or the whole set) and of its softmax can differ, about 1e-16 of each value, so
    // after three epochs of Adam the weights agree to far better than 1e-10. A path that dropped
    // the temperature, or paired logits with other samples, would differ by 1e-3 or more.
    const Dataset<float> f = clusters(300, Seed{8});
    const Dataset<double> d{f.features.cast<double>(), f.labels, f.classes};
    using DTeacher = Sequential<Dense<20, 64, double>, ReLU, Dense<64, 10, double>>;
    using DStudent = Sequential<Dense<20, 16, double>, Tanh, Dense<16, 10, double>>;
    DTeacher teacher(Seed{3});
    Adam t_opt{.lr = 3e-3};
    fit(teacher, d, CrossEntropy{}, t_opt, {.epochs = 3, .batch_size = 50, .progress = false});
    const Distillation kd{.temperature = 3.0, .alpha = 0.7};
    const TrainOptions<double> o{.epochs = 3, .batch_size = 32, .seed = Seed{5}, .progress = false};
    const Matrix<double> z = predict_logits(teacher, d);
    DStudent cached(Seed{4}), live(Seed{4}), soft(Seed{4});
    Adam a1{.lr = 1e-2}, a2{.lr = 1e-2}, a3{.lr = 1e-2};
    const auto h1 = distill(cached, d, z, kd, a1, o);
    const auto h2 = distill(live, d, teacher, kd, a2, o);
    const auto h3 = distill_soft(soft, d, softmax(z, 3.0), kd, a3, o);
    const auto max_gap = [](DStudent& a, DStudent& b) {
        std::vector<Matrix<double>> pa;
        a.visit_parameters([&](auto& p, auto&) { pa.emplace_back(p); });
        double gap = 0;
        std::size_t k = 0;
        b.visit_parameters(
            [&](auto& p, auto&) { gap = std::max(gap, (pa[k++] - p).cwiseAbs().maxCoeff()); });
        return gap;
    };
    CHECK(max_gap(cached, live) <= 1e-10);
    CHECK(max_gap(cached, soft) <= 1e-10);
    CHECK(std::abs(h1.back().loss - h2.back().loss) <= 1e-10);
    CHECK(std::abs(h1.back().loss - h3.back().loss) <= 1e-10);
    CHECK(h1.back().loss < h1.front().loss);
    DStudent other(Seed{9});  // the control: another start ends elsewhere
    Adam a4{.lr = 1e-2};
    distill(other, d, z, kd, a4, o);
    CHECK(max_gap(cached, other) > 1e-3);

    // evaluate: accuracy and mean cross-entropy of the logits, summed in long double here.
    const Evaluation e = evaluate(cached, d);
    const Matrix<double> zs = predict_logits(cached, d);
    long double sum = 0;
    Eigen::Index correct = 0;
    for (Eigen::Index j = 0; j < zs.cols(); ++j) {
        const long double m = zs.col(j).maxCoeff();
        long double total = 0;
        for (Eigen::Index i = 0; i < zs.rows(); ++i) total += std::exp(zs(i, j) - m);
        sum += m + std::log(total) - zs(d.labels[std::size_t(j)], j);
        Eigen::Index arg = 0;
        zs.col(j).maxCoeff(&arg);
        correct += arg == d.labels[std::size_t(j)];
    }
    CHECK(std::abs(e.accuracy - double(correct) / 300.0) <= 1e-15);
    CHECK(std::abs(e.loss - double(sum / 300)) <= 1e-13 * (1 + e.loss));
    const Eigen::MatrixXi cm = confusion_matrix(cached, d);
    CHECK(cm.sum() == 300);
    CHECK(cm.trace() == correct);
    const Dataset<double> hard = hard_targets(cached, d);
    for (std::size_t j = 0; j < hard.labels.size(); ++j) {
        Eigen::Index arg = 0;
        zs.col(Eigen::Index(j)).maxCoeff(&arg);
        CHECK(hard.labels[j] == int(arg));
    }
}

TEST_CASE("a const live teacher runs as a private copy, so two threads may share it",
          "[distill][parallel]") {
    // A teacher's forward writes the activations it keeps: two threads distilling from one
    // non-const teacher at once read each other's targets. Passed const, each call runs its own
    // copy, and each student ends as it does when trained alone.
    const Dataset<float> d = clusters(256, Seed{8});
    const Teacher teacher(Seed{9});
    const Distillation kd{.temperature = 3.0, .alpha = 0.8};
    const TrainOptions<float> o{.epochs = 2, .batch_size = 32, .progress = false, .threads = 1};
    const auto student_weights = [&](Seed seed) {
        Student s(seed);
        Sgd opt{.lr = 0.05};
        distill(s, d, teacher, kd, opt, o);
        std::vector<Matrix<float>> w;
        s.visit_parameters([&](auto& p, auto&) { w.emplace_back(p); });
        return w;
    };
    const auto alone = student_weights(Seed{10});
    std::vector<Matrix<float>> first, second;
    std::thread a([&] { first = student_weights(Seed{10}); });
    std::thread b([&] { second = student_weights(Seed{10}); });
    a.join();
    b.join();
    CHECK(first == alone);
    CHECK(second == alone);
}

}  // namespace CHRYSALIS_TEST_FILE
