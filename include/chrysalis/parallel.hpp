#pragma once
// chrysalis/parallel.hpp — how many threads chrysalis's kernels use, and how they share a product.
//
// The large matrix products of a training step (and the optimizer updates) are split across
// threads when the program is compiled with OpenMP (the CMake target chrysalis::chrysalis links
// OpenMP when it is found; otherwise, or with -DCHRYSALIS_DISABLE_OPENMP, everything runs on the
// calling thread). OpenMP only decides the default count (omp_get_max_threads, which honours
// OMP_NUM_THREADS); the work runs on chrysalis's own helper threads, which are polite to other
// processes where OpenMP's teams are not:
//
//   - A product is cut into a few chunks per thread, and the threads claim chunks one at a time:
//     the calling thread starts at once and takes every chunk no helper has claimed, so a helper
//     that the scheduler has not run yet costs nothing (with OpenMP's static halves and barrier,
//     a preempted thread holds the product back for a whole time slice).
//   - Helpers spin only briefly between products, then sleep; the caller, waiting for a helper's
//     last chunk, spins about a chunk's time, then sleeps, so a preempted helper can have its
//     core back at once.
//   - After each split product the caller compares the product's wall time with what one thread
//     would take: the CPU time its own chunks took, or the kind's last product run alone if less
//     (every 256th product of a kind that keeps splitting runs alone, timed: beside a helper the
//     caller's chunks run slower, fetching lines the other core holds, and overstate one
//     thread). When two threads did not give a real speed-up (another process has the
//     other core, or the product is too small for what waking a helper costs on this machine)
//     twice in a row, the following products of the same kind run on the calling thread alone
//     for a while: 1 ms, doubling each time up to 0.5 s, and halving again after 16 split
//     products in a row pay. One split that did not pay is not enough: in a VM a helper is
//     sometimes late for a moment, and backing off on every such split kept the large products
//     of a training step on one thread 70% of the time (Zen 4, two threads).
//     A kind is the code that splits (one per parallel_for call site and type) and the size of
//     the work to within a factor of two, so a small product that does not pay its hand-off does
//     not keep the large ones of a training step on one thread.
//
// Each chunk is a fixed block of rows (or columns) of a product, computed by one thread with its
// own packing workspace, and the chunks depend only on the product's shape and the thread count
// set, never on which thread runs them or on the back-off. So the same inputs and the same
// thread count give bit-identical results, run after run, however the threads are scheduled.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <vector>

#include "chrysalis/config.hpp"
#include "chrysalis/detail/cpu_cores.hpp"
#include "chrysalis/detail/cpu_quota.hpp"
#include "chrysalis/errors.hpp"

#if defined(_OPENMP) && !defined(CHRYSALIS_DISABLE_OPENMP)
#include <omp.h>
#define CHRYSALIS_DETAIL_OPENMP 1
#else
#define CHRYSALIS_DETAIL_OPENMP 0
#endif

#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#include <time.h>
#endif

