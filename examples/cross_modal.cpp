// Cross-modal transfer (Gupta, Hoffman & Malik, "Cross Modal Distillation for Supervision
// Transfer", CVPR 2016, arXiv 1507.00448) on the MNIST digits, with MLPs: a teacher trained on the
// full 28 × 28 images with all their labels supervises a student that sees another view of the
// same digits — a 7 × 7 downsampling, the lower half, or a random projection with sensor noise —
// through the paired training images, whose labels the student never sees. As the paper's tables
// do, the student on the second modality is reported
//   (a) trained on N labelled samples of its own modality alone,
//   (b) distilled from the teacher through the paired, unlabelled training images,
//   (b+a) the paper's protocol: (b), then fine-tuned on the same N labels,
//   (c) trained on all the training labels (the ceiling).
// Fetch the digits first: scripts/fetch-mnist-digits.sh (10,000 digits: 8,000 train, 2,000 test).
//
//   cross_modal [--data DIR] [--view downsample|lower-half|projection|all] [--labels N]
//               [--seed N] [--seeds N] [--epochs N] [--quick]
// The teacher is trained once; the students run for --seeds seeds (default 3) and the numbers are
// their mean ± sample standard deviation.

#include <chrysalis/chrysalis.hpp>
#include <chrysalis/cross_modal.hpp>
#include <chrysalis/views.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

namespace cy = chrysalis;

using Teacher = cy::Sequential<cy::Dense<784, 512>, cy::ReLU, cy::Dropout<20>, cy::Dense<512, 512>,
                               cy::ReLU, cy::Dropout<20>, cy::Dense<512, 10>>;
template <int In>
using Student =
    cy::Sequential<cy::Dense<In, 256>, cy::ReLU, cy::Dense<256, 256>, cy::ReLU, cy::Dense<256, 10>>;

namespace {

/// Values over seeds: their mean and sample standard deviation, printed "m ± s".
struct Stat {
    std::vector<double> v;
    void add(double x) { v.push_back(x); }
    [[nodiscard]] double mean() const {
        double m = 0;
        for (double x : v) m += x / double(v.size());
        return m;
    }
    [[nodiscard]] std::string str() const {
        char buf[64];
        if (v.size() < 2) {
            std::snprintf(buf, sizeof buf, "%5.2f", mean());
        } else {
            double ss = 0;
            for (double x : v) ss += (x - mean()) * (x - mean());
            std::snprintf(buf, sizeof buf, "%5.2f ± %.2f", mean(),
                          std::sqrt(ss / double(v.size() - 1)));
        }
        return buf;
    }
};

struct Budget {
    int epochs;      // (b), (c) and the teacher
    int few_epochs;  // (a) and the fine-tuning of (b+a): about as many steps as (c)
    int seeds;
    long labels;  // N
    std::uint64_t seed;
};

/// The student of one view (In features), for every seed: (a), (b), (b+a), (c), test accuracy %.
template <int In>
void run_view(const char* title, const cy::Dataset<float>& train,
              const cy::Dataset<float>& train_view, const cy::Dataset<float>& test_view,
              Teacher& teacher, const Budget& b) {
    const auto start = std::chrono::steady_clock::now();
    // The paired transfer set: the view of every training image, without its label.
    cy::Dataset<float> unlabelled = train_view;
    unlabelled.labels.clear();
    const cy::Distillation kd{.temperature = 4, .alpha = 1};
    Stat few, distilled, tuned, all;
    for (int k = 0; k < b.seeds; ++k) {
        const std::uint64_t s = b.seed + 2 + 10 * std::uint64_t(k);
        // N labelled samples of the student's modality, a different draw for every seed.
        const auto labelled =
            cy::split(train_view, double(b.labels) / double(train_view.size()), cy::Seed{s}).second;
        const cy::TrainOptions<float> opts{
            .epochs = b.epochs, .batch_size = 100, .seed = cy::Seed{s}, .progress = false};
        const cy::TrainOptions<float> few_opts{
            .epochs = b.few_epochs, .batch_size = 32, .seed = cy::Seed{s + 1}, .progress = false};
        Student<In> sa(cy::Seed{s}), sb(cy::Seed{s}), sc(cy::Seed{s});
        cy::Adam oa{.lr = 1e-3}, ob{.lr = 1e-3}, ot{.lr = 1e-4}, oc{.lr = 1e-3};
        cy::fit(sa, labelled, cy::CrossEntropy{}, oa, few_opts);
        few.add(100 * cy::accuracy(sa, test_view));
        cy::distill_paired(sb, unlabelled, teacher, train, kd, ob, opts);
        distilled.add(100 * cy::accuracy(sb, test_view));
        cy::fit(sb, labelled, cy::CrossEntropy{}, ot, few_opts);  // fine-tuned, gently
        tuned.add(100 * cy::accuracy(sb, test_view));
        cy::fit(sc, train_view, cy::CrossEntropy{}, oc, opts);
        all.add(100 * cy::accuracy(sc, test_view));
    }
    std::printf("view: %s (%d features); student test accuracy %%, %d seed%s\n", title, In, b.seeds,
                b.seeds > 1 ? "s" : "");
    char row[4][96];
    std::snprintf(row[0], sizeof row[0], "(a)   %ld labels alone", b.labels);
    std::snprintf(row[1], sizeof row[1], "(b)   distilled through %ld unlabelled pairs",
                  long(train.size()));
    std::snprintf(row[2], sizeof row[2], "(b+a) (b), then fine-tuned on the %ld labels", b.labels);
    std::snprintf(row[3], sizeof row[3], "(c)   all %ld labels (the ceiling)",
                  long(train_view.size()));
    const Stat* stats[4] = {&few, &distilled, &tuned, &all};
    for (int r = 0; r < 4; ++r) std::printf("  %-48s %s\n", row[r], stats[r]->str().c_str());
    std::printf("  (%.0f s)\n\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    std::fflush(stdout);  // a view's table as soon as it is done, also into a file or a pipe
}

}  // namespace

int main(int argc, char** argv) try {
    std::string data_dir = "data/mnist-digits", view = "all";
    Budget b{.epochs = 20, .few_epochs = 0, .seeds = 3, .labels = 100, .seed = 1};
    constexpr int k = 64;          // the projection's features
    constexpr double noise = 0.5;  // the sd of its sensor noise
    const char* usage =
        "usage: cross_modal [--data DIR] [--view downsample|lower-half|projection|all]\n"
        "                   [--labels N] [--seed N] [--seeds N] [--epochs N] [--quick]\n"
        "  A teacher on the full 28x28 MNIST digits, with all labels, supervises a student on\n"
        "  another view of the same digits through the unlabelled training images; the student\n"
        "  is reported (a) on N labels alone, (b) distilled, (b+a) distilled then fine-tuned on\n"
        "  the N labels, (c) on all labels. Defaults: --data data/mnist-digits --view all\n"
        "  --labels 100 --seed 1 --seeds 3 --epochs 20; --quick: 2 epochs, 1 seed.\n"
        "  The projection view is 64 Gaussian features with sensor noise of sd 0.5.\n";
    bool quick = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--data" && i + 1 < argc)
            data_dir = argv[++i];
        else if (a == "--view" && i + 1 < argc)
            view = argv[++i];
        else if (a == "--labels" && i + 1 < argc)
            b.labels = std::stol(argv[++i]);
        else if (a == "--seed" && i + 1 < argc)
            b.seed = std::stoull(argv[++i]);
        else if (a == "--seeds" && i + 1 < argc)
            b.seeds = std::max(1, std::stoi(argv[++i]));
        else if (a == "--epochs" && i + 1 < argc)
            b.epochs = std::max(1, std::stoi(argv[++i]));
        else if (a == "--quick")
            quick = true;
        else {
            std::cout << usage;
            return a == "--help" ? 0 : 2;
        }
    }
    if (quick) {
        b.epochs = 2;
        b.seeds = 1;
    }
    if (view != "all" && view != "downsample" && view != "lower-half" && view != "projection") {
        std::cerr << "cross_modal: unknown view '" << view << "'\n" << usage;
        return 2;
    }
    const auto train = cy::load_idx<float>(data_dir + "/train-images-idx3-ubyte.gz",
                                           data_dir + "/train-labels-idx1-ubyte.gz");
    const auto test = cy::load_idx<float>(data_dir + "/t10k-images-idx3-ubyte.gz",
                                          data_dir + "/t10k-labels-idx1-ubyte.gz");
    if (b.labels < 1 || b.labels >= long(train.size())) {
        std::cerr << "cross_modal: --labels must be in [1, " << train.size() << ")\n";
        return 2;
    }
    // (a) and the fine-tuning take as many steps (batches of 32) as (c) takes (batches of 100),
    // at most 2,000 passes over the N samples.
    const long steps = long(b.epochs) * ((long(train.size()) + 99) / 100);
    b.few_epochs = int(std::min(2000L, std::max(1L, steps / ((b.labels + 31) / 32))));

