// Networks at the paper's sizes, on 1 and 2 threads (the argument "threads"), with the machine's
// FMA peak measured in the same binary before the benchmarks run:
//   - teacher 784-1200-1200-10 and student 784-800-800-10 (ReLU) training steps: forward,
//     cross-entropy, backward and an SGD-momentum update, batch 128;
//   - the student's distillation step from cached teacher logits (the fused KD loss instead of
//     cross-entropy), batch 128;
//   - the student's inference at batch 1 and 128;
//   - narrow networks 784-W-10 (W = 16, 47, 100), inference and training step at batches 64, 256
//     and 1024, the default thread count against one thread (narrow_inference,
//     narrow_train_step);
//   - the fused distillation loss alone (10 classes × 128);
//   - an activation's forward and backward alone, ReLU and GELU over 1200 × 128 (activation_pass);
//   - the finiteness check fit makes on each Dense layer's output, over 1200 × 128 (finite_check);
//   - one optimizer step alone (Sgd with momentum, Adam) over the teacher's parameters;
//   - the teacher's step and the student's distillation step written out layer by layer, each
//     part timed (teacher_step_phases, student_distill_phases);
//   - a classifier's last layer computed directly and through its transpose (few_rows_product);
//   - single products of the packed kernel (gemm_product), and the cost of packing their
//     weights, bounded by the same product read from weights packed beforehand
//     (gemm_packing_bound), and the packing alone (weight_packing);
//   - the teacher's largest weight gradient followed by its Sgd update, and the same update fused
//     into the product at two granularities (weight_update_fusion).
//
// GFLOP/s counts 2·In·Out per sample per GEMM: one GEMM per Dense layer forward; a training step
// adds the weight gradient of every layer and the input gradient of every layer but the first
// (which the network skips), i.e. 3 GEMMs per Dense layer minus one. "peak" is that rate over
// the FMA peak of the same number of cores, measured at start-up (also printed in the context
// lines at the top of the output): a fraction, which Google Benchmark prints with the "/s" it
// appends to every rate. Times are wall-clock (UseRealTime), since the helper threads do not
// count in the main thread's CPU time. The argument "threads" 0 is the default,
// chrysalis::threads().
//
// Contention: with --contend (or CHRYSALIS_BENCH_CONTEND=1 in the environment) the benchmark
// first forks one child that spins on the CPU at normal priority for the whole run (killed at
// the end), as another user's process would: the "threads:0" rows must then stay within 10% of
// "threads:1" (docs/performance.md).

#include <benchmark/benchmark.h>

#include <chrysalis/chrysalis.hpp>

#include <xsimd/xsimd.hpp>

#include "fma_peak.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using namespace chrysalis;

using Teacher = Sequential<Dense<784, 1200>, ReLU, Dense<1200, 1200>, ReLU, Dense<1200, 10>>;
using Student = Sequential<Dense<784, 800>, ReLU, Dense<800, 800>, ReLU, Dense<800, 10>>;

constexpr double teacher_mults = 784.0 * 1200 + 1200.0 * 1200 + 1200.0 * 10;
constexpr double student_mults = 784.0 * 800 + 800.0 * 800 + 800.0 * 10;

/// FMA peak in GFLOP/s on 1 and 2 threads, indexed by thread count.
double peak_gflops[3] = {0, 0, 0};

template <class Net>
Matrix<float> input(Eigen::Index batch) {
    Rng rng(Seed{7});
    Matrix<float> x(Net::input_size, batch);
    for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = float(rng.uniform());
    return x;
}

std::vector<int> labels(Eigen::Index batch) {
    std::vector<int> y(static_cast<std::size_t>(batch));
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = int(i * 7 % 10);
    return y;
}

void rates(benchmark::State& state, double flops_per_sample, Eigen::Index batch, int threads) {
    const double flops = flops_per_sample * double(batch);
    state.counters["GFLOP/s"] =
        benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["samples/s"] =
        benchmark::Counter(double(batch), benchmark::Counter::kIsIterationInvariantRate);
    // The share of peak: seconds per step at peak over the measured seconds per step.
    const double peak = peak_gflops[std::min(threads > 0 ? threads : chrysalis::threads(), 2)];
    if (peak > 0) {
        state.counters["peak"] =
            benchmark::Counter(flops * 1e-9 / peak, benchmark::Counter::kIsIterationInvariantRate);
    }
}

void fma_peak(benchmark::State& state) {
    const int threads = int(state.range(0));
    double rate = 0;
    for (auto _ : state) rate = chrysalis_bench::measure_fma_peak(threads);
    state.counters["GFLOP/s"] = rate;
}

