// libtorch_epoch — the LibTorch (PyTorch's C++ API) peer of the side-by-side comparison: the
// recipe of benchmarks/compare_pytorch.py's Python worker, step for step, without Python.
//
// For one seed, on Fashion-MNIST (inputs scaled to [0, 1], float32):
//   1. teacher 784-1200-1200-10 ReLU, cross-entropy (batch mean), SGD lr 0.05 momentum 0.9,
//      batch 128, reshuffled every epoch (torch::randperm on a CPU generator seeded with the
//      seed, as the worker's torch.Generator), E epochs; then its test accuracy;
//   2. the teacher's logits on the training set, once (batches of 256, eval mode, no grad);
//   3. student 784-800-800-10 ReLU, cross-entropy, the same optimizer, E epochs;
//   4. the same initial student distilled from the cached logits with T = 4, alpha = 0.5:
//      alpha*T^2*kl_div(log_softmax(z_s/T), log_softmax(z_t/T), batchmean, log_target)
//      + (1 - alpha)*cross_entropy;
//   5. batch-1 inference of the distilled student: median of many calls (eval mode, no grad).
// Output: the worker's JSON lines, engine "libtorch" (setup, teacher_epoch, ...,
// inference_batch1), so that compare_pytorch.py's summarise() and table() read it as another
// engine. --check-blas prints the BLAS report alone (one JSON object) and exits.
//
// Not part of the default build: cmake -DCHRYSALIS_PEER_BENCHMARKS=ON (needs libtorch-dev,
// which scripts/install-deps.sh --peer installs), target libtorch_epoch.
//
//   libtorch_epoch [--data DIR] [--seed N] [--epochs E] [--threads N] [--limit K]
//                  [--inference-calls N] [--check-blas]

#include <torch/torch.h>

#include "../recipe_options.hpp"
#include "peer_io.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Version.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <regex>
#include <string>
#include <vector>

namespace F = torch::nn::functional;
using Clock = std::chrono::steady_clock;
using peer::field;
using peer::json_string;