    const auto start = std::chrono::steady_clock::now();
    Teacher teacher(cy::Seed{b.seed});
    cy::Adam t_opt{.lr = 1e-3};
    cy::fit(teacher, train, cy::CrossEntropy{}, t_opt,
            {.epochs = b.epochs, .batch_size = 100, .seed = cy::Seed{b.seed}, .progress = false});
    std::printf(
        "Cross-modal transfer on %ld + %ld MNIST digits: teacher 784-512-512-10 on the full "
        "images, all %ld labels: %.2f%% test accuracy.\nStudents 'view'-256-256-10; (b) sees no "
        "label, only the teacher's logits on the paired full images (T = 4, alpha = 1).\n\n",
        long(train.size()), long(test.size()), long(train.size()),
        100 * cy::accuracy(teacher, test));

    if (view == "all" || view == "downsample") {
        run_view<49>("downsample, 7 x 7 average pooling of 4 x 4 blocks", train,
                     cy::downsample(train, 28, 28, 4), cy::downsample(test, 28, 28, 4), teacher, b);
    }
    if (view == "all" || view == "lower-half") {
        run_view<392>("lower-half, rows 14-27 of the image", train,
                      cy::crop_rows(train, 28, 28, 14, 14), cy::crop_rows(test, 28, 28, 14, 14),
                      teacher, b);
    }
    if (view == "all" || view == "projection") {
        // One sensor for both sets: the same projection, fresh noise for every image.
        const cy::RandomProjection<float> sensor(784, k, noise, cy::Seed{b.seed + 100});
        run_view<k>("projection, 64 Gaussian random features + N(0, 0.5^2) noise", train,
                    sensor(train, cy::Seed{b.seed + 101}), sensor(test, cy::Seed{b.seed + 102}),
                    teacher, b);
    }
    std::printf("total %.0f s\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "cross_modal: %s\n(fetch the digits with scripts/fetch-mnist-digits.sh)\n",
                 e.what());
    return 1;
}
