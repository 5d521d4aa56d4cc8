// The zero-warnings consumer: a user's program that includes the umbrella header (and the
// headers it leaves out: attacks, boundary samples, cross-modal, views) and instantiates the
// library's public templates. In float and double: softmax and log_softmax, every loss (both call
// forms), fit, distill (live teacher and cached logits), predict, accuracy, save/load,
// checkpoint/resume, and (in extras) ONNX export; the attacks fgsm, pgd (targeted, logit margin)
// and jsma; boundary_samples, distill_with_boundary_samples and boundary_similarity;
// distill_paired on a RandomProjection view; ensemble_probabilities with distill_soft; jitter
// (the function and TrainOptions::jitter); evaluate, confusion_matrix and hard_targets; and the
// data files: save_npy/load_npy, export_npy/import_npy, save_csv/load_csv (gzip) and
// save_idx/load_idx, in the temporary directory. In double only: the gradient checker. In float
// only (int8 is float's): int8 quantization (dynamic and calibrated), its predictions and
// accuracy, the int8 model file (save, load_int8) and its ONNX export, and a layer of the user's
// own quantized through its to_int8. Each result is checked (finite, in range, the same after a
// round trip) and counted in the exit status. CTest builds it with
// -Wall -Wextra -Wpedantic -Wshadow, -Wconversion -Wsign-conversion and the other flags strict
// projects add (tests/consumer/CMakeLists.txt), -Werror, under g++ and clang++, with and without
// -march=native (tests/consumer/consumer.cmake); then runs it, on a tiny problem.
#include <chrysalis/attacks.hpp>
#include <chrysalis/boundary_distill.hpp>
#include <chrysalis/boundary_samples.hpp>
#include <chrysalis/boundary_similarity.hpp>
#include <chrysalis/chrysalis.hpp>
#include <chrysalis/cross_modal.hpp>
#include <chrysalis/views.hpp>

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace cy = chrysalis;

namespace {

template <class S>
cy::Dataset<S> blobs(int n, unsigned seed) {
    cy::Rng rng(cy::Seed{seed});
    cy::Dataset<S> d;
    d.classes = 3;
    d.features.resize(4, n);
    d.labels.resize(std::size_t(n));
    for (int j = 0; j < n; ++j) {
        const int c = j % 3;
        d.labels[std::size_t(j)] = c;
        for (int i = 0; i < 4; ++i) d.features(i, j) = S((i == c ? 2.0 : 0.0) + rng.uniform(-1, 1));
    }
    return d;
}

std::string read_all(const std::string& path) {
    // Through a stream buffer rather than istreambuf_iterator, whose inlined libstdc++ code g++
    // 12 flags with -Wnull-dereference at -O3 (its own code, not this program's or chrysalis's).
    std::ifstream in(path, std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    return std::move(bytes).str();
}

// An attack's result: adversarial inputs finite, inside the box and within eps (L∞) of x,
// rates in [0, 1].
template <class R, class M>
bool attack_ok(const R& r, const M& x, double lo, double hi, double eps) {
    const auto& a = r.adversarial;
    return a.rows() == x.rows() && a.cols() == x.cols() && a.allFinite() &&
           double(a.minCoeff()) >= lo && double(a.maxCoeff()) <= hi &&
           double((a - x).cwiseAbs().maxCoeff()) <= eps + 1e-6 && r.success_rate >= 0 &&
           r.success_rate <= 1 && r.successes <= r.attacked;
}

// y = W·relu(x) + b: a layer of the user's own with an int8 form (Int8Layer) of two parts, an
// activation and then a Dense, so that a calibration computes the Dense's input itself.
template <int In, int Out>
class ReluDense {
  public:
    using scalar_type = float;
    static constexpr int input_size = In;
    static constexpr int output_size = Out;
    static std::string name() { return "ReluDense"; }
    void initialize(cy::Rng& rng) { dense_.initialize(rng); }
    template <class F>
    void visit_parameters(F&& f) {
        dense_.visit_parameters(f);
    }
    void forward(cy::ConstMatrixRef<float> x, cy::MatrixRef<float> y, cy::Mode mode = {}) {
        a_.resize(In, x.cols());
        relu_.forward(x, a_, mode);
        dense_.forward(a_, y, mode);
    }
    void backward(cy::ConstMatrixRef<float> x, cy::ConstMatrixRef<float> y,
                  cy::ConstMatrixRef<float> dy, cy::MatrixRef<float> dx) {
        da_.resize(In, x.cols());
        dense_.backward(a_, y, dy, da_);
        if (dx.size() != 0) relu_.backward(x, a_, da_, dx);
    }
    template <class Builder>
    void to_int8(Builder& b) const {
        b.activation(relu_);
        b.dense(dense_.weights(), dense_.bias());
    }

  private:
    cy::Dense<In, Out> dense_;
    cy::ReLU relu_;
    cy::Matrix<float> a_, da_;
};

// The rest of the API, for one network type per scalar type, so that each template is compiled
// once per type (int8 in float only). `teacher` and `student` are trained; returns the number of
// failed checks and adds what it measures to `sum`.
template <class Net, class S = typename Net::scalar_type>
int extras(Net& teacher, Net& student, const cy::Dataset<S>& train, const cy::Dataset<S>& test,
           const cy::TrainOptions<S>& quiet, const std::string& dir, double& sum) {
    int failures = 0;
    const auto check = [&](bool ok, const char* what) {
        if (!ok) std::printf("FAILED: %s\n", what);
        failures += ok ? 0 : 1;
    };
    const cy::Distillation kd{.temperature = 4, .alpha = 0.9};

    double int8_gap = 0;
    if constexpr (std::is_same_v<S, float>) {
        // int8: dynamic and calibrated scales, accuracy, the int8 model file, its ONNX form.
        cy::Int8Network dynamic = cy::quantize(teacher);
        cy::Int8Network calibrated = cy::quantize(teacher, train.features.leftCols(32));
        const cy::Matrix<S> fp32 = cy::predict_logits(teacher, test);
        const cy::Matrix<S> zd = dynamic.predict_logits(test.features);
        cy::Matrix<S> zc(3, test.size());
        calibrated.forward(test.features, zc);
        check(zd.allFinite() && zc.allFinite() && calibrated.calibrated() &&
                  !dynamic.calibrated() && dynamic.dense_count() == 6 &&
                  dynamic.input_size() == 4 && dynamic.output_size() == 3,
              "quantize");
        // Within a loose bound of the fp32 logits (6 layers of 7-bit activations).
        int8_gap = double((zd - fp32).cwiseAbs().maxCoeff());
        check(int8_gap <= 0.25 * (1 + double(fp32.cwiseAbs().maxCoeff())), "int8 near fp32");
        sum += cy::accuracy(zd, test.labels) + cy::accuracy(zc, test.labels);
        const std::string q8 = dir + "/teacher.int8";
        for (const cy::Int8Network* q : {&dynamic, &calibrated}) {
            cy::save(*q, q8);
            cy::Int8Network served = cy::load_int8(q8);
            check(served.calibrated() == q->calibrated() &&
                      served.predict_logits(test.features) == (q == &dynamic ? zd : zc),
                  "load_int8 gives the saved network's logits");
        }
        cy::export_onnx(calibrated, dir + "/teacher_int8.onnx");
        check(read_all(dir + "/teacher_int8.onnx").find("MatMulInteger") != std::string::npos,
              "export_onnx (int8)");
        // A layer of the user's own, converted through its to_int8: within a loose bound of its
        // fp32 logits (two layers of 7-bit activations, a few percent each).
        cy::Sequential<cy::Dense<4, 8>, ReluDense<8, 3>> own{cy::Seed{4}};
        const cy::Matrix<S> own_fp32 = own.forward(test.features);
        const cy::Matrix<S> own_zd = cy::quantize(own).predict_logits(test.features);
        const cy::Matrix<S> own_zc =
            cy::quantize(own, train.features).predict_logits(test.features);
        check(double((own_zd - own_fp32).cwiseAbs().maxCoeff()) <=
                      0.1 * (1 + double(own_fp32.cwiseAbs().maxCoeff())) &&
                  double((own_zc - own_fp32).cwiseAbs().maxCoeff()) <=
                      0.1 * (1 + double(own_fp32.cwiseAbs().maxCoeff())),
              "quantize (a layer of the user's own)");
    }
    const cy::Matrix<S> logits_t = cy::predict_logits(teacher, test);
    cy::export_onnx(teacher, dir + "/teacher.onnx");
    check(read_all(dir + "/teacher.onnx").find("Gemm") != std::string::npos, "export_onnx");

    // Attacks, in a box that holds the data ([-1, 3]).
    const double lo = -2, hi = 4;
    std::vector<int> targets(test.labels.size());
    for (std::size_t j = 0; j < targets.size(); ++j) targets[j] = (test.labels[j] + 1) % 3;
    const auto f = cy::fgsm(teacher, test, cy::FgsmOptions{.epsilon = 0.25, .lo = lo, .hi = hi});
    const cy::PgdOptions po{.epsilon = 0.25,
                            .step_size = 0.05,
                            .steps = 5,
                            .random_start = true,
                            .seed = cy::Seed{5},
                            .lo = lo,
                            .hi = hi,
                            .loss = cy::AttackLoss::logit_margin,
                            .kappa = 1};
    const auto pg = cy::pgd(teacher, test.features, test.labels, targets, po);
    const auto js =
        cy::jsma(teacher, test, targets, cy::JsmaOptions{.gamma = 0.5, .lo = lo, .hi = hi});
    check(attack_ok(f, test.features, lo, hi, 0.25), "fgsm");
    check(attack_ok(pg, test.features, lo, hi, 0.25), "pgd");
    check(attack_ok(js, test.features, lo, hi, hi - lo) && js.mean_l0 <= 0.5, "jsma");
    sum += f.success_rate + pg.success_rate + js.success_rate;

    // Boundary-supporting samples, the distillation on them, and MagSim/AngSim.
    const cy::BssOptions bo{
        .step_size = 0.3, .max_steps = 30, .target = cy::TargetClass::runner_up};
    const auto bs = cy::boundary_samples(teacher, test.features, test.labels, bo);
    check(bs.size() == test.size() && bs.samples.allFinite() && bs.reached_count() <= bs.size(),
          "boundary_samples");
    Net bss{cy::Seed{6}};
    cy::Adam adam{.lr = 1e-2};
    const auto bss_reports = cy::distill_with_boundary_samples(
        bss, train, teacher, kd, adam, quiet, cy::BssOptions{.samples_per_batch = 8});
    check(bss_reports.size() == 2 && std::isfinite(bss_reports.back().loss),
          "distill_with_boundary_samples");
    Net twin = teacher;
    const auto similar = cy::boundary_similarity(teacher, twin, test, bo, 16);
    check(similar.pairs == 0 ||
              (std::abs(similar.magsim - 1) < 1e-3 && std::abs(similar.angsim - 1) < 1e-3),
          "boundary_similarity of a network with itself");
    sum += double(bs.reached_count()) + cy::accuracy(bss, test);

    // Cross-modal: the teacher sees the data, the student an unlabelled random projection of it.
    const cy::RandomProjection<S> sensor(4, 4, 0.05, cy::Seed{7});
    cy::Dataset<S> view = sensor(train, cy::Seed{8});
    view.labels.clear();
    Net paired{cy::Seed{9}};
    cy::Adam adam2{.lr = 1e-2};
    const auto paired_reports = cy::distill_paired(
        paired, view, teacher, train, cy::Distillation{.temperature = 4, .alpha = 1}, adam2, quiet);
    check(paired_reports.size() == 2 && std::isfinite(paired_reports.back().loss),
          "distill_paired");
    sum += cy::accuracy(paired, sensor(test, cy::Seed{10}));

    // An ensemble's soft targets, distilled with distill_soft.
    const std::vector<cy::Matrix<S>> ensemble{cy::predict_logits(teacher, train),
                                              cy::predict_logits(student, train)};
    const std::vector<double> weights{2, 1};
    const cy::Matrix<S> probs =
        cy::ensemble_probabilities(std::span<const cy::Matrix<S>>(ensemble), weights, 4.0);
    check(double((probs.colwise().sum().array() - 1).abs().maxCoeff()) < 1e-4,
          "ensemble_probabilities");
    Net soft_student{cy::Seed{11}};
    cy::Adam adam3{.lr = 1e-2};
    cy::distill_soft(soft_student, train, probs, kd, adam3, quiet);
    sum += cy::accuracy(soft_student, test);

    // Jitter: 4 features read as 2 x 2 images, shifted by up to 1 pixel.
    cy::Matrix<S> shifted = train.features;
    cy::Rng rng(cy::Seed{12});
    cy::jitter(shifted, 2, 2, 1, rng);
    check(shifted.allFinite(), "jitter");
    cy::TrainOptions<S> jittered = quiet;
    jittered.jitter = 1;
    jittered.image_width = jittered.image_height = 2;
    Net shaken{cy::Seed{13}};
    cy::Sgd sgd{.lr = 0.05, .momentum = 0.9};
    cy::fit(shaken, train, cy::CrossEntropy{}, sgd, jittered);
    sum += cy::accuracy(shaken, test);

    // Evaluation.
    const Eigen::MatrixXi confusion = cy::confusion_matrix(student, test);
    const cy::Evaluation e = cy::evaluate(student, test);
    check(confusion.rows() == 3 && confusion.sum() == test.size() && std::isfinite(e.loss) &&
              std::abs(double(confusion.trace()) / double(test.size()) - e.accuracy) < 1e-12 &&
              std::abs(e.accuracy - cy::accuracy(student, test)) < 1e-12,
          "confusion_matrix, evaluate");
    const cy::Dataset<S> hard = cy::hard_targets(teacher, train);
    check(hard.labels.size() == train.labels.size() && hard.classes == 3, "hard_targets");
    sum += e.loss;

    // Data files: .npy (a matrix; a network's blocks), CSV (gzip), IDX (scaled to [0, 1]).
    cy::save_npy(logits_t, dir + "/logits.npy");
    check(cy::load_npy<S>(dir + "/logits.npy") == logits_t, "save_npy/load_npy");
    cy::export_npy(student, dir + "/npy");
    Net imported;
    cy::import_npy(imported, dir + "/npy");
    check(cy::predict_logits(imported, test) == cy::predict_logits(student, test),
          "export_npy/import_npy");
    cy::save_csv(test, dir + "/test.csv.gz", {.header = true});
    const auto csv = cy::load_csv<S>(dir + "/test.csv.gz", {.header = true, .classes = 3});
    check(csv.features == test.features && csv.labels == test.labels && csv.classes == 3,
          "save_csv/load_csv");
    cy::Dataset<S> pixels = test;
    cy::scale_to_unit(pixels);
    cy::save_idx(pixels, 2, 2, dir + "/images.idx.gz", dir + "/labels.idx");
    const auto idx = cy::load_idx<S>(dir + "/images.idx.gz", dir + "/labels.idx", {.classes = 3});
    check(idx.labels == pixels.labels && idx.features.cols() == pixels.features.cols() &&
              double((idx.features - pixels.features).cwiseAbs().maxCoeff()) < 0.5 / 255 + 1e-6,
          "save_idx/load_idx");

    std::printf(
        "extras: int8 - fp32 max |logit| %.3f; fooled %ld, %ld, %ld of %ld, %ld, "
        "%ld; boundary reached %ld of %ld, %ld pairs; measures sum %.3f\n",
        int8_gap, long(f.successes), long(pg.successes), long(js.successes), long(f.attacked),
        long(pg.attacked), long(js.attacked), long(bs.reached_count()), long(bs.size()),
        long(similar.pairs), sum);
    return failures + (std::isfinite(sum) ? 0 : 1);
}

template <class S>
int exercise(const std::string& dir) {
    // One architecture for teacher and student (every kind of layer in it): each template is
    // instantiated once per scalar type, which keeps this file's compile time down.
    using Net = cy::Sequential<cy::Dense<4, 16, S>, cy::ReLU, cy::Dropout<10>, cy::Dense<16, 8, S>,
                               cy::GELU, cy::Dense<8, 8, S>, cy::Tanh, cy::Dense<8, 8, S>,
                               cy::Sigmoid, cy::Dense<8, 8, S>, cy::LeakyReLU, cy::Dense<8, 3, S>>;
    using Teacher = Net;
    using Student = Net;
    const auto train = blobs<S>(96, 1), test = blobs<S>(48, 2);
    const cy::TrainOptions<S> quiet{.epochs = 2, .batch_size = 16, .progress = false};

    cy::Matrix<S> logits = cy::Matrix<S>::Random(3, 5), other = cy::Matrix<S>::Random(3, 5);
    const std::vector<int> labels{0, 1, 2, 1, 0};
    cy::Matrix<S> p = cy::softmax(logits, 2.0), lp = cy::log_softmax(logits, 2.0);
    cy::softmax(logits, 1.0, p);
    cy::log_softmax(logits, 1.0, lp);
    cy::Matrix<S> g;
    S total = cy::CrossEntropy{}(logits, labels).loss + cy::CrossEntropy{}(logits, labels, g);
    const cy::Distillation kd{.temperature = 4, .alpha = 0.9};
    total += kd(logits, other, labels).loss + kd(logits, other, labels, g) +
             cy::Distillation{.temperature = 4, .alpha = 1}(logits, other).loss;
    total += kd.soft_targets(logits, cy::softmax(other, 4.0), labels).loss;
    total += cy::SoftTargetCrossEntropy{}(logits, p).loss +
             cy::LogitMatching{}(logits, other).loss + cy::ReverseKL{}(logits, other).loss;
    // The into forms of the other distillation losses, labels of another integer type, metrics.
    const std::vector<long> long_labels{0, 1, 2, 1, 0};
    total += cy::SoftTargetCrossEntropy{}(logits, p, labels, g) +
             cy::LogitMatching{}(logits, other, long_labels, g) + cy::ReverseKL{}(logits, other, g);
    total += S(cy::accuracy(logits, long_labels)) + S(cy::argmax(logits).sum());

    Teacher teacher{cy::Seed{1}};
    cy::Sgd sgd{.lr = 0.05, .momentum = 0.9};
    cy::fit(teacher, train, cy::CrossEntropy{}, sgd, quiet);
    const cy::Matrix<S> soft = cy::predict_logits(teacher, train);
    Student student{cy::Seed{2}}, live{cy::Seed{3}};
    cy::Adam adam{.lr = 1e-2};
    cy::distill(student, train, soft, kd, adam, quiet);
    cy::AdamW adamw{.lr = 1e-2};
    cy::distill(live, train, teacher, kd, adamw, quiet);
    const double acc = cy::accuracy(student, test) + cy::accuracy(live, test);

    const std::string model = dir + "/student.chrysalis", ckpt = dir + "/teacher.ckpt";
    cy::save(student, model);
    Student loaded;
    cy::load(loaded, model);
    cy::TrainOptions<S> resumable = quiet;
    cy::Sgd sgd2{.lr = 0.05, .momentum = 0.9};
    Teacher resumed{cy::Seed{1}};
    cy::fit(resumed, train, cy::CrossEntropy{}, sgd2, resumable, cy::Checkpointing{.path = ckpt});
    resumable.epochs = 3;
    resumable.validation = &test;
    cy::fit(resumed, train, cy::CrossEntropy{}, sgd2, resumable,
            cy::Checkpointing{.path = ckpt, .resume_from = ckpt}, cy::EarlyStopping{.patience = 2},
            [](const cy::EpochReport&) {});

    int failures = 0;
    const auto check = [&](bool ok, const char* what) {
        if (!ok) std::printf("FAILED (%s): %s\n", sizeof(S) == 4 ? "float" : "double", what);
        failures += ok ? 0 : 1;
    };
    check(cy::predict_logits(loaded, test) == cy::predict_logits(student, test),
          "load gives the saved network's logits");
    check(cy::predict_logits(resumed, test).allFinite(), "the resumed network's logits are finite");
    check(acc >= 0 && acc <= 2, "accuracies in [0, 1]");
    if constexpr (std::is_same_v<S, double>) {
        Student checked{cy::Seed{4}};
        const std::vector<int> three{0, 1, 2};
        const auto report = cy::gradcheck_network(
            checked, cy::Matrix<double>::Random(4, 3),
            [&](const cy::Matrix<double>& z) {
                auto r = cy::CrossEntropy{}(z, three);
                return std::pair{r.loss, r.gradient};
            },
            {}, cy::Mode::inference);  // Dropout: identity
        failures += report.passed(1e-6) ? 0 : 1;
        const cy::Matrix<double> zs = cy::Matrix<double>::Random(3, 3),
                                 zt = cy::Matrix<double>::Random(3, 3);
        failures += cy::gradcheck_loss(cy::Distillation{}, zs, zt, three).passed(1e-6) ? 0 : 1;
        failures += cy::gradcheck_loss(cy::CrossEntropy{}, zs, three).passed(1e-6) ? 0 : 1;
    }
    {
        double measures = 0;
        failures += extras(teacher, student, train, test, quiet, dir, measures);
    }
    std::printf("%s: loss sum %.3f, accuracy sum %.3f\n", sizeof(S) == 4 ? "float" : "double",
                double(total), acc);
    return failures + (std::isfinite(double(total)) ? 0 : 1);
}

}  // namespace

int main() {
    // A directory of its own: the consumer builds' programs run in parallel (ctest -j2), and
    // one that removed a shared directory made another's save fail.
    const auto dir = std::filesystem::temp_directory_path() /
                     ("chrysalis_consumer_warnings-" + std::to_string(std::random_device{}()) +
                      "-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir);
    const int failures = exercise<float>(dir.string()) + exercise<double>(dir.string());
    std::filesystem::remove_all(dir);
    return failures == 0 ? 0 : 1;
}
