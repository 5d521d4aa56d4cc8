// quantize: the int8 kernels against the scalar reference (integers bit for bit), the float
// epilogue within its stated rounding, the scheme's rounding and scales, dynamic and static
// activation scales, the int8 network against the fp32 one, and the errors.

#include <catch2/catch.hpp>

#include <chrysalis/chrysalis.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "thrown.hpp"

using namespace chrysalis;
using chrysalis::test::inf_f;
using chrysalis::test::nan_f;
using chrysalis::test::thrown;

namespace {

constexpr Int8Kernel all_kernels[] = {Int8Kernel::scalar, Int8Kernel::avx2, Int8Kernel::avx512bw,
                                      Int8Kernel::avx512vnni};

Matrix<float> random_floats(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed,
                            double range = 1.0) {
    Rng rng(Seed{seed});
    Matrix<float> m(rows, cols);
    for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = float(rng.uniform(-range, range));
    return m;
}

/// rows × depth weights, row-major with the kernels' padding, values in [−127, 127] with the
/// extremes and zero over-represented.
std::vector<std::int8_t> random_weights(long rows, long depth, Rng& rng) {
    const long ld = detail::int8_padded(depth);
    std::vector<std::int8_t> w(std::size_t(rows * ld), 0);
    for (long o = 0; o < rows; ++o)
        for (long k = 0; k < depth; ++k) {
            const auto u = rng.next() % 300;
            w[std::size_t(o * ld + k)] = std::int8_t(u < 20   ? 127
                                                     : u < 40 ? -127
                                                     : u < 60 ? 0
                                                              : long(u % 255) - 127);
        }
    return w;
}

/// depth × cols quantized activations, values in [−63, 63] (int8_activation_max, what the
/// kernels take) with the extremes and zero over-represented.
detail::Int8Block random_columns(long depth, long cols, Rng& rng) {
    constexpr int m = detail::int8_activation_max;
    detail::Int8Block x;
    x.reset(depth, cols);
    for (long j = 0; j < cols; ++j)
        for (long k = 0; k < depth; ++k) {
            const auto u = rng.next() % 300;
            x.column(j)[k] = std::int8_t(u < 20   ? m
                                         : u < 40 ? -m
                                         : u < 60 ? 0
                                                  : long(u % (2 * m + 1)) - m);
        }
    return x;
}

/// Every accumulator of kernel k, rows × cols; counts the epilogue's calls per output.
Eigen::Matrix<std::int32_t, Eigen::Dynamic, Eigen::Dynamic> accumulators(
    Int8Kernel k, const std::vector<std::int8_t>& w, long rows, long depth,
    const detail::Int8Block& x, Eigen::MatrixXi& calls) {
    Eigen::Matrix<std::int32_t, Eigen::Dynamic, Eigen::Dynamic> acc(rows, x.cols);
    calls.setZero(rows, x.cols);
    const detail::Int8Packed packed =
        detail::int8_pack(k, w.data(), rows, detail::int8_padded(depth), depth);
    REQUIRE(packed.kernel == k);
    detail::int8_product(packed, x, 0, x.cols, [&](long o, long j, std::int32_t a) {
        acc(o, j) = a;
        ++calls(o, j);
    });
    return acc;
}

/// The documented scheme, written out plainly: s = max|v|/q_max (1 for 0), q = rne(clamp(v/s)),
/// with q_max 63 for activations and 127 for weights.
float ref_scale(float max_abs, float q_max = 63.0f) {
    return max_abs > 0 ? max_abs / q_max : 1.0f;
}
int ref_q(float v, float s, float q_max = 63.0f) {
    return int(std::nearbyint(std::clamp(v / s, -q_max, q_max)));
}

/// A labelled synthetic task: `classes` Gaussian clusters in `dims` dimensions.
struct Task {
    Matrix<float> x;
    std::vector<int> y;
};
Task clusters(int dims, int classes, long n, std::uint64_t seed) {
    Rng centres_rng(Seed{1234});
    Matrix<float> centres(dims, classes);
    for (Eigen::Index i = 0; i < centres.size(); ++i)
        centres.data()[i] = float(centres_rng.uniform(-1.5, 1.5));
    Rng rng(Seed{seed});
    Task t{Matrix<float>(dims, n), std::vector<int>(std::size_t(n))};
    for (long j = 0; j < n; ++j) {
        const int c = int(rng.next() % std::uint64_t(classes));
        t.y[std::size_t(j)] = c;
        for (int k = 0; k < dims; ++k) {
            // the sum of three uniforms: roughly Gaussian, σ = 1.5 — the clusters overlap, so
            // the task is not trivial (fp32 accuracy about 85%) and many samples lie near a
            // decision boundary, where int8 rounding could change the class
            const double noise =
                rng.uniform(-1.5, 1.5) + rng.uniform(-1.5, 1.5) + rng.uniform(-1.5, 1.5);
            t.x(k, j) = centres(k, c) + float(noise);
        }
    }
    return t;
}

using Mlp = Sequential<Dense<20, 64>, ReLU, Dropout<10>, Dense<64, 64>, LeakyReLU, Dense<64, 5>>;

Mlp trained_mlp(const Task& train) {
    Mlp net{Seed{3}};
    Matrix<float> grad(5, 32);
    for (int epoch = 0; epoch < 30; ++epoch)
        for (long j = 0; j + 32 <= train.x.cols(); j += 32) {
            const std::vector<int> labels(train.y.begin() + j, train.y.begin() + j + 32);
            (void)CrossEntropy{}(net.forward(train.x.middleCols(j, 32), Mode::training), labels,
                                 grad);
            net.backward(grad);
            net.visit_parameters([](auto& p, auto& g) { p -= 0.05f * g; });
        }
    return net;
}

}  // namespace

TEST_CASE("every compiled int8 kernel sums exactly what the scalar reference sums") {
    Rng rng(Seed{7});
    for (Int8Kernel k : all_kernels) {
        if (!int8_kernel_compiled(k)) {
            WARN("the " << int8_kernel_name(k)
                        << " kernel is not compiled for this CPU: not tested here");
        }
    }
    for (long depth : {1L, 7L, 63L, 64L, 65L, 784L})
        for (long rows : {1L, 3L, 4L, 5L, 9L, 17L, 33L, 64L, 65L, 100L})
            for (long batch = 1; batch <= 9; ++batch) {
                const auto w = random_weights(rows, depth, rng);
                auto x = random_columns(depth, batch, rng);
                // Inputs ≥ 0 take the kernels' unsigned path (a block of columns with no
                // negative value): here every column, or the odd ones only, or none.
                const long mode = (depth + rows + batch) % 3;
                for (long j = 0; j < batch; ++j)
                    if (mode == 1 || (mode == 2 && j % 2))
                        for (long k = 0; k < depth; ++k)
                            x.column(j)[k] = std::int8_t(std::abs(x.column(j)[k]));
                Eigen::MatrixXi calls;
                const auto expected = accumulators(Int8Kernel::scalar, w, rows, depth, x, calls);
                REQUIRE((calls.array() == 1).all());
                // the reference itself against a sum written out here
                for (long o = 0; o < rows; ++o)
                    for (long j = 0; j < batch; ++j) {
                        std::int64_t s = 0;
                        for (long k = 0; k < depth; ++k)
                            s += std::int64_t(w[std::size_t(o * x.ld + k)]) * x.column(j)[k];
                        REQUIRE(expected(o, j) == s);
                    }
                for (Int8Kernel k : all_kernels) {
                    if (!int8_kernel_compiled(k)) continue;
                    INFO(int8_kernel_name(k)
                         << ": depth " << depth << ", rows " << rows << ", batch " << batch);
                    const auto got = accumulators(k, w, rows, depth, x, calls);
                    REQUIRE((calls.array() == 1).all());  // every output once
                    REQUIRE(got == expected);
                }
            }
}

TEST_CASE("the int8 kernels do not saturate at the extremes of the range") {
    // |x|·|w| = 63·127 everywhere, all of one sign or alternating: vpmaddubsw's int16 pairs
    // reach ±16002, two steps' pairs added ±32004 (the pairing: 763 short of int16's limit),
    // the int32 sums ±63·127·784.
    Rng rng(Seed{8});
    const long depth = 784, rows = 6, batch = 5;
    const long ld = detail::int8_padded(depth);
    std::vector<std::int8_t> w(std::size_t(rows * ld), 0);
    detail::Int8Block x;
    x.reset(depth, batch);
    // Column 0 is all 63 (the unsigned path when alone in its block: checked below too).
    for (long k = 0; k < depth; ++k) {
        for (long o = 0; o < rows; ++o) {
            const bool negative = o == 1 || (o == 2 && k % 2) || (o == 3 && k % 3 == 0);
            w[std::size_t(o * ld + k)] = std::int8_t(negative ? -127 : 127);
        }
        for (long j = 0; j < batch; ++j) x.column(j)[k] = std::int8_t(j % 2 ? -63 : 63);
    }
    Eigen::MatrixXi calls;
    const auto expected = accumulators(Int8Kernel::scalar, w, rows, depth, x, calls);
    CHECK(expected(0, 0) == 63 * 127 * depth);
    CHECK(expected(0, 1) == -63 * 127 * depth);
    CHECK(expected(1, 0) == -63 * 127 * depth);
    detail::Int8Block positive;  // one column of 63s: the unsigned path
    positive.reset(depth, 1);
    std::fill(positive.column(0), positive.column(0) + depth, std::int8_t(63));
    const auto expected_positive =
        accumulators(Int8Kernel::scalar, w, rows, depth, positive, calls);
    CHECK(expected_positive(1, 0) == -63 * 127 * depth);
    for (Int8Kernel k : all_kernels)
        if (int8_kernel_compiled(k)) {
            INFO(int8_kernel_name(k));
            CHECK(accumulators(k, w, rows, depth, x, calls) == expected);
            CHECK(accumulators(k, w, rows, depth, positive, calls) == expected_positive);
        }
}

TEST_CASE("quantize: weights per output row, scale max|w|/127, round to nearest even") {
    Sequential<Dense<5, 3>> net;
    auto& w = net.layer<0>().weights();
    w.row(0) << 127, 2.5f, -2.5f, 3.5f, 0.5f;   // scale 1: ties go to the even neighbour
    w.row(1).setZero();                         // a zero row: scale 1, all zero
    w.row(2) << -0.254f, 0.127f, 0.001f, 0, 0;  // scale 0.002: −127, 63.5 → 64, 0.5 → 0
    net.layer<0>().bias() << 1, 2, 3;
    const Int8Network q = quantize(net);
    REQUIRE(q.dense_count() == 1);
    CHECK(q.weight_scales(0)[0] == 1.0f);
    CHECK(q.weight_scales(0)[1] == 1.0f);
    CHECK(q.weight_scales(0)[2] == 0.254f / 127.0f);
    const auto qw = q.int8_weights(0);
    CHECK(qw.row(0).cast<int>() ==
          Eigen::RowVectorXi::Map(std::vector{127, 2, -2, 4, 0}.data(), 5));
    CHECK((qw.row(1).array() == 0).all());
    CHECK(qw(2, 0) == -127);
    for (Eigen::Index k = 0; k < 5; ++k)
        CHECK(int(qw(2, k)) == ref_q(w(2, k), 0.254f / 127.0f, 127.0f));
    CHECK(q.parameter_bytes() == 3 * 5 + 8 * 3);
    CHECK_FALSE(q.calibrated());
    CHECK_FALSE(q.input_scale(0).has_value());

    // A zero row's output is its bias; an all-zero input column gives the biases too.
    Int8Network q2 = quantize(net);
    const Matrix<float> y = q2.predict_logits(Matrix<float>::Zero(5, 2));
    CHECK(y(0, 0) == 1.0f);
    CHECK(y(1, 1) == 2.0f);
    CHECK(q2.last_input_scales(0)[0] == 1.0f);
}

TEST_CASE("scales never underflow to 0, and a NaN quantizes to 0, not to an undefined conversion") {
    // A subnormal maximum below 127 × the smallest float: max / 127 underflows to 0, and a scale
    // of 0 would make 0 / 0 = NaN of the zeros (found by fuzz_model on a loaded int8 network).
    const float tiny = std::numeric_limits<float>::denorm_min() * 10;
    for (const int q_max : {detail::int8_weight_max, detail::int8_activation_max}) {
        CHECK(detail::int8_scale(tiny, q_max) == 1.0f);
        CHECK(detail::int8_scale(std::numeric_limits<float>::min(), q_max) ==
              std::numeric_limits<float>::min() / float(q_max));
        CHECK(detail::int8_quantize(nan_f, 1.0f, q_max) == 0);
        CHECK(detail::int8_quantize(-inf_f, 1.0f, q_max) == -q_max);
    }

    // Weights: a row of subnormals gets scale 1 (all zero), not a scale of 0 that Int8Network
    // refuses.
    Sequential<Dense<3, 2>, ReLU, Dense<2, 2>> net;
    net.layer<0>().weights().row(0).setConstant(tiny);
    net.layer<0>().bias() << tiny, 0;  // a zero input: layer 1's input is (tiny, 0)
    Int8Network q = quantize(net);
    CHECK(q.weight_scales(0)[0] == 1.0f);
    const Matrix<float> zero = Matrix<float>::Zero(3, 1);
    for (const Int8Kernel k : all_kernels) {
        if (!int8_kernel_compiled(k)) continue;
        q.set_kernel(k);
        const Matrix<float> y = q.predict_logits(zero);
        CHECK(q.last_input_scales(1)[0] == 1.0f);
        CHECK(y.allFinite());
        CHECK(y.col(0) == net.layer<2>().bias());
    }
}

