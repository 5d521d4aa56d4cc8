#pragma once
// chrysalis/parallel.hpp — how many threads chrysalis's kernels use.
//
// The large matrix products of a training step (and the optimizer updates) are split across
// threads with OpenMP when the program is compiled with it (the CMake target chrysalis::chrysalis
// links OpenMP when it is found; otherwise, or with -DCHRYSALIS_DISABLE_OPENMP, everything runs
// on the calling thread). Each thread computes its own rows (or columns) of every product, with
// its own packing workspace, so a product's result does not depend on how the threads are
// scheduled: the same inputs and the same thread count give bit-identical results, run after run.
// A different thread count splits the products differently, which can change the blocking of
// the sums and so the last bits of the results.

#include <algorithm>
#include <stdexcept>
#include <thread>

#include "chrysalis/config.hpp"
#include "chrysalis/errors.hpp"

#if defined(_OPENMP) && !defined(CHRYSALIS_DISABLE_OPENMP)
#include <omp.h>
#define CHRYSALIS_DETAIL_OPENMP 1
#else
#define CHRYSALIS_DETAIL_OPENMP 0
#endif

namespace chrysalis {

/// True when chrysalis was compiled with OpenMP, i.e. can use more than one thread.
inline constexpr bool has_openmp = CHRYSALIS_DETAIL_OPENMP == 1;

/// The number of threads an OpenMP parallel region would use by default (OMP_NUM_THREADS, or the
/// number of cores); 1 without OpenMP.
[[nodiscard]] inline int hardware_threads() noexcept {
#if CHRYSALIS_DETAIL_OPENMP
    return std::max(1, omp_get_max_threads());
#else
    return 1;
#endif
}

namespace detail {
/// The setting of the calling thread: 0 means hardware_threads().
inline thread_local int thread_setting = 0;
}  // namespace detail

/// The number of threads chrysalis's kernels use for calls made from the calling thread: by
/// default hardware_threads(), otherwise what set_threads (or a ThreadsScope) chose. Always 1
/// without OpenMP.
[[nodiscard]] inline int threads() noexcept {
    if constexpr (!has_openmp) return 1;
    return detail::thread_setting > 0 ? detail::thread_setting : hardware_threads();
}

/// Sets the number of threads for chrysalis calls made from the calling thread (each thread of a
/// program has its own setting, so two trainings on two threads do not fight over one). n = 0
/// restores the default, hardware_threads(). Without OpenMP the setting is recorded but every
/// kernel still runs on one thread. Throws chrysalis::ValueError for n < 0.
inline void set_threads(int n) {
    if (n < 0)
        throw ValueError(
            detail::concat("chrysalis::set_threads: the thread count must be >= 0 (0 = all "
                           "cores), got ",
                           n));
    detail::thread_setting = n;
}

/// Sets the thread count for its lifetime and restores the previous setting when it ends:
/// `{ chrysalis::ThreadsScope one(1); … }` runs the block deterministically on one thread.
class ThreadsScope {
  public:
    /// n as for set_threads; throws chrysalis::ValueError for n < 0.
    explicit ThreadsScope(int n) : previous_(detail::thread_setting) { set_threads(n); }
    ThreadsScope(const ThreadsScope&) = delete;
    ThreadsScope& operator=(const ThreadsScope&) = delete;
    ~ThreadsScope() { detail::thread_setting = previous_; }

  private:
    int previous_;
};

namespace detail {

/// Runs f(begin, count) over [0, n) cut into blocks of `per` elements (the last one shorter),
/// one block per thread, the calling thread among them: ⌈n/per⌉ threads in all. With one block
/// f(0, n) runs on the calling thread. f must not throw.
template <class F>
void parallel_blocks(long n, long per, F&& f) {
    const int parts = per <= 0 || per >= n ? 1 : int((n + per - 1) / per);
    if (parts <= 1) {
        f(0L, n);
        return;
    }
#if CHRYSALIS_DETAIL_OPENMP
#pragma omp parallel num_threads(parts)
    {
        // Fewer threads than asked (nested regions, OMP_DYNAMIC) still cover every block.
        const int n_threads = omp_get_num_threads();
        for (int part = omp_get_thread_num(); part < parts; part += n_threads) {
            const long begin = part * per;
            f(begin, std::min(per, n - begin));
        }
    }
#else
    for (int part = 0; part < parts; ++part) {
        const long begin = part * per;
        f(begin, std::min(per, n - begin));
    }
#endif
}

/// The block length that cuts n into `parts` blocks, rounded up to a multiple of `align`.
[[nodiscard]] inline long block_length(long n, int parts, long align) noexcept {
    if (parts <= 1) return n;
    return std::max(align, (n / parts + align - 1) / align * align);
}

/// The number of threads worth using for `work` units of arithmetic (multiply-adds): one per
/// `grain` units, at most threads(). Fork and join cost a few microseconds, so small products
/// stay on the calling thread.
[[nodiscard]] inline int threads_for(double work, double grain) noexcept {
    const int t = threads();
    if (t <= 1) return 1;
    return int(std::clamp(work / grain, 1.0, double(t)));
}

}  // namespace detail
}  // namespace chrysalis
