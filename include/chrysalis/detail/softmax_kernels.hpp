#pragma once
// chrysalis/detail/softmax_kernels.hpp — the raw-pointer kernels behind chrysalis::softmax and
// chrysalis::log_softmax: a plain scalar one and an xsimd one. Not part of the public API; the
// tests and benchmarks call both to compare them.
//
// The math, for one column z of n logits and inverse temperature t = 1/T:
//   M   = max_i z_i
//   y_i = (z_i − M)·t                      ≤ 0, so exp never overflows
//   S   = Σ_i exp(y_i)                     ≥ 1, since the maximum contributes exp(0) = 1
//   softmax:      p_i     = exp(y_i) / S
//   log-softmax:  log p_i = y_i − log S    (computed directly: no log of a rounded-to-zero p)
//
// Large columns use one online pass for M and S (Milakov & Gimelshein 2018, arXiv 1805.02867):
// each SIMD lane keeps a running maximum m and a sum s of exp((z − m)·t); when m grows to m',
// s is rescaled by exp((m − m')·t). The lanes are merged at the end the same way. A second pass
// writes the outputs. Small columns (the usual 10 classes of a distillation) are shorter than one
// register, so there the kernel works across samples instead: lane l holds sample l, and a block
// of W samples is gathered one class at a time.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#if !defined(CHRYSALIS_DISABLE_SIMD)
#include <xsimd/xsimd.hpp>
#if defined(XSIMD_NO_SUPPORTED_ARCHITECTURE)
#define CHRYSALIS_DISABLE_SIMD 1
#endif
#endif

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail {

/// Which output the kernel writes.
enum class SoftmaxOutput { probabilities, log_probabilities };

/// A set of columns in memory: column c of the input starts at in + c·in_stride and holds `rows`
/// contiguous values; likewise the output. `out` may equal `in` (with equal strides): every kernel
/// reads a column's values before it writes them. Any other overlap is not allowed.
template <class S>
struct ColumnBlock {
    const S* in;
    std::ptrdiff_t in_stride;
    S* out;
    std::ptrdiff_t out_stride;
    std::ptrdiff_t rows;
    std::ptrdiff_t cols;
};

/// 1/T as the kernel's scalar, kept inside [denorm_min, max] so that (z − M)·t is 0 (not NaN) for
/// the maximum even when T is below float's range, and T above it gives the uniform limit.
template <class S>
[[nodiscard]] inline S inverse_temperature(double temperature) noexcept {
    const double inv = 1.0 / temperature;
    const double lo = static_cast<double>(std::numeric_limits<S>::denorm_min());
    const double hi = static_cast<double>(std::numeric_limits<S>::max());
    return static_cast<S>(std::clamp(inv, lo, hi));
}

/// (x − m)·t where x ≤ m, also when x − m overflows: finite logits of opposite signs, such as
/// −FLT_MAX and FLT_MAX, have a difference beyond the type's range although (x − m)·t is within
/// it for t < 1 (and softmax must then not give probability 0 or log-probability −∞). Then it is
/// x·t − m·t instead (x < 0 < m, so no ∞ − ∞; it overflows only when the exact value does).
template <class S>
requires std::is_floating_point_v<S>
[[nodiscard]] inline S scaled_gap(S x, S m, S t) noexcept {
    const S d = x - m;
    if (d == -std::numeric_limits<S>::infinity() && x != d) [[unlikely]]
        return x * t - m * t;
    return d * t;
}

/// The portable reference: three plain loops per column, std::exp and std::log.
/// The running maximum starts at lowest() rather than −∞ so that −∞ logits give p = 0 without
/// forming (−∞) − (−∞); a NaN logit makes its column's sum, and so every output of it, NaN.
template <SoftmaxOutput Output, class S>
void softmax_columns_scalar(const ColumnBlock<S>& b, S t) noexcept {
    for (std::ptrdiff_t c = 0; c < b.cols; ++c) {
        const S* x = b.in + c * b.in_stride;
        S* y = b.out + c * b.out_stride;
        S m = std::numeric_limits<S>::lowest();
        for (std::ptrdiff_t i = 0; i < b.rows; ++i) m = std::max(m, x[i]);
        S s = 0;
        if constexpr (Output == SoftmaxOutput::probabilities) {
            for (std::ptrdiff_t i = 0; i < b.rows; ++i) {
                const S e = std::exp(scaled_gap(x[i], m, t));
                y[i] = e;
                s += e;
            }
            const S r = S(1) / s;
            for (std::ptrdiff_t i = 0; i < b.rows; ++i) y[i] *= r;
        } else {
            for (std::ptrdiff_t i = 0; i < b.rows; ++i) s += std::exp(scaled_gap(x[i], m, t));
            const S log_s = std::log(s);
            for (std::ptrdiff_t i = 0; i < b.rows; ++i) y[i] = scaled_gap(x[i], m, t) - log_s;
        }
    }
}

#if !defined(CHRYSALIS_DISABLE_SIMD)

// GCC 12's AVX-512 intrinsics build their unused pass-through operand with a self-initialised
// variable (_mm512_undefined_ps: `__m512 __Y = __Y;`), which -Wmaybe-uninitialized reports at
// every inlined use (GCC bug 105593, fixed in GCC 13). Silence it for these kernels only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

/// scaled_gap for each lane: (x − m)·t, or x·t − m·t where x − m overflowed.
template <class S, class A>
[[nodiscard]] inline xsimd::batch<S, A> scaled_gap(const xsimd::batch<S, A>& x,
                                                   const xsimd::batch<S, A>& m,
                                                   const xsimd::batch<S, A>& t) noexcept {
    using B = xsimd::batch<S, A>;
    const B d = x - m;
    const B minus_inf(-std::numeric_limits<S>::infinity());
    return xsimd::select((d == minus_inf) & (x != minus_inf), x * t - m * t, d * t);
}

/// The widest register xsimd knows for the flags this translation unit is compiled with.
template <class S>
using SimdBatch = xsimd::batch<S>;

/// Columns at most this long are processed across samples (lane = sample). Longer ones use the
/// online down-the-column path. 32 measured best on AVX-512 and AVX2 (benchmarks/softmax_bench).
inline constexpr std::ptrdiff_t softmax_across_samples_max_rows = 32;

/// Columns up to this size take the one-exp chunked path (they stay in L2 between its passes).
inline constexpr std::ptrdiff_t softmax_chunked_max_bytes = 512 * 1024;

template <class S>
[[nodiscard]] inline S horizontal_max(const SimdBatch<S>& v) noexcept {
    alignas(SimdBatch<S>::arch_type::alignment()) S lanes[SimdBatch<S>::size];
    v.store_aligned(lanes);
    S m = lanes[0];
    for (std::size_t l = 1; l < SimdBatch<S>::size; ++l) m = std::max(m, lanes[l]);
    return m;
}

/// 2^y for y ≤ 0, NaN preserved. The kernels fold log2(e) into the inverse temperature
/// (t₂ = log2(e)/T), so exp((z − m)/T) = 2^((z − m)·t₂) and the range reduction is exact:
///   n = round(y),  f = y − n ∈ [−1/2, 1/2]  (exact: Sterbenz),   2^y = 2^n · p(f)
/// p is, for double, the Taylor series Σ_{k≤13} (f·ln 2)^k / k! (remainder 4e-18); for float, a
/// degree-6 polynomial fitted for least maximum relative error (scripts/fit_exp2.py: 2e-9
/// exact, 1.75·2^-24 evaluated in float, one multiply-add fewer than the degree-7 Taylor
/// series). No overflow branch is needed (y ≤ 0). 2^n is built in the exponent bits; y is first
/// clamped at −(exponent bias), where 2^n is exactly 0, so the result underflows to 0 (values
/// below the smallest normal number may be flushed to 0, an absolute error below that number).
template <class S>
[[nodiscard]] inline SimdBatch<S> exp2_nonpositive(const SimdBatch<S>& y_in) noexcept {
    using B = SimdBatch<S>;
    using I = xsimd::as_integer_t<S>;
    using IB = xsimd::batch<I>;
    constexpr bool is_float = std::is_same_v<S, float>;
    constexpr int mantissa_bits = is_float ? 23 : 52;
    constexpr I bias = is_float ? 127 : 1023;
    // A NaN y stays NaN: x86's max(a, b) returns b when either is NaN, and b is y here.
    const B y = xsimd::max(B(-S(bias)), y_in);
    // Adding 1.5·2^mantissa_bits + bias rounds y to an integer and leaves n + bias in the low
    // bits of k; shifted up by mantissa_bits they are the exponent field of 2^n (the bits above
    // are shifted out).
    const B shifter(S(1.5) * S(I(1) << mantissa_bits) + S(bias));
    const B k = y + shifter;
    const B n = k - shifter;
    const B f = y - n;
    B p;
    if constexpr (is_float) {
        p = B(0.00015353361959569156f);
        p = xsimd::fma(p, f, B(0.0013398875016719103f));
        p = xsimd::fma(p, f, B(0.00961843691766262f));
        p = xsimd::fma(p, f, B(0.055503323674201965f));
        p = xsimd::fma(p, f, B(0.24022647738456726f));
        p = xsimd::fma(p, f, B(0.6931471824645996f));
        p = xsimd::fma(p, f, B(1.0f));
    } else {
        constexpr int K = 13;  // Horner on (ln 2)^k / k!, highest degree first
        // Computed by the compiler, not on every call (g++ 12 folds the loop at -O3 only: at
        // -O2 its 13 divisions made the distillation loss six times slower); the same
        // round-to-nearest arithmetic either way, so the same coefficients.
        constexpr std::array<double, K + 1> coef = [] {
            std::array<double, K + 1> c{};
            c[0] = 1;
            for (std::size_t i = 1; i <= std::size_t(K); ++i)
                c[i] = c[i - 1] * 0.693147180559945309417 / double(i);
            return c;
        }();
        p = B(coef[K]);
#pragma GCC unroll 16
        for (int i = K - 1; i >= 0; --i) p = xsimd::fma(p, f, B(coef[std::size_t(i)]));
    }
    const B two_n = xsimd::bitwise_cast<B>(xsimd::bitwise_cast<IB>(k) << mantissa_bits);
    return p * two_n;
}

/// log2(e)/T in the kernel's scalar type, capped at its largest value (see inverse_temperature).
template <class S>
[[nodiscard]] inline S inverse_temperature_log2e(S t) noexcept {
    const double v = double(t) * 1.44269504088896340736;
    return static_cast<S>(std::min(v, double(std::numeric_limits<S>::max())));
}

/// One online step: fold the values v into the running (m, s) of each lane.
template <class S>
inline void online_update(SimdBatch<S>& m, SimdBatch<S>& s, const SimdBatch<S>& v,
                          const SimdBatch<S>& t2) noexcept {
    const SimdBatch<S> m_new = xsimd::max(m, v);
    // Rescaling costs an exp; after the first few registers the maximum rarely moves.
    if (xsimd::any(m_new > m)) {
        s *= exp2_nonpositive<S>(scaled_gap(m, m_new, t2));
        m = m_new;
    }
    s += exp2_nonpositive<S>(scaled_gap(v, m, t2));
}

/// Down-the-column path for one column of any length: an online max-and-sum pass, then one write
/// pass. The last partial register goes through a buffer padded with −∞ (exp(−∞) = 0).
template <SoftmaxOutput Output, class S>
void softmax_column_online(const S* x, S* y, std::ptrdiff_t n, S t_scalar) noexcept {
    using B = SimdBatch<S>;
    constexpr std::ptrdiff_t W = B::size;
    const B t(t_scalar);
    const B t2(inverse_temperature_log2e(t_scalar));  // exp(a·t) = 2^(a·t2)
    B m(std::numeric_limits<S>::lowest());
    B s0(S(0)), s1(S(0)), s2(S(0)), s3(S(0));

    std::ptrdiff_t i = 0;
    for (; i + 4 * W <= n; i += 4 * W) {
        const B x0 = B::load_unaligned(x + i);
        const B x1 = B::load_unaligned(x + i + W);
        const B x2 = B::load_unaligned(x + i + 2 * W);
        const B x3 = B::load_unaligned(x + i + 3 * W);
        const B m_new = xsimd::max(m, xsimd::max(xsimd::max(x0, x1), xsimd::max(x2, x3)));
        if (xsimd::any(m_new > m)) {
            const B f = exp2_nonpositive<S>(scaled_gap(m, m_new, t2));
            s0 *= f;
            s1 *= f;
            s2 *= f;
            s3 *= f;
            m = m_new;
        }
        s0 += exp2_nonpositive<S>(scaled_gap(x0, m, t2));
        s1 += exp2_nonpositive<S>(scaled_gap(x1, m, t2));
        s2 += exp2_nonpositive<S>(scaled_gap(x2, m, t2));
        s3 += exp2_nonpositive<S>(scaled_gap(x3, m, t2));
    }
    B s = (s0 + s1) + (s2 + s3);
    for (; i + W <= n; i += W) online_update(m, s, B::load_unaligned(x + i), t2);

    const std::ptrdiff_t tail = n - i;
    alignas(B::arch_type::alignment()) S buf[std::size_t(W)];
    if (tail > 0) {
        std::fill(buf, buf + W, -std::numeric_limits<S>::infinity());
        std::copy(x + i, x + n, buf);
        online_update(m, s, B::load_aligned(buf), t2);
    }

    // Merge the lanes: M = max_l m_l, S = Σ_l s_l·exp((m_l − M)·t).
    const S m_all = horizontal_max(m);
    const B mb(m_all);
    const S s_all = xsimd::hadd(s * exp2_nonpositive<S>(scaled_gap(m, mb, t2)));

    if constexpr (Output == SoftmaxOutput::probabilities) {
        const B r(S(1) / s_all);
        std::ptrdiff_t j = 0;
        for (; j + W <= n; j += W) {
            (exp2_nonpositive<S>(scaled_gap(B::load_unaligned(x + j), mb, t2)) * r)
                .store_unaligned(y + j);
        }
        if (tail > 0) {
            (exp2_nonpositive<S>(scaled_gap(B::load_aligned(buf), mb, t2)) * r).store_aligned(buf);
            std::copy(buf, buf + tail, y + j);
        }
    } else {
        const B log_s(std::log(s_all));
        std::ptrdiff_t j = 0;
        for (; j + W <= n; j += W) {
            (scaled_gap(B::load_unaligned(x + j), mb, t) - log_s).store_unaligned(y + j);
        }
        if (tail > 0) {
            (scaled_gap(B::load_aligned(buf), mb, t) - log_s).store_aligned(buf);
            std::copy(buf, buf + tail, y + j);
        }
    }
}

/// Down-the-column softmax (probabilities) for a column that fits in cache, with one exp per
/// element: the online pass works chunk by chunk (FlashAttention-style blocking of the same
/// recurrence): each chunk's maximum is found first, the running sum is rescaled to it, and the
/// chunk's exp((z − m_c)·t) are written to y while they are summed. The write pass then scales
/// each chunk by its own factor exp((m_c − M)·t)/S. At most chunk_limit chunks, so the per-chunk
/// maxima live on the stack. Works in place (y = x): each value is read before it is overwritten.
template <class S>
void softmax_column_chunked(const S* x, S* y, std::ptrdiff_t n, S t_scalar) noexcept {
    using B = SimdBatch<S>;
    constexpr std::ptrdiff_t W = B::size;
    constexpr std::ptrdiff_t chunk_limit = 32;
    const B t2(inverse_temperature_log2e(t_scalar));  // exp(a·t) = 2^(a·t2)
    const std::ptrdiff_t vectors = (n + W - 1) / W;   // the last one may be partial
    // Chunks of at least 64 registers (4 KiB of float on AVX-512), so the second read of a chunk
    // comes from L1.
    const std::ptrdiff_t chunk =
        std::max<std::ptrdiff_t>(64, (vectors + chunk_limit - 1) / chunk_limit);
    B chunk_max[chunk_limit];

    B m(std::numeric_limits<S>::lowest());
    B s0(S(0)), s1(S(0));
    const std::ptrdiff_t full = n / W;  // complete registers
    const std::ptrdiff_t tail = n - full * W;
    alignas(B::arch_type::alignment()) S buf[std::size_t(W)];
    if (tail > 0) {
        std::fill(buf, buf + W, -std::numeric_limits<S>::infinity());
        std::copy(x + full * W, x + n, buf);
    }
    auto load = [&](std::ptrdiff_t v) {
        return v < full ? B::load_unaligned(x + v * W) : B::load_aligned(buf);
    };

    std::ptrdiff_t c = 0;
    for (std::ptrdiff_t v0 = 0; v0 < vectors; v0 += chunk, ++c) {
        const std::ptrdiff_t v1 = std::min(vectors, v0 + chunk);
        // Four independent maxima, so the loop runs at load speed rather than max latency.
        B cm0 = m, cm1 = m, cm2 = m, cm3 = m;
        std::ptrdiff_t u = v0;
        for (; u + 4 <= std::min(v1, full); u += 4) {
            cm0 = xsimd::max(cm0, B::load_unaligned(x + u * W));
            cm1 = xsimd::max(cm1, B::load_unaligned(x + u * W + W));
            cm2 = xsimd::max(cm2, B::load_unaligned(x + u * W + 2 * W));
            cm3 = xsimd::max(cm3, B::load_unaligned(x + u * W + 3 * W));
        }
        for (; u < v1; ++u) cm0 = xsimd::max(cm0, load(u));
        const B cm = xsimd::max(xsimd::max(cm0, cm1), xsimd::max(cm2, cm3));
        if (xsimd::any(cm > m)) {
            const B f = exp2_nonpositive<S>(scaled_gap(m, cm, t2));
            s0 *= f;
            s1 *= f;
            m = cm;
        }
        chunk_max[c] = m;
        std::ptrdiff_t v = v0;
        for (; v + 2 <= std::min(v1, full); v += 2) {
            const B e0 = exp2_nonpositive<S>(scaled_gap(B::load_unaligned(x + v * W), m, t2));
            const B e1 = exp2_nonpositive<S>(scaled_gap(B::load_unaligned(x + v * W + W), m, t2));
            e0.store_unaligned(y + v * W);
            e1.store_unaligned(y + v * W + W);
            s0 += e0;
            s1 += e1;
        }
        for (; v < v1; ++v) {
            const B e = exp2_nonpositive<S>(scaled_gap(load(v), m, t2));
            if (v < full) {
                e.store_unaligned(y + v * W);
            } else {
                e.store_aligned(buf);  // the partial register: keep it in buf for the write pass
            }
            s0 += e;
        }
    }

    // M = max_l m_l, S = Σ_l s_l·exp((m_l − M)·t); chunk c is scaled by exp((m_c − M)·t)/S.
    const B mb(horizontal_max(m));
    const B s = s0 + s1;
    const B r(S(1) / xsimd::hadd(s * exp2_nonpositive<S>(scaled_gap(m, mb, t2))));
    c = 0;
    for (std::ptrdiff_t v0 = 0; v0 < vectors; v0 += chunk, ++c) {
        const std::ptrdiff_t v1 = std::min(vectors, v0 + chunk);
        const B f = exp2_nonpositive<S>(scaled_gap(chunk_max[c], mb, t2)) * r;
        for (std::ptrdiff_t v = v0; v < std::min(v1, full); ++v) {
            (B::load_unaligned(y + v * W) * f).store_unaligned(y + v * W);
        }
        if (v1 > full) {
            (B::load_aligned(buf) * f).store_aligned(buf);
            std::copy(buf, buf + tail, y + full * W);
        }
    }
}

/// Across-samples path for W consecutive columns of at most softmax_across_samples_max_rows
/// rows: lane l works on column l, so the reductions over classes are plain vertical max/add.
/// Rows come in by gather; results go out through a rows × W tile on the stack, copied to the
/// columns with plain stores (xsimd 8.1's scatter is element-by-element and slower).
template <SoftmaxOutput Output, class S, class Index>
void softmax_block_across_samples(const S* x, S* y, std::ptrdiff_t rows, std::ptrdiff_t out_stride,
                                  const Index& in_idx, S t_scalar) noexcept {
    using B = SimdBatch<S>;
    constexpr std::ptrdiff_t W = B::size;
    const B t(t_scalar);
    const B t2(inverse_temperature_log2e(t_scalar));  // exp(a·t) = 2^(a·t2)
    B v[softmax_across_samples_max_rows];
    B m(std::numeric_limits<S>::lowest());
    for (std::ptrdiff_t i = 0; i < rows; ++i) {
        v[i] = B::gather(x + i, in_idx);
        m = xsimd::max(m, v[i]);
    }
    B s(S(0));
    if constexpr (Output == SoftmaxOutput::probabilities) {
        for (std::ptrdiff_t i = 0; i < rows; ++i) {
            v[i] = exp2_nonpositive<S>(scaled_gap(v[i], m, t2));
            s += v[i];
        }
        const B r = B(S(1)) / s;
        for (std::ptrdiff_t i = 0; i < rows; ++i) v[i] *= r;
    } else {
        for (std::ptrdiff_t i = 0; i < rows; ++i) s += exp2_nonpositive<S>(scaled_gap(v[i], m, t2));
        const B log_s = xsimd::log(s);
        for (std::ptrdiff_t i = 0; i < rows; ++i) v[i] = scaled_gap(v[i], m, t) - log_s;
    }
    alignas(B::arch_type::alignment()) S tile[std::size_t(softmax_across_samples_max_rows * W)];
    for (std::ptrdiff_t i = 0; i < rows; ++i) v[i].store_aligned(tile + i * W);
    for (std::ptrdiff_t l = 0; l < W; ++l) {
        S* column = y + l * out_stride;
        for (std::ptrdiff_t i = 0; i < rows; ++i) column[i] = tile[i * W + l];
    }
}

/// The vectorized kernel: same contract and same formulas as softmax_columns_scalar.
template <SoftmaxOutput Output, class S>
void softmax_columns_simd(const ColumnBlock<S>& b, S t) noexcept {
    using B = SimdBatch<S>;
    using I = xsimd::as_integer_t<S>;  // int32 lanes for float, int64 for double: same count
    using IB = xsimd::batch<I>;
    static_assert(IB::size == B::size);
    constexpr std::ptrdiff_t W = B::size;

    std::ptrdiff_t c = 0;
    const bool across =
        b.rows <= softmax_across_samples_max_rows && b.cols >= W &&
        (W - 1) * b.in_stride <= static_cast<std::ptrdiff_t>(std::numeric_limits<I>::max());
    if (across && b.rows > 0) {
        alignas(IB::arch_type::alignment()) I in_off[std::size_t(W)];
        for (std::ptrdiff_t l = 0; l < W; ++l) in_off[l] = static_cast<I>(l * b.in_stride);
        const IB in_idx = IB::load_aligned(in_off);
        for (; c + W <= b.cols; c += W) {
            softmax_block_across_samples<Output>(b.in + c * b.in_stride, b.out + c * b.out_stride,
                                                 b.rows, b.out_stride, in_idx, t);
        }
    }
    // One exp per element where the column stays in cache between the passes; longer columns
    // take the online pass and a write pass that recomputes the exp, which reads the column from
    // memory twice and writes it once.
    const bool chunked = Output == SoftmaxOutput::probabilities &&
                         b.rows * std::ptrdiff_t(sizeof(S)) <= softmax_chunked_max_bytes;
    for (; c < b.cols; ++c) {
        const S* x = b.in + c * b.in_stride;
        S* y = b.out + c * b.out_stride;
        if constexpr (Output == SoftmaxOutput::probabilities) {
            if (chunked) {
                softmax_column_chunked(x, y, b.rows, t);
                continue;
            }
        }
        softmax_column_online<Output>(x, y, b.rows, t);
    }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/// Whether softmax_columns_simd is compiled in (false with CHRYSALIS_DISABLE_SIMD or when xsimd
/// has no instruction set for the build flags).
inline constexpr bool softmax_has_simd = true;

#else

inline constexpr bool softmax_has_simd = false;

#endif

/// The kernel the public functions use: the SIMD one where it is compiled in.
template <SoftmaxOutput Output, class S>
void softmax_columns(const ColumnBlock<S>& b, S t) noexcept {
    note_kernel_isa();
#if !defined(CHRYSALIS_DISABLE_SIMD)
    softmax_columns_simd<Output>(b, t);
#else
    softmax_columns_scalar<Output>(b, t);
#endif
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail
