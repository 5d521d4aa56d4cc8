// A small student in int8: a 784-32-10 MLP trained on Fashion-MNIST, then converted by
// chrysalis::quantize with dynamic activation scales (per sample, as it runs) and with static
// ones (calibrated once on 1,000 training images); the test accuracy of each, per seed and as
// the mean over the seeds. A small network has the least redundancy to absorb rounding, so it is
// where int8 would lose accuracy first (docs/quantization.md, "Accuracy").
//
//   quantize_student [--data DIR] [--seeds N] [--epochs N] [--quick]
//
// --quick: one seed, one epoch on 6,000 images (a test that the program runs, not a figure).
#include <chrysalis/chrysalis.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

namespace cy = chrysalis;

using Small = cy::Sequential<cy::Dense<784, 32>, cy::ReLU, cy::Dense<32, 10>>;

namespace {

double mean(const std::vector<double>& v) {
    return std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
}

}  // namespace

int main(int argc, char** argv) {
    std::string dir = "/usr/share/datasets/fashion-mnist";
    int seeds = 3, epochs = 10;
    bool quick = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "quantize_student: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--data") {
            dir = value();
        } else if (a == "--seeds") {
            seeds = std::max(1, std::stoi(value()));
        } else if (a == "--epochs") {
            epochs = std::max(1, std::stoi(value()));
        } else if (a == "--quick") {
            quick = true;
        } else {
            std::fprintf(stderr,
                         "usage: quantize_student [--data DIR] [--seeds N] [--epochs N] "
                         "[--quick]\n");
            return a == "--help" ? 0 : 2;
        }
    }
    auto train = cy::load_idx<float>(dir + "/train-images-idx3-ubyte.gz",
                                     dir + "/train-labels-idx1-ubyte.gz");
    const auto test =
        cy::load_idx<float>(dir + "/t10k-images-idx3-ubyte.gz", dir + "/t10k-labels-idx1-ubyte.gz");
    if (quick) {
        std::vector<Eigen::Index> first(6000);
        std::iota(first.begin(), first.end(), Eigen::Index(0));
        train = cy::subset(train, first);
        seeds = 1;
        epochs = 1;
    }
    const cy::Matrix<float> calibration = train.features.leftCols(1000);

    std::printf(
        "784-32-10 student, Adam 1e-3, %d epoch(s) on %ld images, %d seed(s); test "
        "accuracy on %ld images\n",
        epochs, long(train.size()), seeds, long(test.size()));
    std::printf("%6s %10s %14s %13s\n", "seed", "fp32 %", "int8 dynamic %", "int8 static %");
    std::vector<double> fp32, dynamic, calibrated;
    for (int k = 0; k < seeds; ++k) {
        Small net{cy::Seed{std::uint64_t(100 + k)}};
        cy::Adam opt{.lr = 1e-3};
        cy::fit(net, train, cy::CrossEntropy{}, opt,
                {.epochs = epochs, .seed = cy::Seed{std::uint64_t(200 + k)}});
        fp32.push_back(100 * cy::accuracy(net, test));
        cy::Int8Network q = cy::quantize(net);
        dynamic.push_back(100 * cy::accuracy(q.predict_logits(test.features), test.labels));
        cy::Int8Network s = cy::quantize(net, calibration);
        calibrated.push_back(100 * cy::accuracy(s.predict_logits(test.features), test.labels));
        std::printf("%6d %10.2f %14.2f %13.2f\n", 100 + k, fp32.back(), dynamic.back(),
                    calibrated.back());
    }
    std::printf("%6s %10.2f %14.2f %13.2f\n", "mean", mean(fp32), mean(dynamic), mean(calibrated));
    std::printf("int8 - fp32, mean over %d seed(s): dynamic %+.2f points, static %+.2f points\n",
                seeds, mean(dynamic) - mean(fp32), mean(calibrated) - mean(fp32));
}
