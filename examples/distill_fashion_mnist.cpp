// The flagship: knowledge distillation on Fashion-MNIST.
//
// 1. A teacher, 784-1200-1200-10 with dropout, trained on 55,000 images with Adam and a
//    cosine-annealed learning rate.
// 2. A student, 784-800-800-10 without regularisation, trained from scratch on a small transfer
//    set (3,000 of those images) — the regime where distillation helps (Hinton et al. 2015:
//    a student that overfits hard labels).
// 3. The same student on the teacher's hard targets: the transfer set labelled with the
//    teacher's predictions (argmax) instead of the true labels.
// 4. The same student distilled from the teacher's soft targets on the same transfer set, with
//    the temperature T and weight α chosen on a 5,000-image validation split; then converted to
//    int8 (chrysalis::quantize, dynamic scales) for a fifth row.
// Then one table: test accuracy and errors, parameters, bytes on disk (the model file),
// single-sample inference time and training time (int8: the conversion) for the five. The models
// are saved (the int8 one in the int8 model file).
//
//   distill_fashion_mnist [--data DIR] [--out DIR] [--quick] [--seed N]
//                         [--teacher-epochs N] [--student-epochs N] [--transfer N]

#include <chrysalis/chrysalis.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <numeric>
#include <string>
#include <tuple>
#include <vector>

namespace cy = chrysalis;
using Clock = std::chrono::steady_clock;

using Teacher =
    cy::Sequential<cy::Dense<784, 1200>, cy::ReLU, cy::Dropout<20>, cy::Dense<1200, 1200>, cy::ReLU,
                   cy::Dropout<20>, cy::Dense<1200, 10>>;
using Student = cy::Sequential<cy::Dense<784, 800>, cy::ReLU, cy::Dense<800, 800>, cy::ReLU,
                               cy::Dense<800, 10>>;

namespace {

struct Options {
    std::string data = "/usr/share/datasets/fashion-mnist";
    std::string out = "chrysalis-models";
    int teacher_epochs = 10;
    int student_epochs = 60;
    Eigen::Index transfer = 3000;
    std::uint64_t seed = 1;
    int seeds = 3;  // student seeds: the table gives mean ± standard deviation
    bool quick = false;
};

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw std::invalid_argument("option " + a + " needs a value");
            return argv[++i];
        };
        if (a == "--data")
            o.data = value();
        else if (a == "--out")
            o.out = value();
        else if (a == "--teacher-epochs")
            o.teacher_epochs = std::stoi(value());
        else if (a == "--student-epochs")
            o.student_epochs = std::stoi(value());
        else if (a == "--transfer")
            o.transfer = std::stol(value());
        else if (a == "--seed")
            o.seed = std::stoull(value());
        else if (a == "--seeds")
            o.seeds = std::max(1, std::stoi(value()));
        else if (a == "--quick")
            o.quick = true;
        else if (a == "--help" || a == "-h") {
            std::cout << "usage: distill_fashion_mnist [--data DIR] [--out DIR] [--quick] "
                         "[--seed N] [--seeds N] [--teacher-epochs N] [--student-epochs N] "
                         "[--transfer N]\n";
            std::exit(0);
        } else {
            throw std::invalid_argument("unknown option " + a + " (try --help)");
        }
    }
    if (o.quick) {  // a small budget, for CI: the same steps, minutes become seconds
        o.teacher_epochs = 1;
        o.student_epochs = 4;
        o.transfer = 1000;
    }
    return o;
}

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

volatile float sink = 0;

/// Median time of one single-sample forward, in microseconds.
template <class Net>
double inference_us(Net& net, const cy::Dataset<float>& test) {
    std::vector<double> times;
    for (Eigen::Index j = 0; j < 2000; ++j) {
        const auto t0 = Clock::now();
        const auto y = net.forward(test.features.col(j % test.size()));
        sink = y(0, 0);  // keep the forward
        times.push_back(seconds_since(t0) * 1e6);
    }
    std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
    return times[times.size() / 2];
}

struct Row {
    std::string name;
    double accuracy;  // mean over the seeds
    double spread;    // sample standard deviation over the seeds (0 for one)
    std::size_t parameters;
    std::uintmax_t bytes;
    double inference;
    double training;
};

}  // namespace

int main(int argc, char** argv) try {
    const Options o = parse(argc, argv);
    std::filesystem::create_directories(o.out);
    std::printf("chrysalis %s: distillation on Fashion-MNIST (data: %s)%s\n",
                cy::version_string.data(), o.data.c_str(), o.quick ? " [quick]" : "");

    auto all = cy::load_idx<float>(o.data + "/train-images-idx3-ubyte.gz",
                                   o.data + "/train-labels-idx1-ubyte.gz");
    const auto test = cy::load_idx<float>(o.data + "/t10k-images-idx3-ubyte.gz",
                                          o.data + "/t10k-labels-idx1-ubyte.gz");
    // 5,000 images for choosing T and α; the teacher trains on the rest.
    auto [train, validation] = cy::split(all, 5000.0 / double(all.size()), cy::Seed{o.seed});
    if (o.quick) {
        std::vector<Eigen::Index> first(std::size_t(std::min<Eigen::Index>(10000, train.size())));
        std::iota(first.begin(), first.end(), 0);
        train = cy::subset(train, first);
    }
    // The transfer set: a random sample of the teacher's training images.
    const auto [rest, transfer] =
        cy::split(train, double(o.transfer) / double(train.size()), cy::Seed{o.seed + 1});
    std::printf(
        "teacher: %ld training images; students: %ld transfer images; validation %ld; "
        "test %ld\n\n",
        long(train.size()), long(transfer.size()), long(validation.size()), long(test.size()));

    std::vector<Row> rows;
    auto record = [&](const std::string& name, auto& net, double training_s) {
        const std::string path = o.out + "/" + name + ".chrysalis";
        cy::save(net, path);
        rows.push_back({name, cy::accuracy(net, test), 0.0, net.parameter_count(),
                        std::filesystem::file_size(path), inference_us(net, test), training_s});
    };

    // 1. The teacher.
    Teacher teacher(cy::Seed{o.seed});
    // Adam with the rate annealed to 0 along a cosine over the epochs: the last epochs settle
    // into a minimum instead of circling it. No jitter: with ten epochs, shifted images left
    // the teacher underfitted (docs/results.md, "A stronger teacher").
    cy::Adam teacher_opt{.lr = 1e-3, .schedule = cy::schedule::cosine(o.teacher_epochs)};
    auto t0 = Clock::now();
    cy::fit(teacher, train, cy::CrossEntropy{}, teacher_opt,
            {.epochs = o.teacher_epochs, .batch_size = 128, .seed = cy::Seed{o.seed}});
    record("teacher", teacher, seconds_since(t0));

    // 2. The student from scratch, on the transfer set.
    const cy::TrainOptions<float> student_options{
        .epochs = o.student_epochs, .batch_size = 128, .seed = cy::Seed{o.seed + 2}};
    // Every student seed k starts from Seed{seed + 3 + 10k}; the first one's models are saved.
    auto student_seed = [&](int k) { return cy::Seed{o.seed + 3 + 10 * std::uint64_t(k)}; };
    auto summarise = [&](const std::vector<double>& acc, const std::vector<double>& secs) {
        Row& r = rows.back();
        r.accuracy = std::accumulate(acc.begin(), acc.end(), 0.0) / double(acc.size());
        double ss = 0;
        for (double a : acc) ss += (a - r.accuracy) * (a - r.accuracy);
        r.spread = acc.size() > 1 ? std::sqrt(ss / double(acc.size() - 1)) : 0.0;
        r.training = std::accumulate(secs.begin(), secs.end(), 0.0) / double(secs.size());
    };
    std::vector<double> acc, secs;
    for (int k = 0; k < o.seeds; ++k) {
        Student scratch(student_seed(k));
        cy::Adam scratch_opt{.lr = 1e-3};
        t0 = Clock::now();
        cy::fit(scratch, transfer, cy::CrossEntropy{}, scratch_opt, student_options);
        secs.push_back(seconds_since(t0));
        acc.push_back(cy::accuracy(scratch, test));
        if (k == 0) record("student-scratch", scratch, secs.back());
    }
    summarise(acc, secs);

    // 3. The same student on the teacher's hard targets: the transfer set relabelled with the
    //    teacher's predictions (the argmax of its logits) — Hinton et al.'s claim is that the
    //    soft targets of step 4 carry more than these.
    const cy::Matrix<float> soft = cy::predict_logits(teacher, transfer);
    const cy::Dataset<float> hard = cy::hard_targets(transfer, soft);
    long agree = 0;
    for (std::size_t j = 0; j < hard.labels.size(); ++j)
        agree += hard.labels[j] == transfer.labels[j];
    std::printf("the teacher's predictions agree with %.1f%% of the transfer set's labels\n",
                100.0 * double(agree) / double(transfer.size()));
    acc.clear();
    secs.clear();
    for (int k = 0; k < o.seeds; ++k) {
        Student s(student_seed(k));
        cy::Adam opt{.lr = 1e-3};
        t0 = Clock::now();
        cy::fit(s, hard, cy::CrossEntropy{}, opt, student_options);
        secs.push_back(seconds_since(t0));
        acc.push_back(cy::accuracy(s, test));
        if (k == 0) record("student-hard", s, secs.back());
    }
    summarise(acc, secs);

    // 4. T and α on the validation split, then the distilled student.
    double best_t = 4, best_alpha = 0.9, best_acc = -1;
    auto quiet = student_options;
    quiet.progress = false;
    quiet.epochs = std::max(1, o.student_epochs / 3);
    std::printf("choosing T and alpha on the validation split (%d epochs each):\n", quiet.epochs);
    for (double t : {2.0, 4.0, 8.0}) {
        for (double alpha : {0.5, 0.9}) {
            Student s(cy::Seed{o.seed + 3});
            cy::Adam opt{.lr = 1e-3};
            cy::distill(s, transfer, soft, cy::Distillation{.temperature = t, .alpha = alpha}, opt,
                        quiet);
            const double acc = cy::accuracy(s, validation);
            std::printf("  T = %-3g alpha = %-4g validation accuracy %.2f%%\n", t, alpha,
                        100 * acc);
            if (acc > best_acc) std::tie(best_acc, best_t, best_alpha) = std::tuple{acc, t, alpha};
        }
    }
    std::printf("chosen: T = %g, alpha = %g\n", best_t, best_alpha);
    acc.clear();
    secs.clear();
    // 5. Each distilled student converted to int8 (docs/quantization.md): per-output-channel int8
    //    weights, per-sample activation scales; "train (s)" is the conversion's time.
    std::vector<double> acc8, secs8;
    Row int8_row{};
    for (int k = 0; k < o.seeds; ++k) {
        Student distilled(student_seed(k));
        cy::Adam distilled_opt{.lr = 1e-3};
        t0 = Clock::now();
        cy::distill(distilled, transfer, soft,
                    cy::Distillation{.temperature = best_t, .alpha = best_alpha}, distilled_opt,
                    student_options);
        secs.push_back(seconds_since(t0));
        acc.push_back(cy::accuracy(distilled, test));
        if (k == 0) record("student-distilled", distilled, secs.back());
        t0 = Clock::now();
        cy::Int8Network int8 = cy::quantize(distilled);
        secs8.push_back(seconds_since(t0));
        acc8.push_back(cy::accuracy(int8.predict_logits(test.features), test.labels));
        if (k == 0) {
            const std::string path = o.out + "/student-int8.chrysalis";
            cy::save(int8, path);  // the int8 model file (chrysalis/serialize.hpp)
            cy::Int8Network timed = int8;
            int8_row = {"student-int8",
                        0.0,
                        0.0,
                        distilled.parameter_count(),
                        std::filesystem::file_size(path),
                        inference_us(timed, test),
                        0.0};
        }
    }
    summarise(acc, secs);
    rows.push_back(int8_row);
    summarise(acc8, secs8);

    std::printf(
        "\ntest accuracy: the teacher's one run; the students' mean ± standard deviation "
        "over %d seed%s\n",
        o.seeds, o.seeds > 1 ? "s" : "");
    std::printf("%-18s %17s %7s %11s %12s %14s %10s\n", "model", "accuracy", "errors", "parameters",
                "bytes", "1-sample (us)", "train (s)");
    for (const Row& r : rows) {
        std::printf("%-18s %8.2f ± %4.2f%% %7ld %11zu %12ju %14.1f %10.1f\n", r.name.c_str(),
                    100 * r.accuracy, 100 * r.spread,
                    long(std::lround((1 - r.accuracy) * double(test.size()))), r.parameters,
                    r.bytes, r.inference, r.training);
    }
    const double gap = rows[0].accuracy - rows[1].accuracy;
    if (gap > 0) {
        std::printf(
            "\ndistillation closed %.0f%% of the gap between the scratch student and the "
            "teacher (means)\n",
            100 * (rows[3].accuracy - rows[1].accuracy) / gap);
    }
    std::printf("soft targets %s hard targets (the teacher's predictions): %+.2f points\n",
                rows[3].accuracy > rows[2].accuracy ? "beat" : "do not beat",
                100 * (rows[3].accuracy - rows[2].accuracy));
    std::printf(
        "int8 (the distilled students quantized, dynamic scales): %+.2f points against fp32; "
        "its bytes are its int8 model file's, its train (s) the conversion\n",
        100 * (rows[4].accuracy - rows[3].accuracy));
    std::printf(
        "models saved in %s/ (teacher, student-scratch, student-hard, student-distilled, "
        "student-int8 .chrysalis)\n",
        std::filesystem::absolute(o.out).string().c_str());
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "distill_fashion_mnist: %s\n", e.what());
    return 1;
}
