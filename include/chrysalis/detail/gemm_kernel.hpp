#pragma once
// chrysalis/detail/gemm_kernel.hpp — a packed GEMM for one thread, C += op(A)·op(B), in the
// blocked form of BLIS (Van Zee & van de Geijn 2015; Goto & van de Geijn 2008):
//
//   for each block of kc depth:   pack op(B)[kc × N] into panels of nr columns   (L2/L3)
//     for each block of mc rows:  pack op(A)[mc × kc] into panels of mr rows     (L2)
//       for each nr-panel of B, for each mr-panel of A: the micro-kernel, an mr × nr tile of C
//       held in registers through the kc multiply-adds.
//
// The micro-kernel keeps 3 registers of A and nr = 8 (AVX-512: 32 registers) or 4 (AVX2: 16)
// columns of C: 3·nr accumulators, 3 loads and nr broadcasts per 3·nr fused multiply-adds (a
// panel of one or two registers of rows, a block's last, takes a kernel of that many). At the
// shapes of a training step (a batch of 128 against weights of 800 to 1200 units) it runs at
// about 85–90% of the FMA peak where Eigen 3.4's kernel (mr × nr = 48 × 4) reaches about 65–70%
// on the machine of docs/performance.md. On a 256-bit FMA datapath (Zen 4) a 24 × 8 ymm tile
// measured the same as the 48 × 8 zmm one, so AVX-512 builds use the zmm tile whatever the
// datapath (performance.md, "512-bit registers on a 256-bit datapath"). It is the only GEMM of
// the layers, on every target: the micro-kernel is written with xsimd's batch of the translation
// unit's instruction set (on targets without FMA, xsimd::fma is a multiply and an add), and
// chrysalis packs both operands itself, so nothing here depends on the layout of Eigen's
// internal packers or blocking. One exception to "pack both", chosen for the CPU found: on a
// 512-bit FMA datapath (measured, fma_datapath.hpp) the whole panels of a non-transposed op(A)
// and of op(B) are read in place, since there the kernel is twice as fast and packing is not
// (reads_in_place), but for a transposed op(B) on Intel (reads_transposed_b_in_place). In
// AVX-512 builds the kernel also fetches its own panel of A a few depth steps ahead into L1
// (PackedGemmShape::a_prefetch_steps).

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <xsimd/xsimd.hpp>

#include "chrysalis/detail/cpu_vendor.hpp"
#include "chrysalis/detail/fma_datapath.hpp"

