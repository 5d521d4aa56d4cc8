// The 784-800-800-10 student of the paper (ReLU) at inference: the fp32 network against its int8
// forms (quantize.hpp, int8_network.hpp) with dynamic and with static activation scales, at batch 1
// and 128, on one thread and on two. "samples/s" is the throughput; the int8/fp32 ratio of the
// times is what docs/quantization.md reports. The network's weights are its He initialisation
// (timing does not depend on their values); the inputs are uniform in [0, 1], like scaled pixels.
// `int8_product` times the kernel alone on the student's middle product (800 × 800 weights, 128
// columns, one thread) and reports its multiply-adds per second. `memory_read` reads a buffer of
// the int8 student's weight bytes (1.28 MB) and of the fp32 student's (5.1 MB) over and over, one
// thread, and reports bytes per second: the rate at which a batch-1 forward can stream its
// weights from wherever they stay between calls (L2 or L3 here).
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
    ThreadsScope scope(int(state.range(1)));
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
    ThreadsScope scope(int(state.range(1)));
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

void int8_product(benchmark::State& state) {
    constexpr long rows = 800, depth = 800, cols = 128;
    Rng rng(Seed{3});
    std::vector<std::int8_t> w(std::size_t(rows * detail::int8_padded(depth)), 0);
    for (long o = 0; o < rows; ++o)
        for (long k = 0; k < depth; ++k)
            w[std::size_t(o * detail::int8_padded(depth) + k)] =
                std::int8_t(long(rng.next() % 255) - 127);
    detail::Int8Block x;
    x.reset(depth, cols);
    for (long j = 0; j < cols; ++j)  // ≥ 0, as after a ReLU: the unsigned path
        for (long k = 0; k < depth; ++k)
            x.column(j)[k] = std::int8_t(rng.next() % (detail::int8_activation_max + 1));
    const detail::Int8Packed p =
        detail::int8_pack(int8_best_kernel(), w.data(), rows, detail::int8_padded(depth), depth);
    state.SetLabel(std::string(int8_kernel_name(p.kernel)));
    std::vector<std::int32_t> out(std::size_t(rows * cols));
    for (auto _ : state) {
        detail::int8_product(p, x, 0, cols, [&](long o, long j, std::int32_t a) {
            out[std::size_t(o + j * rows)] = a;
        });
        benchmark::DoNotOptimize(out.data());
    }
    state.counters["MAC/s"] = benchmark::Counter(double(state.iterations()) * rows * depth * cols,
                                                 benchmark::Counter::kIsRate);
}

void memory_read(benchmark::State& state) {
    const auto words = std::size_t(state.range(0)) / sizeof(std::uint64_t);
    std::vector<std::uint64_t> buffer(words);
    for (std::size_t i = 0; i < words; ++i) buffer[i] = i;
    for (auto _ : state) {
        std::uint64_t sum = 0;  // eight independent lanes, vectorised by the compiler
        for (std::size_t i = 0; i < words; ++i) sum += buffer[i];
        benchmark::DoNotOptimize(sum);
    }
    state.counters["bytes/s"] = benchmark::Counter(
        double(state.iterations()) * double(state.range(0)), benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(student_fp32)->ArgNames({"batch", "threads"})->ArgsProduct({{1, 128}, {1, 2}});
BENCHMARK(student_int8_dynamic)->ArgNames({"batch", "threads"})->ArgsProduct({{1, 128}, {1, 2}});
BENCHMARK(student_int8_static)->ArgNames({"batch", "threads"})->ArgsProduct({{1, 128}, {1, 2}});
BENCHMARK(int8_product);
BENCHMARK(memory_read)->ArgName("bytes")->Arg(1'288'080)->Arg(5'107'240);

BENCHMARK_MAIN();
