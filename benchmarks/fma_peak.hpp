#pragma once
// benchmarks/fma_peak.hpp — the machine's FMA peak, measured in the binary that reports a share
// of it (network_bench before its benchmarks, epoch_bench around its training), so that the
// share and the peak come from one build, one instruction set and one hour of the host.
//
// Include it after <chrysalis/chrysalis.hpp>: chrysalis's headers include xsimd first, inside
// the diagnostic region that silences GCC bug 105593 (chrysalis/isa.hpp).

#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <thread>
#include <vector>

namespace chrysalis_bench {

/// Where fma_chains leaves the sum of its chains, so that none of them can be optimised away.
inline volatile float fma_sink = 0;

/// The rate of one thread, in GFLOP/s, over at least `seconds`: 12 independent chains of fused
/// multiply-adds on the widest registers of this translation unit (enough chains to cover the
/// FMA latency of current x86 cores, so the FMA units, not the chains, set the rate). An FMA
/// counts 2 flops per lane.
inline double fma_chains(double seconds) {
    using B = xsimd::batch<float>;
    B acc[12];
    // The chains stay in registers only when the loops over them are unrolled, which g++ 12
    // does by itself at -O3 only: built at -O2 (RelWithDebInfo) without these pragmas, acc
    // lived in memory and the "peak" came out at 59 of 220 GFLOP/s.
#pragma GCC unroll 16
    for (int i = 0; i < 12; ++i) acc[i] = B(float(i) * 1e-3f);
    const B a(0.999f), c(1e-4f);
    constexpr int inner = 1000;
    long rounds = 0;
    const auto start = std::chrono::steady_clock::now();
    double elapsed = 0;
    do {
        for (int r = 0; r < 100; ++r, ++rounds)
            for (int k = 0; k < inner; ++k)
#pragma GCC unroll 16
                for (auto& x : acc) x = xsimd::fma(x, a, c);
        elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    } while (elapsed < seconds);
    // Every chain's last value is used, so none of the multiply-adds can be left out.
    float total = 0;
    for (const auto& x : acc) total += xsimd::hadd(x);
    fma_sink = total;
    return 2.0 * double(B::size) * 12 * inner * double(rounds) / elapsed * 1e-9;
}

/// The peak of `threads` cores (at least 1), in GFLOP/s: every thread runs fma_chains for 0.1 s
/// at once, and the sum of their rates is kept; the best of five such trials, since a busy host
/// can only lower a trial's rate.
inline double measure_fma_peak(int threads) {
    threads = std::max(threads, 1);
    double best = 0;
    for (int trial = 0; trial < 5; ++trial) {
        std::vector<double> rate(std::size_t(threads), 0.0);
        std::vector<std::thread> others;
        for (int t = 1; t < threads; ++t)
            others.emplace_back([&rate, t] { rate[std::size_t(t)] = fma_chains(0.1); });
        rate[0] = fma_chains(0.1);
        for (auto& t : others) t.join();
        double sum = 0;
        for (double r : rate) sum += r;
        best = std::max(best, sum);
    }
    return best;
}

}  // namespace chrysalis_bench