#if defined(__AVX__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include <Eigen/Core>

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail {

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

template <class S>
struct PackedGemmShape {
    using B = xsimd::batch<S>;
    static constexpr long lanes = long(B::size);
    static constexpr long mr = 3 * lanes;
    static constexpr long nr = sizeof(B) >= 64 ? 8 : 4;
    static constexpr long kc_max = 512;  // B's micro-panel, kc·nr values, stays in L1
    static constexpr long a_block_bytes = 512 * 1024;  // A's block, mc·kc values, in half of L2
    /// How many depth steps ahead the micro-kernel fetches its own panel of A into L1 (0: it
    /// does not). AVX-512 only: on an Intel Xeon with two 512-bit FMA units the teacher's
    /// training step took 0.92–0.96 of the time without it, on one or two threads, while an
    /// AVX2 build on the same CPU measured 1.00–1.02 (docs/performance.md, "A's panel fetched
    /// four steps ahead").
    static constexpr long a_prefetch_steps = sizeof(B) >= 64 ? 4 : 0;

    /// The depth of the blocks: the depth cut into equal blocks of at most kc_max (784 → 2 × 392
    /// rather than 512 + 272), a multiple of 8. It depends on the depth alone, so every thread
    /// and every split of the rows sums each element of C in the same order.
    static constexpr long kc_for(long depth) {
        const long blocks = (depth + kc_max - 1) / kc_max;
        return std::max(1L, ((depth + blocks - 1) / blocks + 7) / 8 * 8);
    }
    /// m rows rounded up to whole mr-row panels: the rows a packed block of m rows of op(A)
    /// takes (pack_a zero-pads its last panel).
    static constexpr long padded_rows(long m) { return (m + mr - 1) / mr * mr; }
    /// The rows of A's block for a block depth kc: a multiple of mr.
    static constexpr long mc_for(long kc) {
        return std::max(mr, a_block_bytes / (kc * long(sizeof(S))) / mr * mr);
    }
};

/// One thread's packing buffers, grown as needed (the only allocation).
template <class S>
struct PackedGemmBuffers {
    // Eigen's allocator: aligned for the widest register, and seen by EIGEN_RUNTIME_NO_MALLOC.
    std::vector<S, Eigen::aligned_allocator<S>> a, b;
    void reserve(long a_size, long b_size) {
        if (long(a.size()) < a_size) a.resize(std::size_t(a_size));
        if (long(b.size()) < b_size) b.resize(std::size_t(b_size));
    }
    /// Makes room for an m × n product of the given depth, so packed_gemm allocates nothing.
    void reserve_for(long m, long n, long depth) {
        using Shape = PackedGemmShape<S>;
        const long kc = Shape::kc_for(depth);
        const long mc = std::min(Shape::mc_for(kc), Shape::padded_rows(m));
        // B is kept whole, every depth block of it: a thread that runs several blocks of rows
        // of one product packs B once (packed_gemm's `b_packed`).
        reserve(mc * kc, (n + Shape::nr - 1) / Shape::nr * Shape::nr * depth);
    }
};

/// The micro-kernel: C[0:m, 0:n] (column stride ldc) += the product of an A panel (kc × mr,
/// a[k·a_step + i]: packed when a_step is mr, or the rows of a column-major A read in place when
/// a_step is its column stride) and a B panel (kc × nr: b[k·b_step + j], packed when b_step is nr,
/// or the rows of a transposed op(B) read in place when b_step is its column stride; with
/// `BColumns`, b[j·b_step + k], the columns of a non-transposed op(B) read in place), over the
/// panel's first R registers of rows: R·lanes × nr accumulators. With `overwrite`, C = the product
/// instead (C is not read). m ≤ R·lanes and n ≤ nr; the panels are zero-padded (A read in place
/// must have R·lanes rows there). R = 3 is the full mr-row tile; a panel of at most one or two
/// registers of rows (the last panel of a block, or of a thread's share of a split product) takes
/// R = 1 or 2, so it costs a third or two thirds of a full one instead of all of it. Each element
/// of C is the same chain of fused multiply-adds, in the same order, whatever R computes it: the
/// same bits. The accumulators stay in registers only when the loops over them are unrolled
/// completely, which g++ 12 does by itself at -O3 only: at -O2 (CMake's RelWithDebInfo, and what
/// many projects build with) acc lived in memory and the teacher's training step took three times
/// as long. `#pragma GCC unroll` (which clang++ also reads) asks for it at every level. Never
/// inlined: a call costs nothing beside a tile's kc·3·nr FMAs, and a profile (profile_step.sh)
/// then tells the kernel's time from packed_gemm's own (packing). With `Ahead` (R = 3 and A read
/// in place only), each depth step also prefetches the R registers of rows at `ahead` (the next
/// panel of A, at the same depth) and moves `ahead` on by a_step: the kernel that comes next reads
/// that panel from the cache instead of from memory. With `AheadB` (R = 3 and BColumns only),
/// `ahead` is instead the next panel of B, nr columns b_step apart at the same depth, and every
/// cache line of depth steps prefetches that line of each of its columns: where A is packed and
/// B's columns are read in place, each panel of B serves only a few panels of A (an input
/// gradient through its transpose: three, for a batch of 128 rows), so the first kernel on a
/// panel would otherwise wait for it to come from memory. In AVX-512 builds every depth step
/// also prefetches its own panel of A, Shape::a_prefetch_steps steps on. None changes a value.
template <class S, int R = 3, bool BColumns = false, bool Ahead = false, bool AheadB = false>
[[gnu::noinline]] inline void micro_kernel(long kc, const S* __restrict a, const S* __restrict b,
                                           S* __restrict c, long ldc, long m, long n,
                                           bool overwrite, long a_step = PackedGemmShape<S>::mr,
                                           long b_step = PackedGemmShape<S>::nr,
                                           [[maybe_unused]] const S* ahead = nullptr) {
    static_assert(R >= 1 && R <= 3);
    using Shape = PackedGemmShape<S>;
    using B = typename Shape::B;
    constexpr long L = Shape::lanes, NR = Shape::nr;
    B acc[std::size_t(R)][std::size_t(NR)];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
        for (long j = 0; j < NR; ++j) acc[r][j] = B(S(0));
    for (long k = 0; k < kc; ++k) {
        B ar[std::size_t(R)];
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) ar[r] = B::load_unaligned(a + r * L);
#if defined(__GNUC__) && defined(__AVX__) && !defined(__AVX512F__)
#pragma GCC unroll 16
        // With 16 registers, GCC 12 otherwise folds the loads of A into the FMAs and repeats
        // them for every column: 12 loads + 4 broadcasts per 12 FMAs, which makes the kernel
        // load-bound (55% of the FMA peak on a Zen 3 against 84% with A in registers).
        for (int r = 0; r < R; ++r) {
            auto reg = ar[r].data;
            asm("" : "+x"(reg));
            ar[r] = reg;
        }
#endif
#pragma GCC unroll 16
        for (long j = 0; j < NR; ++j) {
            const B bj(BColumns ? b[j * b_step] : b[j]);
#pragma GCC unroll 16
            for (int r = 0; r < R; ++r) acc[r][j] = xsimd::fma(ar[r], bj, acc[r][j]);
        }
        if constexpr (Shape::a_prefetch_steps > 0) {
            // The same panel a few depth steps on (for A read in place, columns a stride apart):
            // from L2, or from memory in a block's first pass, into L1 before the loads need it.
            // A prefetch never faults, and the address is formed as an integer, so reading past
            // the panel's end near its last steps is harmless.
            const auto next = std::uintptr_t(a) +
                              std::uintptr_t(Shape::a_prefetch_steps * a_step * long(sizeof(S)));
#pragma GCC unroll 16
            for (int r = 0; r < R; ++r)
                __builtin_prefetch(
                    reinterpret_cast<const void*>(next + std::uintptr_t(r * L) * sizeof(S)), 0, 3);
        }
        if constexpr (Ahead) {
#pragma GCC unroll 16
            for (int r = 0; r < R; ++r) __builtin_prefetch(ahead + r * L, 0, 3);
            ahead += a_step;
        }
        if constexpr (AheadB) {
            constexpr long line = 64 / long(sizeof(S));
            if (k % line == 0) {
#pragma GCC unroll 16
                for (long j = 0; j < NR; ++j) __builtin_prefetch(ahead + j * b_step + k, 0, 3);
            }
        }
        a += a_step;
        b += BColumns ? 1 : b_step;
    }
    if (m == R * L) {
        for (long j = 0; j < n; ++j) {
            S* cj = c + j * ldc;
#pragma GCC unroll 16
            for (int r = 0; r < R; ++r) {
                if (overwrite)
                    acc[r][j].store_unaligned(cj + r * L);
                else
                    (B::load_unaligned(cj + r * L) + acc[r][j]).store_unaligned(cj + r * L);
            }
        }
        return;
    }
    alignas(64) S tile[std::size_t(R * L)];
    for (long j = 0; j < n; ++j) {
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) acc[r][j].store_aligned(tile + r * L);
        S* cj = c + j * ldc;
        for (long i = 0; i < m; ++i) cj[i] = overwrite ? tile[i] : cj[i] + tile[i];
    }
}

