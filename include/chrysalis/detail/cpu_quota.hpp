#pragma once
// chrysalis/detail/cpu_quota.hpp — the CPU time a Linux process may use: the CPU bandwidth
// limit of its control group (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`),
// which Docker's `--cpus`, Kubernetes' CPU limits and systemd's `CPUQuota=` set. Such a limit
// does not show in the CPU affinity: a container limited to one CPU's time on a two-core machine
// may run on both cores, but two threads there use up the quota in half the period and are
// stopped for the rest of it, so a split product is slower than one thread
// (docs/performance.md, "Under a CPU quota"). parallel.hpp keeps the default thread count
// within the limit.
//
// The limit is read from the kernel's pseudo-files (/proc/self/cgroup, /proc/self/mountinfo and
// the cgroup file system), where the affinity is asked with a system call: kernel state, not a
// file of the user's. This and the CPUs' topology (cpu_cores.hpp) are the only reading the
// training core does (tests/headers/core_dependencies.cmake); it reads and writes no data, model
// or checkpoint file. Every function is noexcept: a file that is missing, unreadable or not in
// the expected form counts as no limit.

#include "chrysalis/isa.hpp"  // first: see its note on GCC bug 105593

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE {
namespace detail {

/// Reads the pseudo-file at `path` whole into `out` (at most 4 MiB); false where it cannot be
/// opened or read, or on any platform but Linux. Through <cstdio>, which the training core
/// includes anyway for its progress line: no file descriptors, no file headers of chrysalis.
inline bool read_pseudo_file(const std::string& path, std::string& out) noexcept {
#if defined(__linux__)
    try {
        std::FILE* const file = std::fopen(path.c_str(), "re");  // e: close on exec
        if (file == nullptr) return false;
        out.clear();
        char buffer[4096];
        bool ok = true;
        for (;;) {
            const std::size_t n = std::fread(buffer, 1, sizeof buffer, file);
            out.append(buffer, n);
            if (n < sizeof buffer) {
                ok = std::ferror(file) == 0;
                break;
            }
            if (out.size() > (std::size_t(4) << 20)) {
                ok = false;
                break;
            }
        }
        std::fclose(file);
        return ok;
    } catch (...) {
        return false;
    }
#else
    (void)path;
    (void)out;
    return false;
#endif
}

/// A control group of the calling process that holds a CPU bandwidth limit: its directory in
/// the mounted cgroup file system, that file system's mount point (the walk up the hierarchy
/// stops there), and whether it is cgroup v2 (cpu.max) or v1 (cpu.cfs_quota_us).
struct CpuCgroup {
    std::string dir, mount;
    bool v2 = false;
};

/// The next line of `text` from `pos` (without its '\n'), advancing `pos`.
inline std::string_view next_line(std::string_view text, std::size_t& pos) noexcept {
    const std::size_t end = std::min(text.find('\n', pos), text.size());
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    return line;
}

/// Whether the comma-separated `list` holds `item`.
inline bool has_item(std::string_view list, std::string_view item) noexcept {
    for (std::size_t pos = 0; pos <= list.size();) {
        const std::size_t end = std::min(list.find(',', pos), list.size());
        if (list.substr(pos, end - pos) == item) return true;
        pos = end + 1;
    }
    return false;
}

/// A path field of /proc/self/mountinfo, whose spaces, tabs, newlines and backslashes are
/// written as octal escapes (\040, \011, \012, \134).
inline std::string unescape_mount_path(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' &&
            s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
            out += char((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

/// The control groups of the calling process that can hold its CPU limit, from its
/// /proc/self/cgroup and /proc/self/mountinfo as `read(path, out)` returns them: the v2 group
/// (the "0::" line) where a cgroup2 file system is mounted, and the v1 group of the `cpu`
/// controller where a v1 hierarchy with that controller is mounted. A group whose path does
/// not lie under its file system's mount root (another cgroup namespace) is left out.
template <class Read>
std::vector<CpuCgroup> cpu_cgroups(Read&& read) noexcept {
    std::vector<CpuCgroup> found;
    try {
        std::string groups, mounts;
        if (!read(std::string("/proc/self/cgroup"), groups) ||
            !read(std::string("/proc/self/mountinfo"), mounts))
            return found;
        // "hierarchy-ID:controllers:path" per line; a path starts with '/', so empty is none.
        std::string v2_path, v1_path;
        for (std::size_t pos = 0; pos < groups.size();) {
            const std::string_view line = next_line(groups, pos);
            const std::size_t a = line.find(':');
            const std::size_t b = a == line.npos ? a : line.find(':', a + 1);
            if (b == line.npos) continue;
            const std::string_view id = line.substr(0, a),
                                   controllers = line.substr(a + 1, b - a - 1);
            const std::string_view path = line.substr(b + 1);
            if (id == "0" && controllers.empty())
                v2_path = std::string(path);
            else if (has_item(controllers, "cpu"))
                v1_path = std::string(path);
        }
        // "id parent major:minor root mount-point options [optional fields] - fstype source
        // super-options" per line.
        for (std::size_t pos = 0; pos < mounts.size();) {
            const std::string_view line = next_line(mounts, pos);
            std::vector<std::string_view> f;
            for (std::size_t p = 0; p < line.size();) {
                const std::size_t end = std::min(line.find(' ', p), line.size());
                f.push_back(line.substr(p, end - p));
                p = end + 1;
            }
            std::size_t dash = 6;
            while (dash < f.size() && f[dash] != "-") ++dash;
            if (f.size() < 5 || dash + 1 >= f.size()) continue;
            const std::string_view fstype = f[dash + 1];
            const std::string_view super = dash + 3 < f.size() ? f[dash + 3] : std::string_view{};
            const bool v2 = fstype == "cgroup2" && !v2_path.empty();
            const bool v1 = fstype == "cgroup" && !v1_path.empty() && has_item(super, "cpu");
            if (!v2 && !v1) continue;
            const std::string root = unescape_mount_path(f[3]), point = unescape_mount_path(f[4]);
            const std::string& path = v2 ? v2_path : v1_path;
            std::string relative;
            if (root == "/") {
                relative = path;
            } else if (path.compare(0, root.size(), root) == 0 &&
                       (path.size() == root.size() || path[root.size()] == '/')) {
                relative = path.substr(root.size());
            } else {
                continue;
            }
            if (relative.find("/..") != relative.npos) continue;
            while (!relative.empty() && relative.back() == '/') relative.pop_back();
            found.push_back({point + relative, point, v2});
        }
    } catch (...) {
        found.clear();
    }
    return found;
}

/// The whole number ≥ 0 that `s` (surrounding spaces and newlines allowed) spells, or −1 where
/// it is not one or does not fit a long long.
inline long long parse_count(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\n')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\n')) s.remove_suffix(1);
    long long n = -1;
    const auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), n);
    return error == std::errc{} && end == s.data() + s.size() && n >= 0 ? n : -1;
}

/// The CPU limit set in one group's directory, in CPUs (quota / period), or 0 where it sets
/// none: v2 `cpu.max` is "max PERIOD" (none) or "QUOTA PERIOD"; v1 `cpu.cfs_quota_us` is −1
/// (none) or QUOTA, with `cpu.cfs_period_us` PERIOD (microseconds, both).
template <class Read>
double cgroup_dir_limit(const std::string& dir, bool v2, Read& read) {
    std::string text;
    long long quota = -1, period = -1;
    if (v2) {
        if (!read(dir + "/cpu.max", text)) return 0;
        const std::string_view t = text;
        const std::size_t space = t.find(' ');
        if (space == t.npos) return 0;
        quota = parse_count(t.substr(0, space));
        period = parse_count(t.substr(space + 1));
    } else {
        if (!read(dir + "/cpu.cfs_quota_us", text)) return 0;
        quota = parse_count(text);
        if (!read(dir + "/cpu.cfs_period_us", text)) return 0;
        period = parse_count(text);
    }
    return quota > 0 && period > 0 ? double(quota) / double(period) : 0;
}

/// The calling process's CPU limit in CPUs (1.5 for `docker run --cpus=1.5`): the tightest
/// limit set on its control group or any group above it, up to its file system's mount point,
/// in either cgroup version; 0 where none is set or none can be read. `read(path, out)` reads a
/// file (read_pseudo_file; a test passes files of its own).
template <class Read>
double cgroup_cpu_limit(Read&& read) noexcept {
    double limit = 0;
    try {
        for (const CpuCgroup& g : cpu_cgroups(read)) {
            std::string dir = g.dir;
            for (;;) {
                const double l = cgroup_dir_limit(dir, g.v2, read);
                if (l > 0 && (limit == 0 || l < limit)) limit = l;
                if (dir.size() <= g.mount.size()) break;
                const std::size_t slash = dir.rfind('/');
                if (slash == dir.npos || slash < g.mount.size()) break;
                dir.resize(slash);
            }
        }
    } catch (...) {
        return 0;
    }
    return limit;
}

/// A limit of `cpus` CPUs (cgroup_cpu_limit) as a thread count: the nearest whole number, at
/// least 1 (0.5 → 1, 1.4 → 1, 1.5 → 2); 0 for no limit (cpus ≤ 0, or NaN).
[[nodiscard]] inline int whole_cpus(double cpus) noexcept {
    return cpus > 0 ? int(std::clamp(cpus + 0.5, 1.0, 1e6)) : 0;
}

}  // namespace detail
}  // namespace chrysalis::inline CHRYSALIS_ISA_NAMESPACE
