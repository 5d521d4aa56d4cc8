// The thread policy of parallel.hpp: which products stay on one thread, the default count's
// respect for the CPU affinity and for a control group's CPU quota, and parallel_for's contract
// (every chunk once, per-worker indices, nesting). Speed itself is measured only in
// benchmarks/network_bench.

#include <catch2/catch.hpp>

#include <chrysalis/chrysalis.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <string>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__unix__)
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

using namespace chrysalis;

TEST_CASE("products too small to pay for a split stay on one thread", "[parallel]") {
    ThreadsScope two(2);
    const double grain = 1 << 18;
    CHECK(detail::threads_for(0, grain) == 1);
    CHECK(detail::threads_for(grain - 1, grain) == 1);
    CHECK(detail::threads_for(1.5 * grain, grain) == 1);
    CHECK(detail::threads_for(2 * grain, grain) == (has_openmp ? 2 : 1));
    CHECK(detail::threads_for(100 * grain, grain) == (has_openmp ? 2 : 1));
    ThreadsScope one(1);
    CHECK(detail::threads_for(100 * grain, grain) == 1);
}

TEST_CASE("an element-wise pass is split by columns only when large, each column once",
          "[parallel]") {
    // for_column_blocks' grain is 2^15 elements (elementwise.hpp): below twice that one call of
    // f covers all the columns on the calling thread; above it, with two threads, the columns
    // come in blocks of cols / 8 (block_length: four per thread, the last one shorter), every
    // column in exactly one block.
    const auto cut = [](Eigen::Index rows, Eigen::Index cols) {
        std::vector<std::atomic<int>> seen(static_cast<std::size_t>(cols));
        std::atomic<int> calls{0};
        std::atomic<bool> bad_block{false};
        detail::for_column_blocks(rows, cols, [&](Eigen::Index first, Eigen::Index count) {
            if (first < 0 || count <= 0 || first + count > cols) {
                bad_block = true;
                return;
            }
            calls.fetch_add(1);
            for (Eigen::Index j = first; j < first + count; ++j) seen[std::size_t(j)].fetch_add(1);
        });
        CHECK_FALSE(bad_block);
        for (auto& s : seen) CHECK(s.load() == 1);
        return calls.load();
    };
    ThreadsScope two(2);
    CHECK(cut(37, 5) == 1);
    CHECK(cut(1024, 63) == 1);  // 64,512 elements: under two grains
    CHECK(cut(1200, 128) == (has_openmp ? 8 : 1));
    CHECK(cut(1000, 131) == (has_openmp ? 9 : 1));  // 131 / 8 = 16 columns a block, a last of 3
    CHECK(cut(70000, 3) == (has_openmp ? 3 : 1));   // fewer columns than blocks
    ThreadsScope one(1);
    CHECK(cut(1200, 128) == 1);
}

TEST_CASE("a single chunk or a single worker runs on the calling thread, in order", "[parallel]") {
    ThreadsScope two(2);
    const auto me = std::this_thread::get_id();
    std::vector<long> order;
    bool elsewhere = false;
    detail::parallel_for(1, 2, [&](long c, int w) {
        order.push_back(c);
        elsewhere |= w != 0 || std::this_thread::get_id() != me;
    });
    detail::parallel_for(5, 1, [&](long c, int w) {
        order.push_back(c);
        elsewhere |= w != 0 || std::this_thread::get_id() != me;
    });
    CHECK_FALSE(elsewhere);
    CHECK(order == std::vector<long>{0, 0, 1, 2, 3, 4});
}

