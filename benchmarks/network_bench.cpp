// Networks at the paper's sizes: forward and forward + backward of the teacher
// (784-1200-1200-10, ReLU, dropout) and the student (784-800-800-10, ReLU) at batch 128, and the
// student's forward at batch 1, with the machine's FMA peak measured in the same binary.
//
// GFLOP/s counts 2·In·Out per sample per GEMM: one GEMM per Dense layer forward; forward +
// backward adds the weight gradient of every layer and the input gradient of every layer but the
// first (which the network skips unless asked), i.e. 3 GEMMs per Dense layer minus one.

#include <benchmark/benchmark.h>

#include <chrysalis/chrysalis.hpp>

#include <xsimd/xsimd.hpp>

#include <vector>

namespace {

using namespace chrysalis;

using Teacher = Sequential<Dense<784, 1200>, ReLU, Dropout<50>, Dense<1200, 1200>, ReLU,
                           Dropout<50>, Dense<1200, 10>>;
using Student = Sequential<Dense<784, 800>, ReLU, Dense<800, 800>, ReLU, Dense<800, 10>>;

constexpr double teacher_mults = 784.0 * 1200 + 1200.0 * 1200 + 1200.0 * 10;
constexpr double student_mults = 784.0 * 800 + 800.0 * 800 + 800.0 * 10;

/// The FMA peak of one core: 12 independent chains of fused multiply-adds on the widest
/// registers (enough to cover the FMA latency on current x86 cores).
void fma_peak(benchmark::State& state) {
    using B = xsimd::batch<float>;
    B acc[12];
    for (int i = 0; i < 12; ++i) acc[i] = B(float(i) * 1e-3f);
    const B a(0.999f), c(1e-4f);
    constexpr int inner = 1000;
    for (auto _ : state) {
        for (int k = 0; k < inner; ++k) {
            for (auto& x : acc) x = xsimd::fma(x, a, c);
        }
        for (auto& x : acc) benchmark::DoNotOptimize(x);
    }
    state.counters["GFLOP/s"] = benchmark::Counter(2.0 * B::size * 12 * inner * 1e-9,
                                                   benchmark::Counter::kIsIterationInvariantRate);
}

template <class Net>
Matrix<float> input(Eigen::Index batch) {
    Rng rng(Seed{7});
    Matrix<float> x(Net::input_size, batch);
    for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = float(rng.uniform());
    return x;
}

template <class Net>
void forward(benchmark::State& state, double mults) {
    const Eigen::Index batch = state.range(0);
    Net net(Seed{1});
    const Matrix<float> x = input<Net>(batch);
    for (auto _ : state) {
        auto y = net.forward(x);
        benchmark::DoNotOptimize(y.data());
    }
    state.counters["GFLOP/s"] = benchmark::Counter(2.0 * mults * double(batch) * 1e-9,
                                                   benchmark::Counter::kIsIterationInvariantRate);
    state.counters["samples/s"] =
        benchmark::Counter(double(batch), benchmark::Counter::kIsIterationInvariantRate);
}

template <class Net>
void forward_backward(benchmark::State& state, double mults, double first_layer_mults) {
    const Eigen::Index batch = state.range(0);
    Net net(Seed{1});
    const Matrix<float> x = input<Net>(batch);
    std::vector<int> labels(static_cast<std::size_t>(batch));
    for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = int(i % 10);
    Matrix<float> grad(Net::output_size, batch);
    for (auto _ : state) {
        CrossEntropy{}(net.forward(x, Mode::training), labels, grad);
        net.backward(grad);
        benchmark::ClobberMemory();
    }
    const double flops = 2.0 * (3 * mults - first_layer_mults) * double(batch);
    state.counters["GFLOP/s"] =
        benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["samples/s"] =
        benchmark::Counter(double(batch), benchmark::Counter::kIsIterationInvariantRate);
}

void teacher_forward(benchmark::State& s) {
    forward<Teacher>(s, teacher_mults);
}
void student_forward(benchmark::State& s) {
    forward<Student>(s, student_mults);
}
void teacher_forward_backward(benchmark::State& s) {
    forward_backward<Teacher>(s, teacher_mults, 784.0 * 1200);
}
void student_forward_backward(benchmark::State& s) {
    forward_backward<Student>(s, student_mults, 784.0 * 800);
}

}  // namespace

BENCHMARK(fma_peak);
BENCHMARK(teacher_forward)->Arg(128);
BENCHMARK(teacher_forward_backward)->Arg(128);
BENCHMARK(student_forward)->Arg(128)->Arg(1);
BENCHMARK(student_forward_backward)->Arg(128);

BENCHMARK_MAIN();
