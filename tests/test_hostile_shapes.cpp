// "Hostile inputs II", shapes the kernels never expected: logits with no class, batches with no
// sample, gradients of another batch than the last forward's, backward before any forward, data
// sets without features, optimizer blocks of another shape. Many used to trip an Eigen
// assertion, a null load under UBSan or a SIGSEGV in release (a maxCoeff of an empty column),
// to write out of bounds, or to return a mean over no samples. Each case now throws the exact typed
// error naming the public function and the parameter, or gives the documented result (an empty
// batch through a layer, a softmax or a network is an empty output). docs/errors.md ("Shapes")
// states the rules.
//
// This file is compiled with assertions on (NDEBUG undefined before the first include, without
// the shared precompiled header: tests/CMakeLists.txt), in every build, so that an Eigen
// assertion a shape reaches aborts this test even in the release build.
#undef NDEBUG

#include "hostile_support.hpp"

#include <chrysalis/views.hpp>

#include <cassert>
#include <span>
#include <string>
#include <vector>
#include "test_file_namespace.hpp"

namespace CHRYSALIS_TEST_FILE {

using namespace chrysalis;
using namespace chrysalis::test;
using Catch::Matchers::Contains;

#ifdef NDEBUG
#error "test_hostile_shapes.cpp must be compiled with assertions on"
#endif

namespace {

template <class S>
using Net = Sequential<Dense<4, 8, S>, ReLU, Dense<8, 3, S>>;

template <class S>
Matrix<S> filled(Eigen::Index rows, Eigen::Index cols, double v = 0.5) {
    return Matrix<S>::Constant(rows, cols, S(v));
}

}  // namespace

TEMPLATE_TEST_CASE("shapes: every loss refuses logits with no class", "[shapes][losses]", float,
                   double) {
    using S = TestType;
    const Matrix<S> z(0, 5), t(0, 5);
    const std::vector<int> labels(5, 0);
    Matrix<S> g;
    const auto no_class = [](const std::string& m, const char* fn, const char* param) {
        CHECK_THAT(m, Contains(fn) && Contains(param) && Contains("0x5") &&
                          Contains("expected at least 1 class"));
    };
    no_class(thrown<ShapeError>([&] { (void)CrossEntropy{}(z, labels); }),
             "chrysalis::CrossEntropy", "the logits");
    no_class(thrown<ShapeError>([&] { (void)CrossEntropy{}(z, labels, g); }),
             "chrysalis::CrossEntropy", "the logits");
    no_class(thrown<ShapeError>([&] { (void)Distillation{}(z, t, labels); }),
             "chrysalis::Distillation", "the student logits");
    no_class(thrown<ShapeError>([&] { (void)Distillation{.alpha = 1.0}(z, t); }),
             "chrysalis::Distillation", "the student logits");
    no_class(thrown<ShapeError>([&] { (void)Distillation{}.soft_targets(z, t, labels, g); }),
             "chrysalis::Distillation", "the student logits");
    no_class(thrown<ShapeError>([&] { (void)SoftTargetCrossEntropy{}(z, t); }),
             "chrysalis::SoftTargetCrossEntropy", "the student logits");
    no_class(thrown<ShapeError>([&] { (void)LogitMatching{}(z, t, labels, g); }),
             "chrysalis::LogitMatching", "the student logits");
    no_class(thrown<ShapeError>([&] { (void)ReverseKL{}(z, t); }), "chrysalis::ReverseKL",
             "the student logits");
    // 0 × 0 too: no class whatever the batch.
    CHECK_THAT(
        thrown<ShapeError>([&] { (void)CrossEntropy{}(Matrix<S>(0, 0), std::vector<int>{}); }),
        Contains("chrysalis::CrossEntropy: the logits are 0x0") && Contains("at least 1 class"));
}

TEMPLATE_TEST_CASE("shapes: a loss of an empty batch is refused, not a made-up 0",
                   "[shapes][losses]", float, double) {
    using S = TestType;
    const Matrix<S> z(3, 0), t(3, 0);
    const std::vector<int> none;
    Matrix<S> g;
    const auto no_sample = [](const std::string& m, const char* fn, const char* param) {
        CHECK_THAT(m, Contains(fn) && Contains(param) && Contains("3x0") &&
                          Contains("the batch mean of no samples is undefined") &&
                          Contains("expected at least 1 sample"));
    };
    no_sample(thrown<ShapeError>([&] { (void)CrossEntropy{}(z, none); }), "chrysalis::CrossEntropy",
              "the logits");
    no_sample(thrown<ShapeError>([&] { (void)Distillation{}(z, t, none, g); }),
              "chrysalis::Distillation", "the student logits");
    no_sample(thrown<ShapeError>([&] { (void)SoftTargetCrossEntropy{}(z, t, none, g); }),
              "chrysalis::SoftTargetCrossEntropy", "the student logits");
    no_sample(thrown<ShapeError>([&] { (void)LogitMatching{}(z, t); }), "chrysalis::LogitMatching",
              "the student logits");
    no_sample(thrown<ShapeError>([&] { (void)ReverseKL{}(z, t, none, g); }), "chrysalis::ReverseKL",
              "the student logits");
}

TEMPLATE_TEST_CASE("shapes: distillation losses check student, teacher and labels",
                   "[shapes][losses]", float, double) {
    using S = TestType;
    const Matrix<S> zs = filled<S>(3, 4), zt = filled<S>(4, 4);
    const std::vector<int> labels{0, 1, 2, 0};
    // Teacher of another class count: named before anything is computed.
    CHECK_THAT(thrown<ShapeError>([&] { (void)Distillation{}(zs, zt, labels); }),
               Contains("chrysalis::Distillation: the student logits are 3x4 but the teacher "
                        "logits are 4x4"));
    CHECK_THAT(thrown<ShapeError>([&] { (void)ReverseKL{}(zs, filled<S>(3, 5)); }),
               Contains("chrysalis::ReverseKL") && Contains("teacher logits are 3x5"));
    // Three labels for four samples; a label of a class that does not exist.
    CHECK_THAT(thrown<ShapeError>([&] {
                   (void)Distillation{}(zs, zs, std::vector<int>{0, 1, 2});
               }),
               Contains("chrysalis::Distillation: 3 labels for a batch of 4 samples"));
    CHECK_THAT(thrown<ValueError>([&] {
                   (void)LogitMatching{}(zs, zs, std::vector<int>{0, 1, 3, 0});
               }),
               Contains("chrysalis::LogitMatching: label 3 of sample 2 is outside [0, 3)"));
    // A fixed-size gradient of the wrong size is refused, not written past its end.
    Eigen::Matrix<S, 3, 2> small = Eigen::Matrix<S, 3, 2>::Zero();
    CHECK_THAT(thrown<ShapeError>([&] { (void)CrossEntropy{}(zs, labels, small); }),
               Contains("chrysalis::CrossEntropy: the gradient is 3x2 but the logits are 3x4"));
}

TEMPLATE_TEST_CASE("shapes: softmax of no class is refused, of no sample is empty",
                   "[shapes][softmax]", float, double) {
    using S = TestType;
    CHECK_THAT(thrown<ShapeError>([] { (void)softmax(Matrix<S>(0, 5), 2.0); }),
               Contains("chrysalis::softmax: the logits are 0x5") &&
                   Contains("expected at least 1 class"));
    CHECK_THAT(thrown<ShapeError>([] { (void)log_softmax(Matrix<S>(0, 0), 1.0); }),
               Contains("chrysalis::log_softmax: the logits are 0x0"));
    Matrix<S> out(2, 2);
    CHECK_THAT(thrown<ShapeError>([&] { log_softmax(Matrix<S>(0, 2), 1.0, out); }),
               Contains("chrysalis::log_softmax: the logits are 0x2"));
    // An empty batch: an empty result of the logits' class count, nothing read.
    const Matrix<S> p = softmax(Matrix<S>(4, 0), 1.0);
    CHECK((p.rows() == 4 && p.cols() == 0));
    log_softmax(Matrix<S>(4, 0), 1.0, out);
    CHECK((out.rows() == 4 && out.cols() == 0));
}

TEST_CASE("shapes: argmax and accuracy of logits with no class or no sample", "[shapes][metrics]") {
    CHECK_THAT(thrown<ShapeError>([] { (void)argmax(Matrix<float>(0, 0)); }),
               Contains("chrysalis::argmax: the logits have 0 rows (classes) for 0 samples"));
    // 0 classes is named as such, not as labels outside [0, 0).
    CHECK_THAT(thrown<ShapeError>([] {
                   (void)accuracy(Matrix<double>(0, 3), std::vector{0, 0, 0});
               }),
               Contains("chrysalis::accuracy: the logits have 0 rows (classes) for 3 samples"));
    CHECK_THAT(thrown<ShapeError>([] { (void)accuracy(Matrix<float>(3, 0), std::vector<int>{}); }),
               Contains("chrysalis::accuracy: no samples"));
    CHECK(argmax(Matrix<float>(3, 0)).size() == 0);
}

TEMPLATE_TEST_CASE("shapes: Sequential with empty batches, before any forward, other batches",
                   "[shapes][network]", float, double) {
    using S = TestType;
    SECTION("backward before any forward is refused, whatever the gradient's shape") {
        Net<S> net(Seed{1});
        for (const Eigen::Index b : {0, 5}) {
            const Matrix<S> d = filled<S>(3, b);
            CHECK_THAT(thrown<ShapeError>([&] { net.backward(d); }),
                       Contains("chrysalis::Sequential::backward: d_output is 3 x") &&
                           Contains("no forward has run"));
            CHECK_THAT(thrown<ShapeError>([&] { net.backward_input(d); }),
                       Contains("chrysalis::Sequential::backward_input: d_output is 3 x") &&
                           Contains("no forward has run"));
        }
        // The buffers have their widths before any forward.
        CHECK(net.activation(1).rows() == 8);
        CHECK(net.input_gradient().rows() == 4);
    }
    SECTION("a forward of no sample, first or later, is an empty output; backward of it too") {
        for (const bool warm : {false, true}) {
            Net<S> net(Seed{1});
            if (warm) (void)net.forward(filled<S>(4, 7), Mode::training);
            const Matrix<S> z = net.forward(Matrix<S>(4, 0), Mode::training);
            CHECK((z.rows() == 3 && z.cols() == 0));
            net.backward(Matrix<S>(3, 0), true);
            CHECK((net.input_gradient().rows() == 4 && net.input_gradient().cols() == 0));
            // The gradient of a sum over no samples: zero, in the parameters' own shapes.
            CHECK(net.template layer<0>().weight_gradient().rows() == 8);
            CHECK(net.template layer<0>().weight_gradient().isZero());
            CHECK(net.template layer<2>().bias_gradient().size() == 3);
            CHECK(net.template layer<2>().bias_gradient().isZero());
            net.backward_input(Matrix<S>(3, 0));
        }
    }
    SECTION("wrong rows, and a gradient of another batch than the last forward's") {
        Net<S> net(Seed{1});
        CHECK_THAT(thrown<ShapeError>([&] { (void)net.forward(Matrix<S>(0, 0)); }),
                   Contains("chrysalis::Sequential::forward: the input has 0 rows") &&
                       Contains("input width is 4"));
        (void)net.forward(filled<S>(4, 6), Mode::training);
        CHECK_THAT(thrown<ShapeError>([&] { net.backward(filled<S>(3, 0)); }),
                   Contains("chrysalis::Sequential::backward: the output gradient is 3 x 0 but "
                            "the last forward produced 3 x 6"));
        CHECK_THAT(thrown<ShapeError>([&] { net.backward_input(filled<S>(0, 6)); }),
                   Contains("chrysalis::Sequential::backward_input") &&
                       Contains("last forward produced 3 x 6"));
    }
}

TEMPLATE_TEST_CASE("shapes: Dense backward checks x, dy and dx, before any forward too",
                   "[shapes][layers]", float, double) {
    using S = TestType;
    Dense<4, 8, S> dense;
    Matrix<S> dx(4, 5);
    const Matrix<S> x = filled<S>(4, 5), y = filled<S>(8, 5), dy = filled<S>(8, 5);
    // Empty matrices where the batch goes, before any forward (the known crash: db took dy's 0
    // rows, and the next optimizer step wrote past it).
    const Matrix<S> none(0, 0);
    Matrix<S> no_dx(0, 0);
    CHECK_THAT(thrown<ShapeError>([&] { dense.backward(none, none, none, no_dx); }),
               Contains("chrysalis::Dense<4, 8>::backward: x is 0 x 0"));
    CHECK_THAT(thrown<ShapeError>([&] { dense.backward(x, y, none, no_dx); }),
               Contains("chrysalis::Dense<4, 8>::backward: dy is 0 x 0") &&
                   Contains("expected the layer's output width x the batch of x"));
    CHECK_THAT(thrown<ShapeError>([&] { dense.backward(x, y, filled<S>(8, 3), dx); }),
               Contains("chrysalis::Dense<4, 8>::backward: dy is 8 x 3"));
    Matrix<S> wrong_dx(4, 3);
    CHECK_THAT(thrown<ShapeError>([&] { dense.backward(x, y, dy, wrong_dx); }),
               Contains("chrysalis::Dense<4, 8>::backward: dx is 4 x 3"));
    CHECK_THAT(thrown<ShapeError>([&] { dense.backward_input(x, y, dy, no_dx); }),
               Contains("chrysalis::Dense<4, 8>::backward_input: dx is 0 x 0"));
    CHECK(dense.bias_gradient().size() == 8);  // untouched by the refused calls
    // A batch of no sample: zero gradients (sums over nothing) of the right shapes.
    Matrix<S> dx0(4, 0);
    dense.backward(Matrix<S>(4, 0), Matrix<S>(8, 0), Matrix<S>(8, 0), dx0);
    CHECK((dense.weight_gradient().rows() == 8 && dense.weight_gradient().cols() == 4));
    CHECK(dense.weight_gradient().isZero());
    CHECK((dense.bias_gradient().size() == 8 && dense.bias_gradient().isZero()));
    Matrix<S> y0(8, 0);
    dense.forward(Matrix<S>(4, 0), y0);
}

TEMPLATE_TEST_CASE("shapes: activations and dropout check their shapes", "[shapes][layers]", float,
                   double) {
    using S = TestType;
    const Matrix<S> x = filled<S>(3, 5), y = filled<S>(3, 5);
    Matrix<S> out(3, 4);
    CHECK_THAT(thrown<ShapeError>([&] { ReLU{}.forward(x, MatrixRef<S>(out)); }),
               Contains("chrysalis::ReLU::forward: y is 3 x 4 but x is 3 x 5"));
    Matrix<S> dx(3, 5);
    CHECK_THAT(thrown<ShapeError>([&] { Tanh{}.backward(x, y, filled<S>(3, 2), dx); }),
               Contains("chrysalis::Tanh::backward: x is 3 x 5 but dy is 3 x 2"));
    CHECK_THAT(thrown<ShapeError>([&] { GELU{}.backward(x, y, x, MatrixRef<S>(out)); }),
               Contains("chrysalis::GELU::backward: dx is 3 x 4"));
    CHECK_THAT(thrown<ShapeError>([&] { Sigmoid{}.backward(x, Matrix<S>(0, 0), x, dx); }),
               Contains("chrysalis::Sigmoid::backward: y is 0 x 0"));
    // A resizable output is resized; an empty batch is empty.
    Matrix<S> grown;
    LeakyReLU{}.forward(x, grown);
    CHECK((grown.rows() == 3 && grown.cols() == 5));
    Matrix<S> e(3, 0);
    Identity{}.backward(Matrix<S>(3, 0), Matrix<S>(3, 0), Matrix<S>(3, 0), e);

    Dropout<50> drop;
    drop.seed(Seed{2});
    // Before any forward: the identity, as in inference.
    drop.backward(x, y, x, dx);
    CHECK(dx == x);
    Matrix<S> ytrain(3, 5);
    drop.forward(x, ytrain, Mode::training);
    const Matrix<S> x3 = filled<S>(3, 3);
    Matrix<S> dx3(3, 3);
    CHECK_THAT(thrown<ShapeError>([&] { drop.backward(x3, x3, x3, dx3); }),
               Contains("chrysalis::Dropout::backward: dy is 3 x 3 but the last training-mode "
                        "forward was 3 x 5"));
    CHECK_THAT(thrown<ShapeError>([&] { drop.forward(x, MatrixRef<S>(out), Mode::training); }),
               Contains("chrysalis::Dropout::forward: y is 3 x 4"));
}

TEMPLATE_TEST_CASE("shapes: evaluation of no sample is refused, hard_targets of none is empty",
                   "[shapes][evaluate]", float, double) {
    using S = TestType;
    Net<S> net(Seed{1});
    Dataset<S> empty;
    empty.classes = 3;
    empty.features.resize(4, 0);
    CHECK_THAT(thrown<ShapeError>([&] { (void)accuracy(net, empty); }),
               Contains("chrysalis::accuracy: the data is empty"));
    CHECK_THAT(thrown<ShapeError>([&] { (void)evaluate(net, empty); }),
               Contains("chrysalis::evaluate: the data is empty"));
    CHECK_THAT(thrown<ShapeError>([&] { (void)confusion_matrix(net, empty); }),
               Contains("chrysalis::confusion_matrix: the data is empty"));
    CHECK_THAT(thrown<ShapeError>([&] { (void)predict_logits(net, empty); }),
               Contains("chrysalis::predict_logits: the data is empty"));
    CHECK_THAT(thrown<ShapeError>([&] { (void)hard_targets(empty, Matrix<S>(0, 0)); }),
               Contains("chrysalis::hard_targets: the teacher logits are 0x0") &&
                   Contains("classes >= 1"));
    const Dataset<S> relabelled = hard_targets(empty, Matrix<S>(3, 0));
    CHECK((relabelled.size() == 0 && relabelled.classes == 3 && relabelled.labels.empty()));
}

TEST_CASE("shapes: gradient checks of nothing are refused, not passed", "[shapes][gradcheck]") {
    const auto f = [](const Matrix<double>& z) { return CrossEntropy{}(z, std::vector<int>{}); };
    CHECK_THAT(thrown<ShapeError>([&] { (void)gradcheck_function(f, Matrix<double>(3, 0)); }),
               Contains("chrysalis::gradcheck_function: x is 3x0") &&
                   Contains("expected at least 1 row and 1 column"));
    const auto wrong = [](const Matrix<double>& z) {
        return std::pair<double, Matrix<double>>{z.sum(), Matrix<double>::Ones(1, 1)};
    };
    CHECK_THAT(thrown<ShapeError>([&] { (void)gradcheck_function(wrong, filled<double>(3, 2)); }),
               Contains("chrysalis::gradcheck_function: the gradient f returned is 1x1 but x is "
                        "3x2"));
    CHECK_THAT(thrown<ShapeError>([] {
                   (void)gradcheck_loss(CrossEntropy{}, Matrix<double>(0, 4), std::vector(4, 0));
               }),
               Contains("chrysalis::gradcheck_loss: logits is 0x4"));
    CHECK_THAT(thrown<ShapeError>([] {
                   (void)gradcheck_loss(CrossEntropy{}, filled<double>(3, 4), std::vector{0, 1});
               }),
               Contains("chrysalis::gradcheck_loss: 2 labels for 4 samples"));
    CHECK_THAT(thrown<ShapeError>([] {
                   (void)gradcheck_loss(Distillation{.alpha = 1.0}, filled<double>(3, 4),
                                        filled<double>(3, 2), std::vector<int>{});
               }),
               Contains("chrysalis::gradcheck_loss: teacher is 3x2 but student is 3x4"));
    Net<double> net(Seed{1});
    CHECK_THAT(thrown<ShapeError>([&] {
                   (void)gradcheck_network(net, Matrix<double>(4, 0), CrossEntropy{},
                                           std::vector<int>{});
               }),
               Contains("chrysalis::gradcheck_network: x is 4x0"));
    CHECK_THAT(
        thrown<ShapeError>([&] {
            (void)gradcheck_network(net, filled<double>(5, 2), CrossEntropy{}, std::vector{0, 1});
        }),
        Contains("chrysalis::gradcheck_network: x has 5 rows") && Contains("input width is 4"));
    Dense<4, 8, double> dense;
    CHECK_THAT(thrown<ShapeError>([&] { (void)gradcheck_layer(dense, Matrix<double>(4, 0), 8); }),
               Contains("chrysalis::gradcheck_layer: x is 4x0"));
    CHECK_THAT(thrown<ShapeError>([&] { (void)gradcheck_layer(dense, filled<double>(4, 2), 3); }),
               Contains("chrysalis::gradcheck_layer: x has 4 rows and output_rows is 3 but the "
                        "layer maps 4 to 8 rows"));
}

TEMPLATE_TEST_CASE("shapes: ensemble_probabilities of no class is refused", "[shapes][ensemble]",
                   float, double) {
    using S = TestType;
    const std::vector<Matrix<S>> none{Matrix<S>(0, 0), Matrix<S>(0, 0)};
    CHECK_THAT(thrown<ShapeError>([&] {
                   (void)ensemble_probabilities(std::span<const Matrix<S>>(none), {}, 2.0);
               }),
               Contains("chrysalis::ensemble_probabilities: teacher 0's logits are 0x0") &&
                   Contains("expected at least 1 class") && !Contains("chrysalis::softmax"));
    const std::vector<Matrix<S>> empty_batch{Matrix<S>(3, 0), Matrix<S>(3, 0)};
    const Matrix<S> p = ensemble_probabilities(std::span<const Matrix<S>>(empty_batch), {}, 2.0);
    CHECK((p.rows() == 3 && p.cols() == 0));
}

TEMPLATE_TEST_CASE("shapes: attacks of no sample are refused; per-sample results are empty",
                   "[shapes][attacks]", float, double) {
    using S = TestType;
    Net<S> net(Seed{1});
    const Matrix<S> x(4, 0);
    const std::vector<int> none;
    CHECK_THAT(thrown<ShapeError>([&] { (void)fgsm(net, x, none); }),
               Contains("chrysalis::fgsm: the inputs x are 4x0") && Contains("no samples"));
    CHECK_THAT(thrown<ShapeError>([&] { (void)pgd(net, x, none); }),
               Contains("chrysalis::pgd: the inputs x are 4x0"));
    CHECK_THAT(thrown<ShapeError>([&] { (void)jsma(net, x, none, none); }),
               Contains("chrysalis::jsma: the inputs x are 4x0"));
    // The input gradient is per sample: none for no sample.
    Matrix<S> g;
    const auto values = attack_gradient(net, x, none, AttackLoss::cross_entropy, 0.0, g);
    CHECK(values.empty());
    CHECK((g.rows() == 4 && g.cols() == 0));
    // Boundary samples are a per-sample transform: no base, no sample (both overloads; the second
    // runs a forward of no column before any other).
    const auto given = boundary_samples(net, x, none, none);
    CHECK((given.size() == 0 && given.samples.rows() == 4));
    Net<S> fresh(Seed{2});
    const auto chosen = boundary_samples(fresh, x, none);
    CHECK(chosen.size() == 0);
    CHECK_THAT(thrown<ShapeError>([&] { (void)boundary_samples(net, Matrix<S>(0, 0), none); }),
               Contains("chrysalis::boundary_samples: the base samples have 0 rows"));
}

TEMPLATE_TEST_CASE("shapes: a data set without features is refused where it is used",
                   "[shapes][data]", float, double) {
    using S = TestType;
    Dataset<S> d;
    d.classes = 2;
    d.features.resize(0, 3);
    d.labels = {0, 1, 0};
    CHECK_THAT(thrown<ShapeError>([&] { d.validate(); }),
               Contains("chrysalis::Dataset::validate: the features are 0x3") &&
                   Contains("expected at least 1 feature"));
    // Refused before a file is touched (the directory does not exist: an IoError otherwise).
    CHECK_THAT(thrown<ShapeError>([&] { save_csv(d, "/nonexistent-chrysalis-dir/d.csv"); }),
               Contains("chrysalis::save_csv: the data's features are 0x3"));
    CHECK_THAT(thrown<ShapeError>([&] {
                   save_idx(d, 1, 1, "/nonexistent-chrysalis-dir/i",
                            "/nonexistent-chrysalis-dir/l");
               }),
               Contains("chrysalis::save_idx: the data's features are 0x3"));
    CHECK_THAT(thrown<ShapeError>([&] { (void)random_projection(d, 2, 0.0, Seed{1}); }),
               Contains("chrysalis::random_projection: the data's features are 0x3") &&
                   !Contains("chrysalis::RandomProjection"));
    Net<S> net(Seed{1});
    CHECK_THAT(thrown<ShapeError>([&] { (void)predict_logits(net, d); }),
               Contains("chrysalis::predict_logits: the data has 0 features per sample"));
    Sgd sgd;
    CHECK_THAT(thrown<ShapeError>(
                   [&] { fit(net, d, CrossEntropy{}, sgd, {.epochs = 1, .progress = false}); }),
               Contains("chrysalis::fit: the data has 0 features per sample"));
}

TEMPLATE_TEST_CASE("shapes: optimizer updates check the gradient and the block's shape",
                   "[shapes][optim]", float, double) {
    using S = TestType;
    Matrix<S> p = filled<S>(3, 2), g = filled<S>(3, 2);
    Sgd sgd{.momentum = 0.9};
    sgd.begin_step();
    Matrix<S> short_g = filled<S>(2, 2);
    CHECK_THAT(thrown<ShapeError>([&] { sgd.update(p, short_g, 0); }),
               Contains("chrysalis::Sgd::update: the gradient g of block 0 is 2x2 but the "
                        "parameter p is 3x2"));
    sgd.update(p, g, 0);
    Matrix<S> bigger = filled<S>(5, 2), bigger_g = filled<S>(5, 2);
    CHECK_THAT(thrown<ShapeError>([&] { sgd.update(bigger, bigger_g, 0); }),
               Contains("chrysalis::Sgd::update: the parameter p of block 0 is 5x2 but the "
                        "optimizer's state for block 0 is 3x2"));
    AdamW adam;
    adam.begin_step();
    adam.update(p, g, 1);
    CHECK_THAT(thrown<ShapeError>([&] { adam.update(bigger, bigger_g, 1); }),
               Contains("chrysalis::AdamW::update: the parameter p of block 1 is 5x2"));
    CHECK_THAT(thrown<ShapeError>([&] { adam.update(p, short_g, 2); }),
               Contains("chrysalis::AdamW::update: the gradient g of block 2 is 2x2"));
}

}  // namespace CHRYSALIS_TEST_FILE
