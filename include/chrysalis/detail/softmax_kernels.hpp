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

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#if !defined(CHRYSALIS_DISABLE_SIMD)
#include <xsimd/xsimd.hpp>
#if defined(XSIMD_NO_SUPPORTED_ARCHITECTURE)
#define CHRYSALIS_DISABLE_SIMD 1
#endif
#endif

namespace chrysalis::detail {

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
                const S e = std::exp((x[i] - m) * t);
                y[i] = e;
                s += e;
            }
            const S r = S(1) / s;
            for (std::ptrdiff_t i = 0; i < b.rows; ++i) y[i] *= r;
        } else {
            for (std::ptrdiff_t i = 0; i < b.rows; ++i) s += std::exp((x[i] - m) * t);
            const S log_s = std::log(s);
            for (std::ptrdiff_t i = 0; i < b.rows; ++i) y[i] = (x[i] - m) * t - log_s;
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

/// One online step: fold the values v into the running (m, s) of each lane.
template <class S>
inline void online_update(SimdBatch<S>& m, SimdBatch<S>& s, const SimdBatch<S>& v,
                          const SimdBatch<S>& t) noexcept {
    const SimdBatch<S> m_new = xsimd::max(m, v);
    // Rescaling costs an exp; after the first few registers the maximum rarely moves.
    if (xsimd::any(m_new > m)) {
        s *= xsimd::exp((m - m_new) * t);
        m = m_new;
    }
    s += xsimd::exp((v - m) * t);
}

/// Down-the-column path for one column of any length: an online max-and-sum pass, then one write
/// pass. The last partial register goes through a buffer padded with −∞ (exp(−∞) = 0).
template <SoftmaxOutput Output, class S>
void softmax_column_online(const S* x, S* y, std::ptrdiff_t n, S t_scalar) noexcept {
    using B = SimdBatch<S>;
    constexpr std::ptrdiff_t W = B::size;
    const B t(t_scalar);
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
            const B f = xsimd::exp((m - m_new) * t);
            s0 *= f;
            s1 *= f;
            s2 *= f;
            s3 *= f;
            m = m_new;
        }
        s0 += xsimd::exp((x0 - m) * t);
        s1 += xsimd::exp((x1 - m) * t);
        s2 += xsimd::exp((x2 - m) * t);
        s3 += xsimd::exp((x3 - m) * t);
    }
    B s = (s0 + s1) + (s2 + s3);
    for (; i + W <= n; i += W) online_update(m, s, B::load_unaligned(x + i), t);

    const std::ptrdiff_t tail = n - i;
    alignas(B::arch_type::alignment()) S buf[W];
    if (tail > 0) {
        std::fill(buf, buf + W, -std::numeric_limits<S>::infinity());
        std::copy(x + i, x + n, buf);
        online_update(m, s, B::load_aligned(buf), t);
    }

    // Merge the lanes: M = max_l m_l, S = Σ_l s_l·exp((m_l − M)·t).
    const S m_all = horizontal_max(m);
    const B mb(m_all);
    const S s_all = xsimd::hadd(s * xsimd::exp((m - mb) * t));

    if constexpr (Output == SoftmaxOutput::probabilities) {
        const B r(S(1) / s_all);
        std::ptrdiff_t j = 0;
        for (; j + W <= n; j += W) {
            (xsimd::exp((B::load_unaligned(x + j) - mb) * t) * r).store_unaligned(y + j);
        }
        if (tail > 0) {
            (xsimd::exp((B::load_aligned(buf) - mb) * t) * r).store_aligned(buf);
            std::copy(buf, buf + tail, y + j);
        }
    } else {
        const B log_s(std::log(s_all));
        std::ptrdiff_t j = 0;
        for (; j + W <= n; j += W) {
            ((B::load_unaligned(x + j) - mb) * t - log_s).store_unaligned(y + j);
        }
        if (tail > 0) {
            ((B::load_aligned(buf) - mb) * t - log_s).store_aligned(buf);
            std::copy(buf, buf + tail, y + j);
        }
    }
}

