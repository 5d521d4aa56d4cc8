#pragma once
// chrysalis/detail/gemv.hpp — y += op(A)·x for one column x: the matrix-vector product that
// Gemm::run (gemm.hpp) takes for a batch of one sample, which reads op(A) once, in place, instead
// of packing it. It is bound by the speed op(A) comes from cache or memory, not by the FMAs.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <xsimd/xsimd.hpp>

#include <algorithm>

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail {

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

/// y[0:m] += op(A)·x for one column x of `depth` values: a matrix-vector product, which reads
/// op(A) once, in place (A column-major with stride lda; `trans` means op(A) = Aᵀ).
template <class S>
void gemv(long m, long depth, const S* a, long lda, bool trans, const S* __restrict x,
          S* __restrict y) {
    using B = xsimd::batch<S>;
    constexpr long L = long(B::size);
    if (!trans) {
        // y += Σ_k A(:, k)·x_k, 16 columns at a time: each pass walks down 16 columns of A
        // together (16 sequential streams, which the prefetchers follow), 4 registers of rows
        // at a time, and adds into y, which stays in L1.
        constexpr long KB = 16;
        for (long k0 = 0; k0 < depth; k0 += KB) {
            const long kn = std::min(KB, depth - k0);
            const S* ak0 = a + k0 * lda;
            const S* xk0 = x + k0;
            long i = 0;
            for (; i + 4 * L <= m; i += 4 * L) {
                B c0 = B::load_unaligned(y + i), c1 = B::load_unaligned(y + i + L),
                  c2 = B::load_unaligned(y + i + 2 * L), c3 = B::load_unaligned(y + i + 3 * L);
                const S* ak = ak0 + i;
                for (long k = 0; k < kn; ++k, ak += lda) {
                    const B xk(xk0[k]);
                    c0 = xsimd::fma(B::load_unaligned(ak), xk, c0);
                    c1 = xsimd::fma(B::load_unaligned(ak + L), xk, c1);
                    c2 = xsimd::fma(B::load_unaligned(ak + 2 * L), xk, c2);
                    c3 = xsimd::fma(B::load_unaligned(ak + 3 * L), xk, c3);
                }
                c0.store_unaligned(y + i);
                c1.store_unaligned(y + i + L);
                c2.store_unaligned(y + i + 2 * L);
                c3.store_unaligned(y + i + 3 * L);
            }
            for (; i + L <= m; i += L) {
                B c0 = B::load_unaligned(y + i);
                const S* ak = ak0 + i;
                for (long k = 0; k < kn; ++k, ak += lda)
                    c0 = xsimd::fma(B::load_unaligned(ak), B(xk0[k]), c0);
                c0.store_unaligned(y + i);
            }
            const long rest = m - i;
            for (long r = 0; r < rest; ++r) {
                S sum = y[i + r];
                for (long k = 0; k < kn; ++k) sum += ak0[i + r + k * lda] * xk0[k];
                y[i + r] = sum;
            }
        }
        return;
    }
    // y_i += A(:, i)·x: a dot product down a contiguous column, four columns at a time.
    long i = 0;
    const long kv = depth / L * L;
    for (; i + 4 <= m; i += 4) {
        const S *a0 = a + i * lda, *a1 = a0 + lda, *a2 = a1 + lda, *a3 = a2 + lda;
        B c0(S(0)), c1(S(0)), c2(S(0)), c3(S(0));
        for (long k = 0; k < kv; k += L) {
            const B xk = B::load_unaligned(x + k);
            c0 = xsimd::fma(B::load_unaligned(a0 + k), xk, c0);
            c1 = xsimd::fma(B::load_unaligned(a1 + k), xk, c1);
            c2 = xsimd::fma(B::load_unaligned(a2 + k), xk, c2);
            c3 = xsimd::fma(B::load_unaligned(a3 + k), xk, c3);
        }
        S s0 = xsimd::hadd(c0), s1 = xsimd::hadd(c1), s2 = xsimd::hadd(c2), s3 = xsimd::hadd(c3);
        for (long k = kv; k < depth; ++k) {
            s0 += a0[k] * x[k];
            s1 += a1[k] * x[k];
            s2 += a2[k] * x[k];
            s3 += a3[k] * x[k];
        }
        y[i] += s0;
        y[i + 1] += s1;
        y[i + 2] += s2;
        y[i + 3] += s3;
    }
    const long rest = m - i;
    for (long r = 0; r < rest; ++r) {
        const S* ai = a + (i + r) * lda;
        B c0(S(0));
        for (long k = 0; k < kv; k += L)
            c0 = xsimd::fma(B::load_unaligned(ai + k), B::load_unaligned(x + k), c0);
        S sum = xsimd::hadd(c0);
        for (long k = kv; k < depth; ++k) sum += ai[k] * x[k];
        y[i + r] += sum;
    }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail
