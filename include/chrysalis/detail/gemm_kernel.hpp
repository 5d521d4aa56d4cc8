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
// columns of C: 3·nr accumulators, 3 loads and nr broadcasts per 3·nr fused multiply-adds. At the
// shapes of a training step (a batch of 128 against weights of 800 to 1200 units) it runs at
// about 85–90% of the FMA peak where Eigen 3.4's kernel (mr × nr = 48 × 4) reaches about 65–70%
// on the machine of docs/performance.md. Used for x86 with AVX2 + FMA or AVX-512; other targets
// keep Eigen's kernel (gemm.hpp).

#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

#include <Eigen/Core>

namespace chrysalis::detail {

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wignored-attributes"  // Eigen's packet types as template arguments
#endif

#if defined(__FMA__) && (defined(__AVX2__) || defined(__AVX512F__))
inline constexpr bool packed_gemm_available = true;
#else
inline constexpr bool packed_gemm_available = false;
#endif

template <class S>
struct PackedGemmShape {
    using B = xsimd::batch<S>;
    static constexpr long lanes = long(B::size);
    static constexpr long mr = 3 * lanes;
    static constexpr long nr = sizeof(B) >= 64 ? 8 : 4;
    static constexpr long kc_max = 512;  // B's micro-panel, kc·nr values, stays in L1
    static constexpr long a_block_bytes = 512 * 1024;  // A's block, mc·kc values, in half of L2

    /// The depth of the blocks: the depth cut into equal blocks of at most kc_max (784 → 2 × 392
    /// rather than 512 + 272), a multiple of 8. It depends on the depth alone, so every thread
    /// and every split of the rows sums each element of C in the same order.
    static constexpr long kc_for(long depth) {
        const long blocks = (depth + kc_max - 1) / kc_max;
        return std::max(1L, ((depth + blocks - 1) / blocks + 7) / 8 * 8);
    }
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
        const long mc = std::min(Shape::mc_for(kc), (m + Shape::mr - 1) / Shape::mr * Shape::mr);
        reserve(mc * kc, (n + Shape::nr - 1) / Shape::nr * Shape::nr * kc);
    }
};

/// The micro-kernel: C[0:m, 0:n] (column stride ldc) += the mr × nr product of an A panel
/// (kc × mr: a[k·a_step + i], packed with a_step = mr or read in place from a column-major
/// matrix with a_step = its column stride) and a packed B panel (kc × nr, b[k·nr + j]). With
/// `overwrite`, C = the product instead (C is not read). m ≤ mr and n ≤ nr; the panels are
/// zero-padded.
template <class S>
inline void micro_kernel(long kc, const S* __restrict a, long a_step, const S* __restrict b,
                         S* __restrict c, long ldc, long m, long n, bool overwrite) {
    using Shape = PackedGemmShape<S>;
    using B = typename Shape::B;
    constexpr long L = Shape::lanes, NR = Shape::nr;
    B c0[NR], c1[NR], c2[NR];
    for (long j = 0; j < NR; ++j) c0[j] = c1[j] = c2[j] = B(S(0));
    for (long k = 0; k < kc; ++k) {
        if (a_step != 3 * L) {
            // A read in place: its rows for k are a stride apart, so ask for them early.
            const S* ahead = a + 8 * a_step;
            __builtin_prefetch(ahead);
            __builtin_prefetch(ahead + L);
            __builtin_prefetch(ahead + 2 * L);
        }
        const B a0 = B::load_unaligned(a), a1 = B::load_unaligned(a + L),
                a2 = B::load_unaligned(a + 2 * L);
        for (long j = 0; j < NR; ++j) {
            const B bj(b[j]);
            c0[j] = xsimd::fma(a0, bj, c0[j]);
            c1[j] = xsimd::fma(a1, bj, c1[j]);
            c2[j] = xsimd::fma(a2, bj, c2[j]);
        }
        a += a_step;
        b += NR;
    }
    if (m == 3 * L) {
        for (long j = 0; j < n; ++j) {
            S* cj = c + j * ldc;
            if (overwrite) {
                c0[j].store_unaligned(cj);
                c1[j].store_unaligned(cj + L);
                c2[j].store_unaligned(cj + 2 * L);
            } else {
                (B::load_unaligned(cj) + c0[j]).store_unaligned(cj);
                (B::load_unaligned(cj + L) + c1[j]).store_unaligned(cj + L);
                (B::load_unaligned(cj + 2 * L) + c2[j]).store_unaligned(cj + 2 * L);
            }
        }
        return;
    }
    alignas(64) S tile[3 * L];
    for (long j = 0; j < n; ++j) {
        c0[j].store_aligned(tile);
        c1[j].store_aligned(tile + L);
        c2[j].store_aligned(tile + 2 * L);
        S* cj = c + j * ldc;
        for (long i = 0; i < m; ++i) cj[i] = overwrite ? tile[i] : cj[i] + tile[i];
    }
}