namespace chrysalis {
// Not in the instruction-set namespace (chrysalis/isa.hpp), and not `detail` (which would make
// chrysalis::detail ambiguous with that namespace's own): one setting per thread for the whole
// program, so that set_threads in a file compiled with -march=native also holds for chrysalis
// calls from a file compiled without. A variable, not code: the same in every translation unit.
namespace parallel_detail {
/// The thread count set_threads chose for the calling thread: 0 means hardware_threads().
inline thread_local int thread_setting = 0;
}  // namespace parallel_detail
}  // namespace chrysalis

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {

/// True when chrysalis was compiled with OpenMP, i.e. can use more than one thread.
inline constexpr bool has_openmp = CHRYSALIS_DETAIL_OPENMP == 1;

/// The number of CPUs the calling thread may run on (its affinity mask, as `taskset` or a
/// container's cpuset leave it); the number of cores where that cannot be asked.
[[nodiscard]] inline int available_cpus() noexcept {
#if defined(__linux__)
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
#endif
    return std::max(1, int(std::thread::hardware_concurrency()));
}

/// The physical cores among the CPUs the calling thread may run on: available_cpus() with the
/// hardware threads of one core (SMT, Hyper-Threading) counted once
/// (chrysalis/detail/cpu_cores.hpp says why the default thread count stops there). Equal to
/// available_cpus() where the topology cannot be read (not Linux, no sysfs), which is read once,
/// at the first call in the program.
[[nodiscard]] inline int available_cores() noexcept {
    const int cores = detail::affinity_cores();
    return cores > 0 ? cores : available_cpus();
}

/// The CPUs' worth of time the process may use under its control group's CPU bandwidth limit
/// (Linux cgroup v2 `cpu.max` or v1 `cpu.cfs_quota_us`: Docker's `--cpus`, Kubernetes' CPU
/// limit, systemd's `CPUQuota=`; the tightest one set on the process's group or a group above
/// it), rounded to the nearest whole CPU and at least 1: 1 for `--cpus=1.4`, 2 for
/// `--cpus=1.5`. 0 where no such limit is set or it cannot be read (not Linux, no cgroup file
/// system mounted). Read from the kernel's files once, at the first call in the program: a
/// limit changed later is not seen. Rounded to the nearest because a split product costs more
/// CPU time than one thread's: two threads under 1.3 CPUs' quota trained no faster than one,
/// under 1.5 faster, under 1.0 1.16–1.30 times slower (docs/performance.md, "Under a CPU
/// quota").
[[nodiscard]] inline int cpu_limit() noexcept {
    static const int limit = detail::whole_cpus(detail::cgroup_cpu_limit(detail::read_pseudo_file));
    return limit;
}

/// The number of threads chrysalis uses by default: what an OpenMP parallel region would use
/// (OMP_NUM_THREADS, or the number of CPUs; at most OMP_THREAD_LIMIT), but never more than
/// available_cpus(), nor available_cores() unless the environment sets OMP_NUM_THREADS (looked
/// up at the first call), nor, where a CPU quota is set, cpu_limit(); 1 without OpenMP.
[[nodiscard]] inline int hardware_threads() noexcept {
#if CHRYSALIS_DETAIL_OPENMP
    // A count the user asked for is followed up to the CPUs, hardware threads of one core or not.
    static const bool count_asked = std::getenv("OMP_NUM_THREADS") != nullptr;
    int n = std::min({omp_get_max_threads(), omp_get_thread_limit(),
                      count_asked ? available_cpus() : available_cores()});
    if (const int limit = cpu_limit(); limit > 0) n = std::min(n, limit);
    return std::max(1, n);
#else
    return 1;
#endif
}

/// The largest thread count set_threads, ThreadsScope and TrainOptions::threads accept. A count
/// above it is refused (ValueError) rather than followed: the helper threads a product uses are
/// made on demand and kept for the life of the program, each with its own packing workspace, so
/// set_threads(1'000'000) would start up to that many. More threads than available_cpus() are
/// allowed up to this bound (oversubscribing on purpose, say to check that a result does not
/// depend on the count); it is far above the cores of any machine chrysalis targets.
inline constexpr int max_threads = 1024;

namespace detail {
/// Throws ValueError naming `what` unless 0 ≤ n ≤ max_threads.
inline void check_thread_count(int n, const char* what) {
    if (n < 0)
        throw ValueError(concat(what, ": the thread count must be >= 0 (0 = all cores), got ", n));
    if (n > max_threads)
        throw ValueError(concat(what, ": the thread count must be <= ", max_threads,
                                " (chrysalis::max_threads), got ", n));
}
}  // namespace detail

/// The number of threads chrysalis's kernels use for calls made from the calling thread: by
/// default hardware_threads(), otherwise what set_threads (or a ThreadsScope) chose. Always 1
/// without OpenMP. It is an upper bound: products too small to pay for a split, and products
/// made while another process keeps the other cores busy, run on fewer.
[[nodiscard]] inline int threads() noexcept {
    if constexpr (!has_openmp) return 1;
    return parallel_detail::thread_setting > 0 ? parallel_detail::thread_setting
                                               : hardware_threads();
}

/// Sets the number of threads for chrysalis calls made from the calling thread (each thread of a
/// program has its own setting, so two trainings on two threads do not fight over one; it holds
/// for calls from every file of the program, also those compiled with other -march flags). n = 0
/// restores the default, hardware_threads(). Without OpenMP the setting is recorded but every
/// kernel still runs on one thread.
/// Requires: 0 ≤ n ≤ max_threads (1024); n may exceed available_cpus().
/// Throws: chrysalis::ValueError naming chrysalis::set_threads for n < 0 or n > max_threads;
///   the setting is then unchanged.
inline void set_threads(int n) {
    detail::check_thread_count(n, "chrysalis::set_threads");
    parallel_detail::thread_setting = n;
}

/// Sets the thread count for its lifetime and restores the previous setting when it ends:
/// `{ chrysalis::ThreadsScope one(1); … }` runs the block deterministically on one thread.
class ThreadsScope {
  public:
    /// n as for set_threads (0 ≤ n ≤ max_threads); throws chrysalis::ValueError naming
    /// chrysalis::ThreadsScope otherwise, leaving the setting unchanged.
    explicit ThreadsScope(int n) : previous_(parallel_detail::thread_setting) {
        detail::check_thread_count(n, "chrysalis::ThreadsScope");
        parallel_detail::thread_setting = n;
    }
    ThreadsScope(const ThreadsScope&) = delete;
    ThreadsScope& operator=(const ThreadsScope&) = delete;
    ~ThreadsScope() { parallel_detail::thread_setting = previous_; }

  private:
    int previous_;
};

namespace detail {

/// Seconds of CPU time the calling thread has used (wall time where that cannot be asked).
[[nodiscard]] inline double thread_cpu_seconds() noexcept {
#if defined(CLOCK_THREAD_CPUTIME_ID)
    timespec ts{};
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0)
        return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
#endif
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

/// The helper threads of parallel_for, made on first use and kept (asleep when idle) for the
/// life of the program; one set per process (per instruction-set namespace), used by one
/// calling thread at a time: a call that finds it busy runs on its own thread.
class ThreadPool {
  public:
    using Clock = std::chrono::steady_clock;

    /// How long an idle helper watches for the next product before it sleeps.
    static constexpr auto helper_spin = std::chrono::microseconds(100);
    /// Two threads must beat one by this factor (wall time over the single-thread estimate) for
    /// a split product to count as paying off.
    static constexpr double min_speedup = 1.15;
    /// After a second split in a row that did not pay, products stay on the calling thread for a
    /// while: 1 ms at first, doubling with every such back-off up to half a second, so that a
    /// trial costs at most a few percent however small the products are. A trial that does not
    /// pay either backs off again at once (the split before it did not pay). The wait halves
    /// again after `good_streak` split products in a row paid.
    static constexpr auto min_backoff = std::chrono::milliseconds(1);
    static constexpr auto max_backoff = std::chrono::milliseconds(500);
    static constexpr int good_streak = 16;
    /// Every calibration_period-th product of a kind that keeps splitting runs on the calling
    /// thread alone, timed: what one thread takes, the yardstick of the next verdicts when it is
    /// less than the caller's chunks suggest. A 784-16-10 training step at batch 64 on a Zen 5
    /// took 86 µs on two threads against 35 on one: every split of its weight gradient (5,741 in
    /// the run) counted as paid, judged by the caller's own chunks, slowed beside the helper's.
    /// The first product of a back-off is timed too. It costs 1/257 of a large product's
    /// speed-up.
    static constexpr int calibration_period = 256;

    static ThreadPool& instance() {
        // Never destroyed: its helpers sleep (or are stopped by the exit) without a join.
        [[maybe_unused]] static const bool made = [] {
            current() = new ThreadPool;
#if defined(__unix__) || defined(__APPLE__)
            // A child of fork() has none of the parent's helper threads: it starts a pool of its
            // own (the parent's is left to the parent), so a product in the child does not wait
            // for helpers that do not exist there.
            pthread_atfork(nullptr, nullptr, [] { current() = new ThreadPool; });
#endif
            return true;
        }();
        return *current();
    }

    /// Runs call(ctx, chunk, worker) for every chunk in [0, chunks), on up to `workers` threads,
    /// the calling thread being worker 0. `work` is the product's size in any unit the call site
    /// keeps the same (multiply-adds, elements; 0 when unknown): with `call`, it picks the kind
    /// whose record of paying splits decides whether this one is split. Returns false, having run
    /// nothing, when the pool is in use (by another thread, or by this one in an enclosing call).
    bool run(long chunks, int workers, void (*call)(void*, long, int), void* ctx, double work = 0) {
        if (busy_.exchange(true, std::memory_order_acquire)) return false;
        struct Release {
            std::atomic<bool>& b;
            ~Release() { b.store(false, std::memory_order_release); }
        } release{busy_};
        Kind& kind = kind_of(call, work);
        const auto run_alone = [&](bool timed) {
            const double cpu0 = timed ? thread_cpu_seconds() : 0.0;
            for (long c = 0; c < chunks; ++c) call(ctx, c, 0);
            if (timed) kind.alone = thread_cpu_seconds() - cpu0;
            kind.splits_since_alone = 0;
        };
        if (kind.backing_off) {
            // This product runs alone (the first of a back-off timed, for the trial's verdict).
            // Once the back-off is over, wake the helpers, so that they are watching when the
            // next product of this kind, the trial, comes.
            const bool first = kind.splits_since_alone > 0;
            if (Clock::now() >= kind.skip_until) {
                kind.backing_off = false;
                wake_helpers();
            }
            run_alone(first);
            return true;
        }
        workers = std::min(workers, 1 + grow(workers - 1));
        if (workers <= 1) {
            for (long c = 0; c < chunks; ++c) call(ctx, c, 0);
            return true;
        }
        if (kind.splits_since_alone >= calibration_period) {
            // Every calibration_period-th product of a kind that keeps paying runs alone, timed:
            // the yardstick of the next verdicts.
            run_alone(true);
            return true;
        }
        ++kind.splits_since_alone;
        const auto start = Clock::now();
        call_ = call;
        ctx_ = ctx;
        done_.store(0, std::memory_order_relaxed);
        workers_.store(workers, std::memory_order_relaxed);
        generation_ = (generation_ + 1) & 0xffffffffu;
        claim_.store(generation_ << 32 | std::uint64_t(chunks) << 16, std::memory_order_release);
        wake_helpers();

        // The caller's share: every chunk not yet claimed.
        const double cpu0 = thread_cpu_seconds();
        long mine = 0;
        for (long c; (c = claim(generation_)) >= 0; ++mine) call(ctx, c, 0);
        const double cpu = thread_cpu_seconds() - cpu0;
        done_.fetch_add(std::uint32_t(mine), std::memory_order_seq_cst);
        // A chunk's time, from the caller's CPU time (which a preemption does not inflate).
        const double per_chunk = mine > 0 ? cpu / double(mine) : 0.0;
        wait_for(std::uint32_t(chunks),
                 Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(std::min(per_chunk, 1e-3))));
        // Did the split pay? One thread would have taken about chunks × per_chunk, or what the
        // kind's last product run alone took, if less: the caller's chunks run slower beside
        // a helper's (each core fetching lines the other holds), which overstates one thread.
        const double wall = std::chrono::duration<double>(Clock::now() - start).count();
        double alone = per_chunk * double(chunks);
        if (kind.alone > 0) alone = std::min(alone, kind.alone);
        const bool paid = mine < chunks && wall * min_speedup <= alone;
        if (paid) {
            kind.last_failed = false;
            if (++kind.streak >= good_streak) {
                kind.streak = 0;
                kind.backoff = std::max<Clock::duration>(min_backoff, kind.backoff / 2);
            }
        } else {
            kind.streak = 0;
            // One split that did not pay may be a helper late for a moment: split the next one
            // too, and back off only if that one does not pay either.
            if (kind.last_failed) {
                kind.backing_off = true;
                kind.skip_until = Clock::now() + kind.backoff;
                kind.backoff = std::min<Clock::duration>(max_backoff, kind.backoff * 2);
            }
            kind.last_failed = true;
        }
        return true;
    }

    /// True when the last two split products of the kind (call, work) did not pay and the kind
    /// is still backing off: its products run on the calling thread until the first one of them
    /// after the back-off's end, which is split again (the trial).
    /// For tests; run() alone changes the records.
    [[nodiscard]] bool backing_off(void (*call)(void*, long, int), double work) const noexcept {
        const int size = size_class(work);
        const Kind& k = kinds_[slot(call, size)];
        return k.call == call && k.size_class == size && k.backing_off;
    }

    /// The products of the kind (call, work) split since its last one run alone, timed or not
    /// (the product after calibration_period of them runs alone, timed). For tests.
    [[nodiscard]] int splits_since_alone(void (*call)(void*, long, int),
                                         double work) const noexcept {
        const int size = size_class(work);
        const Kind& k = kinds_[slot(call, size)];
        return k.call == call && k.size_class == size ? k.splits_since_alone : 0;
    }

  private:
    ThreadPool() = default;

    /// The record of one kind of split product: its back-off state.
    struct Kind {
        void (*call)(void*, long, int) = nullptr;
        int size_class = -1;
        bool backing_off = false;
        bool last_failed = false;  // the last split of the kind did not pay
        Clock::time_point skip_until{};
        Clock::duration backoff = min_backoff;
        int streak = 0;
        double alone = 0;            // CPU seconds of the last timed product run alone (0: none)
        int splits_since_alone = 0;  // products split since the last one run alone
    };
    static constexpr std::size_t kind_slots = 32;

    /// The record of (call, work's power of two). Records live in a small table indexed by a
    /// hash; a kind that lands on another's slot starts afresh (a trial, as at the first use).
    Kind& kind_of(void (*call)(void*, long, int), double work) noexcept {
        const int size = size_class(work);
        Kind& k = kinds_[slot(call, size)];
        if (k.call != call || k.size_class != size) {
            k = Kind{};
            k.call = call;
            k.size_class = size;
        }
        return k;
    }
    static int size_class(double work) noexcept {
        return work >= 1 ? std::ilogb(work) : -1;
    }
    static std::size_t slot(void (*call)(void*, long, int), int size) noexcept {
        constexpr std::size_t golden = 0x9e3779b97f4a7c15ull & SIZE_MAX;  // 2^64 / φ, cut to fit
        const std::size_t h =
            std::hash<void (*)(void*, long, int)>{}(call) ^ (std::size_t(size + 1) * golden);
        return (h ^ (h >> 17)) % kind_slots;
    }

    static ThreadPool*& current() noexcept {
        static ThreadPool* pool = nullptr;
        return pool;
    }

    /// Claims the next chunk of the product `generation`; -1 when none is left.
    long claim(std::uint64_t generation) noexcept {
        std::uint64_t s = claim_.load(std::memory_order_acquire);
        for (;;) {
            const std::uint64_t next = s & 0xffff, total = (s >> 16) & 0xffff;
            if (s >> 32 != generation || next >= total) return -1;
            if (claim_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel,
                                             std::memory_order_acquire))
                return long(next);
        }
    }

    /// Waits until `total` chunks are done: spinning until `spin_until`, then asleep.
    void wait_for(std::uint32_t total, Clock::time_point spin_until) noexcept {
        int polls = 0;
        for (std::uint32_t d; (d = done_.load(std::memory_order_acquire)) != total;) {
            if (++polls % 64 != 0 || Clock::now() < spin_until) {
                cpu_relax();
                continue;
            }
            caller_waiting_.store(true, std::memory_order_seq_cst);
            if (done_.load(std::memory_order_seq_cst) == d)
                done_.wait(d, std::memory_order_acquire);
            caller_waiting_.store(false, std::memory_order_relaxed);
        }
    }

    void wake_helpers() noexcept {
        wake_.fetch_add(1, std::memory_order_seq_cst);
        if (sleepers_.load(std::memory_order_seq_cst) > 0) wake_.notify_all();
    }

    /// Makes helpers until there are `n`; returns how many there are (fewer if a thread cannot
    /// be made).
    int grow(int n) noexcept {
        while (int(helpers_.size()) < n) {
            try {
                helpers_.emplace_back([this, index = int(helpers_.size()) + 1] { serve(index); });
                helpers_.back().detach();
            } catch (...) {
                break;
            }
        }
        return int(helpers_.size());
    }

    /// A helper's life: watch for products (briefly), sleep, work on the chunks left.
    void serve(int index) noexcept {
        std::uint64_t seen = 0;
        for (;;) {
            // Watch for a new product, then sleep until woken.
            auto until = Clock::now() + helper_spin;
            for (int polls = 0;; ++polls) {
                const std::uint32_t epoch = wake_.load(std::memory_order_seq_cst);
                if (claim_.load(std::memory_order_acquire) >> 32 != seen) break;
                if (polls % 64 == 0 && Clock::now() > until) {
                    sleepers_.fetch_add(1, std::memory_order_seq_cst);
                    if (claim_.load(std::memory_order_seq_cst) >> 32 == seen)
                        wake_.wait(epoch, std::memory_order_seq_cst);
                    sleepers_.fetch_sub(1, std::memory_order_seq_cst);
                    until = Clock::now() + helper_spin;  // woken: watch again
                }
                cpu_relax();
            }
            const std::uint64_t s = claim_.load(std::memory_order_acquire);
            seen = s >> 32;
            if (index >= workers_.load(std::memory_order_relaxed)) continue;
            for (long c; (c = claim(seen)) >= 0;) {
                call_(ctx_, c, index);
                const std::uint32_t total = std::uint32_t((s >> 16) & 0xffff);
                if (done_.fetch_add(1, std::memory_order_seq_cst) + 1 == total &&
                    caller_waiting_.load(std::memory_order_seq_cst))
                    done_.notify_all();
            }
        }
    }

    std::atomic<bool> busy_{false};
    // The product on offer: generation (bits 32-63), chunk count (16-31), next chunk (0-15).
    alignas(64) std::atomic<std::uint64_t> claim_{0};
    alignas(64) std::atomic<std::uint32_t> done_{0};
    std::atomic<bool> caller_waiting_{false};
    alignas(64) std::atomic<std::uint32_t> wake_{0};
    std::atomic<int> sleepers_{0};
    std::atomic<int> workers_{0};
    // Written by the caller before a product is offered, read by helpers after a claim.
    void (*call_)(void*, long, int) = nullptr;
    void* ctx_ = nullptr;
    // The caller's own (under busy_).
    std::uint64_t generation_ = 0;
    Kind kinds_[kind_slots]{};
    std::vector<std::thread> helpers_;
};