TEST_CASE("activations are quantized per column with ties to even and never to -128") {
    constexpr int m = detail::int8_activation_max;
    static_assert(m == 63);
    CHECK(detail::int8_quantize(0.5f, 1.0f, m) == 0);
    CHECK(detail::int8_quantize(1.5f, 1.0f, m) == 2);
    CHECK(detail::int8_quantize(2.5f, 1.0f, m) == 2);
    CHECK(detail::int8_quantize(-2.5f, 1.0f, m) == -2);
    CHECK(detail::int8_quantize(-3.5f, 1.0f, m) == -4);
    CHECK(detail::int8_quantize(62.5f, 1.0f, m) == 62);
    CHECK(detail::int8_quantize(63.4f, 1.0f, m) == 63);
    CHECK(detail::int8_quantize(-1000.0f, 1.0f, m) == -63);
    CHECK(detail::int8_quantize(1000.0f, 1.0f, m) == 63);
    CHECK(detail::int8_quantize(1000.0f, 1.0f, detail::int8_weight_max) == 127);
    CHECK(detail::int8_scale(0.0f, m) == 1.0f);
    CHECK(detail::int8_scale(126.0f, m) == 2.0f);

    // Through a network: an identity Dense layer (weights 1: scale 1/127, q = 127) shows the
    // quantized input as y = 127·q·(1/127)·s_x ≈ q·s_x.
    Sequential<Dense<5, 5>> net;
    net.layer<0>().weights().setIdentity();
    Int8Network q = quantize(net);
    Matrix<float> x(5, 1);
    x << 63, 0.5f, 1.5f, -0.5f, -2.5f;  // s_x = 1
    const Matrix<float> y = q.predict_logits(x);
    CHECK(q.last_input_scales(0)[0] == 1.0f);
    const float expected[] = {63, 0, 2, 0, -2};
    for (int k = 0; k < 5; ++k) CHECK(y(k, 0) == Approx(expected[k]).margin(1e-5));
}

TEST_CASE("a column quantizes as int8_quantize does, value by value, at every length") {
    // The column quantizer works sixteen values at a time where it can (AVX-512), the rest one
    // by one: every length 0–40 puts each value below in the vector part and in the tail.
    const float values[] = {0.5f,   1.5f,    2.5f,   -2.5f,  -3.5f,  126.5f, -126.5f, 127.49f,
                            127.5f, -127.5f, 128.0f, -1e30f, 1e30f,  inf_f,  -inf_f,  nan_f,
                            -0.0f,  0.0f,    1e-40f, 63.5f,  -63.5f, 64.5f,  100.25f, -0.49f};
    constexpr long n_values = long(std::size(values));
    constexpr int m = detail::int8_activation_max;
    for (const float scale : {1.0f, 0.5f, 3.0f, 1e-3f}) {
        for (long rows = 0; rows <= 40; ++rows) {
            std::vector<float> x(std::size_t(rows), 0.0f);
            for (long k = 0; k < rows; ++k)
                x[std::size_t(k)] = values[(k * 7 + rows) % n_values] * (k % 3 ? 1.0f : scale);
            const long ld = detail::int8_padded(rows);
            std::vector<std::int8_t> q(std::size_t(ld), std::int8_t(99));
            detail::int8_quantize_column(x.data(), rows, scale, q.data(), ld);
            for (long k = 0; k < rows; ++k) {
                INFO("rows " << rows << ", k " << k << ", x " << x[std::size_t(k)] << ", scale "
                             << scale);
                REQUIRE(q[std::size_t(k)] == detail::int8_quantize(x[std::size_t(k)], scale, m));
            }
            for (long k = rows; k < ld; ++k) REQUIRE(q[std::size_t(k)] == 0);  // the padding
        }
    }
    // max |x| over a column, NaN when a value is not finite — at any position.
    for (long rows = 1; rows <= 40; ++rows) {
        std::vector<float> x(std::size_t(rows), 0.0f);
        for (long k = 0; k < rows; ++k) x[std::size_t(k)] = float(k % 5) - 2.25f;
        float expected = 0;
        for (const float v : x) expected = std::max(expected, std::abs(v));
        CHECK(detail::max_abs_or_nan(x.data(), rows) == expected);
        // Every position: in a register (16 floats with AVX-512) or in the one-at-a-time tail.
        for (const float bad : {nan_f, inf_f, -inf_f}) {
            for (std::size_t at = 0; at < std::size_t(rows); ++at) {
                const float kept = x[at];
                x[at] = bad;
                CHECK(std::isnan(detail::max_abs_or_nan(x.data(), rows)));
                x[at] = kept;
            }
        }
        // The largest magnitude at every position, of either sign.
        for (std::size_t at = 0; at < std::size_t(rows); ++at) {
            const float kept = x[at];
            x[at] = at % 2 ? -7.5f : 7.5f;
            CHECK(detail::max_abs_or_nan(x.data(), rows) == 7.5f);
            x[at] = kept;
        }
    }
    // Whether a column of int8 values is all ≥ 0 (the unsigned path): one −1 or −128 at any
    // position, in a register (64 bytes with AVX-512) or in the tail, makes it false.
    for (long n = 0; n <= 200; n += (n < 70 ? 1 : 13)) {
        std::vector<std::int8_t> q(std::size_t(n) + 1, std::int8_t(127));
        CHECK(detail::int8_nonnegative(q.data(), n));
        for (long at = 0; at < n; ++at) {
            for (const std::int8_t bad : {std::int8_t(-1), std::int8_t(-128)}) {
                q[std::size_t(at)] = bad;
                CHECK_FALSE(detail::int8_nonnegative(q.data(), n));
            }
            q[std::size_t(at)] = std::int8_t(0);
        }
        q[std::size_t(n)] = std::int8_t(-1);  // past the end: not read
        CHECK(detail::int8_nonnegative(q.data(), n));
    }
    const float big[] = {-std::numeric_limits<float>::max(), 1.0f, 1e-40f};
    CHECK(detail::max_abs_or_nan(big, 3) == std::numeric_limits<float>::max());
}

TEST_CASE("the outputs do not depend on the thread count") {
    // Large enough that two threads take a share each (about 4 M multiply-adds a layer), with a
    // batch that is not a multiple of the 16-column blocks the threads share.
    using Net = Sequential<Dense<300, 256>, Tanh, Dense<256, 256>, ReLU, Dense<256, 10>>;
    Net net{Seed{12}};
    const Matrix<float> x = random_floats(300, 77, 13);
    Int8Network q = quantize(net);
    Matrix<float> one;
    {
        ThreadsScope scope(1);
        one = q.predict_logits(x);
    }
    for (const int t : {2, 3}) {
        ThreadsScope scope(t);
        INFO(t << " threads");
        CHECK(q.predict_logits(x) == one);
    }
    // and a column alone gives its column of the batch
    CHECK(q.predict_logits(x.col(76)) == one.col(76));
}

