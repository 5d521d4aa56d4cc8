// The 784-800-800-10 student of the paper (ReLU) at inference: the fp32 network against its int8
// forms (quantize.hpp, int8_network.hpp) with dynamic and with static activation scales, at batch 1
// and 128, on one thread and on two. "samples/s" is the throughput; the int8/fp32 ratio of the
// times is what docs/quantization.md reports. The network's weights are its He initialisation
// (timing does not depend on their values); the inputs are uniform in [0, 1], like scaled pixels.
// `int8_product` times the kernel alone on the student's middle product (800 × 800 weights, 128
// columns, one thread) and reports its multiply-adds per second; `int8_tile/RxC` does the same
// with each AVX-512 tile shape R × C in the forward's 16-column blocks. `memory_read` reads a
// buffer of the int8 student's weight bytes (1.28 MB) and of the fp32 student's (5.1 MB) over and
// over, one thread, and reports bytes per second: the rate at which a batch-1 forward can stream
// its weights from wherever they stay between calls (L2 or L3 here).
//
//   build/release/benchmarks/int8_bench --benchmark_filter=student

#include <benchmark/benchmark.h>

#include <chrysalis/chrysalis.hpp>

#include <algorithm>

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
    (void)net.forward(x);  // one forward untimed first: it allocates the activation buffers
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
    (void)q.forward(x);  // one forward untimed first: it allocates the buffers
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

/// The student's middle product for `kernel`: 800 × 800 random int8 weights, packed, and 128
/// input columns in [0, 63] (≥ 0, as after a ReLU: the unsigned path).
struct MiddleProduct {
    static constexpr long rows = 800, depth = 800, cols = 128;
    detail::Int8Packed p;
    detail::Int8Block x;
    std::vector<std::int32_t> out = std::vector<std::int32_t>(std::size_t(rows * cols));
    explicit MiddleProduct(Int8Kernel kernel) {
        Rng rng(Seed{3});
        const long ld = detail::int8_padded(depth);
        std::vector<std::int8_t> w(std::size_t(rows * ld), 0);
        for (long o = 0; o < rows; ++o)
            for (long k = 0; k < depth; ++k)
                w[std::size_t(o * ld + k)] = std::int8_t(long(rng.next() % 255) - 127);
        x.reset(depth, cols);
        for (long j = 0; j < cols; ++j)
            for (long k = 0; k < depth; ++k)
                x.column(j)[k] = std::int8_t(rng.next() % (detail::int8_activation_max + 1));
        p = detail::int8_pack(kernel, w.data(), rows, ld, depth);
    }
    static double macs() { return double(rows) * depth * cols; }
};

void int8_product(benchmark::State& state) {
    MiddleProduct m(int8_best_kernel());
    state.SetLabel(std::string(int8_kernel_name(m.p.kernel)));
    for (auto _ : state) {
        detail::int8_product(m.p, m.x, 0, m.cols, [&](long o, long j, std::int32_t a) {
            m.out[std::size_t(o + j * m.rows)] = a;
        });
        benchmark::DoNotOptimize(m.out.data());
    }
    state.counters["MAC/s"] =
        benchmark::Counter(double(state.iterations()) * m.macs(), benchmark::Counter::kIsRate);
}

/// The AVX-512BW kernel's product with tiles of R groups × C columns, on the same middle product
/// in the 16-column blocks Int8Network::forward uses: the comparison behind the 4 × 4 tile of
/// int8_product.
template <int R, int C>
void int8_tile_shape(benchmark::State& state) {
#if defined(__AVX512BW__)
    MiddleProduct m(Int8Kernel::avx512bw);
    auto epilogue = [&](long o0, long j, const std::int32_t* acc, long count, auto) {
        std::copy(acc, acc + count, m.out.begin() + std::ptrdiff_t(o0 + j * m.rows));
    };
    for (auto _ : state) {
        for (long j0 = 0; j0 < m.cols; j0 += 16)
            detail::int8_product_with<detail::Int8OpsAvx512bw, R, C>(m.p, m.x, j0, 16, epilogue);
        benchmark::DoNotOptimize(m.out.data());
    }
    state.counters["MAC/s"] =
        benchmark::Counter(double(state.iterations()) * m.macs(), benchmark::Counter::kIsRate);
#else
    state.SkipWithError("the avx512bw kernel is not compiled here");
#endif
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
BENCHMARK(int8_tile_shape<4, 4>)->Name("int8_tile/4x4");
BENCHMARK(int8_tile_shape<5, 3>)->Name("int8_tile/5x3");
BENCHMARK(int8_tile_shape<3, 4>)->Name("int8_tile/3x4");
BENCHMARK(int8_tile_shape<2, 8>)->Name("int8_tile/2x8");
BENCHMARK(int8_tile_shape<6, 3>)->Name("int8_tile/6x3");
BENCHMARK(memory_read)->ArgName("bytes")->Arg(1'288'080)->Arg(5'107'240);

BENCHMARK_MAIN();