TEST_CASE("parallel_for runs every chunk once, with per-worker indices", "[parallel]") {
    for (int workers : {2, 3}) {
        for (long chunks : {2L, 7L, 64L}) {
            std::vector<std::atomic<int>> runs(static_cast<std::size_t>(chunks));
            std::vector<std::atomic<int>> busy(static_cast<std::size_t>(workers));
            std::atomic<bool> bad_worker{false}, overlap{false}, caller_not_zero{false};
            const auto me = std::this_thread::get_id();
            detail::parallel_for(chunks, workers, [&](long c, int w) {
                if (w < 0 || w >= workers) {
                    bad_worker = true;
                    return;
                }
                if ((w == 0) != (std::this_thread::get_id() == me)) caller_not_zero = true;
                if (busy[std::size_t(w)].fetch_add(1) != 0) overlap = true;  // one chunk at a time
                runs[std::size_t(c)].fetch_add(1);
                busy[std::size_t(w)].fetch_sub(1);
            });
            CHECK_FALSE(bad_worker);
            CHECK_FALSE(overlap);
            CHECK_FALSE(caller_not_zero);
            for (auto& r : runs) CHECK(r.load() == 1);
        }
    }
}

TEST_CASE("a parallel_for inside a chunk runs on that chunk's thread", "[parallel]") {
    std::atomic<int> total{0};
    std::atomic<bool> moved{false};
    detail::parallel_for(4, 2, [&](long, int) {
        const auto here = std::this_thread::get_id();
        detail::parallel_for(3, 2, [&](long, int w) {
            if (w != 0 || std::this_thread::get_id() != here) moved = true;
            total.fetch_add(1);
        });
    });
    CHECK(total.load() == 12);
    CHECK_FALSE(moved);
}

namespace {
// Chunks that take wall time but almost no CPU time: the caller's CPU time per chunk then
// predicts no work at all, so a split of them never counts as paying (ThreadPool::run).
void sleeping_chunk(void*, long, int) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}
void other_chunk(void*, long, int) {}
}  // namespace

TEST_CASE("a split that does not pay backs off its own kind only", "[parallel]") {
    auto& pool = detail::ThreadPool::instance();
    const double small = 3e5, large = 2e8;  // ilogb 18 and 27: two size classes
    REQUIRE(pool.run(4, 2, sleeping_chunk, nullptr, small));
    // One split that did not pay may be chance (a helper late once): the next one is split too.
    CHECK_FALSE(pool.backing_off(sleeping_chunk, small));
    REQUIRE(pool.run(4, 2, sleeping_chunk, nullptr, small));
    // Two in a row: that kind backs off; the same code with work of another size, and other code
    // with the same size, keep their own records (none yet, so they would be tried on two
    // threads).
    CHECK(pool.backing_off(sleeping_chunk, small));
    CHECK(pool.backing_off(sleeping_chunk, 1.5 * small));  // same power of two: same kind
    CHECK_FALSE(pool.backing_off(sleeping_chunk, large));
    CHECK_FALSE(pool.backing_off(other_chunk, small));
    REQUIRE(pool.run(4, 2, sleeping_chunk, nullptr, large));
    CHECK_FALSE(pool.backing_off(sleeping_chunk, large));
    REQUIRE(pool.run(4, 2, sleeping_chunk, nullptr, large));
    CHECK(pool.backing_off(sleeping_chunk, large));
}

namespace {
// Chunks that keep their thread busy for 100 µs of CPU time, or return at once while `cheap`.
std::atomic<bool> cheap{false};
void spinning_chunk(void*, long, int) {
    if (cheap.load()) return;
    const double until = detail::thread_cpu_seconds() + 1e-4;
    while (detail::thread_cpu_seconds() < until) {
    }
}
}  // namespace