TEST_CASE("the float epilogue is within four roundings of its formula") {
    using Net = Sequential<Dense<65, 13>, Identity>;
    Net net{Seed{4}};
    net.layer<0>().bias() = random_floats(13, 1, 5);
    for (Int8Kernel k : all_kernels) {
        if (!int8_kernel_compiled(k)) continue;
        Int8Network q = quantize(net);
        q.set_kernel(k);
        const Matrix<float> x = random_floats(65, 9, 6, 3.0);
        const Matrix<float> y = q.predict_logits(x);
        const auto qw = q.int8_weights(0);
        double worst = 0;
        for (Eigen::Index j = 0; j < x.cols(); ++j) {
            const float sx = ref_scale(x.col(j).cwiseAbs().maxCoeff());
            REQUIRE(q.last_input_scales(0)[std::size_t(j)] == sx);
            for (Eigen::Index o = 0; o < 13; ++o) {
                std::int64_t acc = 0;
                for (Eigen::Index kk = 0; kk < 65; ++kk) acc += qw(o, kk) * ref_q(x(kk, j), sx);
                const double scaled =
                    double(acc) * double(q.weight_scales(0)[std::size_t(o)]) * double(sx);
                const double exact = scaled + double(net.layer<0>().bias()(o));
                const double err = std::abs(double(y(o, j)) - exact);
                // float(acc) is exact (|acc| < 2²⁴); s_w·s_x, ·acc and +b round once each.
                const double bound = 4 * 0x1p-24 * (std::abs(scaled) + std::abs(exact)) + 1e-30;
                REQUIRE(err <= bound);
                worst = std::max(worst, err / bound);
            }
        }
        INFO(int8_kernel_name(k) << ": worst error / bound " << worst);
        CHECK(worst <= 1.0);
    }
}

/// Every compiled kernel's int8 form of `net` gives the scalar reference's outputs on x.
template <class Net>
void check_kernels_agree(const Net& net, const Matrix<float>& x) {
    Int8Network reference = quantize(net);
    reference.set_kernel(Int8Kernel::scalar);
    const Matrix<float> expected = reference.predict_logits(x);
    for (Int8Kernel k : all_kernels)
        if (int8_kernel_compiled(k)) {
            Int8Network q = quantize(net);
            q.set_kernel(k);
            INFO(int8_kernel_name(k));
            CHECK(q.predict_logits(x) == expected);
        }
}

TEST_CASE("every kernel gives the same network outputs, bit for bit") {
    using Net = Sequential<Dense<63, 65>, Tanh, Dense<65, 7>, Sigmoid, Dense<7, 4>, GELU>;
    Net net{Seed{9}};
    net.layer<0>().bias() = random_floats(65, 1, 14);
    net.layer<2>().bias() = random_floats(7, 1, 15);
    net.layer<4>().bias() = random_floats(4, 1, 16);
    const Matrix<float> x = random_floats(63, 11, 10);
    check_kernels_agree(net, x);

    // The epilogue's outputs themselves, not through an activation and a requantization that
    // would hide a last-bit difference: 40 outputs, two full groups of 16 (the vector epilogue)
    // and a tail of 8, with biases that are not 0 — an epilogue fused into one FMA (rounding
    // once, not twice) fails here.
    Sequential<Dense<63, 40>> single{Seed{17}};
    single.layer<0>().bias() = random_floats(40, 1, 18, 5.0);
    check_kernels_agree(single, x);
}

TEST_CASE("dynamic quantization: one sample at a time gives the batch's outputs, bit for bit") {
    using Net =
        Sequential<Dense<30, 40>, Tanh, Dense<40, 40>, Sigmoid, Dense<40, 24>, GELU, Dense<24, 3>>;
    Net net{Seed{11}};
    Int8Network q = quantize(net);
    for (long batch : {1L, 2L, 5L, 9L, 37L}) {
        const Matrix<float> x = random_floats(30, batch, std::uint64_t(20 + batch));
        const Matrix<float> all = q.predict_logits(x);
        for (long j = 0; j < batch; ++j) {
            INFO("batch " << batch << ", column " << j);
            CHECK(q.predict_logits(x.col(j)) == all.col(j));
        }
    }
    // An empty batch is output_size × 0.
    CHECK(q.predict_logits(Matrix<float>(30, 0)).rows() == 3);
}

TEST_CASE("quantize(net, single Dense layer) stays within the quantization error bound") {
    // y − ŷ = Σ_k (w x − ŵ x̂) = Σ_k [(w − ŵ)·x̂ + w·(x − x̂)], |w − ŵ| ≤ s_w/2, |x − x̂| ≤ s_x/2,
    // so |y − ŷ| ≤ (s_w/2)·|x̂|₁ + (s_x/2)·|w|₁, plus float rounding (1e-5 relative here).
    Sequential<Dense<100, 10>> net{Seed{12}};
    Int8Network q = quantize(net);
    const Matrix<float> x = random_floats(100, 8, 13, 2.0);
    const Matrix<float> y = net.forward(x);
    const Matrix<float> yq = q.predict_logits(x);
    const Matrix<float>& w = net.layer<0>().weights();
    double worst = 0;
    for (Eigen::Index j = 0; j < x.cols(); ++j) {
        const float sx = q.last_input_scales(0)[std::size_t(j)];
        double xq1 = 0;
        for (Eigen::Index k = 0; k < 100; ++k) xq1 += std::abs(ref_q(x(k, j), sx) * double(sx));
        for (Eigen::Index o = 0; o < 10; ++o) {
            const double sw = q.weight_scales(0)[std::size_t(o)];
            const double bound = sw / 2 * xq1 + double(sx) / 2 * w.row(o).cwiseAbs().sum();
            const double err = std::abs(double(yq(o, j)) - double(y(o, j)));
            CHECK(err <= bound * 1.00001 + 1e-5);
            worst = std::max(worst, err / bound);
        }
    }
    INFO("single Dense layer: worst |int8 − fp32| / bound = " << worst);
}

TEST_CASE("the int8 network predicts what the fp32 network predicts on a trained model") {
    const Task train = clusters(20, 5, 2048, 1), test = clusters(20, 5, 2000, 2);
    Mlp net = trained_mlp(train);
    const Matrix<float> fp32 = net.forward(test.x);
    const auto argmax = [](const Matrix<float>& z, Eigen::Index j) {
        Eigen::Index i;
        z.col(j).maxCoeff(&i);
        return int(i);
    };
    long right = 0;
    for (long j = 0; j < test.x.cols(); ++j) right += argmax(fp32, j) == test.y[std::size_t(j)];
    const double fp32_accuracy = double(right) / double(test.x.cols());
    REQUIRE(fp32_accuracy > 0.8);  // a model worth quantizing

    Int8Network dynamic = quantize(net);
    Int8Network calibrated = quantize(net, train.x.leftCols(512));
    CHECK(calibrated.calibrated());
    for (Int8Network* q : {&dynamic, &calibrated}) {
        const Matrix<float> int8 = q->predict_logits(test.x);
        long agree = 0, int8_right = 0;
        for (long j = 0; j < test.x.cols(); ++j) {
            agree += argmax(int8, j) == argmax(fp32, j);
            int8_right += argmax(int8, j) == test.y[std::size_t(j)];
        }
        const double agreement = double(agree) / double(test.x.cols());
        const double spread = (fp32.colwise().maxCoeff() - fp32.colwise().minCoeff()).mean();
        const double max_err = (int8 - fp32).cwiseAbs().maxCoeff();
        const double mean_err = (int8 - fp32).cwiseAbs().mean();
        INFO((q->calibrated() ? "static" : "dynamic")
             << ": argmax agreement " << agreement << ", accuracy fp32 " << fp32_accuracy
             << " int8 " << double(int8_right) / double(test.x.cols()) << ", |logit error| mean "
             << mean_err << " max " << max_err << " (mean logit spread " << spread << ")");
        // Each logit moves by under 1% of the spread on average (three layers of 8-bit weights
        // and 7-bit activations: measured 0.45% dynamic, 0.72% static; with 8-bit activations
        // 0.25% and 0.41%), so only samples within that of a tie can change class: a few in a
        // thousand. 97% leaves room for seeds and instruction sets; an error in the scheme (a
        // wrong scale, a lost sign) drops agreement towards chance (20%) and the errors to the
        // size of the logits.
        CHECK(agreement >= 0.97);
        CHECK(mean_err <= 0.01 * spread);
        // Dynamic scales fit every sample, so its worst logit is close too; static scales clamp
        // test samples beyond the calibration set's range, whose errors are larger (measured
        // 7.5% of the spread at worst here, against 3.1% for dynamic).
        CHECK(max_err <= (q->calibrated() ? 0.15 : 0.05) * spread);
    }
}

TEST_CASE("static quantization: the scales come from the calibration set and clamp beyond it") {
    using Net = Sequential<Dense<6, 8>, ReLU, Dropout<50>, Dense<8, 3>>;
    Net net{Seed{14}};
    const Matrix<float> calibration = random_floats(6, 40, 15);
    Int8Network q = quantize(net, calibration);
    REQUIRE(q.calibrated());
    CHECK(*q.input_scale(0) == calibration.cwiseAbs().maxCoeff() / 63.0f);
    Net scratch = net;
    scratch.forward(calibration);
    CHECK(*q.input_scale(1) == scratch.activation(3).cwiseAbs().maxCoeff() / 63.0f);
    CHECK(q.parameter_bytes() == 6 * 8 + 8 * 8 + 4 + 8 * 3 + 8 * 3 + 4);

    // An input beyond the calibrated range is clamped: it gives what its clamped copy gives.
    const float limit = *q.input_scale(0) * 63.0f;
    Matrix<float> x = random_floats(6, 3, 16, 5.0);
    const Matrix<float> clamped = x.cwiseMin(limit).cwiseMax(-limit);
    REQUIRE(x != clamped);
    CHECK(q.predict_logits(x) == q.predict_logits(clamped));
    CHECK(q.last_input_scales(0)[2] == *q.input_scale(0));
    // Static scales make a column's output independent of the batch too.
    const Matrix<float> all = q.predict_logits(x);
    CHECK(q.predict_logits(x.col(1)) == all.col(1));
    // All-zero calibration at a layer's input: scale 1.
    const Int8Network zero = quantize(net, Matrix<float>::Zero(6, 2));
    CHECK(*zero.input_scale(0) == 1.0f);
}

TEST_CASE("forward(x, y) and forward(x) agree, and the buffers serve smaller batches") {
    Sequential<Dense<7, 5>, ReLU, Dense<5, 2>> net{Seed{17}};
    Int8Network q = quantize(net);
    const Matrix<float> x = random_floats(7, 10, 18);
    const Matrix<float> expected = q.predict_logits(x);
    Matrix<float> y(2, 10);
    q.forward(x, y);
    CHECK(y == expected);
    CHECK(Matrix<float>(q.forward(x.leftCols(3))) == expected.leftCols(3));
}

TEST_CASE("forward reads any input layout alike, and exact activations run in place") {
    // forward reads a Matrix, a Map or a block of whole columns in place and copies anything
    // else (a block of some rows, an expression): the same bits either way.
    Sequential<Dense<9, 40>, LeakyReLU, Dense<40, 6>, ReLU> net{Seed{21}};
    Int8Network q = quantize(net);
    const Matrix<float> big = random_floats(12, 23, 22);
    const Matrix<float> x = big.topRows(9);
    const Matrix<float> expected = q.predict_logits(x);
    CHECK(q.predict_logits(big.topRows(9)) == expected);                         // strided
    CHECK(q.predict_logits(x.middleCols(4, 10)) == expected.middleCols(4, 10));  // in place
    CHECK(q.predict_logits(Eigen::Map<const Matrix<float>>(x.data(), 9, 23)) == expected);
    CHECK(q.predict_logits(x * 1.0f) == expected);  // an expression
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rows = x;
    CHECK(q.predict_logits(rows) == expected);

    // LeakyReLU on the int8 epilogue's outputs is LeakyReLU applied afterwards, bit for bit,
    // at a batch that leaves a partial block of columns.
    Sequential<Dense<9, 40>, LeakyReLU> with_leaky{Seed{24}};
    with_leaky.layer<0>().bias() = random_floats(40, 1, 23);
    with_leaky.layer<1>().slope = 0.25;
    Sequential<Dense<9, 40>> bare{Seed{25}};
    bare.layer<0>().weights() = with_leaky.layer<0>().weights();
    bare.layer<0>().bias() = with_leaky.layer<0>().bias();
    Int8Network q_leaky = quantize(with_leaky);
    Int8Network q_bare = quantize(bare);
    const Matrix<float> z = q_bare.predict_logits(x);
    const Matrix<float> leaky = (z.array() > 0).select(z, 0.25f * z);
    CHECK(q_leaky.predict_logits(x) == leaky);
    CHECK((z.array() < 0).any());  // the select is exercised
}

TEST_CASE("quantize and Int8Network refuse bad values and shapes") {
    Sequential<Dense<4, 3>, ReLU, Dense<3, 2>> net{Seed{19}};
    {
        auto bad = net;
        bad.layer<2>().weights()(1, 2) = nan_f;
        const auto msg = thrown<ValueError>([&] { (void)quantize(bad); });
        CHECK_THAT(msg, Catch::Contains("chrysalis::quantize") && Catch::Contains("weights") &&
                            Catch::Contains("layer 2") && Catch::Contains("row 1, column 2"));
    }
    {
        auto bad = net;
        bad.layer<0>().bias()(0) = inf_f;
        const auto msg =
            thrown<ValueError>([&] { (void)quantize(bad, Matrix<float>::Ones(4, 2)); });
        CHECK_THAT(msg, Catch::Contains("chrysalis::quantize") && Catch::Contains("biases"));
    }
    {
        // A public LeakyReLU slope set after construction: quantize names it, and the int8
        // network's constructor refuses it in layers given directly.
        Sequential<Dense<4, 3>, LeakyReLU, Dense<3, 2>> leaky{Seed{19}};
        auto bad = leaky;
        bad.layer<1>().slope = std::numeric_limits<double>::quiet_NaN();
        CHECK_THAT(thrown<ValueError>([&] { (void)quantize(bad); }),
                   Catch::Contains("chrysalis::quantize") && Catch::Contains("layer 1") &&
                       Catch::Contains("(LeakyReLU) has slope nan"));
        std::vector<Int8Dense> layers{quantize(leaky).layer(0), quantize(leaky).layer(1)};
        std::get<LeakyReLU>(layers[0].activations.at(0)).slope = 1e300;  // beyond float's range
        CHECK_THAT(
            thrown<ValueError>([&] { Int8Network refused(std::move(layers)); }),
            Catch::Contains("chrysalis::Int8Network") && Catch::Contains("layer 0") &&
                Catch::Contains("activation 0 (LeakyReLU) has slope 1.0000000000000001e+300"));
    }
    {
        // Weights near float's largest value overflow the first layer's output on the
        // calibration samples: the second layer's input is not finite.
        auto huge = net;
        huge.layer<0>().weights().setConstant(3e38f);
        CHECK_THAT(thrown<ValueError>([&] { (void)quantize(huge, Matrix<float>::Ones(4, 2)); }),
                   Catch::Contains("the input of layer 2") && Catch::Contains("overflows"));
    }
    {
        // A NaN in the second row of the hidden activation after a finite first row: row 1 of
        // layer 0 overflows to −∞ and GELU(−∞) = −∞·0 is NaN. A maximum that skipped NaNs (as
        // Eigen's default maxCoeff may) would calibrate on the finite entry.
        Sequential<Dense<2, 2>, GELU, Dense<2, 1>> mixed{Seed{20}};
        mixed.layer<0>().weights() << 0, 1, -3e38f, 0;
        mixed.layer<0>().bias().setZero();
        const Matrix<float> twos = Matrix<float>::Constant(2, 1, 2.0f);
        CHECK_THAT(thrown<ValueError>([&] { (void)quantize(mixed, twos); }),
                   Catch::Contains("the input of layer 2") && Catch::Contains("overflows"));
    }
    CHECK_THAT(thrown<ShapeError>([&] { (void)quantize(net, Matrix<float>::Ones(5, 2)); }),
               Catch::Contains("chrysalis::quantize") && Catch::Contains("calibration_inputs"));
    CHECK_THAT(thrown<ValueError>([&] { (void)quantize(net, Matrix<float>(4, 0)); }),
               Catch::Contains("chrysalis::quantize") && Catch::Contains("calibration_inputs") &&
                   Catch::Contains("empty"));
    Matrix<float> calibration = Matrix<float>::Ones(4, 3);
    calibration(2, 1) = nan_f;
    CHECK_THAT(thrown<ValueError>([&] { (void)quantize(net, calibration); }),
               Catch::Contains("calibration_inputs") && Catch::Contains("sample 1, feature 2"));
    // A double beyond float's range is named as given, not as the ∞ it converts to.
    Matrix<double> wide = Matrix<double>::Ones(4, 3);
    wide(2, 2) = 1e300;
    CHECK_THAT(thrown<ValueError>([&] { (void)quantize(net, wide); }),
               Catch::Contains("calibration_inputs holds 1.0000000000000001e+300 at sample 2, "
                               "feature 2") &&
                   Catch::Contains("within float's range"));

    Int8Network q = quantize(net);
    CHECK_THAT(thrown<ShapeError>([&] { (void)q.forward(Matrix<float>::Ones(3, 2)); }),
               Catch::Contains("chrysalis::Int8Network::forward"));
    Matrix<float> x = Matrix<float>::Ones(4, 2);
    x(3, 1) = -inf_f;
    CHECK_THAT(thrown<ValueError>([&] { (void)q.forward(x); }),
               Catch::Contains("sample 1, feature 3"));
    Matrix<float> y(3, 2);
    CHECK_THAT(thrown<ShapeError>([&] { q.forward(Matrix<float>::Ones(4, 2), y); }),
               Catch::Contains("y is 3 x 2"));
    CHECK_THAT(thrown<ValueError>([&] { (void)q.weight_scales(2); }), Catch::Contains("index 2"));
    for (Int8Kernel k : all_kernels)
        if (!int8_kernel_compiled(k))
            CHECK_THAT(thrown<ValueError>([&] { q.set_kernel(k); }),
                       Catch::Contains("not compiled"));
    // A value cast from an integer is named as given, not as "the ? kernel", and changes nothing.
    const Int8Kernel before = q.kernel();
    CHECK_THAT(thrown<ValueError>([&] { q.set_kernel(static_cast<Int8Kernel>(99)); }),
               Catch::Contains("Int8Kernel(99) is not a kernel; expected scalar, avx2"));
    CHECK(q.kernel() == before);

    // Layers given to the constructor directly (as a model loader would) are checked.
    CHECK_THAT(thrown<ValueError>([] { Int8Network none({}); }), Catch::Contains("no layers"));
    const auto with = [&](auto change) {
        std::vector<Int8Dense> layers{q.layer(0), q.layer(1)};
        change(layers);
        return Int8Network(std::move(layers));
    };
    CHECK_NOTHROW(with([](auto&) {}));
    CHECK_THAT(thrown<ShapeError>([&] { with([](auto& l) { l[1].input_size = 4; }); }),
               Catch::Contains("layer 1") && Catch::Contains("layer before outputs 3"));
    CHECK_THAT(thrown<ShapeError>([&] { with([](auto& l) { l[0].weight_scales.pop_back(); }); }),
               Catch::Contains("layer 0") && Catch::Contains("scales"));
    CHECK_THAT(thrown<ValueError>([&] { with([](auto& l) { l[0].weights[1] = -128; }); }),
               Catch::Contains("weight (0, 1) is -128"));
    CHECK_THAT(thrown<ValueError>([&] { with([](auto& l) { l[1].weights[5] = 1; }); }),
               Catch::Contains("padding"));
    CHECK_THAT(thrown<ValueError>([&] { with([](auto& l) { l[0].weight_scales[2] = 0; }); }),
               Catch::Contains("weight scale 2"));
    CHECK_THAT(thrown<ValueError>([&] { with([](auto& l) { l[1].bias(0) = nan_f; }); }),
               Catch::Contains("bias 0"));
    CHECK_THAT(thrown<ValueError>([&] { with([](auto& l) { l[1].input_scale = 0.5f; }); }),
               Catch::Contains("every layer or on none"));
}

TEST_CASE("a forward refused for a non-finite input leaves the network as the last one left it") {
    // The batch size and the first layer's scales were set before the input was checked: after
    // the refusal last_input_scales(0) described 1000 columns of a forward that never ran, and
    // last_input_scales(1) a span of 1000 over a buffer of one (a heap over-read).
    const Sequential<Dense<4, 16>, ReLU, Dense<16, 3>> net{Seed{23}};
    Int8Network q = quantize(net);
    const Matrix<float> one = Matrix<float>::Random(4, 1);
    const Matrix<float> first = q.predict_logits(one);
    const auto scales = [&](std::size_t i) {
        const auto s = q.last_input_scales(i);
        return std::vector<float>(s.begin(), s.end());
    };
    const std::vector<float> scales0 = scales(0), scales1 = scales(1);
    REQUIRE(scales0.size() == 1);
    Matrix<float> big = Matrix<float>::Random(4, 1000);
    big(2, 999) = nan_f;
    CHECK_THAT(thrown<ValueError>([&] { (void)q.forward(big); }),
               Catch::Contains("sample 999, feature 2"));
    CHECK(scales(0) == scales0);
    CHECK(scales(1) == scales1);
    CHECK(q.predict_logits(one) == first);
}