/// Down-the-column softmax (probabilities) for a column that fits in cache, with one exp per
/// element: the online pass works chunk by chunk (FlashAttention-style blocking of the same
/// recurrence): each chunk's maximum is found first, the running sum is rescaled to it, and the
/// chunk's exp((z − m_c)·t) are written to y while they are summed. The write pass then scales
/// each chunk by its own factor exp((m_c − M)·t)/S. At most max_chunks chunks, so the per-chunk
/// maxima live on the stack. Works in place (y = x): each value is read before it is overwritten.
template <class S>
void softmax_column_chunked(const S* x, S* y, std::ptrdiff_t n, S t_scalar) noexcept {
    using B = SimdBatch<S>;
    constexpr std::ptrdiff_t W = B::size;
    constexpr std::ptrdiff_t max_chunks = 32;
    const B t(t_scalar);
    const std::ptrdiff_t vectors = (n + W - 1) / W;  // the last one may be partial
    // Chunks of at least 64 registers (4 KiB of float on AVX-512), so the second read of a chunk
    // comes from L1.
    const std::ptrdiff_t chunk = std::max<std::ptrdiff_t>(64, (vectors + max_chunks - 1) / max_chunks);
    B chunk_max[max_chunks];

    B m(std::numeric_limits<S>::lowest());
    B s0(S(0)), s1(S(0));
    const std::ptrdiff_t full = n / W;  // complete registers
    const std::ptrdiff_t tail = n - full * W;
    alignas(B::arch_type::alignment()) S buf[W];
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
        B cm = m;
        for (std::ptrdiff_t v = v0; v < v1; ++v) cm = xsimd::max(cm, load(v));
        if (xsimd::any(cm > m)) {
            const B f = xsimd::exp((m - cm) * t);
            s0 *= f;
            s1 *= f;
            m = cm;
        }
        chunk_max[c] = m;
        std::ptrdiff_t v = v0;
        for (; v + 2 <= std::min(v1, full); v += 2) {
            const B e0 = xsimd::exp((B::load_unaligned(x + v * W) - m) * t);
            const B e1 = xsimd::exp((B::load_unaligned(x + v * W + W) - m) * t);
            e0.store_unaligned(y + v * W);
            e1.store_unaligned(y + v * W + W);
            s0 += e0;
            s1 += e1;
        }
        for (; v < v1; ++v) {
            const B e = xsimd::exp((load(v) - m) * t);
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
    const B r(S(1) / xsimd::hadd(s * xsimd::exp((m - mb) * t)));
    c = 0;
    for (std::ptrdiff_t v0 = 0; v0 < vectors; v0 += chunk, ++c) {
        const std::ptrdiff_t v1 = std::min(vectors, v0 + chunk);
        const B f = xsimd::exp((chunk_max[c] - mb) * t) * r;
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
    B v[softmax_across_samples_max_rows];
    B m(std::numeric_limits<S>::lowest());
    for (std::ptrdiff_t i = 0; i < rows; ++i) {
        v[i] = B::gather(x + i, in_idx);
        m = xsimd::max(m, v[i]);
    }
    B s(S(0));
    if constexpr (Output == SoftmaxOutput::probabilities) {
        for (std::ptrdiff_t i = 0; i < rows; ++i) {
            v[i] = xsimd::exp((v[i] - m) * t);
            s += v[i];
        }
        const B r = B(S(1)) / s;
        for (std::ptrdiff_t i = 0; i < rows; ++i) v[i] *= r;
    } else {
        for (std::ptrdiff_t i = 0; i < rows; ++i) s += xsimd::exp((v[i] - m) * t);
        const B log_s = xsimd::log(s);
        for (std::ptrdiff_t i = 0; i < rows; ++i) v[i] = (v[i] - m) * t - log_s;
    }
    alignas(B::arch_type::alignment()) S tile[softmax_across_samples_max_rows * W];
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
    const bool across = b.rows <= softmax_across_samples_max_rows && b.cols >= W &&
                        (W - 1) * b.in_stride <=
                            static_cast<std::ptrdiff_t>(std::numeric_limits<I>::max());
    if (across && b.rows > 0) {
        alignas(IB::arch_type::alignment()) I in_off[W];
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
#if !defined(CHRYSALIS_DISABLE_SIMD)
    softmax_columns_simd<Output>(b, t);
#else
    softmax_columns_scalar<Output>(b, t);
#endif
}

}  // namespace chrysalis::detail