TEST_CASE("a split judged by a product run alone backs off when one thread is faster",
          "[parallel]") {
    // The caller's own chunks can overstate what one thread takes (beside a helper they fetch
    // lines the other core holds), so every calibration_period-th product of a kind runs alone,
    // timed, and later verdicts use that time when it is less. Here the product run alone is
    // cheap, and the two split products after it, 100 µs per chunk, cannot beat it: the kind
    // backs off. (On a machine too busy to reach the calibration, the kind backs off before it,
    // and the test says so and stops.)
    auto& pool = detail::ThreadPool::instance();
    const double work = 3e6;
    constexpr int period = detail::ThreadPool::calibration_period;
    for (int i = 0; i < 20 * period && pool.splits_since_alone(spinning_chunk, work) < period; ++i)
        REQUIRE(pool.run(4, 2, spinning_chunk, nullptr, work));
    if (pool.splits_since_alone(spinning_chunk, work) < period ||
        pool.backing_off(spinning_chunk, work)) {
        WARN("the splits did not pay often enough in a row to reach the calibration");
        return;
    }
    cheap = true;  // the calibration: run alone, timed
    REQUIRE(pool.run(4, 2, spinning_chunk, nullptr, work));
    cheap = false;
    CHECK(pool.splits_since_alone(spinning_chunk, work) == 0);
    REQUIRE(pool.run(4, 2, spinning_chunk, nullptr, work));
    REQUIRE(pool.run(4, 2, spinning_chunk, nullptr, work));
    CHECK(pool.backing_off(spinning_chunk, work));
}

#if defined(__linux__)
TEST_CASE("the default thread count respects the CPU affinity", "[parallel]") {
    cpu_set_t saved;
    REQUIRE(sched_getaffinity(0, sizeof saved, &saved) == 0);
    CHECK(available_cpus() == CPU_COUNT(&saved));
    CHECK(hardware_threads() <= available_cpus());
    int first = 0;
    while (!CPU_ISSET(first, &saved)) ++first;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    REQUIRE(sched_setaffinity(0, sizeof one, &one) == 0);
    const int cpus = available_cpus(), cores = available_cores(), hardware = hardware_threads(),
              now = threads();
    REQUIRE(sched_setaffinity(0, sizeof saved, &saved) == 0);
    CHECK(cpus == 1);
    CHECK(cores == 1);
    CHECK(hardware == 1);
    CHECK(now == 1);
    // An explicit setting is still obeyed (the caller asked for it).
    ThreadsScope two(2);
    CHECK(threads() == (has_openmp ? 2 : 1));
}
#endif

namespace {
/// Files for detail::cgroup_cpu_limit: a path not in the map cannot be opened.
struct FakeFiles {
    std::map<std::string, std::string> files;
    bool operator()(const std::string& path, std::string& out) const {
        const auto it = files.find(path);
        if (it == files.end()) return false;
        out = it->second;
        return true;
    }
};
// /proc/self/mountinfo lines of a cgroup2 file system and of a v1 cpu hierarchy.
const std::string v2_mount =
    "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";
const std::string v1_mount =
    "35 25 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:15 - cgroup "
    "cgroup rw,cpu,cpuacct\n";
const std::string other_mounts =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "24 22 0:5 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw\n";
}  // namespace

TEST_CASE("a control group's CPU quota is read from cgroup v2 and v1 files", "[parallel]") {
    // Compared with ==: each quota / period below is a quotient that double holds exactly.
    FakeFiles f;
    SECTION("v2, the process's group and the groups above it: the tightest limit holds") {
        f.files["/proc/self/cgroup"] = "0::/system.slice/job.service\n";
        f.files["/proc/self/mountinfo"] = other_mounts + v2_mount;
        f.files["/sys/fs/cgroup/system.slice/job.service/cpu.max"] = "max 100000\n";
        CHECK(detail::cgroup_cpu_limit(f) == 0);
        f.files["/sys/fs/cgroup/system.slice/cpu.max"] = "150000 100000\n";
        CHECK(detail::cgroup_cpu_limit(f) == 1.5);
        f.files["/sys/fs/cgroup/system.slice/job.service/cpu.max"] = "50000 100000\n";
        CHECK(detail::cgroup_cpu_limit(f) == 0.5);
        // The mount point itself is read too (the root of a container's cgroup namespace).
        f.files["/sys/fs/cgroup/cpu.max"] = "25000 100000\n";
        CHECK(detail::cgroup_cpu_limit(f) == 0.25);
    }
    SECTION("v2 inside a container: the group is the namespace's root, the mount point") {
        f.files["/proc/self/cgroup"] = "0::/\n";
        f.files["/proc/self/mountinfo"] = v2_mount;
        CHECK(detail::cgroup_cpu_limit(f) == 0);
        f.files["/sys/fs/cgroup/cpu.max"] = "200000 100000";
        CHECK(detail::cgroup_cpu_limit(f) == 2);
    }
    SECTION("v1, with cpu and cpuacct mounted together") {
        f.files["/proc/self/cgroup"] =
            "5:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n3:cpuset:/docker/abc\n";
        f.files["/proc/self/mountinfo"] = other_mounts + v1_mount;
        const std::string dir = "/sys/fs/cgroup/cpu,cpuacct/docker/abc";
        f.files[dir + "/cpu.cfs_quota_us"] = "-1\n";
        f.files[dir + "/cpu.cfs_period_us"] = "100000\n";
        CHECK(detail::cgroup_cpu_limit(f) == 0);
        f.files[dir + "/cpu.cfs_quota_us"] = "300000\n";
        CHECK(detail::cgroup_cpu_limit(f) == 3);
        f.files[dir + "/cpu.cfs_period_us"] = "200000\n";
        CHECK(detail::cgroup_cpu_limit(f) == 1.5);
    }
    SECTION("v1 mounted from a subtree: the group's path is taken relative to the mount root") {
        f.files["/proc/self/cgroup"] = "2:cpu:/docker/abc/job\n";
        f.files["/proc/self/mountinfo"] =
            "40 30 0:31 /docker/abc /sys/fs/cgroup/cpu ro,nosuid - cgroup cgroup ro,cpu\n";
        f.files["/sys/fs/cgroup/cpu/job/cpu.cfs_quota_us"] = "100000";
        f.files["/sys/fs/cgroup/cpu/job/cpu.cfs_period_us"] = "100000";
        CHECK(detail::cgroup_cpu_limit(f) == 1);
        // A group outside the mounted subtree cannot be found there.
        f.files["/proc/self/cgroup"] = "2:cpu:/elsewhere\n";
        CHECK(detail::cgroup_cpu_limit(f) == 0);
    }
    SECTION("a mount point with a space, as mountinfo escapes it") {
        f.files["/proc/self/cgroup"] = "0::/a\n";
        f.files["/proc/self/mountinfo"] =
            "30 23 0:26 / /mnt/c\\040g rw shared:4 - cgroup2 cgroup2 rw\n";
        f.files["/mnt/c g/a/cpu.max"] = "100000 100000\n";
        CHECK(detail::cgroup_cpu_limit(f) == 1);
    }
    SECTION("anything unexpected counts as no limit, and nothing throws") {
        f.files["/proc/self/cgroup"] = "0::/a\n";
        f.files["/proc/self/mountinfo"] = v2_mount;
        for (const char* text :
             {"", "max", "100000", "x 100000", "100000 0", "0 100000", "-5 100000", "100000 x",
              "1e5 100000", "+5 100000", "99999999999999999999 1"}) {
            INFO("cpu.max: '" << text << "'");
            f.files["/sys/fs/cgroup/a/cpu.max"] = text;
            CHECK(detail::cgroup_cpu_limit(f) == 0);
        }
        f.files.erase("/sys/fs/cgroup/a/cpu.max");
        CHECK(detail::cgroup_cpu_limit(f) == 0);
        f.files["/proc/self/mountinfo"] = "garbage\n\n- - -\n30 23 0:26 / -\n";
        CHECK(detail::cgroup_cpu_limit(f) == 0);
        f.files.erase("/proc/self/cgroup");
        CHECK(detail::cgroup_cpu_limit(f) == 0);
        CHECK(detail::cpu_cgroups(f).empty());
    }
}

TEST_CASE("hardware threads of one core count once", "[parallel]") {
    FakeFiles f;
    const auto list = [](int cpu, const char* name) {
        return "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/" + name;
    };
    const auto all = [](int) { return true; };
    SECTION("two cores of two hardware threads each, numbered as Linux numbers them") {
        for (const auto& [cpu, siblings] :
             std::map<int, std::string>{{0, "0,2\n"}, {1, "1,3\n"}, {2, "0,2\n"}, {3, "1,3\n"}})
            f.files[list(cpu, "core_cpus_list")] = siblings;
        const std::vector<int> core = detail::core_of_cpus(f, 4);
        CHECK(core == std::vector<int>{0, 1, 0, 1});
        CHECK(detail::count_cores(core, 4, all) == 2);
        // An affinity mask of one core's two threads, and of one thread of each core.
        CHECK(detail::count_cores(core, 2, [](int cpu) { return cpu % 2 == 0; }) == 1);
        CHECK(detail::count_cores(core, 2, [](int cpu) { return cpu < 2; }) == 2);
    }
    SECTION("a kernel before 5.3 names the list thread_siblings_list; ranges and blanks") {
        f.files[list(0, "thread_siblings_list")] = "0-1\n";
        f.files[list(1, "thread_siblings_list")] = " 0-1";
        f.files[list(2, "thread_siblings_list")] = "2\n";
        const std::vector<int> core = detail::core_of_cpus(f, 3);
        CHECK(core == std::vector<int>{0, 0, 1});
        CHECK(detail::count_cores(core, 3, all) == 2);
    }
    SECTION("without SMT every CPU is its own core") {
        for (int cpu = 0; cpu < 8; ++cpu)
            f.files[list(cpu, "core_cpus_list")] = std::to_string(cpu);
        CHECK(detail::count_cores(detail::core_of_cpus(f, 8), 8, all) == 8);
    }
    SECTION("a CPU whose core cannot be told makes the count unknown where it is selected") {
        f.files[list(0, "core_cpus_list")] = "0,1\n";
        f.files[list(1, "core_cpus_list")] = "0,1\n";
        f.files[list(2, "core_cpus_list")] = " \n";  // empty: unknown, as a missing file
        const std::vector<int> core = detail::core_of_cpus(f, 4);
        CHECK(core == std::vector<int>{0, 0, -1, -1});
        CHECK(detail::count_cores(core, 4, all) == 0);
        CHECK(detail::count_cores(core, 1, [](int cpu) { return cpu == 2; }) == 0);
        CHECK(detail::count_cores(core, 2, [](int cpu) { return cpu < 2; }) == 1);
        // A selected CPU beyond the table (the mask holds more CPUs than were found).
        CHECK(detail::count_cores(core, 3, [](int cpu) { return cpu < 2; }) == 0);
        CHECK(detail::count_cores({}, 1, all) == 0);
        // A core index beyond what a cpu_set_t holds cannot be told apart.
        CHECK(detail::count_cores({0, int(detail::max_counted_cpus)}, 2, all) == 0);
        CHECK(detail::core_of_cpus(f, 0).empty());
        CHECK(detail::core_of_cpus(f, -1).empty());
    }
    // This machine's own: at least one core, at most one per CPU, and the default thread count
    // within it unless OMP_NUM_THREADS asks for a count.
    const int cores = available_cores();
    CHECK(cores >= 1);
    CHECK(cores <= available_cpus());
    if (std::getenv("OMP_NUM_THREADS") == nullptr) CHECK(hardware_threads() <= cores);
}

TEST_CASE("a CPU quota becomes a thread count rounded to the nearest CPU", "[parallel]") {
    CHECK(detail::whole_cpus(0) == 0);
    CHECK(detail::whole_cpus(-1) == 0);
    CHECK(detail::whole_cpus(std::numeric_limits<double>::quiet_NaN()) == 0);
    CHECK(detail::whole_cpus(0.1) == 1);
    CHECK(detail::whole_cpus(1.0) == 1);
    CHECK(detail::whole_cpus(1.49) == 1);
    CHECK(detail::whole_cpus(1.5) == 2);
    CHECK(detail::whole_cpus(2.4) == 2);
    CHECK(detail::whole_cpus(64) == 64);
    // The process's own limit, as the default thread count uses it.
    const int limit = cpu_limit();
    CHECK(limit == detail::whole_cpus(detail::cgroup_cpu_limit(detail::read_pseudo_file)));
    if (limit > 0) CHECK(hardware_threads() <= limit);
}