template <class Net>
void inference(benchmark::State& state, double mults) {
    const Eigen::Index batch = state.range(0);
    const int threads = int(state.range(1));
    ThreadsScope scope(threads);
    Net net(Seed{1});
    const Matrix<float> x = input<Net>(batch);
    (void)net.forward(x);  // one forward untimed first: it allocates the activation buffers
    for (auto _ : state) {
        auto y = net.forward(x);
        benchmark::DoNotOptimize(y.data());
    }
    rates(state, 2.0 * mults, batch, threads);
}

/// forward, loss, backward, SGD with momentum 0.9 — each layer updated as soon as backward has
/// its gradients, as fit and distill do.
template <class Net, class LossStep>
void train_step(benchmark::State& state, double mults, double first_layer_mults, LossStep&& loss) {
    const Eigen::Index batch = state.range(0);
    const int threads = int(state.range(1));
    ThreadsScope scope(threads);
    Net net(Seed{1});
    Sgd sgd{.lr = 1e-3, .momentum = 0.9};
    const Matrix<float> x = input<Net>(batch);
    const auto y = labels(batch);
    Matrix<float> grad(Net::output_size, batch);
    // One step untimed first: it allocates the network's activation buffers and the momenta.
    loss(net.forward(x, Mode::training), y, grad);
    detail::backward_and_step(net, grad, sgd, 0);
    for (auto _ : state) {
        loss(net.forward(x, Mode::training), y, grad);
        detail::backward_and_step(net, grad, sgd, 0);  // as fit does: each layer updated in turn
        benchmark::ClobberMemory();
    }
    rates(state, 2.0 * (3 * mults - first_layer_mults), batch, threads);
}

void teacher_train_step(benchmark::State& s) {
    train_step<Teacher>(s, teacher_mults, 784.0 * 1200, CrossEntropy{});
}
void student_train_step(benchmark::State& s) {
    train_step<Student>(s, student_mults, 784.0 * 800, CrossEntropy{});
}
void student_distill_step(benchmark::State& s) {
    // Cached teacher logits for the batch, as distill() gathers them.
    Matrix<float> teacher = Matrix<float>::Random(10, s.range(0)) * 5.0f;
    const Distillation kd{.temperature = 4, .alpha = 0.5};
    train_step<Student>(s, student_mults, 784.0 * 800,
                        [&](const auto& z, std::span<const int> y, Matrix<float>& g) {
                            return kd(z, teacher, y, g);
                        });
}
void student_inference(benchmark::State& s) {
    inference<Student>(s, student_mults);
}
void teacher_inference(benchmark::State& s) {
    inference<Teacher>(s, teacher_mults);
}
/// Narrow networks, 784-W-10 (docs/performance.md, "Narrow layers stay on one thread"): their
/// first layer's products have fewer rows than the kernel's 4·mr, where two threads would cut
/// them by columns.
template <int W>
using Narrow = Sequential<Dense<784, W>, ReLU, Dense<W, 10>>;
template <int W>
void narrow_inference(benchmark::State& s) {
    inference<Narrow<W>>(s, 784.0 * W + W * 10.0);
}
template <int W>
void narrow_train_step(benchmark::State& s) {
    train_step<Narrow<W>>(s, 784.0 * W + W * 10.0, 784.0 * W, CrossEntropy{});
}

