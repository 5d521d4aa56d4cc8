// epoch_bench — the chrysalis half of the side-by-side comparison with PyTorch
// (benchmarks/compare_pytorch.py runs it, then the same recipe in PyTorch, and prints the table).
//
// The recipe, on Fashion-MNIST (inputs scaled to [0, 1]), for one seed:
//   1. teacher 784-1200-1200-10 ReLU (no dropout, no jitter), cross-entropy (batch mean),
//      Sgd{lr 0.05, momentum 0.9} (PyTorch's momentum: v ← μ·v + g, θ ← θ − η·v), batch 128,
//      shuffled every epoch, E epochs; then its test accuracy;
//   2. the teacher's logits on the training set, computed once (timed on their own);
//   3. student 784-800-800-10 ReLU, cross-entropy, the same optimizer, E epochs;
//   4. the same student (same initial weights) distilled from the cached logits with
//      Distillation{T = 4, α = 0.5}: α·T²·KL(p_t^T ‖ p_s^T) + (1 − α)·CE, each a batch mean;
//   5. single-sample (batch 1) inference of the distilled student: median of many calls;
//   6. the FMA peak of --threads cores, measured in this binary before step 1 and after step 5
//      (benchmarks/fma_peak.hpp), so that the comparison can say what share of the machine's
//      limit each engine's epochs reach: the higher of the two is the peak.
// Epoch times are the training loop's own (EpochReport::seconds): no evaluation inside.
//
// Output: one JSON object per line on stdout, one per measured thing, each with "engine",
// "seed" and "measure" (setup, teacher_epoch, teacher_test_accuracy, teacher_logits,
// student_ce_epoch, student_ce_test_accuracy, distill_epoch, distill_test_accuracy,
// inference_batch1, fma_peak). compare_pytorch.py's worker prints the same lines for PyTorch,
// fma_peak apart: the peak is the machine's, measured once, by the chrysalis half.
//
//   epoch_bench [--data DIR] [--seed N] [--epochs E] [--threads N] [--limit K]
//               [--inference-calls N]

#include <chrysalis/chrysalis.hpp>

#include "fma_peak.hpp"
#include "recipe_options.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

namespace cy = chrysalis;
using Clock = std::chrono::steady_clock;

using Teacher = cy::Sequential<cy::Dense<784, 1200>, cy::ReLU, cy::Dense<1200, 1200>, cy::ReLU,
                               cy::Dense<1200, 10>>;
using Student = cy::Sequential<cy::Dense<784, 800>, cy::ReLU, cy::Dense<800, 800>, cy::ReLU,
                               cy::Dense<800, 10>>;

namespace {

using Options = recipe::Options;

Options parse(int argc, char** argv) {
    return recipe::parse(
        argc, argv,
        [](const std::string& a) {
            if (a != "--help" && a != "-h") return false;
            std::cout << "usage: epoch_bench [--data DIR] [--seed N] [--epochs E] [--threads N] "
                         "[--limit K] [--inference-calls N]\n"
                         "JSON lines on stdout; see benchmarks/compare_pytorch.py\n";
            std::exit(0);
        },
        "try --help");
}

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

/// The start of one JSON line: {"engine": "chrysalis", "seed": s, "measure": "what"
std::string line(std::uint64_t seed, const char* measure) {
    return cy::detail::concat("{\"engine\": \"chrysalis\", \"seed\": ", seed, ", \"measure\": \"",
                              measure, "\"");
}

void emit(const std::string& s) {
    std::printf("%s}\n", s.c_str());
    std::fflush(stdout);
}

std::string num(double x) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.9g", x);
    return buffer;
}

void emit_epoch(std::uint64_t seed, const char* measure, const cy::EpochReport& r) {
    emit(line(seed, measure) + ", \"epoch\": " + std::to_string(r.epoch) + ", \"seconds\": " +
         num(r.seconds) + ", \"samples_per_second\": " + num(r.samples_per_second) +
         ", \"train_loss\": " + num(r.loss));
}

volatile float sink = 0;

/// Median time of one single-sample forward, in microseconds, after `calls / 10` warm-up calls.
template <class Net>
double inference_us(Net& net, const cy::Dataset<float>& test, int calls) {
    for (int j = 0; j < calls / 10; ++j)
        sink = net.forward(test.features.col(j % test.size()))(0, 0);
    std::vector<double> times;
    times.reserve(std::size_t(calls));
    for (int j = 0; j < calls; ++j) {
        const auto t0 = Clock::now();
        const auto y = net.forward(test.features.col(j % test.size()));
        sink = y(0, 0);  // keep the forward
        times.push_back(seconds_since(t0) * 1e6);
    }
    std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
    return times[times.size() / 2];
}

}  // namespace