/// micro_kernel with the fewest registers of rows that hold m rows (m ≤ mr); a full panel
/// (m = mr) with `ahead` (not null) prefetches the panel of A there as it goes (micro_kernel's
/// `Ahead`), or with `b_ahead` (not null; B's columns read in place) the panel of B there
/// (`AheadB`).
template <class S, bool BColumns = false>
inline void micro_kernel_rows(long kc, const S* __restrict a, const S* __restrict b,
                              S* __restrict c, long ldc, long m, long n, bool overwrite,
                              long a_step = PackedGemmShape<S>::mr,
                              long b_step = PackedGemmShape<S>::nr, const S* ahead = nullptr,
                              const S* b_ahead = nullptr) {
    constexpr long L = PackedGemmShape<S>::lanes;
    if constexpr (BColumns) {
        if (b_ahead && m == 3 * L) {
            micro_kernel<S, 3, true, false, true>(kc, a, b, c, ldc, m, n, overwrite, a_step, b_step,
                                                  b_ahead);
            return;
        }
    }
    if (ahead && m == 3 * L)
        micro_kernel<S, 3, BColumns, true>(kc, a, b, c, ldc, m, n, overwrite, a_step, b_step,
                                           ahead);
    else if (m > 2 * L)
        micro_kernel<S, 3, BColumns>(kc, a, b, c, ldc, m, n, overwrite, a_step, b_step);
    else if (m > L)
        micro_kernel<S, 2, BColumns>(kc, a, b, c, ldc, m, n, overwrite, a_step, b_step);
    else
        micro_kernel<S, 1, BColumns>(kc, a, b, c, ldc, m, n, overwrite, a_step, b_step);
}

/// How packed_gemm feeds its operands to the micro-kernel: both packed into panels (`pack`);
/// the whole panels of a non-transposed op(A) and of op(B) read in place (`in_place`: for A each
/// k reads mr contiguous values, kc columns a stride apart; for B each k reads nr values, from one
/// row of a transposed op(B) or from nr columns of a stored one), packing only a last panel of
/// fewer than mr rows or nr columns (a transposed op(A) is always packed); op(A) read in place
/// that way and op(B) packed (`a_in_place`); or as reads_in_place() and
/// reads_transposed_b_in_place() say for this CPU (`automatic`). Whichever, each element of C is
/// the same chain of fused multiply-adds on the same values: the same bits (test_gemm checks).
enum class Feed { automatic, pack, in_place, a_in_place };

/// Whether `automatic` reads the operands in place: in an AVX-512 build on a CPU that runs 512-bit
/// FMAs whole (fma_datapath.hpp). There the kernel takes half the time it takes on a 256-bit
/// datapath and packing does not shrink with it. On a Zen 5 reading the weights (A) in place took
/// a 1200 × 128 × 1200 product from 75–79% to 79–80% of one thread's FMA peak with the weights
/// coming from memory, and batch-128 inference up by 1–6 points; reading the batch (B) in place
/// as well, which every thread of a split product would otherwise pack whole, took 6% from the
/// teacher's training step on one thread and 4% on two (docs/performance.md, "Weights read in
/// place on a 512-bit datapath" and "The batch read in place too"). Elsewhere both are packed: on a
/// Zen 3 (AVX2, 24-row panels) reading A in place halved the speed (TLB misses), and Zen 4 (AVX-512
/// on a 256-bit datapath) was not measured with it.
[[nodiscard]] inline bool reads_in_place() noexcept {
    return fma_datapath_bits() >= 512;  // 0 in a build without AVX-512: both are packed there
}

/// Whether `automatic`, where it reads the operands in place, also reads a transposed op(B) so:
/// a layer's input in a weight gradient, whose nr values at each depth step come from a row a
/// stride apart. Not on an Intel CPU (cpu_vendor.hpp), where that op(B) is packed: on a 2-vCPU
/// Intel Xeon with two 512-bit FMA units, packing it took the teacher's training step to
/// 0.94–0.96 of the time on one thread and 0.97–0.99 on two, the backward passes that hold its
/// weight gradients to 0.85–0.96 (docs/performance.md, "A transposed batch packed on Intel").
/// The Zen 5 figures that chose reading B in place were for both of B's layouts at once, so an
/// AMD CPU keeps doing it.
[[nodiscard]] inline bool reads_transposed_b_in_place() noexcept {
    return reads_in_place() && cpu_vendor() != CpuVendor::intel;
}

