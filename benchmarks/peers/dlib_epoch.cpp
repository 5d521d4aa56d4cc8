// dlib_epoch — the dlib peer of the side-by-side comparison (Debian's libdlib-dev, dlib 19.24,
// whose CPU products call the system BLAS: OpenBLAS where it is installed): the recipe of
// benchmarks/compare_pytorch.py's Python worker, step for step, in dlib's DNN API.
//
// For one seed, on Fashion-MNIST (inputs scaled to [0, 1], float32):
//   1. teacher 784-1200-1200-10 ReLU (dlib's fc layers, He-uniform weights and zero biases as the
//      other engines), cross-entropy (dlib's loss_multiclass_log, the batch mean), SGD lr 0.05
//      momentum 0.9 without weight decay (dlib's sgd(0, 0.9): v = 0.9·v − lr·g, θ += v, the same
//      steps as PyTorch's at a constant lr), batch 128, reshuffled every epoch, E epochs; then
//      its test accuracy;
//   2. the teacher's logits on the training set, once (batches of 256);
//   3. student 784-800-800-10 ReLU, cross-entropy, the same optimizer, E epochs;
//   4. the same initial student distilled from the cached logits with T = 4, alpha = 0.5:
//      alpha·T²·KL(softmax(z_t/T) ‖ softmax(z_s/T)) + (1 − alpha)·cross-entropy, batch means. dlib
//      has no such loss layer: its value and gradient are computed here, on the output of the
//      student's layers, which dlib then back-propagates and updates as for its own losses;
//   5. batch-1 inference of the distilled student: median of many calls.
// The loop is dlib's own lower-level one (compute_parameter_gradients, update_parameters), not
// dnn_trainer, which trains on a thread of its own and lowers the learning rate when the loss
// stalls: the recipe's steps, with nothing between them. Each batch is copied into a tensor
// directly, not through dlib's to_tensor from one matrix per sample.
// Output: the worker's JSON lines, engine "dlib" (setup, teacher_epoch, ..., inference_batch1),
// which compare_pytorch.py's summarise() and table() read as another engine. --check-blas prints
// the BLAS report alone (one JSON object) and exits.
//
// Not part of the default build: cmake -DCHRYSALIS_PEER_BENCHMARKS=ON (needs libdlib-dev, which
// scripts/install-deps.sh --peer installs), target dlib_epoch.
//
//   dlib_epoch [--data DIR] [--seed N] [--epochs E] [--threads N] [--limit K]
//              [--inference-calls N] [--check-blas]

#include <dlib/dnn.h>
#include <dlib/revision.h>

#include "../recipe_options.hpp"
#include "peer_io.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

using Clock = std::chrono::steady_clock;
using peer::field;
using peer::json_string;