/// Packs rows [i0, i0 + m) × depth [k0, k0 + kc) of op(A) into mr-row panels, zero-padded.
/// A is column-major with stride lda; `trans` means op(A) = Aᵀ.
template <class S>
inline void pack_a(S* dst, const S* a, long lda, bool trans, long i0, long m, long k0, long kc) {
    constexpr long MR = PackedGemmShape<S>::mr;
    for (long p = 0; p < m; p += MR) {
        const long rows = std::min(MR, m - p);
        S* panel = dst + p * kc;
        if (!trans) {
            // op(A)(i, k) = a[i + k·lda]: each k gives rows contiguous in memory.
            for (long k = 0; k < kc; ++k) {
                const S* src = a + (i0 + p) + (k0 + k) * lda;
                S* out = panel + k * MR;
                std::memcpy(out, src, std::size_t(rows) * sizeof(S));
                for (long i = rows; i < MR; ++i) out[i] = S(0);
            }
        } else {
            // op(A)(i, k) = a[k + i·lda]: rows of op(A) are contiguous in k, so a panel is a
            // transpose. Eigen's row-major packer does it with in-register transposes and lays a
            // full panel out exactly as the micro-kernel reads it (panel[k·mr + i]) when its
            // packets are the micro-kernel's registers.
            using Mapper = Eigen::internal::const_blas_data_mapper<S, long, Eigen::RowMajor>;
            using Packet = typename Eigen::internal::packet_traits<S>::type;
            constexpr int packet = Eigen::internal::unpacket_traits<Packet>::size;
            if constexpr (MR == 3 * packet) {
                if (rows == MR) {
                    Eigen::internal::gemm_pack_lhs<S, long, Mapper, int(MR), packet, Packet,
                                                   Eigen::RowMajor, false, false>()(
                        panel, Mapper(a + k0 + (i0 + p) * lda, lda), kc, MR);
                    continue;
                }
            }
            for (long i = 0; i < rows; ++i) {
                const S* src = a + k0 + (i0 + p + i) * lda;
                for (long k = 0; k < kc; ++k) panel[k * MR + i] = src[k];
            }
            for (long i = rows; i < MR; ++i)
                for (long k = 0; k < kc; ++k) panel[k * MR + i] = S(0);
        }
    }
}

/// Packs depth [k0, k0 + kc) × columns [j0, j0 + n) of op(B) into nr-column panels,
/// zero-padded. B is column-major with stride ldb; `trans` means op(B) = Bᵀ.
template <class S>
inline void pack_b(S* dst, const S* b, long ldb, bool trans, long k0, long kc, long j0, long n) {
    constexpr long NR = PackedGemmShape<S>::nr;
    for (long q = 0; q < n; q += NR) {
        const long cols = std::min(NR, n - q);
        S* panel = dst + q * kc;
        if (!trans) {
            // op(B)(k, j) = b[k + j·ldb]: each column j is contiguous in k.
            for (long j = 0; j < cols; ++j) {
                const S* src = b + k0 + (j0 + q + j) * ldb;
                for (long k = 0; k < kc; ++k) panel[k * NR + j] = src[k];
            }
            for (long j = cols; j < NR; ++j)
                for (long k = 0; k < kc; ++k) panel[k * NR + j] = S(0);
        } else {
            // op(B)(k, j) = b[j + k·ldb]: each k gives columns contiguous in memory.
            for (long k = 0; k < kc; ++k) {
                const S* src = b + (j0 + q) + (k0 + k) * ldb;
                S* out = panel + k * NR;
                for (long j = 0; j < cols; ++j) out[j] = src[j];
                for (long j = cols; j < NR; ++j) out[j] = S(0);
            }
        }
    }
}

/// C (m × n, column stride ldc) = op(A)·op(B) when `overwrite`, else C += op(A)·op(B); op(A) is
/// m × depth and op(B) depth × n, both column-major in memory (trans_a / trans_b: stored
/// transposed). One thread; `buf` holds the packed blocks.
template <class S>
void packed_gemm(long m, long n, long depth, const S* a, long lda, bool trans_a, const S* b,
                 long ldb, bool trans_b, S* c, long ldc, bool overwrite,
                 PackedGemmBuffers<S>& buf) {
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
    for (long k0 = 0; k0 < depth; k0 += KC) {
        const long kc = std::min(KC, depth - k0);
        const bool first = k0 == 0;
        pack_b(buf.b.data(), b, ldb, trans_b, k0, kc, 0, n);
        for (long i0 = 0; i0 < m; i0 += MC) {
            const long mc = std::min(MC, m - i0);
            // A column-major op(A) (not transposed) already holds each panel's rows contiguous
            // for every k: its full panels are read in place, which saves a copy of the weights
            // in the forward pass. Partial panels, and transposed A, are packed.
            const bool in_place = !trans_a;
            if (!in_place) {
                pack_a(buf.a.data(), a, lda, trans_a, i0, mc, k0, kc);
            } else if (mc % MR != 0) {
                const long full = mc / MR * MR;
                pack_a(buf.a.data() + full * kc, a, lda, false, i0 + full, mc - full, k0, kc);
            }
            for (long q = 0; q < n; q += NR) {
                const S* bp = buf.b.data() + q * kc;
                const long cols = std::min(NR, n - q);
                for (long p = 0; p < mc; p += MR) {
                    const long rows = std::min(MR, mc - p);
                    const bool direct = in_place && rows == MR;
                    const S* ap = direct ? a + (i0 + p) + k0 * lda : buf.a.data() + p * kc;
                    micro_kernel(kc, ap, direct ? lda : MR, bp, c + (i0 + p) + q * ldc, ldc, rows,
                                 cols, overwrite && first);
                }
            }
        }
    }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace chrysalis::detail
