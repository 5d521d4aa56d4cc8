#pragma once
// chrysalis/detail/fma_datapath.hpp — how wide the CPU's FMA datapath is, measured.
//
// AVX-512 says what registers a CPU has, not how it executes them: Zen 4 runs a 512-bit FMA as
// two 256-bit halves (its FMA peak is the same in ymm and zmm registers), Zen 5's server parts
// and Intel's two-FMA-unit Xeons run it whole (twice the peak). No CPUID bit says which, so
// this times it: the same number of independent FMA chains in zmm and in ymm registers. On a
// 512-bit datapath the two take about the same time; on a 256-bit one the zmm chains take
// twice as long. The packed GEMM reads the datapath to choose how to feed its micro-kernel
// (gemm_kernel.hpp, reads_in_place).

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#if defined(__AVX512F__)
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#endif

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail {

#if defined(__AVX512F__)
/// `a`·`x` + `y` in registers of V (__m512 or __m256).
template <class V>
inline V fma_of(V a, V x, V y) noexcept {
    if constexpr (sizeof(V) == 64)
        return _mm512_fmadd_ps(a, x, y);
    else
        return _mm256_fmadd_ps(a, x, y);
}

/// Seconds that `iterations` rounds of 12 independent FMA chains take in registers of V (__m512
/// or __m256): 12 chains cover the latency × throughput of every FMA unit in use today, so the
/// time is the datapath's throughput, not an FMA's latency. The chains are named registers, kept
/// there by an empty asm that also stops the compiler from merging or reordering them.
template <class V>
[[gnu::noinline]] inline double time_fma_chains(long iterations) noexcept {
    V x, y, a0;
    if constexpr (sizeof(V) == 64) {
        x = _mm512_set1_ps(0.999f);
        y = _mm512_set1_ps(1e-3f);
        a0 = _mm512_set1_ps(1.0f);
    } else {
        x = _mm256_set1_ps(0.999f);
        y = _mm256_set1_ps(1e-3f);
        a0 = _mm256_set1_ps(1.0f);
    }
    V a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0,
      a11 = a0;
    const auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < iterations; ++i) {
        a0 = fma_of(a0, x, y);
        a1 = fma_of(a1, x, y);
        a2 = fma_of(a2, x, y);
        a3 = fma_of(a3, x, y);
        a4 = fma_of(a4, x, y);
        a5 = fma_of(a5, x, y);
        a6 = fma_of(a6, x, y);
        a7 = fma_of(a7, x, y);
        a8 = fma_of(a8, x, y);
        a9 = fma_of(a9, x, y);
        a10 = fma_of(a10, x, y);
        a11 = fma_of(a11, x, y);
        asm volatile(""
                     : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5), "+v"(a6),
                       "+v"(a7), "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11));
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    asm volatile(""
                 :
                 : "v"(a0), "v"(a1), "v"(a2), "v"(a3), "v"(a4), "v"(a5), "v"(a6), "v"(a7), "v"(a8),
                   "v"(a9), "v"(a10), "v"(a11));
    return seconds;
}
#endif

/// The width in bits of the FMA datapath that runs this build's widest registers: 512 when 512-bit
/// FMAs run at the rate of 256-bit ones (counted in instructions), 256 when they take twice as
/// long, and 0 in a build without AVX-512 (not measured). Measured on first call (well under a
/// millisecond: five rounds of each register width, the fastest of each kept, so that a preemption
/// in one round does not decide), then cached for the life of the program; callable from any
/// thread. The measurement only ever chooses between ways of computing the same numbers (see
/// reads_in_place), never what they are.
[[nodiscard]] inline int fma_datapath_bits() noexcept {
#if defined(__AVX512F__)
    static const int bits = [] {
        constexpr long iterations = 4096;  // 49,152 FMAs of each width per round
        double zmm = 1e30, ymm = 1e30;
        for (int round = 0; round < 5; ++round) {
            zmm = std::min(zmm, time_fma_chains<__m512>(iterations));
            ymm = std::min(ymm, time_fma_chains<__m256>(iterations));
        }
        // The same count of instructions: about 1 on a 512-bit datapath, about 2 on a 256-bit.
        return zmm < 1.5 * ymm ? 512 : 256;
    }();
    return bits;
#else
    return 0;
#endif
}

}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE::detail