/// The most chunks one parallel_for may have.
inline constexpr long max_chunks = 0xffff;

/// Runs f(chunk, worker) for every chunk in [0, chunks), on up to `workers` threads: the calling
/// thread is worker 0 and starts at once; helpers 1 … workers − 1 take the chunks it has not
/// reached. Which worker runs which chunk depends on the scheduling; every worker runs its chunks
/// one at a time, so per-worker state (a workspace) indexed by `worker` needs no lock. f must not
/// throw. Without OpenMP, with workers ≤ 1 or a single chunk, all of it runs on the caller, in
/// order. `work`, the size of the whole (multiply-adds, elements: any unit this call site keeps),
/// tells the pool's back-off products of different sizes apart (ThreadPool::run); 0 when unknown.
template <class F>
void parallel_for(long chunks, int workers, F&& f, [[maybe_unused]] double work = 0) {
    if (chunks <= 0) return;
    workers = int(std::min<long>(workers, chunks));
#if CHRYSALIS_DETAIL_OPENMP
    if (workers > 1 && chunks <= max_chunks) {
        using Fn = std::remove_reference_t<F>;
        const auto call = [](void* ctx, long chunk, int worker) {
            (*static_cast<Fn*>(ctx))(chunk, worker);
        };
        if (ThreadPool::instance().run(chunks, workers, call,
                                       const_cast<void*>(static_cast<const void*>(&f)), work))
            return;
    }
#endif
    for (long c = 0; c < chunks; ++c) f(c, 0);
}

