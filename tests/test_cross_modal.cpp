// Cross-modal distillation (chrysalis/cross_modal.hpp) and the views that make a second modality
// (chrysalis/views.hpp): what the views compute, the pairing errors, and a student on one view
// that learns from a teacher on the whole input through unlabelled pairs.

#include <catch2/catch.hpp>

#include <chrysalis/chrysalis.hpp>
#include <chrysalis/cross_modal.hpp>
#include <chrysalis/views.hpp>

#include <cmath>
#include <limits>
#include <numbers>
#include <string>
#include "test_file_namespace.hpp"

namespace CHRYSALIS_TEST_FILE {

using namespace chrysalis;

namespace {

/// Ten Gaussian classes of 4 × 4 "images" (16 features): each class a fixed centre, each sample
/// the centre plus N(0, 0.7²) noise per pixel. The lower two rows alone (crop_rows) still tell
/// the classes apart, less well than the whole image.
template <class S = float>
Dataset<S> images(std::size_t n, Seed seed) {
    Rng centres_rng(Seed{4242});  // the same classes for every call
    Matrix<double> centres(16, 10);
    for (Eigen::Index i = 0; i < centres.size(); ++i)
        centres.data()[i] = centres_rng.uniform(-1, 1);
    Rng rng(seed);
    Dataset<S> d;
    d.classes = 10;
    d.features.resize(16, Eigen::Index(n));
    d.labels.resize(n);
    for (std::size_t j = 0; j < n; ++j) {
        const int y = int(rng.below(10));
        d.labels[j] = y;
        for (Eigen::Index i = 0; i < 16; ++i) {
            const double r = std::sqrt(-2 * std::log(1 - rng.uniform()));
            const double noise = r * std::cos(2 * std::numbers::pi * rng.uniform());
            d.features(i, Eigen::Index(j)) = S(centres(i, y) + 0.7 * noise);
        }
    }
    return d;
}

template <class S>
using Teacher = Sequential<Dense<16, 128, S>, ReLU, Dense<128, 10, S>>;
template <class S>
using Student = Sequential<Dense<8, 32, S>, ReLU, Dense<32, 10, S>>;

/// The message of the chrysalis::Error that f throws (fails the test if it throws none or
/// another type E).
template <class E, class F>
std::string message_of(F&& f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    }
    FAIL("no exception of the expected type was thrown");
    return {};
}

}  // namespace

TEMPLATE_TEST_CASE("downsample averages each factor x factor block", "[views]", float, double) {
    // One 4 × 4 image with pixel (x, y) = 4y + x, and a second one with its negative.
    Dataset<TestType> d;
    d.classes = 3;
    d.labels = {2, 0};
    d.features.resize(16, 2);
    for (int i = 0; i < 16; ++i) {
        d.features(i, 0) = TestType(i);
        d.features(i, 1) = TestType(-i);
    }
    const auto v = downsample(d, 4, 4, 2);
    REQUIRE(v.feature_count() == 4);
    REQUIRE(v.size() == 2);
    CHECK(v.labels == d.labels);
    CHECK(v.classes == 3);
    // Block (0,0): pixels 0, 1, 4, 5 → 2.5; (1,0): 2, 3, 6, 7 → 4.5; (0,1): 8, 9, 12, 13 → 10.5;
    // (1,1): 10, 11, 14, 15 → 12.5.
    const double expected[4] = {2.5, 4.5, 10.5, 12.5};
    for (int k = 0; k < 4; ++k) {
        CHECK(double(v.features(k, 0)) == expected[k]);
        CHECK(double(v.features(k, 1)) == -expected[k]);
    }
    // A non-square image, 6 wide and 2 high, by 2: three blocks in one row.
    Dataset<TestType> wide;
    wide.features.resize(12, 1);
    for (int i = 0; i < 12; ++i) wide.features(i, 0) = TestType(i);
    const auto w = downsample(wide, 6, 2, 2);
    REQUIRE(w.feature_count() == 3);
    CHECK(double(w.features(0, 0)) == (0 + 1 + 6 + 7) / 4.0);
    CHECK(double(w.features(2, 0)) == (4 + 5 + 10 + 11) / 4.0);
    CHECK(downsample(d, 4, 4, 1).features == d.features);
}

TEMPLATE_TEST_CASE("crop_rows keeps the chosen rows of each image", "[views]", float, double) {
    Dataset<TestType> d;
    d.classes = 2;
    d.labels = {1};
    d.features.resize(12, 1);  // 3 wide, 4 high: pixel (x, y) = 10y + x
    for (int y = 0; y < 4; ++y)
        for (int x = 0; x < 3; ++x) d.features(y * 3 + x, 0) = TestType(10 * y + x);
    const auto v = crop_rows(d, 3, 4, 2, 2);  // the lower half: rows 2 and 3
    REQUIRE(v.feature_count() == 6);
    CHECK(v.labels == d.labels);
    for (int y = 0; y < 2; ++y)
        for (int x = 0; x < 3; ++x) CHECK(double(v.features(y * 3 + x, 0)) == 10 * (y + 2) + x);
}

