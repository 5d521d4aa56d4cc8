// The temperature softmax at 10, 100, 1000 and 32768 classes × batch 128, four ways:
//   chrysalis   chrysalis::softmax into a preallocated matrix (the xsimd kernel)
//   fallback    chrysalis's portable scalar kernel (what CHRYSALIS_DISABLE_SIMD builds use)
//   scalar_exp  a plain loop with std::exp: max, exp and sum, divide
//   eigen       the idiomatic Eigen array expression: max, exp, sum, divide
// Each reports bytes/s counting one read of the logits and one write of the probabilities, the
// least any implementation must move. Run with --benchmark_filter=... to pick a subset;
// benchmarks/compare_softmax.py runs this and PyTorch on the same shapes.

#include <benchmark/benchmark.h>

#include <chrysalis/softmax.hpp>

#include <cmath>
#include <random>

namespace {

constexpr double temperature = 4.0;
constexpr Eigen::Index batch = 128;

template <class S>
using Mat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;

template <class S>
Mat<S> logits(Eigen::Index classes) {
    std::mt19937 rng(42);
    std::uniform_real_distribution<double> dist(-10, 10);
    Mat<S> x(classes, batch);
    for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = static_cast<S>(dist(rng));
    return x;
}

template <class S>
void set_counters(benchmark::State& state, const Mat<S>& x) {
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(x.size()) * 2 *
                            int64_t(sizeof(S)));
    state.counters["classes"] = double(x.rows());
}

template <class S>
void chrysalis_simd(benchmark::State& state) {
    const Mat<S> x = logits<S>(state.range(0));
    Mat<S> out(x.rows(), x.cols());
    for (auto _ : state) {
        chrysalis::softmax(x, temperature, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    set_counters(state, x);
}

template <class S>
void chrysalis_fallback(benchmark::State& state) {
    using namespace chrysalis::detail;
    const Mat<S> x = logits<S>(state.range(0));
    Mat<S> out(x.rows(), x.cols());
    const S t = inverse_temperature<S>(temperature);
    for (auto _ : state) {
        softmax_columns_scalar<SoftmaxOutput::probabilities>(
            ColumnBlock<S>{x.data(), x.rows(), out.data(), out.rows(), x.rows(), x.cols()}, t);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    set_counters(state, x);
}

/// What one writes without a library: a loop per column with std::exp.
template <class S>
void scalar_exp(benchmark::State& state) {
    const Mat<S> x = logits<S>(state.range(0));
    Mat<S> out(x.rows(), x.cols());
    const S inv_t = S(1 / temperature);
    for (auto _ : state) {
        for (Eigen::Index j = 0; j < x.cols(); ++j) {
            const S* z = x.data() + j * x.rows();
            S* p = out.data() + j * x.rows();
            S m = z[0];
            for (Eigen::Index i = 1; i < x.rows(); ++i) m = std::max(m, z[i]);
            S sum = 0;
            for (Eigen::Index i = 0; i < x.rows(); ++i) {
                p[i] = std::exp((z[i] - m) * inv_t);
                sum += p[i];
            }
            for (Eigen::Index i = 0; i < x.rows(); ++i) p[i] /= sum;
        }
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    set_counters(state, x);
}

/// What an Eigen user writes: whole-matrix array expressions, into a preallocated result.
template <class S>
void eigen_expression(benchmark::State& state) {
    const Mat<S> x = logits<S>(state.range(0));
    Mat<S> out(x.rows(), x.cols());
    Eigen::Matrix<S, 1, Eigen::Dynamic> row(x.cols());
    const S inv_t = S(1 / temperature);
    for (auto _ : state) {
        row = x.colwise().maxCoeff();
        out.array() = ((x.rowwise() - row).array() * inv_t).exp();
        row = out.colwise().sum();
        out.array().rowwise() /= row.array();
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    set_counters(state, x);
}

void shapes(benchmark::internal::Benchmark* b) {
    for (int classes : {10, 100, 1000, 32768}) b->Arg(classes);
}

}  // namespace

BENCHMARK_TEMPLATE(chrysalis_simd, float)->Apply(shapes);
BENCHMARK_TEMPLATE(chrysalis_fallback, float)->Apply(shapes);
BENCHMARK_TEMPLATE(scalar_exp, float)->Apply(shapes);
BENCHMARK_TEMPLATE(eigen_expression, float)->Apply(shapes);
BENCHMARK_TEMPLATE(chrysalis_simd, double)->Apply(shapes);
BENCHMARK_TEMPLATE(scalar_exp, double)->Apply(shapes);
BENCHMARK_TEMPLATE(eigen_expression, double)->Apply(shapes);

BENCHMARK_MAIN();