// Hidden: run by its own CTest test with OMP_THREAD_LIMIT=1 in the environment
// (tests/CMakeLists.txt), which OpenMP reads once, at start-up.
TEST_CASE("the default thread count respects OMP_THREAD_LIMIT", "[.omp_thread_limit]") {
    const char* limit = std::getenv("OMP_THREAD_LIMIT");
    REQUIRE(limit != nullptr);
    REQUIRE(std::string(limit) == "1");
    CHECK(hardware_threads() == 1);
    CHECK(threads() == 1);
    // An explicit count is still obeyed, as for OMP_NUM_THREADS.
    ThreadsScope two(2);
    CHECK(threads() == (has_openmp ? 2 : 1));
}

#if defined(__linux__)
TEST_CASE("a CPU quota set on a real control group is read back", "[parallel]") {
    // Needs a cgroup file system this process may add a group to (root, as CI runs): a child
    // process is moved into a new group limited to one CPU and reads its own limit there.
    const auto groups = detail::cpu_cgroups(detail::read_pseudo_file);
    std::string dir;
    bool v2 = false;
    for (const auto& g : groups) {
        const std::string candidate = g.dir + "/chrysalis-test-" + std::to_string(::getpid());
        if (::mkdir(candidate.c_str(), 0755) != 0) continue;
        const std::string file = candidate + (g.v2 ? "/cpu.max" : "/cpu.cfs_quota_us");
        if (std::ofstream(file) << (g.v2 ? "100000 100000" : "100000") << std::flush) {
            dir = candidate;
            v2 = g.v2;
            break;
        }
        ::rmdir(candidate.c_str());
    }
    if (dir.empty()) {
        WARN("no control group with a CPU controller can be added here: skipped");
        return;
    }
    if (!v2) std::ofstream(dir + "/cpu.cfs_period_us") << "100000" << std::flush;
    int go[2];
    REQUIRE(::pipe(go) == 0);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::alarm(20);
        char c = 0;
        const bool moved = ::read(go[0], &c, 1) == 1 && c == 'y';
        const double limit = detail::cgroup_cpu_limit(detail::read_pseudo_file);
        ::_exit(moved && limit == 1.0 ? 0 : 1);
    }
    const bool moved = bool(std::ofstream(dir + "/cgroup.procs") << child << std::flush);
    const char c = moved ? 'y' : 'n';
    REQUIRE(::write(go[1], &c, 1) == 1);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    ::close(go[0]);
    ::close(go[1]);
    ::rmdir(dir.c_str());
    if (!moved) {
        WARN("the child process could not be moved into " << dir << ": skipped");
        return;
    }
    INFO("group " << dir << ", wait status " << status);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}
#endif

#if defined(__unix__)
TEST_CASE("a child of fork() finishes split products, with helper threads of its own",
          "[parallel]") {
    // Start the parent's helpers with a split product first, so the child inherits a pool whose
    // threads do not exist in it.
    std::atomic<long> sum{0};
    detail::parallel_for(64, 2, [&](long c, int) { sum += c; });
    REQUIRE(sum.load() == 64 * 63 / 2);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        // In the child: a split product must finish (exit 0), not wait for the parent's helpers.
        // alarm() turns a hang into a distinct failure instead of a stuck test.
        ::alarm(20);
        std::atomic<long> s{0};
        for (int round = 0; round < 50; ++round)
            detail::parallel_for(64, 2, [&](long c, int) { s += c; });
        ::_exit(s.load() == 50 * (64 * 63 / 2) ? 0 : 1);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    INFO("wait status " << status);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}
#endif