TEMPLATE_TEST_CASE("a random projection is fixed by its seed and its noise has the stated sd",
                   "[views]", float, double) {
    const Dataset<TestType> d = images<TestType>(50, Seed{5});
    const RandomProjection<TestType> p(16, 6, 0.0, Seed{3}), same(16, 6, 0.0, Seed{3}),
        other(16, 6, 0.0, Seed{4});
    CHECK(p.matrix() == same.matrix());
    CHECK(p.matrix() != other.matrix());
    const auto v = p(d, Seed{1});
    REQUIRE(v.feature_count() == 6);
    CHECK(v.labels == d.labels);
    // Without noise the view is P·x, computed here column by column in double.
    const Matrix<double> expected =
        p.matrix().template cast<double>() * d.features.template cast<double>();
    CHECK((v.features.template cast<double>() - expected).cwiseAbs().maxCoeff() < 1e-4);
    CHECK(random_projection(d, 6, 0.1, Seed{3}).features ==
          random_projection(d, 6, 0.1, Seed{3}).features);
    CHECK(random_projection(d, 6, 0.1, Seed{3}).features !=
          random_projection(d, 6, 0.1, Seed{9}).features);

    // Entries N(0, 1/k): over 400 × 2000 = 800,000 entries the sample variance of k·P_ij has a
    // standard error of √(2/800,000) ≈ 0.0016; 0.01 is six of them.
    const RandomProjection<TestType> big(2000, 400, 0.0, Seed{8});
    const double var_p = big.matrix().template cast<double>().squaredNorm() / 800000.0 * 400.0;
    CHECK(std::abs(var_p - 1.0) < 0.01);

    // The noise alone: projecting zeros leaves ε. Its sample sd over n = 64 × 2,000 = 128,000
    // deviates has a relative standard error of 1/√(2n) ≈ 0.2%; 1% is five of them. Its mean
    // (standard error 0.25/√n ≈ 0.0007) is within 0.005 of 0.
    Dataset<TestType> zeros;
    zeros.features = Matrix<TestType>::Zero(16, 2000);
    const RandomProjection<TestType> noisy(16, 64, 0.25, Seed{3});
    const Matrix<double> eps = noisy(zeros, Seed{11}).features.template cast<double>();
    const double n = double(eps.size());
    const double mean = eps.sum() / n;
    const double sd = std::sqrt((eps.array() - mean).square().sum() / (n - 1));
    CHECK(std::abs(mean) < 0.005);
    CHECK(std::abs(sd / 0.25 - 1) < 0.01);
    CHECK(noisy(zeros, Seed{11}).features == noisy(zeros, Seed{11}).features);
    CHECK(noisy(zeros, Seed{11}).features != noisy(zeros, Seed{12}).features);
}

TEST_CASE("the views refuse bad arguments, naming the function and the parameter", "[views]") {
    const Dataset<float> d = images(3, Seed{1});  // 16 features: a 4 × 4 image
    const auto msg = [](auto f) { return message_of<ValueError>(f); };
    CHECK_THAT(msg([&] { (void)downsample(d, 4, 4, 3); }),
               Catch::Contains("chrysalis::downsample") && Catch::Contains("factor 3"));
    CHECK_THAT(msg([&] { (void)downsample(d, 4, 4, 0); }), Catch::Contains("factor must be"));
    CHECK_THAT(message_of<ShapeError>([&] { (void)downsample(d, 5, 5, 1); }),
               Catch::Contains("chrysalis::downsample") && Catch::Contains("16 features"));
    CHECK_THAT(msg([&] { (void)crop_rows(d, 4, 4, 3, 2); }),
               Catch::Contains("chrysalis::crop_rows") && Catch::Contains("first_row + rows"));
    CHECK_THAT(msg([&] { (void)crop_rows(d, 4, 4, -1, 2); }), Catch::Contains("first_row"));
    CHECK_THAT(msg([&] { (void)crop_rows(d, 4, 4, 0, 0); }), Catch::Contains("rows must be"));
    CHECK_THAT(msg([&] { (void)random_projection(d, 0, 0.1, Seed{1}); }),
               Catch::Contains("chrysalis::RandomProjection") && Catch::Contains("k must be"));
    CHECK_THAT(msg([&] { (void)random_projection(d, 4, -0.1, Seed{1}); }),
               Catch::Contains("noise_sd"));
    CHECK_THAT(msg([&] {
                   (void)random_projection(d, 4, std::numeric_limits<double>::quiet_NaN(), Seed{1});
               }),
               Catch::Contains("noise_sd"));
    const RandomProjection<float> p(20, 4, 0.1, Seed{1});
    CHECK_THAT(message_of<ShapeError>([&] { (void)p(d, Seed{1}); }), Catch::Contains("takes 20"));
}