namespace {

using namespace peer;  // the recipe's constants (kBatch, kLr, ...) and Options

void emit(std::uint64_t seed, const std::string& measure, const std::vector<std::string>& fields) {
    peer::emit("libtorch", seed, measure, fields);
}

// IDX files (gzip) -> (N x 784 float32 in [0, 1], N int64 labels), as the worker's load_idx.
std::pair<torch::Tensor, torch::Tensor> load_idx(const std::string& images_path,
                                                 const std::string& labels_path) {
    auto d = peer::load_idx(images_path, labels_path);
    auto x = torch::from_blob(d.x.data(), {d.n, d.pixels}, torch::kFloat32).clone();
    auto y = torch::from_blob(d.label.data(), {d.n}, torch::kInt64).clone();
    return {x, y};
}

// Which BLAS LibTorch's float products run on (the file that provides sgemm_, as the dynamic
// linker resolves it), OpenBLAS's own report of its core and configuration, its threads.
std::string blas_report(int threads) {
    auto a = torch::rand({256, 256});
    (void)torch::matmul(a, a).sum().item<float>();  // loads the BLAS if it is loaded lazily
    const std::string shown = at::show_config();
    std::smatch m;
    std::string capability = "?", blas_info = "?";
    if (std::regex_search(shown, m, std::regex(R"(CPU capability usage:\s*(\S+))")))
        capability = m[1];
    if (std::regex_search(shown, m, std::regex(R"(\bBLAS_INFO=([^,\s]+))"))) blas_info = m[1];
    return "{" + field("torch", json_string(TORCH_VERSION)) + ", " + peer::blas_fields(threads) +
           ", " + field("capability", json_string(capability)) + ", " +
           field("blas_info", json_string(blas_info)) + "}";
}

torch::nn::Sequential mlp(const std::vector<std::int64_t>& widths) {
    torch::nn::Sequential net;
    for (std::size_t i = 0; i + 1 < widths.size(); ++i) {
        torch::nn::Linear lin(widths[i], widths[i + 1]);
        const double limit = std::sqrt(6.0 / static_cast<double>(widths[i]));  // He-uniform
        torch::nn::init::uniform_(lin->weight, -limit, limit);
        torch::nn::init::zeros_(lin->bias);
        net->push_back(lin);
        if (i + 2 < widths.size()) net->push_back(torch::nn::ReLU());
    }
    return net;
}

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

void run(const Options& o) {
    torch::set_num_threads(o.threads);
    const std::string blas = blas_report(o.threads);
    if (o.check_blas) {
        std::cout << blas << "\n";
        return;
    }
    const auto seed = o.seed;
    auto [X, Y] =
        load_idx(o.data + "/train-images-idx3-ubyte.gz", o.data + "/train-labels-idx1-ubyte.gz");
    if (o.limit > 0 && o.limit < X.size(0)) {
        X = X.slice(0, 0, o.limit).clone();
        Y = Y.slice(0, 0, o.limit).clone();
    }
    const auto [XT, YT] =
        load_idx(o.data + "/t10k-images-idx3-ubyte.gz", o.data + "/t10k-labels-idx1-ubyte.gz");
    const std::int64_t n = X.size(0);
    emit(seed, "setup",
         {field("version", json_string(TORCH_VERSION)), field("threads", torch::get_num_threads()),
          field("blas", blas), field("train", static_cast<double>(n)),
          field("test", static_cast<double>(XT.size(0))), field("epochs", o.epochs)});

    auto train = [&](torch::nn::Sequential& model, const std::string& measure, auto loss_of) {
        torch::optim::SGD opt(model->parameters(),
                              torch::optim::SGDOptions(kLr).momentum(kMomentum));
        // The same shuffles for every model of a seed.
        auto gen = at::detail::createCPUGenerator(seed);
        model->train();
        for (int epoch = 0; epoch < o.epochs; ++epoch) {
            const auto t0 = Clock::now();
            const auto perm = torch::randperm(n, gen);
            double loss_sum = 0;
            std::int64_t correct = 0;
            for (std::int64_t i = 0; i < n; i += kBatch) {
                const auto idx = perm.slice(0, i, std::min(i + kBatch, n));
                const auto xb = X.index({idx});
                const auto yb = Y.index({idx});
                const auto out = model->forward(xb);
                auto loss = loss_of(out, idx, yb);
                model->zero_grad(/*set_to_none=*/true);
                loss.backward();
                opt.step();
                // chrysalis's loop also keeps the epoch's loss and training accuracy.
                loss_sum += loss.template item<double>() * static_cast<double>(idx.size(0));
                correct += (out.argmax(1) == yb).sum().template item<std::int64_t>();
            }
            const double seconds = seconds_since(t0);
            emit(seed, measure,
                 {field("epoch", epoch), field("seconds", seconds),
                  field("samples_per_second", static_cast<double>(n) / seconds),
                  field("train_loss", loss_sum / static_cast<double>(n))});
        }
    };
    auto predict = [&](torch::nn::Sequential& model, const torch::Tensor& data) {
        model->eval();
        torch::NoGradGuard no_grad;
        std::vector<torch::Tensor> parts;
        for (std::int64_t i = 0; i < data.size(0); i += kLogitsBatch)
            parts.push_back(model->forward(data.slice(0, i, i + kLogitsBatch)));
        return torch::cat(parts);
    };
    auto accuracy = [&](torch::nn::Sequential& model) {
        return (predict(model, XT).argmax(1) == YT).to(torch::kDouble).mean().item<double>();
    };
    auto cross_entropy = [](const torch::Tensor& out, const torch::Tensor&,
                            const torch::Tensor& yb) { return F::cross_entropy(out, yb); };

    // 1. The teacher.
    torch::manual_seed(seed);
    auto teacher = mlp({784, 1200, 1200, 10});
    train(teacher, "teacher_epoch", cross_entropy);
    emit(seed, "teacher_test_accuracy", {field("value", accuracy(teacher))});

    // 2. Its logits on the training set, once.
    auto t0 = Clock::now();
    const auto logits = predict(teacher, X);
    emit(seed, "teacher_logits", {field("seconds", seconds_since(t0))});

    // 3. The student on hard labels; 4. the same initial student distilled.
    torch::manual_seed(seed + 1);
    auto student = mlp({784, 800, 800, 10});
    torch::nn::Sequential distilled(
        std::dynamic_pointer_cast<torch::nn::SequentialImpl>(student->clone()));
    train(student, "student_ce_epoch", cross_entropy);
    emit(seed, "student_ce_test_accuracy", {field("value", accuracy(student))});

    auto distillation = [&](const torch::Tensor& out, const torch::Tensor& idx,
                            const torch::Tensor& yb) {
        const auto log_ps = F::log_softmax(out / kTemperature, F::LogSoftmaxFuncOptions(1));
        const auto log_pt =
            F::log_softmax(logits.index({idx}) / kTemperature, F::LogSoftmaxFuncOptions(1));
        const auto kl = F::kl_div(
            log_ps, log_pt, F::KLDivFuncOptions().reduction(torch::kBatchMean).log_target(true));
        return kAlpha * kTemperature * kTemperature * kl + (1 - kAlpha) * F::cross_entropy(out, yb);
    };
    train(distilled, "distill_epoch", distillation);
    emit(seed, "distill_test_accuracy", {field("value", accuracy(distilled))});

    // 5. Batch-1 inference of the distilled student.
    distilled->eval();
    const int calls = o.inference_calls;
    const std::int64_t tests = XT.size(0);
    std::vector<torch::Tensor> inputs;
    inputs.reserve(static_cast<std::size_t>(calls));
    for (int j = 0; j < calls; ++j) inputs.push_back(XT.slice(0, j % tests, j % tests + 1));
    std::vector<double> times;
    times.reserve(inputs.size());
    {
        torch::NoGradGuard no_grad;
        for (int j = 0; j < calls / 10; ++j)
            distilled->forward(inputs[static_cast<std::size_t>(j)]);
        for (const auto& xb : inputs) {
            t0 = Clock::now();
            distilled->forward(xb);
            times.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        }
    }
    const double median = peer::median(times);
    emit(seed, "inference_batch1", {field("median_us", median), field("calls", calls)});
}

}  // namespace

int main(int argc, char** argv) {
    return peer::main_of(argc, argv, "libtorch_epoch", "libtorch_epoch.cpp", run);
}