namespace {

using namespace peer;  // the recipe's constants (kBatch, kLr, ...) and Options
constexpr long kClasses = 10;

using Input = dlib::input<dlib::matrix<float>>;
using Teacher = dlib::loss_multiclass_log<
    dlib::fc<10, dlib::relu<dlib::fc<1200, dlib::relu<dlib::fc<1200, Input>>>>>>;
using Student = dlib::loss_multiclass_log<
    dlib::fc<10, dlib::relu<dlib::fc<800, dlib::relu<dlib::fc<800, Input>>>>>>;

void emit(std::uint64_t seed, const std::string& measure, const std::vector<std::string>& fields) {
    peer::emit("dlib", seed, measure, fields);
}

std::string version() {
    return std::to_string(DLIB_MAJOR_VERSION) + "." + std::to_string(DLIB_MINOR_VERSION) + "." +
           std::to_string(DLIB_PATCH_VERSION);
}

/// Samples `rows` of d (its order) as a tensor of images, n × 1 × 28 × 28 as dlib's to_tensor
/// makes of 28 × 28 matrices.
void gather(const peer::Images& d, const std::int64_t* rows, std::int64_t n,
            dlib::resizable_tensor& x) {
    x.set_size(n, 1, 28, 28);
    float* out = x.host();
    for (std::int64_t i = 0; i < n; ++i)
        std::memcpy(out + i * d.pixels, d.x.data() + rows[i] * d.pixels,
                    static_cast<std::size_t>(d.pixels) * sizeof(float));
}

// The BLAS dlib's float products run on (it calls sgemm_ through the system BLAS).
std::string blas_report(int threads) {
    // One product through dlib, so that a lazily bound BLAS is bound.
    dlib::matrix<float> a = dlib::matrix_cast<float>(dlib::randm(64, 64));
    dlib::matrix<float> c = a * a;
    (void)dlib::sum(c);
    return "{" + field("dlib", json_string(version())) + ", " + peer::blas_fields(threads) + "}";
}

/// He-uniform weights (limit √(6/in)) and zero biases in every fc layer of `net`, drawn from
/// `rng`, after one forward has made the parameters (dlib sizes them at the first forward).
template <class Net>
void he_init(Net& net, std::mt19937_64& rng) {
    // Through to_tensor once: dlib's layers refuse tensors until the input layer has made one.
    const dlib::matrix<float> blank = dlib::zeros_matrix<float>(28, 28);
    dlib::resizable_tensor x;
    net.to_tensor(&blank, &blank + 1, x);
    net.subnet().forward(x);
    dlib::visit_computational_layers(net, [&](auto& layer) {
        if constexpr (requires { layer.get_num_outputs(); }) {
            dlib::tensor& p = layer.get_layer_params();
            const long outputs = static_cast<long>(layer.get_num_outputs());
            const long in = static_cast<long>(p.size()) / outputs - 1;  // the last row: biases
            std::uniform_real_distribution<float> u(-std::sqrt(6.0F / float(in)),
                                                    std::sqrt(6.0F / float(in)));
            float* w = p.host();
            for (long i = 0; i < in * outputs; ++i) w[i] = u(rng);
            std::fill(w + in * outputs, w + (in + 1) * outputs, 0.0F);
        }
    });
}

/// The class with the largest logit in row i of an n × classes output.
std::int64_t argmax(const float* z, std::int64_t i) {
    const float* row = z + i * kClasses;
    return std::max_element(row, row + kClasses) - row;
}

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

/// log softmax(z / t) of one row of `classes` values into out.
void log_softmax_row(const float* z, double t, double* out) {
    const double m = *std::max_element(z, z + kClasses) / t;
    double s = 0;
    for (long c = 0; c < kClasses; ++c) s += std::exp(z[c] / t - m);
    const double log_s = m + std::log(s);
    for (long c = 0; c < kClasses; ++c) out[c] = z[c] / t - log_s;
}

void run(const Options& o) {
    const std::string blas = blas_report(o.threads);
    if (o.check_blas) {
        std::cout << blas << "\n";
        return;
    }
    const auto seed = o.seed;
    auto train_set = peer::load_idx(o.data + "/train-images-idx3-ubyte.gz",
                                    o.data + "/train-labels-idx1-ubyte.gz");
    peer::keep_first(train_set, o.limit);
    const auto test_set = peer::load_idx(o.data + "/t10k-images-idx3-ubyte.gz",
                                         o.data + "/t10k-labels-idx1-ubyte.gz");
    const std::int64_t n = train_set.n;
    emit(seed, "setup",
         {field("version", json_string(version())), field("threads", o.threads),
          field("blas", blas), field("train", static_cast<double>(n)),
          field("test", static_cast<double>(test_set.n)), field("epochs", o.epochs)});

    // Logits of the network's layers (without the loss) for every sample of d, n × classes.
    auto predict = [&](auto& net, const peer::Images& d) {
        std::vector<float> out(static_cast<std::size_t>(d.n * kClasses));
        std::vector<std::int64_t> rows(static_cast<std::size_t>(d.n));
        std::iota(rows.begin(), rows.end(), std::int64_t{0});
        dlib::resizable_tensor x;
        for (std::int64_t i = 0; i < d.n; i += kLogitsBatch) {
            const std::int64_t m = std::min(kLogitsBatch, d.n - i);
            gather(d, rows.data() + i, m, x);
            const dlib::tensor& z = net.subnet().forward(x);
            std::copy(z.host(), z.host() + m * kClasses, out.begin() + i * kClasses);
        }
        return out;
    };
    auto accuracy = [&](auto& net) {
        const auto z = predict(net, test_set);
        std::int64_t correct = 0;
        for (std::int64_t i = 0; i < test_set.n; ++i)
            correct += argmax(z.data(), i) == test_set.label[static_cast<std::size_t>(i)];
        return static_cast<double>(correct) / static_cast<double>(test_set.n);
    };

    // step(net, x, rows, m) runs forward, loss and backward on a batch, leaving the parameter
    // gradients in the layers, and returns the batch's mean loss.
    auto train = [&](auto& net, const std::string& measure, auto step) {
        using Net = std::remove_reference_t<decltype(net)>;
        std::vector<dlib::sgd> solvers(Net::num_computational_layers,
                                       dlib::sgd(0.0F, static_cast<float>(kMomentum)));
        // The same shuffles for every model of a seed.
        std::mt19937_64 shuffle_rng(seed);
        std::vector<std::int64_t> perm(static_cast<std::size_t>(n));
        std::iota(perm.begin(), perm.end(), std::int64_t{0});
        dlib::resizable_tensor x;
        for (int epoch = 0; epoch < o.epochs; ++epoch) {
            const auto t0 = Clock::now();
            std::shuffle(perm.begin(), perm.end(), shuffle_rng);
            double loss_sum = 0;
            std::int64_t correct = 0;
            for (std::int64_t i = 0; i < n; i += kBatch) {
                const std::int64_t m = std::min(kBatch, n - i);
                const std::int64_t* rows = perm.data() + i;
                gather(train_set, rows, m, x);
                const double loss = step(net, x, rows, m);
                net.subnet().update_parameters(solvers, kLr);
                // chrysalis's loop also keeps the epoch's loss and training accuracy.
                loss_sum += loss * static_cast<double>(m);
                const float* z = net.subnet().get_output().host();
                for (std::int64_t j = 0; j < m; ++j)
                    correct += argmax(z, j) == train_set.label[static_cast<std::size_t>(rows[j])];
            }
            const double seconds = seconds_since(t0);
            emit(seed, measure,
                 {field("epoch", epoch), field("seconds", seconds),
                  field("samples_per_second", static_cast<double>(n) / seconds),
                  field("train_loss", loss_sum / static_cast<double>(n))});
            (void)correct;
        }
    };
    std::vector<unsigned long> labels(static_cast<std::size_t>(kBatch));
    auto cross_entropy = [&](auto& net, const dlib::tensor& x, const std::int64_t* rows,
                             std::int64_t m) {
        for (std::int64_t j = 0; j < m; ++j)
            labels[static_cast<std::size_t>(j)] =
                static_cast<unsigned long>(train_set.label[static_cast<std::size_t>(rows[j])]);
        return net.compute_parameter_gradients(x, labels.begin());
    };

    std::mt19937_64 init_rng(seed);
    // 1. The teacher.
    Teacher teacher;
    he_init(teacher, init_rng);
    train(teacher, "teacher_epoch", cross_entropy);
    emit(seed, "teacher_test_accuracy", {field("value", accuracy(teacher))});

    // 2. Its logits on the training set, once.
    auto t0 = Clock::now();
    const auto logits = predict(teacher, train_set);
    emit(seed, "teacher_logits", {field("seconds", seconds_since(t0))});

    // 3. The student on hard labels; 4. the same initial student distilled.
    std::mt19937_64 student_rng(seed + 1);
    Student student;
    he_init(student, student_rng);
    Student distilled = student;
    train(student, "student_ce_epoch", cross_entropy);
    emit(seed, "student_ce_test_accuracy", {field("value", accuracy(student))});

    dlib::resizable_tensor gradient;
    auto distillation = [&](Student& net, const dlib::tensor& x, const std::int64_t* rows,
                            std::int64_t m) {
        auto& body = net.subnet();
        const dlib::tensor& z = body.forward(x);
        gradient.copy_size(z);
        float* g = gradient.host();
        const float* zs = z.host();
        const double inv_b = 1.0 / static_cast<double>(m), tt = kTemperature;
        double loss = 0;
        for (std::int64_t j = 0; j < m; ++j) {
            double log_ps[kClasses], log_pt[kClasses], log_p1[kClasses];
            const float* zt = logits.data() + rows[j] * kClasses;
            log_softmax_row(zs + j * kClasses, tt, log_ps);
            log_softmax_row(zt, tt, log_pt);
            log_softmax_row(zs + j * kClasses, 1.0, log_p1);
            const auto y = train_set.label[static_cast<std::size_t>(rows[j])];
            for (long c = 0; c < kClasses; ++c) {
                const double pt = std::exp(log_pt[c]), ps = std::exp(log_ps[c]);
                loss += kAlpha * tt * tt * pt * (log_pt[c] - log_ps[c]) * inv_b;
                const double hard = std::exp(log_p1[c]) - (c == y ? 1.0 : 0.0);
                g[j * kClasses + c] =
                    static_cast<float>((kAlpha * tt * (ps - pt) + (1 - kAlpha) * hard) * inv_b);
            }
            loss -= (1 - kAlpha) * log_p1[y] * inv_b;
        }
        body.back_propagate_error(x, gradient);
        return loss;
    };
    train(distilled, "distill_epoch", distillation);
    emit(seed, "distill_test_accuracy", {field("value", accuracy(distilled))});

    // 5. Batch-1 inference of the distilled student.
    const int calls = o.inference_calls;
    std::vector<dlib::resizable_tensor> inputs(static_cast<std::size_t>(calls));
    for (int j = 0; j < calls; ++j) {
        const std::int64_t row = j % test_set.n;
        gather(test_set, &row, 1, inputs[static_cast<std::size_t>(j)]);
    }
    std::vector<double> times;
    times.reserve(inputs.size());
    for (int j = 0; j < calls / 10; ++j)
        distilled.subnet().forward(inputs[static_cast<std::size_t>(j)]);
    for (const auto& xb : inputs) {
        t0 = Clock::now();
        distilled.subnet().forward(xb);
        times.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    emit(seed, "inference_batch1",
         {field("median_us", peer::median(times)), field("calls", calls)});
}

}  // namespace

int main(int argc, char** argv) {
    return peer::main_of(argc, argv, "dlib_epoch", "dlib_epoch.cpp", run);
}
