#pragma once
// chrysalis/detail/cpu_cores.hpp — which logical CPUs are hardware threads of one physical core.
// With simultaneous multithreading (Intel's Hyper-Threading, AMD's SMT) a core runs two hardware
// threads that share its FMA units, its L1 and L2 caches and its bandwidth to memory. A packed
// product already keeps a core's FMA units busy from one thread, and the optimizer's update is
// bound by memory bandwidth, so a second thread on the same core adds a split's costs (a helper's
// hand-off, a second packing workspace in the shared caches) and no multiply-adds. parallel.hpp's
// default thread count is therefore at most the number of physical cores the process may run on,
// as Intel MKL's is (its Developer Guide: by default as many OpenMP threads as physical cores) and
// scikit-learn's OpenMP default (sklearn.utils._openmp_helpers, only_physical_cores=True).
//
// The topology is read from the kernel's sysfs, /sys/devices/system/cpu/cpuN/topology/
// core_cpus_list (Linux 5.3 and later) or thread_siblings_list (the older name of the same list),
// through detail::read_pseudo_file: kernel state, like the CPU quota (cpu_quota.hpp), not a file
// of the user's. Every function is noexcept: a CPU whose list cannot be read makes the count
// unknown (0), and the caller counts logical CPUs instead.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <algorithm>
#include <bitset>
#include <cstddef>
#include <string>
#include <vector>

#include "chrysalis/detail/cpu_quota.hpp"

#if defined(__linux__)
#include <sched.h>
#include <unistd.h>
#endif

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {
namespace detail {

/// For each logical CPU 0 … cpus − 1, the index of its physical core: CPUs whose sibling lists
/// (`core_cpus_list`, else `thread_siblings_list`, as `read(path, out)` returns them) are the same
/// text, blanks aside, share a core; cores are numbered from 0 in the order of their first CPU.
/// −1 for a CPU whose list cannot be read or is empty. Empty if memory runs out.
template <class Read>
std::vector<int> core_of_cpus(Read&& read, int cpus) noexcept {
    try {
        std::vector<int> core(std::size_t(std::max(cpus, 0)), -1);
        std::vector<std::string> lists;  // one per core, in the order found
        std::string text;
        for (int cpu = 0; cpu < cpus; ++cpu) {
            const std::string dir =
                "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
            if (!read(dir + "core_cpus_list", text) && !read(dir + "thread_siblings_list", text))
                continue;
            std::erase_if(text, [](char c) { return c == ' ' || c == '\n' || c == '\t'; });
            if (text.empty()) continue;
            const auto it = std::find(lists.begin(), lists.end(), text);
            core[std::size_t(cpu)] = int(it - lists.begin());
            if (it == lists.end()) lists.push_back(text);
        }
        return core;
    } catch (...) {
        return {};
    }
}

/// The most CPUs count_cores tells apart: those a cpu_set_t holds (CPU_SETSIZE on Linux).
inline constexpr std::size_t max_counted_cpus = 1024;

/// The number of distinct physical cores among the CPUs `selected(cpu)` is true for, cpu in
/// 0 … core.size() − 1, given core_of_cpus's table; 0 (unknown) when a selected CPU's core is
/// −1 or max_counted_cpus or more, or when `selected_total` (the number of CPUs selected, all
/// of them) exceeds those found in the table, i.e. a selected CPU lies beyond it. Allocates
/// nothing: the default thread count asks it before every split product.
template <class Selected>
int count_cores(const std::vector<int>& core, int selected_total, Selected&& selected) noexcept {
    std::bitset<max_counted_cpus> seen;
    int cores = 0, cpus = 0;
    for (std::size_t cpu = 0; cpu < core.size(); ++cpu) {
        if (!selected(int(cpu))) continue;
        ++cpus;
        const int c = core[cpu];
        if (c < 0 || std::size_t(c) >= max_counted_cpus) return 0;
        if (!seen[std::size_t(c)]) {
            seen[std::size_t(c)] = true;
            ++cores;
        }
    }
    return cpus == selected_total ? cores : 0;
}

/// The number of physical cores among the CPUs of the calling thread's affinity mask, from the
/// kernel's sysfs, whose topology is read once, at the first call in the program; 0 where it is
/// unknown (not Linux, no sysfs, a CPU's list unreadable).
[[nodiscard]] inline int affinity_cores() noexcept {
#if defined(__linux__)
    static const std::vector<int> core =
        core_of_cpus(read_pseudo_file, int(sysconf(_SC_NPROCESSORS_CONF)));
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
    return count_cores(core, CPU_COUNT(&set),
                       [&](int cpu) { return CPU_ISSET(std::size_t(cpu), &set) != 0; });
#else
    return 0;
#endif
}

}  // namespace detail
}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