/// Runs f(begin, count) over [0, n) cut into blocks of `per` elements (the last one shorter),
/// the blocks shared among up to one thread per block (parallel_for). With one block f(0, n)
/// runs on the calling thread. f must not throw.
template <class F>
void parallel_blocks(long n, long per, F&& f) {
    if (per <= 0 || per >= n) {
        f(0L, n);
        return;
    }
    const long blocks = (n + per - 1) / per;
    parallel_for(
        blocks, int(std::min<long>(blocks, threads())),
        [&](long block, int) {
            const long begin = block * per;
            f(begin, std::min(per, n - begin));
        },
        double(n));
}

/// The block length that cuts n into `parts` blocks, rounded up to a multiple of `align`.
[[nodiscard]] inline long block_length(long n, int parts, long align) noexcept {
    if (parts <= 1) return n;
    return std::max(align, (n / parts + align - 1) / align * align);
}

/// The number of threads worth using for `work` units of arithmetic (multiply-adds): one per
/// `grain` units, at most threads(). Waking a helper and handing it a chunk costs a few
/// microseconds, so small products stay on the calling thread. Those return before asking
/// threads(), whose default asks the kernel for the CPU affinity (a system call of some
/// microseconds in a virtual machine: one per layer made a batch-1 inference 1.2–1.3× slower).
[[nodiscard]] inline int threads_for(double work, double grain) noexcept {
    if (!(work >= 2 * grain)) return 1;
    const int t = threads();
    if (t <= 1) return 1;
    return int(std::clamp(work / grain, 1.0, double(t)));
}

/// The blocks each thread's share of a split pass is cut into, claimed one at a time: a split
/// product's chunks (Gemm::chunks_per_thread, where the choice of four is measured), an update's
/// runs and an element-wise pass's columns (parallel_share).
inline constexpr int blocks_per_thread = 4;

/// Runs f(begin, count) over [0, n), a pass of `work` units (elements, multiply-adds): on the
/// calling thread when threads_for(work, grain) is 1, else cut into blocks_per_thread blocks per
/// thread, each a multiple of `align` long but the last, which the threads claim one at a time
/// (parallel_blocks), as a split product's chunks are (gemm.hpp): a helper that starts late, or
/// is descheduled by another process, leaves its blocks to the calling thread instead of making
/// it wait for a fixed share. f must not throw.
template <class F>
void parallel_share(long n, double work, double grain, long align, F&& f) {
    const int parts = threads_for(work, grain);
    parallel_blocks(n, parts <= 1 ? n : block_length(n, parts * blocks_per_thread, align), f);
}

}  // namespace detail
}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