TEST_CASE("distill_paired refuses data sets that are not pairs", "[cross_modal]") {
    const Dataset<float> full = images(40, Seed{1});
    const Dataset<float> view = crop_rows(full, 4, 4, 2, 2);
    Teacher<float> teacher(Seed{1});
    Student<float> student(Seed{2});
    Adam opt{.lr = 1e-3};
    const Distillation kd{.temperature = 4, .alpha = 1};
    const TrainOptions<float> o{.epochs = 1, .batch_size = 8, .progress = false};

    SECTION("different sample counts") {
        const std::vector<Eigen::Index> first(39, 0);
        auto shorter = subset(view, std::span<const Eigen::Index>(first));
        const auto m = message_of<ShapeError>(
            [&] { distill_paired(student, shorter, teacher, full, kd, opt, o); });
        CHECK_THAT(m, Catch::Contains("chrysalis::distill_paired") &&
                          Catch::Contains("the student data has 39 samples") &&
                          Catch::Contains("the teacher data has 40"));
    }
    SECTION("labels in another order name the first sample that differs") {
        Dataset<float> swapped = view;
        // The first two samples with different labels from sample 5 on, swapped.
        std::size_t k = 6;
        while (swapped.labels[k] == swapped.labels[5]) ++k;
        std::swap(swapped.labels[5], swapped.labels[k]);
        swapped.features.col(5).swap(swapped.features.col(Eigen::Index(k)));
        const auto m = message_of<ValueError>(
            [&] { distill_paired(student, swapped, teacher, full, kd, opt, o); });
        CHECK_THAT(m, Catch::Contains("chrysalis::distill_paired: sample 5 is labelled") &&
                          Catch::Contains("the student data") &&
                          Catch::Contains("the teacher data"));
        CHECK_THAT(
            message_of<ValueError>(
                [&] { check_paired(swapped, full, "mine", "the depth images", "the RGB images"); }),
            Catch::StartsWith("mine: sample 5 is labelled") && Catch::Contains("the RGB images"));
    }
    SECTION("unlabelled student data with a hard-label term") {
        Dataset<float> unlabelled = view;
        unlabelled.labels.clear();
        const auto m = message_of<ValueError>([&] {
            distill_paired(student, unlabelled, teacher, full,
                           Distillation{.temperature = 4, .alpha = 0.9}, opt, o);
        });
        CHECK_THAT(m, Catch::Contains("no labels") && Catch::Contains("alpha = 1"));
    }
    SECTION("unlabelled student data with losses that have no hard-label term") {
        Dataset<float> unlabelled = view;
        unlabelled.labels.clear();
        unlabelled.classes = 0;
        CHECK(distill_paired(student, unlabelled, teacher, full, kd, opt, o).size() == 1);
        CHECK(distill_paired(student, unlabelled, teacher, full, LogitMatching{}, opt, o).size() ==
              1);
        CHECK(distill_paired(student, unlabelled, teacher, full, ReverseKL{}, opt, o).size() == 1);
        // Unlabelled teacher data too: nothing to compare but the sample count.
        Dataset<float> bare = full;
        bare.labels.clear();
        CHECK(distill_paired(student, unlabelled, teacher, bare, kd, opt, o).size() == 1);
    }
    SECTION("different class counts") {
        Dataset<float> more = view;
        more.classes = 9;
        CHECK_THAT(message_of<ValueError>([&] { check_paired(more, full, "f", "a", "b"); }),
                   Catch::Contains("a has 9 classes but b has 10"));
    }
    SECTION("the wrong modality for a network") {
        const auto m = message_of<ShapeError>(
            [&] { distill_paired(student, full, teacher, full, kd, opt, o); });
        CHECK_THAT(m, Catch::Contains("the student data has 16 features"));
    }
    SECTION("jitter") {
        TrainOptions<float> j = o;
        j.jitter = 1;
        CHECK_THROWS_AS(distill_paired(student, view, teacher, full, kd, opt, j), ValueError);
    }
}

