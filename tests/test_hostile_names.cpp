// "Hostile inputs II", class A: errors that name the wrong thing. Every typed error must name the
// public function the caller called (never an inner helper it delegates to: softmax, jitter,
// predict_logits) and the parameter, be the type docs/errors.md gives, and be thrown at the
// call, not at the first batch. Each case checks the exact type, the function and the parameter,
// and that the inner name is absent.

#include "hostile_support.hpp"

#include <span>
#include <vector>
#include "test_file_namespace.hpp"

namespace CHRYSALIS_TEST_FILE {

using namespace chrysalis;
using namespace chrysalis::test;
using Catch::Matchers::Contains;

namespace {
const TrainOptions<float> quiet{.epochs = 1, .batch_size = 4, .progress = false};
}  // namespace

TEST_CASE("names: fit with jitter on non-image data is refused at the call, naming fit",
          "[names][jitter]") {
    const Dataset<float> d = small_set();  // 4 features, not 28 × 28
    SmallNet net(Seed{1});
    SmallNet before = net;
    Sgd sgd;
    TrainOptions<float> o = quiet;
    o.epochs = 3;
    o.jitter = 2;
    int epochs_seen = 0;
    o.on_epoch = [&](const EpochReport&) { ++epochs_seen; };
    const std::string m = thrown<ShapeError>([&] { fit(net, d, CrossEntropy{}, sgd, o); });
    CHECK_THAT(m, Contains("chrysalis::fit: options.jitter = 2") &&
                      Contains("options.image_width x options.image_height = 28 x 28 = 784") &&
                      Contains("the data has 4 features per sample") &&
                      !Contains("chrysalis::jitter"));
    CHECK(epochs_seen == 0);  // at the door: no batch ran
    std::size_t block = 0;
    std::vector<Vector<float>> params;
    before.visit_parameters([&](auto& p, auto&) { params.emplace_back(p.reshaped()); });
    net.visit_parameters([&](auto& p, auto&) { CHECK(p.reshaped() == params[block++]); });
}

TEST_CASE("names: fit with jitter and an image side of 0 is a ValueError naming the option",
          "[names][jitter]") {
    const Dataset<float> d = small_set();
    SmallNet net(Seed{1});
    Sgd sgd;
    TrainOptions<float> o = quiet;
    o.jitter = 1;
    o.image_width = 0;
    o.image_height = 4;
    CHECK_THAT(thrown<ValueError>([&] { fit(net, d, CrossEntropy{}, sgd, o); }),
               Contains("chrysalis::fit: options.image_width and options.image_height must be "
                        ">= 1") &&
                   Contains("image_width = 0") && !Contains("chrysalis::jitter"));
}

TEST_CASE("names: distill from a teacher network with jitter on non-image data names distill",
          "[names][jitter]") {
    const Dataset<float> d = small_set();
    SmallNet teacher(Seed{2}), student(Seed{1});
    Adam adam;
    TrainOptions<float> o = quiet;
    o.jitter = 1;
    o.image_width = 3;
    o.image_height = 3;
    CHECK_THAT(thrown<ShapeError>([&] { distill(student, d, teacher, Distillation{}, adam, o); }),
               Contains("chrysalis::distill: options.jitter = 1") && Contains("3 x 3 = 9") &&
                   Contains("4 features per sample") && !Contains("chrysalis::jitter"));
}

TEST_CASE("names: distill_with_boundary_samples with jitter on non-image data names itself",
          "[names][jitter]") {
    const Dataset<float> d = small_set();
    SmallNet teacher(Seed{2}), student(Seed{1});
    Adam adam;
    TrainOptions<float> o = quiet;
    o.jitter = 1;
    CHECK_THAT(thrown<ShapeError>([&] {
                   distill_with_boundary_samples(student, d, teacher, Distillation{}, adam, o,
                                                 BssOptions{});
               }),
               Contains("chrysalis::distill_with_boundary_samples: options.jitter = 1") &&
                   !Contains("chrysalis::jitter") && !Contains("chrysalis::fit"));
}

TEST_CASE("names: ensemble_probabilities with T = 0 names itself and the temperature",
          "[names][ensemble]") {
    const std::vector<Matrix<float>> teachers{Matrix<float>::Zero(3, 2), Matrix<float>::Ones(3, 2)};
    for (const double t : {0.0, -1.0, std::numeric_limits<double>::quiet_NaN(),
                           std::numeric_limits<double>::infinity()}) {
        INFO("T = " << t);
        CHECK_THAT(thrown<ValueError>([&] {
                       (void)ensemble_probabilities<float>(teachers, std::vector<double>{}, t);
                   }),
                   Contains("chrysalis::ensemble_probabilities: temperature T must be a finite "
                            "number > 0") &&
                       !Contains("chrysalis::softmax"));
    }
    // Checked before the teachers: even with none, the temperature is what is named first.
    CHECK_THAT(thrown<ValueError>([&] {
                   (void)ensemble_probabilities<float>(std::span<const Matrix<float>>{},
                                                       std::vector<double>{}, 0.0);
               }),
               Contains("chrysalis::ensemble_probabilities: temperature T"));
}

TEST_CASE("names: more classes in the data than the network has outputs is a ShapeError",
          "[names][classes]") {
    // docs/errors.md lists it under ShapeError: the class count is the logits' row count.
    Dataset<float> d = small_set();
    d.classes = 5;  // the network has 3 outputs
    SmallNet net(Seed{1});
    Sgd sgd;
    CHECK_THAT(thrown<ShapeError>([&] { fit(net, d, CrossEntropy{}, sgd, quiet); }),
               Contains("chrysalis::fit: the data has 5 classes but the network has 3 outputs"));
    CHECK_THAT(thrown<ShapeError>([&] { (void)accuracy(net, d); }),
               Contains("chrysalis::accuracy: the data has 5 classes"));
}

TEST_CASE(
    "names: accuracy, evaluate, confusion_matrix, hard_targets name themselves, not "
    "predict_logits",
    "[names][evaluate]") {
    Dataset<float> narrow = small_set();
    narrow.features.conservativeResize(3, narrow.size());
    SmallNet net(Seed{1});
    const SmallNet& const_net = net;
    // (Catch's combined matchers hold references to their parts: built in place, not returned.)
    const auto named = [](const std::string& m, const std::string& fn) {
        CHECK_THAT(m, Contains(fn + ": the data has 3 features per sample") &&
                          Contains("input width is 4") && !Contains("chrysalis::predict_logits"));
    };
    named(thrown<ShapeError>([&] { (void)accuracy(net, narrow); }), "chrysalis::accuracy");
    named(thrown<ShapeError>([&] { (void)accuracy(const_net, narrow); }), "chrysalis::accuracy");
    named(thrown<ShapeError>([&] { (void)evaluate(net, narrow); }), "chrysalis::evaluate");
    named(thrown<ShapeError>([&] { (void)confusion_matrix(const_net, narrow); }),
          "chrysalis::confusion_matrix");
    narrow.labels.clear();  // hard_targets reads no labels
    named(thrown<ShapeError>([&] { (void)hard_targets(net, narrow); }), "chrysalis::hard_targets");
}

TEST_CASE("names: a NaN feature seen by evaluate or hard_targets names the function called",
          "[names][evaluate]") {
    Dataset<float> d = small_set();
    d.features(2, 7) = nan_f;
    SmallNet net(Seed{1});
    CHECK_THAT(thrown<ValueError>([&] { (void)evaluate(net, d); }),
               Contains("chrysalis::evaluate: feature 2 of sample 7 of the data is nan"));
    CHECK_THAT(thrown<ValueError>([&] { (void)hard_targets(net, d); }),
               Contains("chrysalis::hard_targets: feature 2 of sample 7 of the data is nan"));
    CHECK_THAT(thrown<ValueError>([&] { (void)confusion_matrix(net, d); }),
               Contains("chrysalis::confusion_matrix: feature 2 of sample 7"));
}

TEST_CASE("names: an empty data set names the evaluation function called", "[names][evaluate]") {
    Dataset<float> empty;
    empty.classes = 3;
    empty.features.resize(4, 0);
    SmallNet net(Seed{1});
    CHECK_THAT(thrown<ShapeError>([&] { (void)confusion_matrix(net, empty); }),
               Contains("chrysalis::confusion_matrix: the data is empty"));
    CHECK_THAT(thrown<ShapeError>([&] { (void)evaluate(net, empty); }),
               Contains("chrysalis::evaluate: the data is empty"));
}

TEST_CASE("names: distill_paired with a non-finite teacher names distill_paired and the teacher",
          "[names][cross_modal]") {
    const Dataset<float> d = small_set();
    SmallNet teacher(Seed{2}), student(Seed{1});
    poison(teacher, 2, 1, 3, nan_f);
    Adam adam;
    CHECK_THAT(thrown<ValueError>([&] {
                   distill_paired(student, d, teacher, d, Distillation{.alpha = 1.0}, adam, quiet);
               }),
               Contains("chrysalis::distill_paired: parameter block 2") &&
                   Contains("row 1, column 3") && !Contains("chrysalis::predict_logits"));
}

}  // namespace CHRYSALIS_TEST_FILE
