// "Hostile inputs II", class B: silent wrong answers. A metric, a prediction or a transform fed a
// NaN or infinite value (a poisoned weight, an overflowed logit, a NaN feature) must throw the
// documented ValueError naming the function and the first offending entry — never return a
// number. Each case checks that the error fires (not a value), its exact type, the function and
// the entry named.

#include "hostile_support.hpp"

#include <limits>
#include <span>
#include <string>
#include <vector>
#include "test_file_namespace.hpp"

namespace CHRYSALIS_TEST_FILE {

using namespace chrysalis;
using namespace chrysalis::test;
using Catch::Matchers::Contains;

TEST_CASE("silent: accuracy of a network with a NaN weight throws instead of scoring",
          "[silent][evaluate]") {
    const Dataset<float> d = small_set();
    SmallNet net(Seed{1});
    poison(net, 0, 5, 2, nan_f);  // layer 0's weights, row 5, column 2
    CHECK_THAT(thrown<ValueError>([&] { (void)accuracy(net, d); }),
               Contains("chrysalis::accuracy: parameter block 0 (in visit_parameters order) of "
                        "the network holds nan at row 5, column 2"));
    const SmallNet& const_net = net;  // through predict_logits' copy, too
    CHECK_THAT(thrown<ValueError>([&] { (void)accuracy(const_net, d); }),
               Contains("chrysalis::accuracy: parameter block 0"));
}

TEST_CASE("silent: evaluate and confusion_matrix refuse a NaN weight of the last layer",
          "[silent][evaluate]") {
    const Dataset<float> d = small_set();
    SmallNet net(Seed{1});
    poison(net, 3, 1, 0, nan_f);  // layer 2's bias, entry 1
    CHECK_THAT(thrown<ValueError>([&] { (void)evaluate(net, d); }),
               Contains("chrysalis::evaluate: parameter block 3") && Contains("row 1, column 0"));
    CHECK_THAT(thrown<ValueError>([&] { (void)confusion_matrix(net, d); }),
               Contains("chrysalis::confusion_matrix: parameter block 3"));
}

TEST_CASE("silent: an infinite bias hidden from the logits by ReLU is still refused",
          "[silent][evaluate]") {
    // Bias −∞ on hidden unit 0: ReLU turns its −∞ into 0, so the logits are finite and a class
    // would come out; the network still holds a non-finite parameter.
    const Dataset<float> d = small_set();
    SmallNet net(Seed{1});
    poison(net, 1, 0, 0, -inf_f);
    REQUIRE(net.forward(d.features).allFinite());
    CHECK_THAT(thrown<ValueError>([&] { (void)predict_logits(net, d); }),
               Contains("chrysalis::predict_logits: parameter block 1") &&
                   Contains("holds -inf at row 0, column 0"));
}

TEST_CASE("silent: logits that overflow are refused, naming the logit and the sample",
          "[silent][evaluate]") {
    // Finite inputs and weights whose products overflow: the logits are ±∞ or NaN.
    Dataset<float> d = small_set();
    d.features.col(4).setConstant(1e38f);
    SmallNet net(Seed{1});
    net.visit_parameters([&](auto& p, auto&) { p.setConstant(10.0f); });
    CHECK_THAT(thrown<ValueError>([&] { (void)predict_logits(net, d); }),
               Contains("chrysalis::predict_logits: logit 0 of sample 4 of the network's logits"));
    CHECK_THAT(thrown<ValueError>([&] { (void)accuracy(net, d); }),
               Contains("chrysalis::accuracy: logit 0 of sample 4"));
}

TEST_CASE("silent: hard_targets refuses a NaN teacher and an infinite teacher logit",
          "[silent][hard_targets]") {
    const Dataset<float> d = small_set();
    SmallNet teacher(Seed{2});
    poison(teacher, 2, 2, 7, nan_f);
    CHECK_THAT(
        thrown<ValueError>([&] { (void)hard_targets(teacher, d); }),
        Contains("chrysalis::hard_targets: parameter block 2") && Contains("row 2, column 7"));
    Matrix<float> z = Matrix<float>::Zero(3, d.size());
    z(2, 1) = inf_f;
    CHECK_THAT(thrown<ValueError>([&] { (void)hard_targets(d, z); }),
               Contains("chrysalis::hard_targets: logit 2 of sample 1 of the teacher logits is "
                        "inf"));
}

TEST_CASE("silent: scale_to_unit with a reference refuses a NaN in the data itself",
          "[silent][scale]") {
    Dataset<float> train = small_set(), test = small_set(5);
    test.features(1, 2) = nan_f;
    const Dataset<float> before = test;
    CHECK_THAT(thrown<ValueError>([&] { (void)scale_to_unit(test, &train); }),
               Contains("chrysalis::scale_to_unit: feature 1 of sample 2 of the data is nan"));
    CHECK(test.features.col(0) == before.features.col(0));  // checked before anything changed
    test.features(1, 2) = -inf_f;
    CHECK_THAT(thrown<ValueError>([&] { (void)scale_to_unit(test, &train); }),
               Contains("feature 1 of sample 2 of the data is -inf"));
    train.features(3, 9) = nan_f;
    CHECK_THAT(thrown<ValueError>([&] { (void)scale_to_unit(test, &train); }),
               Contains("chrysalis::scale_to_unit: feature 3 of sample 9 of the reference is "
                        "nan"));
}

TEST_CASE("silent: ensemble_probabilities refuses a NaN or infinite teacher logit",
          "[silent][ensemble]") {
    Matrix<float> a = Matrix<float>::Zero(3, 4), b = Matrix<float>::Ones(3, 4);
    b(1, 3) = nan_f;
    std::vector<Matrix<float>> teachers{a, b};
    CHECK_THAT(thrown<ValueError>([&] {
                   (void)ensemble_probabilities<float>(teachers, std::vector<double>{}, 2.0);
               }),
               Contains("chrysalis::ensemble_probabilities: logit 1 of sample 3 of teacher 1's "
                        "logits is nan"));
    teachers[1](1, 3) = 0;
    teachers[0](0, 0) = inf_f;
    CHECK_THAT(thrown<ValueError>([&] {
                   (void)ensemble_probabilities<float>(teachers, std::vector<double>{}, 2.0);
               }),
               Contains("logit 0 of sample 0 of teacher 0's logits is inf"));
}

TEST_CASE("silent: attacks refuse a network with a NaN weight", "[silent][attacks]") {
    const Dataset<float> d = small_set();
    Matrix<float> x = d.features.array() - 0.5f;  // inside the box [0, 1]
    SmallNet net(Seed{1});
    poison(net, 0, 0, 1, nan_f);
    CHECK_THAT(thrown<ValueError>([&] { (void)fgsm(net, x, d.labels); }),
               Contains("chrysalis::fgsm: parameter block 0") && Contains("row 0, column 1"));
    CHECK_THAT(thrown<ValueError>([&] { (void)pgd(net, x, d.labels); }),
               Contains("chrysalis::pgd: parameter block 0"));
    Matrix<float> g;
    CHECK_THAT(thrown<ValueError>([&] {
                   (void)attack_gradient(net, x, d.labels, AttackLoss::cross_entropy, 0.0, g);
               }),
               Contains("chrysalis::attack_gradient: parameter block 0"));
}

TEST_CASE("silent: attack_gradient refuses a NaN input instead of returning a NaN gradient",
          "[silent][attacks]") {
    const Dataset<float> d = small_set();
    Matrix<float> x = d.features;
    x(3, 6) = nan_f;
    SmallNet net(Seed{1});
    Matrix<float> g;
    CHECK_THAT(thrown<ValueError>([&] {
                   (void)attack_gradient(net, x, d.labels, AttackLoss::cross_entropy, 0.0, g);
               }),
               Contains("chrysalis::attack_gradient: feature 3 of sample 6 of the inputs is nan"));
}

TEST_CASE("silent: boundary_similarity and boundary_samples refuse a NaN network",
          "[silent][bss]") {
    const Dataset<float> d = small_set();
    SmallNet teacher(Seed{2}), student(Seed{1});
    poison(student, 2, 0, 0, nan_f);
    CHECK_THAT(thrown<ValueError>([&] { (void)boundary_similarity(teacher, student, d); }),
               Contains("chrysalis::boundary_similarity: parameter block 2") &&
                   Contains("of the second network (student)"));
    poison(teacher, 1, 4, 0, inf_f);
    const std::vector<int> base{0}, target{1};
    const Matrix<float> x = d.features.leftCols(1);
    CHECK_THAT(thrown<ValueError>([&] { (void)boundary_samples(teacher, x, base, target); }),
               Contains("chrysalis::boundary_samples: parameter block 1") &&
                   Contains("of the teacher holds inf at row 4"));
}

TEST_CASE("silent: distill from a teacher with a NaN weight is refused, not called divergence",
          "[silent][distill]") {
    const Dataset<float> d = small_set();
    SmallNet teacher(Seed{2}), student(Seed{1});
    poison(teacher, 0, 3, 3, nan_f);
    Adam adam;
    const TrainOptions<float> o{.epochs = 1, .batch_size = 4, .progress = false};
    CHECK_THAT(thrown<ValueError>([&] { distill(student, d, teacher, Distillation{}, adam, o); }),
               Contains("chrysalis::distill: parameter block 0") &&
                   Contains("of the teacher holds nan at row 3, column 3"));
    CHECK_THAT(thrown<ValueError>([&] {
                   distill_with_boundary_samples(student, d, teacher, Distillation{}, adam, o,
                                                 BssOptions{});
               }),
               Contains("chrysalis::distill_with_boundary_samples: parameter block 0"));
}

TEST_CASE("silent: a LeakyReLU slope set past the constructor's checks is refused at the door",
          "[silent][layers]") {
    // A public member the constructor would refuse: not TrainingDiverged epochs later, but a
    // ValueError before the first batch, naming the function and the layer; nothing trained.
    const Dataset<float> d = small_set();
    using LeakyNet = Sequential<Dense<4, 8>, LeakyReLU, Dense<8, 3>>;
    for (const double slope : {std::numeric_limits<double>::quiet_NaN(), 1e300,
                               -std::numeric_limits<double>::infinity()}) {
        INFO("slope " << slope);
        LeakyNet net(Seed{1}), teacher(Seed{2});
        net.layer<1>().slope = slope;
        const Matrix<float> before = net.layer<0>().weights();
        Sgd sgd{.lr = 0.1};
        const TrainOptions<float> o{.epochs = 1, .batch_size = 4, .progress = false};
        CHECK_THAT(thrown<ValueError>([&] { fit(net, d, CrossEntropy{}, sgd, o); }),
                   Contains("chrysalis::fit: layer 1 (LeakyReLU) holds hyperparameters") &&
                       Contains("chrysalis::LeakyReLU: slope must be finite"));
        CHECK_THAT(thrown<ValueError>([&] { distill(net, d, teacher, Distillation{}, sgd, o); }),
                   Contains("chrysalis::distill: layer 1 (LeakyReLU)"));
        CHECK(net.layer<0>().weights() == before);
    }
}

TEST_CASE("silent: a LeakyReLU slope set past the constructor's checks is refused by every reader",
          "[silent][layers]") {
    // A network is read (not trained) by the evaluation functions, the attacks, the boundary
    // functions and distill's teacher: each refuses a NaN or float-overflowing slope, naming the
    // function, the layer and which network, instead of computing NaN for every negative
    // pre-activation.
    const Dataset<float> d = small_set();
    using LeakyNet = Sequential<Dense<4, 8>, LeakyReLU, Dense<8, 3>>;
    const Matrix<float> x = d.features.array() - 0.5f;
    const std::vector<int> base{0}, target{1};
    // Each message: the function, then the layer and network, then the layer's own refusal.
    const auto refused = [](const std::string& message, const std::string& head) {
        INFO(message);
        CHECK(message.starts_with(head));
        CHECK_THAT(message,
                   Contains("holds hyperparameters that its set_hyperparameters refuses") &&
                       Contains("chrysalis::LeakyReLU: slope must be finite"));
    };
    for (const double slope : {std::numeric_limits<double>::quiet_NaN(), 1e300}) {
        INFO("slope " << slope);
        LeakyNet bad(Seed{1}), good(Seed{2});
        bad.layer<1>().slope = slope;
        refused(thrown<ValueError>([&] { (void)accuracy(bad, d); }),
                "chrysalis::accuracy: layer 1 (LeakyReLU) of the network holds");
        refused(thrown<ValueError>([&] { (void)fgsm(bad, x, d.labels); }),
                "chrysalis::fgsm: layer 1 (LeakyReLU) of the network holds");
        refused(
            thrown<ValueError>([&] { (void)boundary_samples(bad, x.leftCols(1), base, target); }),
            "chrysalis::boundary_samples: layer 1 (LeakyReLU) of the teacher holds");
        refused(thrown<ValueError>([&] { (void)boundary_similarity(good, bad, d); }),
                "chrysalis::boundary_similarity: layer 1 (LeakyReLU) of the second network "
                "(student) holds");
        const Matrix<float> before = good.layer<0>().weights();
        Sgd sgd{.lr = 0.1};
        const TrainOptions<float> o{.epochs = 1, .batch_size = 4, .progress = false};
        refused(thrown<ValueError>([&] { distill(good, d, bad, Distillation{}, sgd, o); }),
                "chrysalis::distill: layer 1 (LeakyReLU) of the teacher holds");
        CHECK(good.layer<0>().weights() == before);
    }
}

}  // namespace CHRYSALIS_TEST_FILE