TEMPLATE_TEST_CASE("a student on half the image learns from a teacher on the whole of it",
                   "[cross_modal]", float, double) {
    using S = TestType;
    const Dataset<S> labelled = images<S>(4000, Seed{1});    // the teacher's labelled data
    const Dataset<S> pairs_full = images<S>(3000, Seed{2});  // paired, unlabelled
    const Dataset<S> test_full = images<S>(3000, Seed{3});
    const auto lower = [](const Dataset<S>& d) { return crop_rows(d, 4, 4, 2, 2); };
    Dataset<S> pairs_view = lower(pairs_full);
    pairs_view.labels.clear();  // the student's modality comes without labels
    pairs_view.classes = 0;
    const Dataset<S> test_view = lower(test_full);
    const std::vector<Eigen::Index> few_idx = [] {
        std::vector<Eigen::Index> v(50);
        for (std::size_t i = 0; i < v.size(); ++i) v[i] = Eigen::Index(i);
        return v;
    }();
    const Dataset<S> few = subset(lower(labelled), std::span<const Eigen::Index>(few_idx));

    Teacher<S> teacher(Seed{10});
    Adam t_opt{.lr = 3e-3};
    fit(teacher, labelled, CrossEntropy{}, t_opt,
        {.epochs = 10, .batch_size = 64, .progress = false});
    const double teacher_acc = accuracy(teacher, test_full);

    Student<S> from_few(Seed{20}), distilled(Seed{20});
    Adam o1{.lr = 3e-3}, o2{.lr = 3e-3};
    fit(from_few, few, CrossEntropy{}, o1, {.epochs = 100, .batch_size = 16, .progress = false});
    const auto history = distill_paired(distilled, pairs_view, teacher, pairs_full,
                                        Distillation{.temperature = 4, .alpha = 1}, o2,
                                        {.epochs = 15, .batch_size = 64, .progress = false});
    const double few_acc = accuracy(from_few, test_view);
    const double distilled_acc = accuracy(distilled, test_view);
    INFO("teacher " << teacher_acc << ", student on 50 labels " << few_acc << ", distilled "
                    << distilled_acc << ", agreement with the teacher on the pairs "
                    << history.back().accuracy);
    REQUIRE(history.size() == 15);
    CHECK(teacher_acc > 0.7);
    CHECK(distilled_acc > 0.5);  // chance is 0.1
    CHECK(distilled_acc > few_acc + 0.05);
    CHECK(distilled_acc < teacher_acc);  // half the image knows less than all of it
}

TEST_CASE("a projection refuses noise beyond its scalar's range and a view that overflows",
          "[views]") {
    const Dataset<float> d = images(3, Seed{1});
    // 1e39 is a finite double but ∞ as a float: every noisy feature would be infinite.
    CHECK_THAT(message_of<ValueError>([&] { (void)RandomProjection<float>(16, 4, 1e39, Seed{1}); }),
               Catch::Contains("chrysalis::RandomProjection") && Catch::Contains("noise_sd") &&
                   Catch::Contains("at most the scalar type's largest"));
    CHECK_NOTHROW(RandomProjection<double>(16, 4, 1e39, Seed{1}));
    // A P whose size in bytes overflows is named by its parameters, not a bare std::bad_alloc.
    const Eigen::Index big = Eigen::Index(1) << 31;
    CHECK_THAT(message_of<ValueError>([&] { (void)RandomProjection<float>(big, big, 0, Seed{1}); }),
               Catch::Contains("k x input_features = 2147483648 x 2147483648") &&
                   Catch::Contains("more than an address space holds"));
    // Features near float's largest overflow P·x.
    Dataset<float> huge = d;
    huge.features.setConstant(3e38f);
    const RandomProjection<float> p(16, 4, 0.0, Seed{1});
    CHECK_THAT(message_of<ValueError>([&] { (void)p(huge, Seed{2}); }),
               Catch::Contains("chrysalis::RandomProjection") &&
                   Catch::Contains("the view (P·x + noise)"));
    CHECK(p(d, Seed{2}).features.allFinite());
}

TEST_CASE("distill_paired with no samples says so before it asks about labels", "[cross_modal]") {
    // An empty unlabelled student set with alpha < 1 was refused for its missing labels.
    Teacher<float> teacher(Seed{1});
    Student<float> student(Seed{2});
    Adam opt{.lr = 1e-3};
    const Dataset<float> full = images(0, Seed{1});
    Dataset<float> view = crop_rows(full, 4, 4, 2, 2);
    view.labels.clear();
    const TrainOptions<float> o{.epochs = 1, .batch_size = 8, .progress = false};
    const auto m = message_of<ShapeError>(
        [&] { distill_paired(student, view, teacher, full, Distillation{}, opt, o); });
    CHECK_THAT(m, Catch::Contains("chrysalis::distill_paired") && !Catch::Contains("alpha"));
}

}  // namespace CHRYSALIS_TEST_FILE