#if defined(__AVX__)
/// dst[j·ldd + i] = src[i·lds + j] for an 8 × 8 block of floats: the rows of src become the
/// columns of dst, in registers (unpack, shuffle, then swap the 128-bit halves). Always inlined:
/// g++ 12 at -O2 made it a call (and a vzeroupper) per block.
[[gnu::always_inline]] inline void transpose_block(const float* src, long lds, float* dst,
                                                   long ldd) {
    __m256 r[8], t[8], s[8];
#pragma GCC unroll 16
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * lds);
#pragma GCC unroll 16
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);      // a0 b0 a1 b1 | a4 b4 a5 b5
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);  // a2 b2 a3 b3 | a6 b6 a7 b7
    }
#pragma GCC unroll 16
    for (int i = 0; i < 8; i += 4) {
        s[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);      // a0 b0 c0 d0 | a4 b4 c4 d4
        s[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);  // a1 b1 c1 d1 | a5 …
        s[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        s[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
#pragma GCC unroll 16
    for (int j = 0; j < 4; ++j) {
        _mm256_storeu_ps(dst + j * ldd, _mm256_permute2f128_ps(s[j], s[j + 4], 0x20));
        _mm256_storeu_ps(dst + (j + 4) * ldd, _mm256_permute2f128_ps(s[j], s[j + 4], 0x31));
    }
}
/// The same for a 4 × 4 block of doubles.
[[gnu::always_inline]] inline void transpose_block(const double* src, long lds, double* dst,
                                                   long ldd) {
    const __m256d r0 = _mm256_loadu_pd(src), r1 = _mm256_loadu_pd(src + lds),
                  r2 = _mm256_loadu_pd(src + 2 * lds), r3 = _mm256_loadu_pd(src + 3 * lds);
    const __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1),
                  t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
    _mm256_storeu_pd(dst, _mm256_permute2f128_pd(t0, t2, 0x20));
    _mm256_storeu_pd(dst + ldd, _mm256_permute2f128_pd(t1, t3, 0x20));
    _mm256_storeu_pd(dst + 2 * ldd, _mm256_permute2f128_pd(t0, t2, 0x31));
    _mm256_storeu_pd(dst + 3 * ldd, _mm256_permute2f128_pd(t1, t3, 0x31));
}
#endif

/// dst = srcᵀ: src is a rows × cols column-major matrix with stride lds, dst its cols × rows
/// transpose with stride ldd (dst[j + i·ldd] = src[i + j·lds]); the two do not overlap. In 8 × 8
/// (float) or 4 × 4 (double) register blocks where there are AVX registers, the edges one value
/// at a time. A copy: every value lands unchanged.
template <class S>
inline void copy_transposed(S* dst, long ldd, const S* src, long lds, long rows, long cols) {
    long whole_rows = 0, whole_cols = 0;
#if defined(__AVX__)
    constexpr long W = 32 / long(sizeof(S));
    whole_rows = rows / W * W;
    whole_cols = cols / W * W;
    // Column blocks outermost: each pass reads W columns of src (contiguous runs) and writes W
    // rows of dst, a block's W values of each row at a time.
    for (long j = 0; j < whole_cols; j += W)
        for (long i = 0; i < whole_rows; i += W)
            transpose_block(src + j * lds + i, lds, dst + i * ldd + j, ldd);
#endif
    // The edges: rows past whole_rows in the first whole_cols columns, then the columns past.
    for (long j = 0; j < whole_cols; ++j)
        for (long i = whole_rows; i < rows; ++i) dst[j + i * ldd] = src[i + j * lds];
    for (long j = whole_cols; j < cols; ++j)
        for (long i = 0; i < rows; ++i) dst[j + i * ldd] = src[i + j * lds];
}

/// Packs a full panel of P lines, the i-th one at a[k0 + i·lda] and read along the depth, as
/// panel[k·P + i]: a transposed op(A) (P = mr) or a stored op(B) (P = nr). Done in register
/// blocks where the instruction set has them, 8 × 8 floats or 4 × 4 doubles with AVX, when P is
/// a whole number of blocks. Returns how many depth values it packed (a multiple of the block);
/// the caller packs the rest one value at a time.
template <long P, class S>
inline long pack_transposed_blocks([[maybe_unused]] S* panel, [[maybe_unused]] const S* a,
                                   [[maybe_unused]] long lda, [[maybe_unused]] long k0,
                                   [[maybe_unused]] long kc) {
#if defined(__AVX__)
    constexpr long W = 32 / long(sizeof(S));
    if constexpr (P % W == 0) {
        long k = 0;
        for (; k + W <= kc; k += W)
#pragma GCC unroll 16
            for (long i = 0; i < P; i += W)
                transpose_block(a + k0 + k + i * lda, lda, panel + k * P + i, P);
        return k;
    }
#endif
    return 0;
}

/// Packs `lines` lines, the i-th at a[k0 + i·lda] and read along the depth block [k0, k0 + kc),
/// into panels P wide: line p + i of panel p goes to dst[p·kc + k·P + i], zero-padded. Full
/// panels are transposed in register blocks where there are AVX registers.
template <long P, class S>
inline void pack_lines_transposed(S* dst, const S* a, long lda, long k0, long kc, long lines) {
    for (long p = 0; p < lines; p += P) {
        const long count = std::min(P, lines - p);
        S* panel = dst + p * kc;
        long k = 0;
        if (count == P) k = pack_transposed_blocks<P>(panel, a + p * lda, lda, k0, kc);
        for (long i = 0; i < count; ++i) {
            const S* src = a + k0 + (p + i) * lda;
            for (long kk = k; kk < kc; ++kk) panel[kk * P + i] = src[kk];
        }
        for (long i = count; i < P; ++i)
            for (long kk = 0; kk < kc; ++kk) panel[kk * P + i] = S(0);
    }
}

/// Deals n contiguous values to panels P wide, at depth k of a block kc deep: the values
/// [q, q + P) go to dst[q·kc + k·P …], the last panel zero-padded.
template <long P, class S>
inline void deal_line(S* dst, const S* src, long n, long kc, long k) {
    const long full = n / P * P;
    for (long q = 0; q < full; q += P)
        std::memcpy(dst + q * kc + k * P, src + q, std::size_t(P) * sizeof(S));
    if (full < n) {
        S* out = dst + full * kc + k * P;
        std::memcpy(out, src + full, std::size_t(n - full) * sizeof(S));
        for (long i = n - full; i < P; ++i) out[i] = S(0);
    }
}

/// Packs rows [i0, i0 + m) × depth [k0, k0 + kc) of op(A) into mr-row panels, zero-padded.
/// A is column-major with stride lda; `trans` means op(A) = Aᵀ.
template <class S>
inline void pack_a(S* dst, const S* a, long lda, bool trans, long i0, long m, long k0, long kc) {
    constexpr long MR = PackedGemmShape<S>::mr;
    if (!trans) {
        // op(A)(i, k) = a[i + k·lda]: walk down each column of the block once (one contiguous
        // stream per k, kind to the prefetchers and the TLB), dealing its values to the panels.
        for (long k = 0; k < kc; ++k) deal_line<MR>(dst, a + i0 + (k0 + k) * lda, m, kc, k);
        return;
    }
    // op(A)(i, k) = a[k + i·lda]: rows of op(A) are contiguous in k, so a panel is a transpose.
    pack_lines_transposed<MR>(dst, a + i0 * lda, lda, k0, kc, m);
}

/// The values op(A), m × depth, takes packed whole by pack_a_whole: every block of packed_gemm,
/// its rows rounded up to a whole number of mr-row panels.
template <class S>
[[nodiscard]] constexpr long packed_a_size(long m, long depth) {
    using Shape = PackedGemmShape<S>;
    if (m <= 0 || depth <= 0) return 0;
    return Shape::padded_rows(m) * depth;
}

/// Packs op(A), m × depth, whole into dst (packed_a_size(m, depth) values): the blocks pack_a
/// makes, in the order packed_gemm visits them (depth blocks outer, row blocks inner), so that
/// packed_gemm's `a_packed` reads them in place of packing op(A) itself. A is column-major with
/// stride lda; `trans` means op(A) = Aᵀ.
template <class S>
void pack_a_whole(S* dst, const S* a, long lda, bool trans, long m, long depth) {
    using Shape = PackedGemmShape<S>;
    if (m <= 0 || depth <= 0) return;
    const long KC = Shape::kc_for(depth), MC = Shape::mc_for(KC);
    for (long k0 = 0; k0 < depth; k0 += KC) {
        const long kc = std::min(KC, depth - k0);
        for (long i0 = 0; i0 < m; i0 += MC) {
            const long mc = std::min(MC, m - i0);
            pack_a(dst, a, lda, trans, i0, mc, k0, kc);
            dst += Shape::padded_rows(mc) * kc;
        }
    }
}

/// Packs depth [k0, k0 + kc) × columns [j0, j0 + n) of op(B) into nr-column panels,
/// zero-padded. B is column-major with stride ldb; `trans` means op(B) = Bᵀ.
template <class S>
inline void pack_b(S* dst, const S* b, long ldb, bool trans, long k0, long kc, long j0, long n) {
    constexpr long NR = PackedGemmShape<S>::nr;
    if (trans) {
        // op(B)(k, j) = b[j + k·ldb]: each k gives the n columns contiguous in memory. Walk each
        // such line once (one stream per k), dealing nr values to each panel, as pack_a does.
        for (long k = 0; k < kc; ++k) deal_line<NR>(dst, b + j0 + (k0 + k) * ldb, n, kc, k);
        return;
    }
    // op(B)(k, j) = b[k + j·ldb]: each column j is contiguous in k, so a panel is a transpose.
    pack_lines_transposed<NR>(dst, b + j0 * ldb, ldb, k0, kc, n);
}

/// C (m × n, column stride ldc) = op(A)·op(B) when `overwrite`, else C += op(A)·op(B); op(A) is
/// m × depth and op(B) depth × n, both column-major in memory (trans_a / trans_b: stored
/// transposed). One thread; `buf` holds the packed blocks, and keeps what `feed` packs of op(B)
/// afterwards. With `b_packed`, buf.b already holds that, packed by an earlier call with the same
/// B, n, depth and feed and no other call on `buf` since (it is then not packed again). With
/// `a_packed`, op(A) is read from there, packed by pack_a_whole(a_packed, …, m, depth) (a, lda
/// and trans_a are then not read): the same arithmetic, so the same C to the bit. `feed` says
/// how op(B), and a non-transposed op(A) that is not `a_packed`, reach the kernel (Feed); the
/// same C to the bit whichever.
template <class S>
void packed_gemm(long m, long n, long depth, const S* a, long lda, bool trans_a, const S* b,
                 long ldb, bool trans_b, S* c, long ldc, bool overwrite, PackedGemmBuffers<S>& buf,
                 bool b_packed = false, const S* a_packed = nullptr, Feed feed = Feed::automatic) {
    using Shape = PackedGemmShape<S>;
    constexpr long MR = Shape::mr, NR = Shape::nr;
    if (m <= 0 || n <= 0) return;
    if (depth <= 0) {
        if (overwrite)
            for (long j = 0; j < n; ++j) std::fill_n(c + j * ldc, m, S(0));
        return;
    }
    buf.reserve_for(m, n, depth);
    const long KC = Shape::kc_for(depth), MC = Shape::mc_for(KC);
    const long n_padded = (n + NR - 1) / NR * NR;
    const bool automatic_in_place = feed == Feed::automatic && reads_in_place();
    const bool a_in_place =
        (feed == Feed::in_place || feed == Feed::a_in_place || automatic_in_place) && !trans_a &&
        !a_packed;
    const bool b_in_place = feed == Feed::in_place ||
                            (automatic_in_place && (!trans_b || reads_transposed_b_in_place()));
    // Columns of op(B) read in place: its whole nr-column panels. A last panel of fewer columns
    // is packed, since reading its nr values whole could read past the end of B.
    const long b_whole = b_in_place ? n / NR * NR : 0;
    for (long k0 = 0; k0 < depth; k0 += KC) {
        const long kc = std::min(KC, depth - k0);
        const bool first = k0 == 0;
        // The depth block's panels of B, at the same place whichever call packed them.
        S* const packed_b = buf.b.data() + k0 * n_padded;
        if (!b_packed && b_whole < n)
            pack_b(packed_b + b_whole * kc, b, ldb, trans_b, k0, kc, b_whole, n - b_whole);
        for (long i0 = 0; i0 < m; i0 += MC) {
            const long mc = std::min(MC, m - i0);
            // Packed, or read in place (reads_in_place says where each pays). Read in place,
            // a panel walks kc columns a stride apart; only a last panel of fewer than mr rows is
            // packed (alone, at the start of buf.a), since reading its registers whole could read
            // past the end of A.
            const S* block = a_packed;
            const long whole = a_in_place ? mc / MR * MR : 0;  // rows read in place
            if (a_packed) {
                a_packed += Shape::padded_rows(mc) * kc;
            } else if (!a_in_place) {
                pack_a(buf.a.data(), a, lda, trans_a, i0, mc, k0, kc);
                block = buf.a.data();
            } else if (whole < mc) {
                pack_a(buf.a.data(), a, lda, false, i0 + whole, mc - whole, k0, kc);
                block = buf.a.data();  // holds panel `whole` alone
            }
            // The kernels of one panel of B against every panel of A's block: B packed (nr
            // values per k), a row of a transposed op(B) read in place (a stride of ldb per k) or
            // nr columns of a stored one (BColumns: a stride of ldb per column). A read in place
            // comes from memory (or L3) in the first panel of B's pass over the block, and from L2
            // in the others: in that first pass each kernel prefetches the next panel of A as it
            // goes, kc columns a stride apart (the hardware's prefetchers left it to the misses).
            // One thread of a Zen 5: the teacher's forward products 4–9% faster, its training
            // step 3–6% (docs/performance.md, "The weights' next panel fetched ahead"). Where A
            // is packed and B's columns are read in place, the kernel of B's panel against A's
            // first panel fetches B's next panel instead (micro_kernel's AheadB): an input
            // gradient through its transpose 4–17% faster (docs/performance.md, "The input
            // gradient through its transpose, with the next panel of W fetched ahead").
            const auto panels = [&]<bool BColumns>(const S* bp, long b_step, long q) {
                const long cols = std::min(NR, n - q);
                for (long p = 0; p < mc; p += MR) {
                    const long rows = std::min(MR, mc - p);
                    S* const cp = c + (i0 + p) + q * ldc;
                    if (p < whole)
                        micro_kernel_rows<S, BColumns>(
                            kc, a + (i0 + p) + k0 * lda, bp, cp, ldc, rows, cols,
                            overwrite && first, lda, b_step,
                            q == 0 && p + MR < whole ? a + (i0 + p + MR) + k0 * lda : nullptr);
                    else
                        micro_kernel_rows<S, BColumns>(
                            kc, block + (p - whole) * kc, bp, cp, ldc, rows, cols,
                            overwrite && first, MR, b_step, nullptr,
                            BColumns && p == 0 && q + 2 * NR <= b_whole ? bp + NR * b_step
                                                                        : nullptr);
                }
            };
            for (long q = 0; q < n; q += NR) {
                if (q >= b_whole)
                    panels.template operator()<false>(packed_b + q * kc, NR, q);
                else if (trans_b)
                    panels.template operator()<false>(b + q + k0 * ldb, ldb, q);
                else
                    panels.template operator()<true>(b + k0 + q * ldb, ldb, q);
            }
        }
    }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail
