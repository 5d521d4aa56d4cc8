// One translation unit's half of the one-definition test: the same chrysalis code, compiled into
// two files of one executable with different instruction sets (odr_baseline.cpp without -march,
// odr_native.cpp with -march=native). Each file defines ODR_UNIT_NAMESPACE and includes this
// header once; test_odr.cpp calls both and checks each against a double reference.
#pragma once

#include <chrysalis/chrysalis.hpp>

#include <string>
#include <vector>

namespace odr_test {

/// What one unit computed, in double, and which kernels it ran.
struct UnitResults {
    std::string compiled_isa;  ///< chrysalis::compiled_isa in that unit
    std::string softmax_isa;   ///< chrysalis::last_kernel_isa() right after its softmax
    std::string loss_isa;      ///< … after its fused distillation loss
    std::string step_isa;      ///< … after its training step (the products of the Dense layers)
    std::vector<double> probabilities;  ///< softmax(logits(), 2), column-major
    double kd_loss = 0;                 ///< Distillation{T = 3, α = 0.7} on kd_student/kd_teacher
    std::vector<double> kd_gradient;
    std::vector<double> weights_before, weights_after;  ///< every parameter, visit order
    /// The process-wide state as this unit sees it: one object for the whole program, whatever
    /// the unit's instruction set (the temporaries' counter, the quiet switch).
    const void* temporaries_counter = nullptr;
    const void* quiet_switch = nullptr;
    const void* thread_setting = nullptr;  ///< the calling thread's set_threads setting
    int threads_seen = 0;                  ///< chrysalis::threads() in that unit, at its start
};

// The shared inputs, the same in both units and in the reference (integer arithmetic only).
inline constexpr int classes = 10, samples = 7;
inline double input_value(int i, int j, int salt) {
    return double(((i * 37 + j * 101 + salt * 13) % 97) - 48) / 8.0;
}
inline std::vector<int> labels(int n, int k) {
    std::vector<int> l(static_cast<std::size_t>(n));
    for (int b = 0; b < n; ++b) l[std::size_t(b)] = (b * 3 + 1) % k;
    return l;
}

// The training step: a network big enough that its products take the packed GEMM (a batch of
// 16 columns), one SGD step on cross-entropy.
inline constexpr int step_in = 20, step_hidden = 32, step_out = 5, step_batch = 16;
using StepNet = chrysalis::Sequential<chrysalis::Dense<step_in, step_hidden>, chrysalis::ReLU,
                                      chrysalis::Dense<step_hidden, step_out>>;
inline constexpr double step_lr = 0.1;

UnitResults run_baseline_unit();
UnitResults run_native_unit();

}  // namespace odr_test

#ifdef ODR_UNIT_FUNCTION
namespace odr_test {

namespace {
template <class Net>
std::vector<double> parameters_of(Net& net) {
    std::vector<double> out;
    net.visit_parameters([&](auto& p, auto&) {
        for (Eigen::Index i = 0; i < p.size(); ++i) out.push_back(double(p.data()[i]));
    });
    return out;
}
}  // namespace

UnitResults ODR_UNIT_FUNCTION() {
    namespace cy = chrysalis;
    UnitResults r;
    r.compiled_isa = std::string(cy::compiled_isa);
    r.temporaries_counter = &cy::file_io_detail::temporaries;
    r.quiet_switch = &cy::output_detail::quiet_flag;
    r.thread_setting = &cy::parallel_detail::thread_setting;
    r.threads_seen = cy::threads();

    cy::Matrix<float> logits(classes, samples);
    for (int j = 0; j < samples; ++j)
        for (int i = 0; i < classes; ++i) logits(i, j) = float(input_value(i, j, 1));
    cy::isa_trace::last.store(nullptr);
    const cy::Matrix<float> p = cy::softmax(logits, 2.0);
    r.softmax_isa = cy::last_kernel_isa() ? cy::last_kernel_isa() : "none";
    r.probabilities.assign(p.data(), p.data() + p.size());

    cy::Matrix<float> teacher(classes, samples);
    for (int j = 0; j < samples; ++j)
        for (int i = 0; i < classes; ++i) teacher(i, j) = float(input_value(i, j, 2));
    cy::isa_trace::last.store(nullptr);
    const auto kd = cy::Distillation{.temperature = 3.0, .alpha = 0.7}(logits, teacher,
                                                                       labels(samples, classes));
    r.loss_isa = cy::last_kernel_isa() ? cy::last_kernel_isa() : "none";
    r.kd_loss = double(kd.loss);
    r.kd_gradient.assign(kd.gradient.data(), kd.gradient.data() + kd.gradient.size());

    StepNet net{cy::Seed{7}};
    r.weights_before = parameters_of(net);
    cy::Matrix<float> x(step_in, step_batch);
    for (int j = 0; j < step_batch; ++j)
        for (int i = 0; i < step_in; ++i) x(i, j) = float(input_value(i, j, 3));
    cy::isa_trace::last.store(nullptr);
    const cy::Matrix<float> z = net.forward(x, cy::Mode::training);
    const auto ce = cy::CrossEntropy{}(z, labels(step_batch, step_out));
    net.backward(ce.gradient);
    cy::Sgd{.lr = step_lr}.step(net);
    r.step_isa = cy::last_kernel_isa() ? cy::last_kernel_isa() : "none";
    r.weights_after = parameters_of(net);
    return r;
}

}  // namespace odr_test
#endif