/// The fused distillation loss and its gradient alone, 10 classes × batch.
void distillation_loss(benchmark::State& state) {
    const Eigen::Index batch = state.range(0);
    const Matrix<float> zs = Matrix<float>::Random(10, batch) * 5.0f;
    const Matrix<float> zt = Matrix<float>::Random(10, batch) * 5.0f;
    const auto y = labels(batch);
    Matrix<float> g(10, batch);
    const Distillation kd{.temperature = 4, .alpha = 0.5};
    for (auto _ : state) benchmark::DoNotOptimize(kd(zs, zt, y, g));
    state.counters["samples/s"] =
        benchmark::Counter(double(batch), benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

/// With `on`, reads 64 MiB (one float per cache line) before each iteration, the timing
/// paused, so that what the timed code reads comes from memory, as in a training step; without,
/// nothing.
class ColdCache {
  public:
    explicit ColdCache(bool on) : junk_(on ? std::size_t(16) << 20 : 0, 1.0f) {}
    void operator()(benchmark::State& state) {
        if (junk_.empty()) return;
        state.PauseTiming();
        for (std::size_t i = 0; i < junk_.size(); i += 16) sum_ += junk_[i];
        benchmark::DoNotOptimize(sum_);
        state.ResumeTiming();
    }

  private:
    std::vector<float> junk_;
    float sum_ = 0;
};

/// One product C = op(W)·X alone, on `threads` threads, through the layers' Gemm: the shapes of a
/// layer's forward (op = none, W rows × depth) and input gradient (op = transpose, W depth ×
/// rows), a batch of `cols`. Isolates the packed kernel, and its split across threads, from the
/// rest of a step. With "cold:1", 64 MiB pass through the cache before every product (timing
/// paused), so that W comes from memory, as it does in a training step.
void gemm_product(benchmark::State& state) {
    const Eigen::Index rows = state.range(0), cols = state.range(1), depth = state.range(2);
    const bool transposed = state.range(3) != 0;
    const int threads = int(state.range(4));
    ColdCache flush(state.range(5) != 0);
    ThreadsScope scope(threads);
    Rng rng(Seed{5});
    Matrix<float> w = transposed ? Matrix<float>(depth, rows) : Matrix<float>(rows, depth);
    Matrix<float> x(depth, cols), c(rows, cols);
    for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = float(rng.uniform(-1, 1));
    for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = float(rng.uniform(-1, 1));
    detail::Gemm<float> gemm;
    const auto product = [&] {
        gemm.run(c, w, transposed ? detail::Op::transpose : detail::Op::none, x, detail::Op::none);
    };
    product();  // once untimed first: it allocates the packing buffers
    for (auto _ : state) {
        flush(state);
        product();
        benchmark::DoNotOptimize(c.data());
    }
    rates(state, 2.0 * double(rows) * double(depth), cols, threads);
}

/// A classifier's last layer on one thread, the two ways detail::Gemm can compute it: C = W·X
/// ("gradient:0", the forward product: `rows` × 128, depth 1200) or C = dY·Xᵀ ("gradient:1", the
/// weight gradient: `rows` × 1200, depth 128, X stored In × batch), computed directly by the
/// packed kernel ("transposed:0", detail::packed_gemm) or through the transpose ("transposed:1",
/// Gemm::run_transposed). Gemm::run takes the one Gemm::transposes_few_rows picks.
void few_rows_product(benchmark::State& state) {
    const Eigen::Index rows = state.range(0);
    const bool gradient = state.range(1) != 0, transposed = state.range(2) != 0;
    ThreadsScope scope(1);
    const Eigen::Index depth = gradient ? 128 : 1200, cols = gradient ? 1200 : 128;
    Rng rng(Seed{5});
    Matrix<float> a(rows, depth);  // W, or dY
    Matrix<float> x = gradient ? Matrix<float>(cols, depth) : Matrix<float>(depth, cols);
    Matrix<float> c(rows, cols);
    for (Eigen::Index i = 0; i < a.size(); ++i) a.data()[i] = float(rng.uniform(-1, 1));
    for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = float(rng.uniform(-1, 1));
    const detail::Op op_b = gradient ? detail::Op::transpose : detail::Op::none;
    detail::Gemm<float> gemm;
    detail::PackedGemmBuffers<float> buffers;
    const auto product = [&] {
        if (transposed)
            gemm.run_transposed(c, a, detail::Op::none, x, op_b, false, nullptr);
        else
            detail::packed_gemm(long(rows), long(cols), long(depth), a.data(), long(rows), false,
                                x.data(), long(x.rows()), gradient, c.data(), long(rows), true,
                                buffers);
    };
    product();  // once untimed first: it allocates the packing buffers
    for (auto _ : state) {
        product();
        benchmark::DoNotOptimize(c.data());
    }
    rates(state, 2.0 * double(rows) * double(depth), cols, 1);
}

/// Gemm::run_transposed's copy back: a 128 × 1200 Cᵀ into its 1200 × 128 transpose, warm, by
/// detail::copy_transposed (register blocks: "eigen:0") or by Eigen's transposed assignment
/// ("eigen:1", what run_transposed used before).
void transposed_copy(benchmark::State& state) {
    const bool eigen = state.range(0) != 0;
    Rng rng(Seed{5});
    Matrix<float> ct(128, 1200), c(1200, 128);
    for (Eigen::Index i = 0; i < ct.size(); ++i) ct.data()[i] = float(rng.uniform(-1, 1));
    for (auto _ : state) {
        if (eigen)
            c = ct.transpose();
        else
            detail::copy_transposed(c.data(), long(c.rows()), ct.data(), long(ct.rows()),
                                    long(ct.rows()), long(ct.cols()));
        benchmark::DoNotOptimize(c.data());
    }
}

/// One optimizer step alone over the teacher's 2.39 M parameters (its six blocks, with fixed
/// gradients): "optimizer" 0 is Sgd with momentum 0.9 (reads θ, g and v, writes θ and v: 5
/// floats of traffic per parameter), 1 is Adam (reads θ, g, m and v, writes θ, m and v: 7).
/// GB/s counts that traffic: the update is bound by memory bandwidth, and takes this much of
/// every training step.
void optimizer_update(benchmark::State& state) {
    const bool adam = state.range(0) != 0;
    const int threads = int(state.range(1));
    ThreadsScope scope(threads);
    Teacher net(Seed{1});
    const Matrix<float> x = input<Teacher>(128);
    Matrix<float> grad(Teacher::output_size, 128);
    CrossEntropy{}(net.forward(x, Mode::training), labels(128), grad);
    net.backward(grad);  // gradients in every block, kept for every step below
    Sgd sgd{.lr = 1e-6, .momentum = 0.9};
    Adam adam_opt{.lr = 1e-6};
    for (auto _ : state) {
        if (adam)
            adam_opt.step(net);
        else
            sgd.step(net);
        benchmark::ClobberMemory();
    }
    const double bytes = (adam ? 7.0 : 5.0) * sizeof(float) * double(Teacher::parameter_count());
    state.counters["GB/s"] =
        benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

/// What packing op(A) costs a product, bounded: the packed kernel
/// (detail::packed_gemm, as gemm_product runs it), packing op(A) itself
/// ("prepacked:0") or reading it packed whole beforehand by detail::pack_a_whole
/// ("prepacked:1"): the difference is the packing's whole cost, the second row what a product
/// would take if the weights were kept packed. "cold:1" streams 64 MiB through the cache before
/// every product (timing paused), so that op(A) comes from memory, as the weights do in a
/// training step; "cold:0" repeats the product on a warm cache. "threads:2" cuts the rows of C
/// as a split product does (four chunks per thread, claimed one at a time, each thread packing
/// op(B) once), each chunk's rows of op(A) packed beforehand on their own.
void gemm_packing_bound(benchmark::State& state) {
    const long rows = long(state.range(0)), cols = long(state.range(1)),
               depth = long(state.range(2));
    const bool transposed = state.range(3) != 0, prepacked = state.range(4) != 0,
               cold = state.range(5) != 0;
    const int threads = int(state.range(6));
    Rng rng(Seed{5});
    Matrix<float> w = transposed ? Matrix<float>(depth, rows) : Matrix<float>(rows, depth);
    Matrix<float> x(depth, cols), c(rows, cols);
    for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = float(rng.uniform(-1, 1));
    for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = float(rng.uniform(-1, 1));
    // The rows of C cut as a split product cuts them (four chunks per thread, in registers of
    // rows), each chunk's rows of op(A) packed on their own, in the layout packed_gemm reads for
    // that chunk.
    const auto cut = detail::Gemm<float>::row_chunks(rows, threads);
    std::vector<std::vector<float>> packed;
    for (long chunk = 0; chunk < cut.count; ++chunk) {
        const long begin = cut.begin(chunk), len = cut.begin(chunk + 1) - begin;
        packed.emplace_back(std::size_t(detail::packed_a_size<float>(len, depth)));
        const float* part = transposed ? w.data() + begin * w.rows() : w.data() + begin;
        detail::pack_a_whole(packed.back().data(), part, long(w.rows()), transposed, len, depth);
    }
    ColdCache flush(cold);
    ThreadsScope scope(threads);
    std::vector<detail::PackedGemmBuffers<float>> buf(static_cast<std::size_t>(threads));
    for (auto& b : buf) b.reserve_for(rows, cols, depth);  // no allocation in the timed loop
    std::vector<char> b_ready(static_cast<std::size_t>(threads));
    for (auto _ : state) {
        flush(state);
        std::fill(b_ready.begin(), b_ready.end(), 0);
        detail::parallel_for(
            long(packed.size()), threads,
            [&](long chunk, int worker) {
                const long begin = cut.begin(chunk), len = cut.begin(chunk + 1) - begin;
                const float* part = transposed ? w.data() + begin * w.rows() : w.data() + begin;
                auto& ready = b_ready[std::size_t(worker)];
                detail::packed_gemm(len, cols, depth, part, long(w.rows()), transposed, x.data(),
                                    depth, false, c.data() + begin, rows, true,
                                    buf[std::size_t(worker)], ready != 0,
                                    prepacked ? packed[std::size_t(chunk)].data() : nullptr);
                ready = 1;
            },
            2.0 * double(rows) * double(cols) * double(depth));
        benchmark::DoNotOptimize(c.data());
    }
    rates(state, 2.0 * double(rows) * double(depth), cols, threads);
}

/// What a pass that packs the weights alone costs, outside any product: detail::pack_a_whole
/// of the teacher's 1200 × 1200 W (or of Wᵀ, "transposed:1") on one thread, with "cold:1" from
/// memory as above. Against gemm_packing_bound's difference, it tells whether packing a copy of
/// W once per step, apart from the products, would cost less than the products' own packing.
void weight_packing(benchmark::State& state) {
    constexpr long n = 1200;
    const bool transposed = state.range(0) != 0;
    Rng rng(Seed{5});
    Matrix<float> w(n, n);
    for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = float(rng.uniform(-1, 1));
    std::vector<float> packed(std::size_t(detail::packed_a_size<float>(n, n)));
    ColdCache flush(state.range(1) != 0);
    for (auto _ : state) {
        flush(state);
        detail::pack_a_whole(packed.data(), w.data(), n, transposed, n, n);
        benchmark::DoNotOptimize(packed.data());
    }
    // Read once and written once.
    state.counters["GB/s"] = benchmark::Counter(2e-9 * double(sizeof(float)) * double(n * n),
                                                benchmark::Counter::kIsIterationInvariantRate);
}

/// Whether the Sgd update of a weight matrix gains from being fused into its gradient's product:
/// the teacher's 1200 × 1200 weight gradient dW = dy·xᵀ (batch 128) on one thread, then
/// W -= η·V after V = μ·V + dW (momentum 0.9, detail::sgd_update_values, the arithmetic Sgd
/// runs). Modes: 0, the product alone (the bound); 1, the product, then the update over the
/// whole block, as Dense and Sgd do; 2, each mr × nr tile of dW updated as soon as the
/// micro-kernel has written it, while it is in L1 (its W and V prefetched before the tile; one
/// call of the update per column of the tile, 30,000 calls in all, whose set-up it also times);
/// 3, dy packed whole, and each nr-column panel of dW (nr·1200 contiguous values) updated once
/// all its rows are written; 4, mode 3's product alone (its bound). With cold, 64 MiB pass through
/// the cache before every iteration (timing paused), so that W, V and dW come from memory as in a
/// step. Modes 1–3 leave W and V the same to the bit (checked before timing; the benchmark fails
/// otherwise).
void weight_update_fusion(benchmark::State& state) {
    using Shape = detail::PackedGemmShape<float>;
    constexpr long m = 1200, n = 1200, depth = 128, MR = Shape::mr, NR = Shape::nr;
    const int mode = int(state.range(0));
    const bool cold = state.range(1) != 0;
    ThreadsScope scope(1);
    Rng rng(Seed{7});
    const auto fill = [&](std::vector<float>& v, long size) {
        v.resize(std::size_t(size));
        for (float& e : v) e = float(rng.uniform(-1, 1));
    };
    std::vector<float> dy, x, w0, v0;
    fill(dy, m * depth);
    fill(x, n * depth);
    fill(w0, m * n);
    fill(v0, m * n);
    std::vector<float> dw(std::size_t(m * n)), w = w0, v = v0;
    detail::PackedGemmBuffers<float> buf;
    buf.reserve_for(m, n, depth);
    buf.reserve(Shape::padded_rows(m) * depth, 0);  // mode 3: all of dy packed at once
    const float eta = 0.05f, mu = 0.9f;
    const auto update = [&](long offset, long count) {
        detail::sgd_update_values(w.data() + offset, dw.data() + offset, v.data() + offset, count,
                                  eta, mu, 0.0f, false);
    };
    const auto run = [&](int how) {
        if (how <= 1) {
            detail::packed_gemm(m, n, depth, dy.data(), m, false, x.data(), n, true, dw.data(), m,
                                true, buf);
            if (how == 1) update(0, m * n);
            return;
        }
        // One depth block (128 <= kc): dW is final when the micro-kernel writes it.
        detail::pack_b(buf.b.data(), x.data(), n, true, 0, depth, 0, n);
        const long mc_max = how >= 3 ? m : Shape::mc_for(Shape::kc_for(depth));
        for (long i0 = 0; i0 < m; i0 += mc_max) {
            const long mc = std::min(mc_max, m - i0);
            detail::pack_a(buf.a.data(), dy.data(), m, false, i0, mc, 0, depth);
            for (long q = 0; q < n; q += NR) {
                const long cols = std::min(NR, n - q);
                for (long p = 0; p < mc; p += MR) {
                    const long rows = std::min(MR, mc - p), at = i0 + p + q * m;
                    if (how == 2) {
                        for (long j = 0; j < cols; ++j)
                            for (long r = 0; r < rows; r += 64 / long(sizeof(float))) {
                                __builtin_prefetch(w.data() + at + j * m + r, 1);
                                __builtin_prefetch(v.data() + at + j * m + r, 1);
                            }
                    }
                    detail::micro_kernel(depth, buf.a.data() + p * depth, buf.b.data() + q * depth,
                                         dw.data() + at, m, rows, cols, true);
                    if (how == 2)
                        for (long j = 0; j < cols; ++j) update(at + j * m, rows);
                }
                if (how == 3) update(q * m, cols * m);  // mc = m: the panel is whole
            }
        }
    };
    // Every fused mode against the separate update, from the same W and V.
    std::vector<float> want_w, want_v;
    for (int how = 1; how <= 3; ++how) {
        w = w0;
        v = v0;
        run(how);
        if (how == 1) {
            want_w = w;
            want_v = v;
        } else if (w != want_w || v != want_v) {
            state.SkipWithError("a fused update differs from the separate one");
            return;
        }
    }
    ColdCache flush(cold);
    for (auto _ : state) {
        flush(state);
        run(mode);
        benchmark::DoNotOptimize(w.data());
    }
    rates(state, 2.0 * double(m) * double(depth), n, 1);
}

/// The step of teacher_train_step (H = 1200, cross-entropy) or student_distill_step (H = 800, the
/// fused distillation loss) written out layer by layer — the same products, ReLUs, loss and Sgd
/// update, in the order Sequential::backward and fit run them — each part timed by the wall
/// clock: where the step's wall time goes on one or two threads, waits for helpers included,
/// which a CPU profile (profile_step.sh) does not show. Counters, in ms per step: each Dense
/// layer's forward and backward (its products, the bias and, backward, the bias gradient), the
/// optimizer update of all six blocks, and the rest (ReLUs, loss); "products_peak" is the
/// products' multiply-adds over their time, as a share of the FMA peak of the same threads.
template <long H, class Loss>
void step_phases(benchmark::State& state, Loss&& loss) {
    const Eigen::Index batch = state.range(0);
    const int threads = int(state.range(1));
    ThreadsScope scope(threads);
    Rng rng(Seed{1});
    Dense<784, H> d1;
    Dense<H, H> d2;
    Dense<H, 10> d3;
    d1.initialize(rng);
    d2.initialize(rng);
    d3.initialize(rng);
    const ReLU relu;
    const Matrix<float> x = input<Teacher>(batch);  // both networks take 784 inputs
    const auto y = labels(batch);
    Matrix<float> a1(H, batch), h1(H, batch), a2(H, batch), h2(H, batch);
    Matrix<float> z(10, batch), g(10, batch), dh2(H, batch), da2(H, batch);
    Matrix<float> dh1(H, batch), da1(H, batch), no_dx(784, 0);
    Sgd sgd{.lr = 1e-3, .momentum = 0.9};
    using Clock = std::chrono::steady_clock;
    enum Part { fwd1, fwd2, fwd3, bwd3, bwd2, bwd1, update, rest, parts };
    double seconds[parts] = {};
    const auto update_layer = [&](auto& layer, std::size_t block) {
        layer.visit_parameters([&](auto& p, auto& grad) { sgd.update(p, grad, block++, 0); });
    };
    const auto step = [&](const auto& lap) {
        d1.forward(x, a1, Mode::training);
        lap(fwd1);
        relu.forward(a1, h1);
        lap(rest);
        d2.forward(h1, a2, Mode::training);
        lap(fwd2);
        relu.forward(a2, h2);
        lap(rest);
        d3.forward(h2, z, Mode::training);
        lap(fwd3);
        loss(z, y, g);
        sgd.begin_step();
        lap(rest);
        d3.backward(h2, z, g, dh2);
        lap(bwd3);
        update_layer(d3, 4);
        lap(update);
        relu.backward(a2, h2, dh2, da2);
        lap(rest);
        d2.backward(h1, a2, da2, dh1);
        lap(bwd2);
        update_layer(d2, 2);
        lap(update);
        relu.backward(a1, h1, dh1, da1);
        lap(rest);
        d1.backward(x, a1, da1, no_dx);
        lap(bwd1);
        update_layer(d1, 0);
        lap(update);
    };
    step([](Part) {});  // one step untimed first: it allocates the momenta
    for (auto _ : state) {
        auto t = Clock::now();
        step([&](Part part) {
            const auto now = Clock::now();
            seconds[part] += std::chrono::duration<double>(now - t).count();
            t = now;
        });
        benchmark::ClobberMemory();
    }
    const char* names[parts] = {"fwd1_ms", "fwd2_ms", "fwd3_ms",   "bwd3_ms",
                                "bwd2_ms", "bwd1_ms", "update_ms", "rest_ms"};
    const double steps = double(state.iterations());
    double product_seconds = 0;
    for (int part = 0; part < parts; ++part) {
        state.counters[names[part]] = 1e3 * seconds[part] / steps;
        if (part < update) product_seconds += seconds[part];
    }
    const double mults = 784.0 * H + double(H) * H + double(H) * 10;
    const double flops = 2.0 * (3 * mults - 784.0 * H) * double(batch) * steps;
    const double peak = peak_gflops[std::min(threads > 0 ? threads : chrysalis::threads(), 2)];
    if (peak > 0 && product_seconds > 0)
        state.counters["products_peak"] = flops * 1e-9 / product_seconds / peak;
    rates(state, 2.0 * (3 * mults - 784.0 * H), batch, threads);
}

void teacher_step_phases(benchmark::State& s) {
    step_phases<1200>(s, CrossEntropy{});
}
void student_distill_phases(benchmark::State& s) {
    // The cached teacher logits of student_distill_step.
    const Matrix<float> teacher = Matrix<float>::Random(10, s.range(0)) * 5.0f;
    const Distillation kd{.temperature = 4, .alpha = 0.5};
    step_phases<800>(s, [&](const auto& z, std::span<const int> y, Matrix<float>& g) {
        return kd(z, teacher, y, g);
    });
}

/// One activation's forward and backward over a hidden layer of the teacher at batch 128
/// (1200 × 128 floats), as a training step runs them: "layer" 0 ReLU, 1 GELU, 2 Tanh, 3 Sigmoid.
/// On two threads every pass is split by columns (for_column_blocks, docs/performance.md,
/// "Element-wise passes split").
void activation_pass(benchmark::State& state) {
    const int threads = int(state.range(1));
    ThreadsScope scope(threads);
    constexpr Eigen::Index rows = 1200, batch = 128;
    const Matrix<float> x = Matrix<float>::Random(rows, batch) * 3.0f;
    const Matrix<float> dy = Matrix<float>::Random(rows, batch);
    Matrix<float> y(rows, batch), dx(rows, batch);
    const auto pass = [&](const auto& layer) {
        for (auto _ : state) {
            layer.forward(x, y);
            layer.backward(x, y, dy, dx);
            benchmark::ClobberMemory();
        }
    };
    if (const auto layer = state.range(0); layer == 0)
        pass(ReLU{});
    else if (layer == 1)
        pass(GELU{});
    else if (layer == 2)
        pass(Tanh{});
    else
        pass(Sigmoid{});
    state.counters["elements/s"] = benchmark::Counter(
        double(rows * batch) * double(state.iterations()), benchmark::Counter::kIsRate);
}

/// The finiteness check fit and distill make on every Dense layer's output after each forward
/// (detail::all_finite), over one teacher activation (1200 × 128 floats, in cache as it is there).
void finite_check(benchmark::State& state) {
    constexpr Eigen::Index rows = 1200, batch = 128;
    const Matrix<float> a = Matrix<float>::Random(rows, batch);
    for (auto _ : state) {
        bool finite = detail::all_finite(a);
        benchmark::DoNotOptimize(finite);
    }
    state.counters["GB/s"] = benchmark::Counter(double(rows * batch) * sizeof(float) * 1e-9,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(fma_peak)->ArgName("threads")->Arg(1)->Arg(2)->Iterations(1)->UseRealTime();
BENCHMARK(gemm_product)
    ->ArgNames({"rows", "batch", "depth", "transposed", "threads", "cold"})
    ->Args({300, 256, 784, 0, 1, 0})
    ->Args({784, 256, 300, 1, 1, 0})
    ->ArgsProduct({{1200}, {128}, {1200}, {0, 1}, {1, 2}, {0, 1}})
    // The student's 800 × 800 layer (student_distill_phases).
    ->ArgsProduct({{800}, {128}, {800}, {0, 1}, {1, 2}, {0, 1}})
    // A classifier's last layer: 10 rows, its forward product and one of its weight gradient's
    // shape (10 × 1200 of depth 128, op(B) as stored); Gemm::run computes them directly or
    // through the transpose (detail/gemm.hpp, transposes_few_rows; few_rows_product times both).
    ->Args({10, 128, 1200, 0, 1, 0})
    ->Args({10, 1200, 128, 0, 1, 0})
    // A C of few rows and many columns with op(A) transposed (the input gradient of a layer of
    // 128 inputs, at batch 1200): cut by columns on two threads, each thread packing op(A) whole
    // once (detail/gemm.hpp, the column split).
    ->ArgsProduct({{128}, {1200}, {1200}, {1}, {1, 2}, {0, 1}})
    // Narrow first layers of 784 inputs (16 and 100 outputs): a C of fewer than 4·mr rows is
    // cut by columns on two threads, each thread packing the partial panel of op(A) once
    // (docs/performance.md, "Small layers on a quiet machine").
    ->ArgsProduct({{16, 100}, {64, 256}, {784}, {0}, {1, 2}, {0}})
    ->UseRealTime();
BENCHMARK(transposed_copy)->ArgName("eigen")->Arg(0)->Arg(1)->UseRealTime();
BENCHMARK(few_rows_product)
    ->ArgNames({"rows", "gradient", "transposed"})
    ->ArgsProduct({{10, 16, 32, 47}, {0, 1}, {0, 1}})
    ->UseRealTime();
BENCHMARK(gemm_packing_bound)
    ->ArgNames({"rows", "batch", "depth", "transposed", "prepacked", "cold", "threads"})
    ->ArgsProduct({{1200}, {128}, {1200}, {0, 1}, {0, 1}, {0, 1}, {1, 2}})
    ->UseRealTime();
BENCHMARK(weight_packing)
    ->ArgNames({"transposed", "cold"})
    ->ArgsProduct({{0, 1}, {0, 1}})
    ->UseRealTime();
BENCHMARK(weight_update_fusion)
    ->ArgNames({"mode", "cold"})
    ->ArgsProduct({{0, 1, 2, 3, 4}, {0, 1}})
    ->UseRealTime();
BENCHMARK(teacher_train_step)
    ->ArgNames({"batch", "threads"})
    ->Args({128, 0})
    ->Args({128, 1})
    ->Args({128, 2})
    ->UseRealTime();
BENCHMARK(teacher_step_phases)
    ->ArgNames({"batch", "threads"})
    ->Args({128, 1})
    ->Args({128, 2})
    ->UseRealTime();
BENCHMARK(student_train_step)
    ->ArgNames({"batch", "threads"})
    ->Args({128, 0})
    ->Args({128, 1})
    ->Args({128, 2})
    ->UseRealTime();
BENCHMARK(student_distill_step)
    ->ArgNames({"batch", "threads"})
    ->Args({128, 1})
    ->Args({128, 2})
    ->UseRealTime();
BENCHMARK(student_distill_phases)
    ->ArgNames({"batch", "threads"})
    ->Args({128, 1})
    ->Args({128, 2})
    ->UseRealTime();
BENCHMARK(teacher_inference)
    ->ArgNames({"batch", "threads"})
    ->Args({128, 1})
    ->Args({128, 2})
    ->UseRealTime();
BENCHMARK(student_inference)
    ->ArgNames({"batch", "threads"})
    ->Args({128, 0})
    ->Args({128, 1})
    ->Args({128, 2})
    ->Args({1, 0})
    ->Args({1, 1})
    ->Args({1, 2})
    ->UseRealTime();
// The default (threads:0) against one thread.
#define CHRYSALIS_NARROW(bench, width)           \
    BENCHMARK_TEMPLATE(bench, width)             \
        ->ArgNames({"batch", "threads"})         \
        ->ArgsProduct({{64, 256, 1024}, {0, 1}}) \
        ->UseRealTime()
CHRYSALIS_NARROW(narrow_inference, 16);
CHRYSALIS_NARROW(narrow_inference, 47);
CHRYSALIS_NARROW(narrow_inference, 100);
CHRYSALIS_NARROW(narrow_train_step, 16);
CHRYSALIS_NARROW(narrow_train_step, 47);
CHRYSALIS_NARROW(narrow_train_step, 100);
#undef CHRYSALIS_NARROW
BENCHMARK(distillation_loss)->ArgName("batch")->Arg(128)->UseRealTime();
BENCHMARK(activation_pass)
    ->ArgNames({"layer", "threads"})
    ->ArgsProduct({{0, 1, 2, 3}, {1, 2}})
    ->UseRealTime();
BENCHMARK(finite_check);
BENCHMARK(optimizer_update)
    ->ArgNames({"optimizer", "threads"})
    ->ArgsProduct({{0, 1}, {1, 2}})
    ->UseRealTime();

namespace {

/// A child process that spins on one CPU at normal priority until it is killed; -1 if none.
pid_t start_competitor() {
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid != 0) return pid;
    // The child: die with the benchmark, however it ends.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(0);
    volatile unsigned long x = 0;
    for (;;) x = x + 1;
}

}  // namespace

int main(int argc, char** argv) {
    // --contend (ours, so removed before Google Benchmark reads the arguments) or the variable.
    bool contend = false;
    if (const char* e = std::getenv("CHRYSALIS_BENCH_CONTEND")) contend = std::strcmp(e, "0") != 0;
    int kept = 1;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--contend") == 0)
            contend = true;
        else
            argv[kept++] = argv[i];
    }
    argc = kept;
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    // Forked before any thread exists (the peak measurement and chrysalis's helpers make some).
    const pid_t competitor = contend ? start_competitor() : -1;
    if (contend && competitor < 0) {
        std::perror("network_bench: fork");
        return 1;
    }
    benchmark::AddCustomContext("contention", contend ? "one spinning process" : "none");
    benchmark::AddCustomContext("default_threads", std::to_string(chrysalis::threads()));
    peak_gflops[1] = chrysalis_bench::measure_fma_peak(1);
    peak_gflops[2] = has_openmp ? chrysalis_bench::measure_fma_peak(2) : peak_gflops[1];
    benchmark::AddCustomContext("fma_peak_1_thread_gflops", std::to_string(peak_gflops[1]));
    benchmark::AddCustomContext("fma_peak_2_threads_gflops", std::to_string(peak_gflops[2]));
    benchmark::AddCustomContext("openmp", has_openmp ? "yes" : "no");
    // 512 where the packed GEMM reads its operands in place (detail::reads_in_place).
    benchmark::AddCustomContext("fma_datapath_bits", std::to_string(detail::fma_datapath_bits()));
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    if (competitor > 0) {
        kill(competitor, SIGKILL);
        waitpid(competitor, nullptr, 0);
    }
    return 0;
}
