// The 784-800-800-10 student of the paper (ReLU) at inference, one thread: the fp32 network
// against its int8 forms (quantize.hpp) with dynamic and with static activation scales, at
// batch 1 and 128. "samples/s" is the throughput; the int8/fp32 ratio of the times is what
// docs/quantization.md reports. The network's weights are its He initialisation (timing does not
// depend on their values); the inputs are uniform in [0, 1], like scaled pixels.
//
//   build/release/benchmarks/int8_bench --benchmark_filter=student

#include <benchmark/benchmark.h>

#include <chrysalis/chrysalis.hpp>

namespace {

using namespace chrysalis;

using Student = Sequential<Dense<784, 800>, ReLU, Dense<800, 800>, ReLU, Dense<800, 10>>;

Matrix<float> pixels(Eigen::Index batch) {
    Rng rng(Seed{2});
    Matrix<float> x(784, batch);
    for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = float(rng.uniform(0, 1));
    return x;
}

void student_fp32(benchmark::State& state) {
    ThreadsScope scope(1);
    Student net(Seed{1});
    const Matrix<float> x = pixels(state.range(0));
    for (auto _ : state) {
        auto y = net.forward(x);
        benchmark::DoNotOptimize(y.data());
    }
    state.counters["samples/s"] = benchmark::Counter(double(state.iterations() * state.range(0)),
                                                     benchmark::Counter::kIsRate);
}

void student_int8(benchmark::State& state, bool calibrated) {
    Student net(Seed{1});
    const Matrix<float> x = pixels(state.range(0));
    Int8Network q = calibrated ? quantize(net, pixels(256)) : quantize(net);
    state.SetLabel(std::string(int8_kernel_name(q.kernel())));
    for (auto _ : state) {
        auto y = q.forward(x);
        benchmark::DoNotOptimize(y.data());
    }
    state.counters["samples/s"] = benchmark::Counter(double(state.iterations() * state.range(0)),
                                                     benchmark::Counter::kIsRate);
}
void student_int8_dynamic(benchmark::State& s) {
    student_int8(s, false);
}
void student_int8_static(benchmark::State& s) {
    student_int8(s, true);
}

}  // namespace

BENCHMARK(student_fp32)->ArgName("batch")->Arg(1)->Arg(128);
BENCHMARK(student_int8_dynamic)->ArgName("batch")->Arg(1)->Arg(128);
BENCHMARK(student_int8_static)->ArgName("batch")->Arg(1)->Arg(128);

BENCHMARK_MAIN();
