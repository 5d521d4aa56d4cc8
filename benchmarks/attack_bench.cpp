// The chrysalis half of compare_attacks.py: FGSM, PGD and JSMA on a 784-300-100-10 network
// trained for one epoch on the MNIST digits, timed (the best of --repeats runs), with the
// network's weights exported (export_npy) so that the PyTorch half attacks the same network.
// Labels are the network's own predictions, so every sample is attacked; PGD's ε is small
// enough that its batches run all their steps.
//
//   attack_bench --data DIR --out DIR [--samples N] [--jsma-samples N] [--repeats R]
//                [--threads T] [--batch B]
// --batch is FGSM's and PGD's batch size (default 256; JSMA's stays 100).
// Prints one JSON object per line: {"attack": …, "seconds": …, "success_rate": …, …}.

#include <chrysalis/attacks.hpp>
#include <chrysalis/chrysalis.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

namespace cy = chrysalis;

using Net = cy::Sequential<cy::Dense<784, 300>, cy::ReLU, cy::Dense<300, 100>, cy::ReLU,
                           cy::Dense<100, 10>>;

int main(int argc, char** argv) try {
    std::string data_dir = "data/mnist-digits", out_dir;
    Eigen::Index samples = 1000, jsma_samples = 100;
    Eigen::Index batch = 256;
    int repeats = 3, threads = 1;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--data" && i + 1 < argc) {
            data_dir = argv[++i];
        } else if (a == "--out" && i + 1 < argc) {
            out_dir = argv[++i];
        } else if (a == "--samples" && i + 1 < argc) {
            samples = std::stol(argv[++i]);
        } else if (a == "--jsma-samples" && i + 1 < argc) {
            jsma_samples = std::stol(argv[++i]);
        } else if (a == "--repeats" && i + 1 < argc) {
            repeats = std::max(1, std::stoi(argv[++i]));
        } else if (a == "--batch" && i + 1 < argc) {
            batch = std::stol(argv[++i]);
        } else if (a == "--threads" && i + 1 < argc) {
            threads = std::stoi(argv[++i]);
        } else {
            std::cout << "usage: attack_bench --data DIR --out DIR [--samples N] "
                         "[--jsma-samples N] [--repeats R] [--threads T] [--batch B]\n";
            return a == "--help" ? 0 : 2;
        }
    }
    if (out_dir.empty()) throw cy::ValueError("attack_bench: --out DIR is required");
    cy::set_threads(threads);
    const auto train = cy::load_idx<float>(data_dir + "/train-images-idx3-ubyte.gz",
                                           data_dir + "/train-labels-idx1-ubyte.gz");
    const auto test = cy::load_idx<float>(data_dir + "/t10k-images-idx3-ubyte.gz",
                                          data_dir + "/t10k-labels-idx1-ubyte.gz");
    Net net(cy::Seed{1});
    cy::Adam opt{.lr = 1e-3};
    cy::fit(net, train, cy::CrossEntropy{}, opt,
            {.epochs = 1, .batch_size = 100, .seed = cy::Seed{1}, .progress = false});
    cy::export_npy(net, out_dir);

    const Eigen::Index n = std::min(samples, test.size());
    const cy::Matrix<float> x = test.features.leftCols(n);
    const cy::Matrix<float> z = net.forward(x);
    std::vector<int> y(static_cast<std::size_t>(n)), t(static_cast<std::size_t>(n));
    for (Eigen::Index b = 0; b < n; ++b) {
        Eigen::Index k = 0;
        z.col(b).maxCoeff(&k);
        y[std::size_t(b)] = int(k);
        t[std::size_t(b)] = int((k + 1) % 10);
    }
    const Eigen::Index nj = std::min(jsma_samples, n);
    const cy::Matrix<float> xj = x.leftCols(nj);
    const std::vector<int> yj(y.begin(), y.begin() + nj), tj(t.begin(), t.begin() + nj);

    const auto time = [&](const char* name, auto&& attack) {
        double best = 1e300;
        cy::AttackResult<float> r;
        for (int k = 0; k < repeats; ++k) {
            const auto t0 = std::chrono::steady_clock::now();
            r = attack();
            best = std::min(
                best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        }
        std::printf(
            "{\"engine\": \"chrysalis\", \"attack\": \"%s\", \"seconds\": %.6f, "
            "\"samples\": %ld, \"success_rate\": %.6f, \"mean_linf\": %.6f, "
            "\"mean_l0\": %.6f}\n",
            name, best, long(r.adversarial.cols()), r.success_rate, r.mean_linf, r.mean_l0);
    };
    time("fgsm", [&] { return cy::fgsm(net, x, y, {.epsilon = 0.1, .batch_size = batch}); });
    time("pgd", [&] {
        return cy::pgd(net, x, y,
                       {.epsilon = 0.002, .step_size = 0.0005, .steps = 40, .batch_size = batch});
    });
    time("jsma", [&] { return cy::jsma(net, xj, yj, tj, {.gamma = 0.145}); });
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "attack_bench: %s\n", e.what());
    return 1;
}