int main(int argc, char** argv) try {
    const Options o = parse(argc, argv);
    cy::set_threads(o.threads);  // inference, predict_logits and accuracy as well as training
    auto train = cy::load_idx<float>(o.data + "/train-images-idx3-ubyte.gz",
                                     o.data + "/train-labels-idx1-ubyte.gz");
    const auto test = cy::load_idx<float>(o.data + "/t10k-images-idx3-ubyte.gz",
                                          o.data + "/t10k-labels-idx1-ubyte.gz");
    if (o.limit > 0 && o.limit < train.size()) {
        std::vector<Eigen::Index> first(std::size_t(o.limit));
        std::iota(first.begin(), first.end(), Eigen::Index(0));
        train = cy::subset(train, first);
    }

    cy::TrainOptions<float> options{.epochs = o.epochs,
                                    .batch_size = 128,
                                    .seed = cy::Seed{o.seed},
                                    .shuffle = true,
                                    .progress = false,
                                    .threads = o.threads};
    emit(line(o.seed, "setup") + ", \"version\": \"" + std::string(cy::version_string) +
         "\", \"threads\": " + std::to_string(o.threads) + ", \"openmp\": " +
         (cy::has_openmp ? "true" : "false") + ", \"train\": " + std::to_string(train.size()) +
         ", \"test\": " + std::to_string(test.size()) +
         ", \"epochs\": " + std::to_string(o.epochs));
    // What teacher training has to hold: both data sets (features and labels), the parameters,
    // the optimizer's momenta and one batch's activations (input, two hidden layers before and
    // after ReLU, logits, and their gradients). The comparison script divides the peak RSS by it.
    {
        const double f = sizeof(float);
        const double data = double(train.features.size() + test.features.size()) * f +
                            double(train.labels.size() + test.labels.size()) * sizeof(int);
        const double params = double(Teacher::parameter_count()) * f;
        const double batch = 128.0 * (784 + 4 * 1200 + 2 * 10) * f * 2;
        emit(line(o.seed, "memory_budget") + ", \"bytes\": " + num(data + 2 * params + batch) +
             ", \"data_bytes\": " + num(data) + ", \"parameter_bytes\": " + num(params));
    }

    const double peak_before = chrysalis_bench::measure_fma_peak(o.threads);

    // 1. The teacher.
    Teacher teacher(cy::Seed{o.seed});
    {
        cy::Sgd sgd{.lr = 0.05, .momentum = 0.9};
        auto opts = options;
        opts.on_epoch = [&](const cy::EpochReport& r) { emit_epoch(o.seed, "teacher_epoch", r); };
        cy::fit(teacher, train, cy::CrossEntropy{}, sgd, opts);
    }
    emit(line(o.seed, "teacher_test_accuracy") +
         ", \"value\": " + num(cy::accuracy(teacher, test)));

    // 2. Its logits on the training set, once.
    auto t0 = Clock::now();
    const cy::Matrix<float> logits = cy::predict_logits(teacher, train);
    emit(line(o.seed, "teacher_logits") + ", \"seconds\": " + num(seconds_since(t0)));

    // 3. The student on hard labels; 4. the same initial student distilled.
    const cy::Seed student_seed{o.seed + 1};
    {
        Student student(student_seed);
        cy::Sgd sgd{.lr = 0.05, .momentum = 0.9};
        auto opts = options;
        opts.on_epoch = [&](const cy::EpochReport& r) {
            emit_epoch(o.seed, "student_ce_epoch", r);
        };
        cy::fit(student, train, cy::CrossEntropy{}, sgd, opts);
        emit(line(o.seed, "student_ce_test_accuracy") +
             ", \"value\": " + num(cy::accuracy(student, test)));
    }
    Student distilled(student_seed);
    {
        cy::Sgd sgd{.lr = 0.05, .momentum = 0.9};
        auto opts = options;
        opts.on_epoch = [&](const cy::EpochReport& r) { emit_epoch(o.seed, "distill_epoch", r); };
        cy::distill(distilled, train, logits, cy::Distillation{.temperature = 4.0, .alpha = 0.5},
                    sgd, opts);
    }
    emit(line(o.seed, "distill_test_accuracy") +
         ", \"value\": " + num(cy::accuracy(distilled, test)));

    // 5. Batch-1 inference of the distilled student.
    emit(line(o.seed, "inference_batch1") +
         ", \"median_us\": " + num(inference_us(distilled, test, o.inference_calls)) +
         ", \"calls\": " + std::to_string(o.inference_calls));

    // 6. The FMA peak of the cores the training used, again: a busier host lowers either.
    const double peak_after = chrysalis_bench::measure_fma_peak(o.threads);
    emit(line(o.seed, "fma_peak") + ", \"threads\": " + std::to_string(o.threads) +
         ", \"gflops\": " + num(std::max(peak_before, peak_after)) +
         ", \"gflops_before\": " + num(peak_before) + ", \"gflops_after\": " + num(peak_after));
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "epoch_bench: %s\n", e.what());
    return 1;
}