namespace {

/// leaky(W₂·gelu(W₁·x + b₁) + b₂): a layer of the test's own, built from shipped layers as
/// docs/extending.md describes (one file, no library header touched), with an int8 form through
/// the Int8Layer member — two Dense parts and the activations after each.
template <int In, int Mid, int Out>
class Bottleneck {
  public:
    using scalar_type = float;
    static constexpr int input_size = In;
    static constexpr int output_size = Out;
    static std::string name() { return "Bottleneck"; }

    Dense<In, Mid> first;
    GELU gelu;
    Dense<Mid, Out> second;
    LeakyReLU leaky{0.125};

    void initialize(Rng& rng) {
        first.initialize(rng);
        second.initialize(rng);
    }
    template <class F>
    void visit_parameters(F&& f) {
        first.visit_parameters(f);
        second.visit_parameters(f);
    }
    void forward(ConstMatrixRef<float> x, MatrixRef<float> y, Mode mode = {}) {
        h_.resize(Mid, x.cols());
        a_.resize(Mid, x.cols());
        z_.resize(Out, x.cols());
        first.forward(x, h_, mode);
        gelu.forward(h_, a_, mode);
        second.forward(a_, z_, mode);
        leaky.forward(z_, y, mode);
    }
    void backward(ConstMatrixRef<float> x, ConstMatrixRef<float> y, ConstMatrixRef<float> dy,
                  MatrixRef<float> dx) {
        dz_.resize(Out, x.cols());
        da_.resize(Mid, x.cols());
        dh_.resize(Mid, x.cols());
        leaky.backward(z_, y, dy, dz_);
        second.backward(a_, z_, dz_, da_);
        gelu.backward(h_, a_, da_, dh_);
        first.backward(x, h_, dh_, dx);
    }

    template <class Builder>
    void to_int8(Builder& b) const {
        b.dense(first.weights(), first.bias());
        b.activation(gelu);
        b.dense(second.weights(), second.bias());
        b.activation(leaky);
    }

  private:
    Matrix<float> h_, a_, z_, dz_, da_, dh_;
};

/// y = x + noise in training, the identity at inference: its int8 form adds nothing.
struct TrainingNoise {
    static constexpr int input_size = same_width;
    static constexpr int output_size = same_width;
    static std::string name() { return "TrainingNoise"; }
    template <class X, class Y>
    void forward(const Eigen::MatrixBase<X>& x, Y&& y, Mode mode = {}) const {
        y = x;
        if (mode == Mode::training) y.array() += 0.01f;
    }
    template <class X, class Yv, class DY, class DX>
    void backward(const Eigen::MatrixBase<X>&, const Eigen::MatrixBase<Yv>&,
                  const Eigen::MatrixBase<DY>& dy, DX&& dx) const {
        if (dx.size() != 0) dx = dy;
    }
    template <class Builder>
    void to_int8(Builder&) const {}
};

/// A layer In → Out (y = the first Out features of x, zeros after) whose int8 form is whatever
/// `script` adds: the tests' way to give quantize a mistaken to_int8.
template <int In, int Out>
struct Scripted {
    using scalar_type = float;
    static constexpr int input_size = In;
    static constexpr int output_size = Out;
    static std::string name() { return "Scripted"; }
    std::function<void(Int8Builder&)> script;
    void forward(ConstMatrixRef<float> x, MatrixRef<float> y, Mode = {}) const {
        y.setZero();
        y.topRows(std::min(In, Out)) = x.topRows(std::min(In, Out));
    }
    void backward(ConstMatrixRef<float>, ConstMatrixRef<float>, ConstMatrixRef<float> dy,
                  MatrixRef<float> dx) const {
        if (dx.size() == 0) return;
        dx.setZero();
        dx.topRows(std::min(In, Out)) = dy.topRows(std::min(In, Out));
    }
    void to_int8(Int8Builder& b) const {
        if (script) script(b);
    }
};

static_assert(Int8Layer<Bottleneck<5, 4, 3>> && Int8Layer<TrainingNoise> &&
              Int8Layer<Scripted<4, 4>>);
static_assert(!Int8Layer<Dense<4, 3>> && !Int8Layer<ReLU>);  // converted by quantize itself
// Only quantize makes an Int8Builder; a layer gets one by reference and can neither make, copy
// nor move one.
static_assert(!std::is_constructible_v<Int8Builder, detail::Int8Assembly&> &&
              !std::is_copy_constructible_v<Int8Builder> &&
              !std::is_move_constructible_v<Int8Builder>);

using WithUserLayers =
    Sequential<Dense<6, 5>, TrainingNoise, ReLU, Bottleneck<5, 4, 3>, Dense<3, 2>>;
using ShippedOnly =
    Sequential<Dense<6, 5>, ReLU, Dense<5, 4>, GELU, Dense<4, 3>, LeakyReLU, Dense<3, 2>>;

/// The shipped-layer network that computes what `user` computes, with the same parameters.
ShippedOnly shipped_twin(const WithUserLayers& user) {
    ShippedOnly twin;
    twin.layer<0>() = user.layer<0>();
    twin.layer<2>() = user.layer<3>().first;
    twin.layer<4>() = user.layer<3>().second;
    twin.layer<5>() = user.layer<3>().leaky;
    twin.layer<6>() = user.layer<4>();
    return twin;
}

void require_same_int8_layer(const Int8Dense& a, const Int8Dense& b) {
    REQUIRE(a.input_size == b.input_size);
    REQUIRE(a.output_size == b.output_size);
    CHECK(a.weights == b.weights);
    CHECK(a.weight_scales == b.weight_scales);
    CHECK(a.bias == b.bias);
    REQUIRE(a.activations.size() == b.activations.size());
    for (std::size_t i = 0; i < a.activations.size(); ++i) {
        CHECK(a.activations[i].index() == b.activations[i].index());
        if (const auto* l = std::get_if<LeakyReLU>(&a.activations[i]))
            CHECK(l->slope == std::get<LeakyReLU>(b.activations[i]).slope);
    }
}

}  // namespace

TEST_CASE("a layer of the user's own quantizes through its to_int8, as its shipped twin does") {
    WithUserLayers user{Seed{41}};
    ShippedOnly twin = shipped_twin(user);
    const Matrix<float> x = random_floats(6, 37, 42, 2.0);
    const Matrix<float> float_out = user.forward(x);
    REQUIRE(float_out == twin.forward(x));  // the twin is the same float network

    // Dynamic scales: the same int8 layers, so the same logits, bit for bit.
    Int8Network q = quantize(user);
    Int8Network q_twin = quantize(twin);
    REQUIRE(q.dense_count() == 4);
    REQUIRE(q_twin.dense_count() == 4);
    for (std::size_t i = 0; i < 4; ++i) require_same_int8_layer(q.layer(i), q_twin.layer(i));
    CHECK(q.predict_logits(x) == q_twin.predict_logits(x));

    // Static scales. Where a Dense reads a Sequential layer's input, the scale comes from the
    // network's own forward, as the twin's does: the same bits. The Bottleneck's second Dense
    // reads values the network does not keep, computed by quantize with dot products instead of
    // chrysalis's GEMM: each of its inputs gelu(W₁x + b₁) is a 5-term sum plus a bias in float,
    // so the two differ by at most 2·6u·S (S = the largest Σ|w·x| + |b|, u = 2⁻²⁴) through
    // GELU, whose slope is below 1.13, plus GELU's own rounding (a few u·|value|); the scale is
    // the largest of them over 63, rounded once more.
    const Matrix<float> calibration = random_floats(6, 300, 43, 2.0);  // two chunks of 256
    Int8Network s = quantize(user, calibration);
    Int8Network s_twin = quantize(twin, calibration);
    for (std::size_t i = 0; i < 4; ++i) require_same_int8_layer(s.layer(i), s_twin.layer(i));
    CHECK(*s.input_scale(0) == *s_twin.input_scale(0));
    CHECK(*s.input_scale(1) == *s_twin.input_scale(1));
    CHECK(*s.input_scale(3) == *s_twin.input_scale(3));
    ShippedOnly scratch = twin;
    scratch.forward(calibration);
    const Matrix<float> relu_out = scratch.activation(2);
    const Matrix<float>& w1 = twin.layer<2>().weights();
    const Vector<float>& b1 = twin.layer<2>().bias();
    double sum_bound = 0;
    for (Eigen::Index j = 0; j < relu_out.cols(); ++j)
        for (Eigen::Index o = 0; o < w1.rows(); ++o)
            sum_bound = std::max(sum_bound, (w1.row(o).cast<double>().cwiseAbs() *
                                             relu_out.col(j).cast<double>().cwiseAbs())
                                                    .value() +
                                                std::abs(double(b1(o))));
    const double u = 0x1p-24;
    const double max_gelu = double(*s_twin.input_scale(2)) * 63;
    const double tolerance = (1.13 * 12 * u * sum_bound + 8 * u * max_gelu) / 63;
    INFO("the Bottleneck's second Dense: scale " << *s.input_scale(2) << " against the twin's "
                                                 << *s_twin.input_scale(2) << ", tolerance "
                                                 << tolerance);
    CHECK(std::abs(double(*s.input_scale(2)) - double(*s_twin.input_scale(2))) <= tolerance);
    CHECK(*s_twin.input_scale(2) == scratch.activation(4).cwiseAbs().maxCoeff() / 63.0f);
}

TEST_CASE("quantize refuses a user layer's mistaken int8 form, naming the layer") {
    using Net = Sequential<Dense<4, 4>, Scripted<4, 3>, Dense<3, 2>>;
    Net net{Seed{44}};
    const auto refusal = [&]<class E>(E, std::function<void(Int8Builder&)> script) {
        Net bad = net;
        bad.layer<1>().script = std::move(script);
        return thrown<E>([&] { (void)quantize(bad); });
    };
    const auto check_layer_1 = [](const std::string& message, const std::string& what) {
        CHECK_THAT(message, Catch::Contains("chrysalis::quantize: net: layer 1 (Scripted)") &&
                                Catch::Contains(what));
    };
    // Adds nothing, so leaves width 4 where the layer's output is 3.
    check_layer_1(refusal(ShapeError{""}, nullptr), "ends at width 4; expected 3");
    // A Dense of the wrong depth, and one whose bias is too short.
    check_layer_1(
        refusal(ShapeError{""},
                [](Int8Builder& b) { b.dense(Matrix<float>::Ones(3, 5), Vector<float>::Zero(3)); }),
        "3 × 5 weights where the width is 4");
    check_layer_1(
        refusal(ShapeError{""},
                [](Int8Builder& b) { b.dense(Matrix<float>::Ones(3, 4), Vector<float>::Zero(2)); }),
        "a bias of 2 × 1; expected 3 × 1");
    // Parameters that are not finite, named as a shipped Dense's are.
    Matrix<float> w = Matrix<float>::Ones(3, 4);
    w(2, 1) = nan_f;
    CHECK_THAT(refusal(ValueError{""}, [&](Int8Builder& b) { b.dense(w, Vector<float>::Zero(3)); }),
               Catch::Contains("the weights of layer 1 (Scripted) hold nan at row 2, column 1"));
    CHECK_THAT(refusal(ValueError{""},
                       [](Int8Builder& b) {
                           b.dense(Matrix<float>::Ones(3, 4), Vector<float>::Constant(3, inf_f));
                       }),
               Catch::Contains("the biases of layer 1 (Scripted) hold inf at row 0, column 0"));
    check_layer_1(refusal(ValueError{""},
                          [](Int8Builder& b) {
                              b.dense(Matrix<float>::Ones(3, 4), Vector<float>::Zero(3));
                              b.activation(LeakyReLU{0.5});
                              LeakyReLU bad_slope;
                              bad_slope.slope = 1e300;
                              b.activation(bad_slope);
                          }),
                  "has slope 1.0000000000000001e+300");
    // width() is what the next part reads.
    long seen_before = 0, seen_after = 0;
    Net good = net;
    good.layer<1>().script = [&](Int8Builder& b) {
        seen_before = b.width();
        b.dense(Matrix<float>::Ones(3, 4), Vector<float>::Zero(3));
        seen_after = b.width();
    };
    CHECK(quantize(good).dense_count() == 3);
    CHECK(seen_before == 4);
    CHECK(seen_after == 3);

    // A Dense deeper than int32 sums of 127·127 products allow (a shipped Dense that deep does
    // not compile).
    Sequential<Scripted<detail::int8_max_depth + 1, 1>> deep;
    deep.layer<0>().script = [](Int8Builder& b) {
        b.dense(Matrix<float>::Ones(1, b.width()), Vector<float>::Zero(1));
    };
    CHECK_THAT(thrown<ValueError>([&] { (void)quantize(deep); }),
               Catch::Contains("layer 0 (Scripted) adds a Dense of 133145 inputs; expected at "
                               "most 133144"));

    // An activation before any Dense, and a network without one.
    Sequential<Scripted<4, 4>, Dense<4, 2>> first{Seed{45}};
    first.layer<0>().script = [](Int8Builder& b) { b.activation(ReLU{}); };
    CHECK_THAT(thrown<ValueError>([&] { (void)quantize(first); }),
               Catch::Contains("layer 0 (Scripted) adds ReLU before any Dense"));
    Sequential<Scripted<4, 4>> none;
    CHECK_THAT(thrown<ValueError>([&] { (void)quantize(none, Matrix<float>::Ones(4, 1)); }),
               Catch::Contains("no layer adds a Dense"));
}
